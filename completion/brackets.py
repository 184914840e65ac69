"""Bracket scanning that skips strings and comments, by grammar.

A library for post-processing (``completion.filters``) and the decisions
before the model (``completion.decisions``): where the brackets of a piece of
code are, how many it leaves open, and how many it closes that it did not
open. Strings and comments are recognised with one regular expression per
grammar, so a ``)`` inside ``"a)"`` or ``# )`` is not counted.
"""

from __future__ import annotations

import functools
import re

OPENERS = "([{"
CLOSERS = ")]}"

_HASH_COMMENTS = frozenset({"python", "ruby", "bash", "yaml", "toml", "php"})
_C_LIKE = ("javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "csharp")
_SLASH_COMMENTS = frozenset((*_C_LIKE, "php", "kotlin", "swift", "scala", "scss", "css"))
_DASH_COMMENTS = frozenset({"lua", "sql"})


@functools.cache
def _token_pattern(grammar: str | None) -> re.Pattern[str]:
    """Strings, comments and brackets for ``grammar``; only brackets are kept."""
    parts: list[str] = []
    if grammar == "python":
        parts += [r'"""[\s\S]*?"""', r"'''[\s\S]*?'''"]
    if grammar in _SLASH_COMMENTS:
        parts += [r"//[^\n]*", r"/\*[\s\S]*?\*/"]
    if grammar in _HASH_COMMENTS:
        parts.append(r"#[^\n]*")
    if grammar in _DASH_COMMENTS:
        parts.append(r"--[^\n]*")
    parts.append(r'"(?:\\.|[^"\\\n])*"')
    if grammar == "rust":
        # Lifetimes ('a) are not strings; char literals are one char or one escape.
        parts.append(r"'(?:\\[^'\n]{1,10}|[^'\\\n])'")
    else:
        parts.append(r"'(?:\\.|[^'\\\n])*'")
    if grammar in {"javascript", "typescript", "tsx", "go"}:
        parts.append(r"`[^`]*`")
    parts.append(r"(?P<b>[()\[\]{}])")
    return re.compile("|".join(parts))


def brackets(text: str, grammar: str | None) -> list[tuple[int, str]]:
    """Positions and characters of brackets outside strings and comments."""
    return [
        (match.start(), match.group("b"))
        for match in _token_pattern(grammar).finditer(text)
        if match.lastgroup == "b"
    ]


def unclosed_openers(text: str, grammar: str | None) -> int:
    """How many brackets ``text`` opens and leaves open."""
    depth = 0
    for _, char in brackets(text, grammar):
        if char in OPENERS:
            depth += 1
        elif depth:
            depth -= 1
    return depth


def unmatched_closers(text: str, grammar: str | None) -> int:
    """How many brackets ``text`` closes that it did not open (those of the prefix)."""
    depth = 0
    closers = 0
    for _, char in brackets(text, grammar):
        if char in OPENERS:
            depth += 1
        elif depth:
            depth -= 1
        else:
            closers += 1
    return closers


def is_top_level_start(line: str) -> bool:
    """A line at column 0 that can begin a top-level construct (not ``)``, ``}``...)."""
    return bool(line.strip()) and not line[0].isspace() and line[0] not in CLOSERS


def recent_prefix(prefix: str, limit: int = 200) -> str:
    """The prefix from its last top-level line, at most ``limit`` lines back.

    Brackets opened before a top-level line are closed by then (in code that
    parses), so the scan for open brackets can start there.
    """
    start = len(prefix)
    for _ in range(limit):
        if start <= 0:
            return prefix
        start = prefix.rfind("\n", 0, start - 1) + 1
        line_end = prefix.find("\n", start)
        if is_top_level_start(prefix[start : line_end if line_end != -1 else len(prefix)]):
            break
    return prefix[start:]


# ---------------------------------------------------------------- parse window


_CLOSERS_ONLY = re.compile(r"\s*(?:[)\]}>\"'`;,]|/>)*[)\]}>\"'`](?:[)\]}>\"'`;,]|/>)*\s*")


def is_closers_only(text: str) -> bool:
    """``)``, ``")``, ``})``, ``/>``, ``];``: closing brackets, quotes and separators."""
    return bool(_CLOSERS_ONLY.fullmatch(text))
