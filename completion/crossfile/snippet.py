"""A snippet of another file, and the repository-format block they make.

DeepSeek Coder was trained on repository-level data: files concatenated, each
opened by its path as a comment in its own comment syntax (``# pkg/utils.py``),
dependencies first and the file being completed last. ``render_block`` writes
snippets that way; templates with a file-separator token (StarCoder's
``<file_sep>``, Qwen's ``<|file_sep|>``) use the token instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from completion.languages import grammar_for, path_comment

__all__ = [
    "Snippet",
    "identifiers",
    "jaccard",
    "render_block",
    "snippet_comment",
    "source_order",
]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Words too common to say two pieces of code are alike.
_STOP_WORDS = frozenset(
    {
        "self",
        "this",
        "return",
        "def",
        "class",
        "if",
        "else",
        "elif",
        "for",
        "while",
        "in",
        "is",
        "not",
        "and",
        "or",
        "None",
        "True",
        "False",
        "import",
        "from",
        "as",
        "const",
        "let",
        "var",
        "function",
        "new",
        "null",
        "true",
        "false",
        "int",
        "str",
        "void",
        "public",
        "private",
        "static",
        "func",
        "fn",
        "pub",
        "mut",
        "use",
        "struct",
        "type",
        "package",
        "the",
        "a",
        "to",
        "of",
    }
)


def identifiers(text: str) -> frozenset[str]:
    """The identifiers in ``text``, without keywords and one-letter names."""
    return frozenset(
        word for word in _IDENTIFIER.findall(text) if len(word) > 1 and word not in _STOP_WORDS
    )


def jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    shared = len(left & right)
    return shared / (len(left) + len(right) - shared)


@dataclass(frozen=True)
class Snippet:
    """Lines of another file that go into the prompt."""

    path: str
    """Workspace-relative path, as the path comment shows it."""
    start_line: int
    """First line (0-based) of ``text`` in its file; for excerpts, of the first part."""
    end_line: int
    """Last line (0-based, inclusive)."""
    text: str
    """The lines, ending with a line break."""
    source: str
    """Which source chose it: imports, openFiles or recent."""
    language_id: str = ""
    tokens: int = 0
    """Its cost in the prompt (path comment included), set when it is chosen."""

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "startLine": self.start_line,
            "endLine": self.end_line,
            "tokens": self.tokens,
            "source": self.source,
        }


@functools.lru_cache(maxsize=4096)
def snippet_comment(path: str, language_id: str = "") -> str:
    """``path`` as a line comment in its file's own syntax (``# a.py``, ``// b.ts``).

    The grammar comes from the path first (snippets come from disk); a file
    with no known comment syntax gets ``//``, so every snippet has a header.
    """
    grammar = grammar_for(None, path) or grammar_for(language_id, None)
    return path_comment(path, grammar, language_id) or f"// {path}\n"


def source_order(snippets: Iterable[Snippet], sources: Sequence[str]) -> list[Snippet]:
    """A stable order: by source (dependencies first), then path, then line.

    The same snippets always render to the same text, so the block at the
    prompt's head stays byte-identical while its sources do not change.
    """
    rank = {name: n for n, name in enumerate(sources)}
    return sorted(
        snippets, key=lambda s: (rank.get(s.source, len(rank)), s.path, s.start_line, s.end_line)
    )


def render_block(snippets: Sequence[Snippet], separator: str | None = None) -> str:
    """The snippets, each under its path (merged when one file gives several).

    ``separator`` is a template's file marker with ``{path}`` (``<file_sep>{path}\\n``)
    for models trained on it; None writes path comments.
    """
    header: Callable[[Snippet], str]
    if separator is not None:
        header = lambda snippet: separator.replace("{path}", snippet.path)  # noqa: E731
    else:
        header = lambda snippet: snippet_comment(snippet.path, snippet.language_id)  # noqa: E731
    parts: list[str] = []
    previous: Snippet | None = None
    for snippet in snippets:
        body = snippet.text if snippet.text.endswith("\n") else snippet.text + "\n"
        if previous is not None and previous.path == snippet.path:
            parts.append("\n" + body)  # same file: one header, parts apart
        else:
            if parts:
                parts.append("\n")
            parts.append(header(snippet) + body)
        previous = snippet
    return "".join(parts)
