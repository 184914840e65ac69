"""Scores for one completion against the text that was cut out.

Pure functions used by the runner on every hole:

- ``exact_match``: equal after ``normalize`` (trailing spaces on each line and
  blank lines at either end dropped, the whole stripped).
- ``edit_similarity``: 1 - Levenshtein distance / length of the longer text,
  on normalized texts, in [0, 1]; 1.0 when both are empty.
- ``parses``: the document with the completion inserted has no tree-sitter
  error node (``None`` when the language has no grammar).
"""

from __future__ import annotations

from completion.languages import grammar_for, parser

# Above this many characters on both sides the quadratic DP is replaced by a bound.
MAX_EDIT_CHARS = 4000


def normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def exact_match(completion: str, expected: str) -> bool:
    return normalize(completion) == normalize(expected)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute; each costs 1), two-row DP."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (char_a != char_b),
                )
            )
        previous = current
    return previous[-1]


def edit_similarity(completion: str, expected: str) -> float:
    a, b = normalize(completion), normalize(expected)
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    if min(len(a), len(b)) > MAX_EDIT_CHARS:
        import difflib

        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return 1.0 - levenshtein(a, b) / longest


def parses(text: str, language_id: str, file_name: str | None = None) -> bool | None:
    """Whether ``text`` parses without errors; ``None`` without a grammar."""
    grammar = grammar_for(language_id, file_name)
    ts_parser = parser(grammar) if grammar else None
    if ts_parser is None:
        return None
    return not ts_parser.parse(text.encode("utf-8")).root_node.has_error
