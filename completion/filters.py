"""The named post-processing filters: model output plus a ``Context`` become the insert.

Part of the last pipeline stage (``completion.postprocess`` runs them in
order). Each filter is a plain function ``(text, context) -> text``; an empty
result means "show nothing". Text rules (lines, indentation, brackets) work
for every language; where a tree-sitter grammar exists, the block end and the
syntax check are judged by parsing a small window of prefix + candidate +
suffix. docs/postprocessing.md explains the order and the reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from completion.brackets import (
    CLOSERS,
    OPENERS,
    brackets,
    is_top_level_start,
    recent_prefix,
    unclosed_openers,
    unmatched_closers,
)
from completion.context import Context
from completion.indentation import (
    IndentStyle,
    detect_style,
    indent_width,
    leading_ws,
    lines_of,
    opener_step,
    rescale,
    respace,
    space_unit,
)
from completion.languages import grammar_for
from completion.parse_window import (
    WINDOW_ABOVE,
    WINDOW_BELOW,
    Window,
    char_index,
    error_nodes,
    line_end_after,
    parse,
    parse_without,
    window_for,
)

if TYPE_CHECKING:
    from tree_sitter import Node

__all__ = [
    "CLOSERS",
    "DEFAULT_FILTERS",
    "OPENERS",
    "WINDOW_ABOVE",
    "WINDOW_BELOW",
    "Filter",
    "IndentStyle",
    "Window",
    "brackets",
    "detect_style",
    "is_top_level_start",
    "recent_prefix",
    "unclosed_openers",
    "unmatched_closers",
    "window_for",
]

Filter = Callable[[str, Context], str]

_CLOSER_ONLY = re.compile(r"^[\s)\]},;]*[)\]}][\s)\]},;]*$")
_PUNCTUATION = set(")]}>;:,.\"'`")
_CONTINUATION = re.compile(
    r"^(elif\b|else\b|except\b|finally\b|catch\b|\}\s*(else|catch|finally)\b)"
)
_BLOCK_OPENER = re.compile(r"(:|\{|\(|\[|=>|\bdo|\bthen)\s*$")

# Most extra parses the syntax check may spend shortening one completion.
MAX_SYNTAX_TRIES = 6


# --------------------------------------------------------------------- helpers


def grammar_of(context: Context) -> str | None:
    return grammar_for(context.language_id, context.file_path)


def base_indent(text: str, context: Context) -> int:
    """Indent width of the line the completion starts on, as it will read once inserted.

    When the cursor's line continues a statement begun above (it closes
    brackets opened there, as in a wrapped ``if (a and\n        b):``), the
    statement's first line sets the indentation.
    """
    if context.line_prefix.strip():
        return indent_width(leading_ws(statement_start(context)))
    first = text.split("\n", 1)[0]
    return indent_width(context.line_prefix + leading_ws(first))


def statement_start(context: Context, limit: int = 20) -> str:
    """The line where the statement on the cursor's line begins (at most ``limit`` up)."""
    grammar = grammar_of(context)
    lines = context.prefix.split("\n")[-limit:]
    for number in range(len(lines) - 1, -1, -1):
        if not unmatched_closers("\n".join(lines[number:]), grammar):
            return lines[number]
    return context.line_prefix


def is_closer_only(line: str) -> bool:
    """A line made of closing brackets and separators, such as ``}`` or ``});``."""
    return bool(_CLOSER_ONLY.match(line))


def opens_block(context: Context, text: str) -> bool:
    """True when the cursor's line (with the completion's first line) opens a block."""
    first = context.line_prefix + text.split("\n", 1)[0]
    code = first.split("#", 1)[0] if grammar_of(context) == "python" else first
    return bool(_BLOCK_OPENER.search(code.rstrip()))


def suffix_lines(context: Context) -> list[str]:
    """Lines of the suffix after the cursor's own line."""
    return lines_of(context.suffix)[1:]


# ----------------------------------------------------------------- the filters


def normalize_newlines(text: str, context: Context) -> str:
    """Treat ``\\r\\n`` and ``\\r`` as ``\\n``; the editor maps line breaks itself."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def keep_first_line(text: str, context: Context) -> str:
    """Single-line mode: everything up to the first line break with content."""
    if context.multiline:
        return text
    if not text.strip():
        return ""
    lead = len(text) - len(text.lstrip("\n"))
    if lead and context.line_prefix.strip():
        # The model started a new line mid-line: that is not a single-line answer.
        return ""
    body = text[lead:]
    return body.split("\n", 1)[0]


def trim_suffix_overlap(text: str, context: Context) -> str:
    """Cut output that reproduces the rest of the current line or the following lines."""
    text = _trim_line_suffix(text, context)
    return _trim_following_lines(text, context)


def _trim_line_suffix(text: str, context: Context) -> str:
    tail = context.line_suffix.strip()
    if not tail:
        return text
    if text.strip() == tail:
        return ""  # the completion is the rest of the line, nothing more
    first, newline, rest = text.partition("\n")
    body = first.rstrip()
    grammar = grammar_of(context)
    open_before = unclosed_openers(body, grammar)
    for size in range(min(len(tail), len(body) - 1), 0, -1):
        piece = tail[:size]
        # The whole rest of the line, or only the start of its closers: `x)` before `):`.
        if not body.endswith(piece) or (
            size < len(tail) and not all(char in _PUNCTUATION for char in piece)
        ):
            continue
        if unclosed_openers(body[:-size], grammar) > open_before:
            break  # those closers close the completion's own brackets
        first = body[:-size]
        break
    return first + newline + rest


def _trim_following_lines(text: str, context: Context) -> str:
    start = suffix_replay_line(text, context)
    if start is None:
        return text
    return "\n".join(lines_of(text)[:start]).rstrip() if start else ""


def suffix_replay_line(text: str, context: Context) -> int | None:
    """The number of the completion line from which it replays the suffix's next lines."""
    if "\n" not in text and context.line_prefix.strip():
        return None
    below = [line for line in suffix_lines(context) if line.strip()][:4]
    if not below:
        return None
    lines = lines_of(text)
    # The first line reads as line_prefix + line once inserted.
    shown = [context.line_prefix + lines[0], *lines[1:]]
    for start in range(len(shown)):
        if start == 0 and context.line_prefix.strip():
            continue
        if _matches_suffix(shown[start:], below):
            return start
    return None


def replays_suffix(text: str, context: Context) -> bool:
    """True when some complete line of ``text`` starts replaying the suffix."""
    return suffix_replay_line(text, context) is not None


def _matches_suffix(lines: Sequence[str], below: Sequence[str]) -> bool:
    """Whether ``lines`` (blank lines ignored) replay ``below`` until one of them ends.

    Lines compare with their indentation, so a ``}`` closing an inner block
    does not match the suffix's ``}`` one level out. The last line may be cut
    off mid-way (max tokens): then it only has to start the suffix's line.
    """
    content = [line.rstrip() for line in lines if line.strip()]
    if not content or content[0] != below[0].rstrip():
        return False
    for number, (line, expected) in enumerate(zip(content, below, strict=False)):
        if line == expected.rstrip():
            continue
        if number == len(content) - 1 and number > 0 and expected.startswith(line):
            continue
        return False
    return True


def drop_repetition(text: str, context: Context) -> str:
    """Cut a block of lines that repeats right after itself, and a line's looping tail.

    A looping last line (a unit repeated 4+ times to its end, where max_tokens
    stopped the model) keeps one element of the loop.
    """
    lines = lines_of(text)
    shown = _cut_repeated_lines([context.line_prefix + lines[0], *lines[1:]])
    lines = lines[: len(shown)]
    # A loop runs to the end of the output (max_tokens): only the last line can loop.
    shortened = cut_loop(lines[-1]) if len(lines[-1]) >= 16 else None
    if shortened is not None:
        lines[-1] = shortened
    return "\n".join(lines)


def repeats_lines(text: str) -> bool:
    """True when a line or block of lines in ``text`` repeats right after itself."""
    lines = lines_of(text)
    return len(_cut_repeated_lines(lines)) < len(lines)


def _is_substantial(lines: Sequence[str]) -> bool:
    """Lines with more than closing brackets: repeating those is not a loop."""
    return any(line.strip() and not is_closer_only(line) for line in lines)


def _cut_repeated_lines(lines: list[str]) -> list[str]:
    content = [number for number, line in enumerate(lines) if line.strip()]
    for position in range(len(content)):
        for period in range(1, 5):
            if position + 2 * period > len(content):
                break
            first = [lines[content[position + k]].rstrip() for k in range(period)]
            second = [lines[content[position + period + k]].rstrip() for k in range(period)]
            if first == second and _is_substantial(first):
                return lines[: content[position + period]]
    return lines


_REPEATED_UNIT = re.compile(r"(.{1,40}?)\1{3,}")


def cut_loop(line: str) -> str | None:
    """``line`` with its looping tail reduced to one element, or None if it does not loop.

    The loop is a unit repeated 4+ times up to the end of the line (the last
    copy may be cut off). Read as separator + element (``, max_depth``), the
    line is kept up to the first copy that follows a whole element, so
    ``depth, max_depth, max_depth, ...`` keeps ``depth, max_depth``.
    """
    body = line.rstrip()
    for match in _REPEATED_UNIT.finditer(body):
        unit = match.group(1)
        rest = body[match.end() :]
        if not unit.startswith(rest) or len(set(unit.strip())) < 2 or len(match.group(0)) < 16:
            continue
        start, period = match.start(), len(unit)
        turn = next((r for r in range(period) if unit[r] in ",;"), None)
        if turn is None:
            return body[: start + period].rstrip(" ,;")
        aligned = unit[turn:] + unit[:turn]
        element = aligned.strip(" ,;")
        at = body.find(aligned, start)
        while at != -1 and at < len(body):
            if element in body[:at]:
                return body[:at]
            at += period
        return body[: start + period].rstrip(" ,;")
    return None


def truncate_block(text: str, context: Context) -> str:
    """Multi-line mode: stop where the block the completion is in (or opened) ends.

    Judged by the parse of prefix + completion + suffix where a grammar exists,
    by indentation otherwise (and when the parse cannot tell).
    """
    if not context.multiline or "\n" not in text:
        return text
    grammar = grammar_of(context)
    if grammar is not None:
        cut = _parse_block_cut(text, context, grammar)
        if cut is not None:
            return text[:cut]
    return _indent_block_cut(text, context)


def _parse_block_cut(text: str, context: Context, grammar: str) -> int | None:
    """Cut index from the syntax tree, or None when the tree cannot tell."""
    window = window_for(context)
    tree = parse(grammar, window.source(text))
    if tree is None:
        return None
    start = window.start
    end = start + len(text.encode())
    node: Node | None = tree.root_node.descendant_for_byte_range(start, start)
    while node is not None and not (node.start_byte < start < node.end_byte):
        node = node.parent
    if not window.at_top:
        return None  # a window cut mid-construct parses as noise: use indentation
    if node is None or node.parent is None:
        return _first_block_cut(text, tree.root_node, start, end)
    if node.is_error:
        return None
    if node.end_byte >= end:
        return len(text)
    index = char_index(text, node.end_byte - start)
    return line_end_after(text, max(0, index - 1))


def _first_block_cut(text: str, root: Node, start: int, end: int) -> int | None:
    """At top level: keep the first multi-line statement the completion wrote, if it ends."""
    for child in root.named_children:
        if child.end_byte <= start or child.type == "comment":
            continue
        if child.start_byte >= end or child.is_error or child.has_error:
            return None
        if child.end_byte >= end or child.start_point.row == child.end_point.row:
            return len(text)
        index = char_index(text, child.end_byte - start)
        return line_end_after(text, max(0, index - 1))
    return None


def indent_block_end(text: str, context: Context) -> int:
    """Indentation rule: where the first line that leaves the cursor's block starts.

    A line less indented than the completion's first line leaves the block;
    so does a line back at that level once the first line opened a block
    (``else``/``except``-style continuations excepted). A closing-bracket-only
    line is the block's own end: it is kept (bracket balancing judges it).
    Returns ``len(text)`` when every line stays inside.
    """
    base = base_indent(text, context)
    # The block the completion opened: the cursor line's (``if x:`` then Enter),
    # or, at top level, the completion's own first line (a new function).
    if context.line_prefix.strip():
        opened = opens_block(context, "")
    else:
        opened = base == 0 and opens_block(context, text)
    deeper_seen = False
    offset = text.find("\n")
    while offset != -1:
        start = offset + 1
        offset = text.find("\n", start)
        line = text[start : offset if offset != -1 else len(text)].rstrip("\r")
        if not line.strip():
            continue
        width = indent_width(leading_ws(line))
        if width > base:
            deeper_seen = True
            continue
        if width == base and not (opened and deeper_seen):
            continue
        if width == base and _CONTINUATION.match(line.lstrip()):
            continue
        if is_closer_only(line):
            return offset if offset != -1 else len(text)
        return start - 1
    return len(text)


def _indent_block_cut(text: str, context: Context) -> str:
    return text[: indent_block_end(text, context)]


def balance_brackets(text: str, context: Context) -> str:
    """Stop before a closing bracket the suffix already supplies.

    A closer in the completion that closes a bracket opened before the cursor
    duplicates one of the suffix's closers, unless the suffix closes fewer
    brackets than are open. Once the completion has closed the cursor's
    enclosing bracket in multi-line mode, it has left its block: cut there.
    """
    grammar = grammar_of(context)
    line_open = unclosed_openers(context.line_prefix, grammar)
    line_closed = unmatched_closers(context.line_suffix, grammar)
    rest_open: int | None = None
    rest_closed: int | None = None
    depth = 0
    dips = 0
    for index, char in brackets(text, grammar):
        if char in OPENERS:
            depth += 1
            continue
        if depth:
            depth -= 1
            continue
        dips += 1
        on_first_line = "\n" not in text[:index]
        if on_first_line and dips <= line_open:
            if dips <= line_open - line_closed:
                continue
            return text[:index]
        if rest_open is None or rest_closed is None:
            rest_open = unclosed_openers(recent_prefix(context.prefix), grammar) - line_open
            rest_closed = unmatched_closers(context.suffix, grammar) - line_closed
        if rest_closed > 0 or dips - line_open > rest_open:
            return text[:index].rstrip(" \t") if "\n" in text[:index] else text[:index]
        if context.multiline:
            return text[: line_end_after(text, index)]
    return text


def trim_syntax_errors(text: str, context: Context) -> str:
    """Multi-line mode: drop trailing lines that leave the inserted code unparsable.

    The candidate is parsed in its window; if ERROR or MISSING nodes start
    inside it or below it, shorter candidates (whole lines off the end) are
    tried, and the longest that parses cleanly wins. If none does, the errors
    are not the tail's fault and the text stays. No grammar, no change.
    """
    if not context.multiline or "\n" not in text.strip():
        return text
    grammar = grammar_of(context)
    if grammar is None:
        return text
    window = window_for(context)
    if not window.at_top:
        return text  # a window cut mid-construct: its errors say nothing about the text
    start = window.start

    full = window.source(text)
    full_end = start + len(text.encode())

    def score(candidate: str) -> int:
        # Errors from the candidate on: the suffix below is judged with it. A
        # MISSING closer at the very end is the window's cut, not the candidate's.
        # Candidates are the text minus a tail: an incremental re-parse of it.
        cut = start + len(candidate.encode())
        if cut == full_end:
            tree = parse(grammar, full)
        else:
            tree = parse_without(grammar, full, cut, full_end)
        size = len(full) - (full_end - cut)
        limit = size if window.closed else size - (len(full) - len(full.rstrip())) - 1
        return 0 if tree is None else error_nodes(tree.root_node, start, limit)

    if score(text) == 0:
        return text
    lines = text.split("\n")
    for tries, keep in enumerate(range(len(lines) - 1, 0, -1), start=1):
        candidate = "\n".join(lines[:keep]).rstrip()
        if not candidate.strip() or tries > MAX_SYNTAX_TRIES:
            break
        if score(candidate) == 0:
            return candidate
    return text  # nothing shorter parses cleanly: the errors are not the tail's


def normalize_indentation(text: str, context: Context) -> str:
    """Re-indent lines after the first in the document's style (tabs or spaces, width)."""
    if "\n" not in text:
        return text
    style = detect_style(context.prefix[-2000:] + context.suffix[:1000])
    if style is None:
        return text
    lines = lines_of(text)
    body = [line for line in lines[1:] if line.strip()]
    if not body:
        return text
    uses_tabs = any(line.startswith("\t") for line in body)
    uses_spaces = any(line.startswith(" ") for line in body)
    if style.tabs and uses_spaces and not uses_tabs:
        unit = space_unit(body)
        lines[1:] = [respace(line, unit, "\t", 1) for line in lines[1:]]
    elif not style.tabs and uses_tabs:
        lines[1:] = [
            leading_ws(line).replace("\t", " " * style.width) + line.lstrip(" \t")
            for line in lines[1:]
        ]
    elif not style.tabs and uses_spaces and not uses_tabs:
        base = indent_width(leading_ws(context.line_prefix + lines[0]))
        step = opener_step([context.line_prefix + lines[0], *lines[1:]])
        if step is not None and step != style.width:
            lines[1:] = [rescale(line, base, step, style.width) for line in lines[1:]]
    return "\n".join(lines)


def trim_trailing_whitespace(text: str, context: Context) -> str:
    """No trailing blank lines or spaces, on any line: the editor shows them as noise."""
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def drop_empty(text: str, context: Context) -> str:
    """Nothing to show if the completion is blank or only repeats the suffix."""
    body = text.strip()
    if not body:
        return ""
    if body == context.line_suffix.strip():
        return ""
    if context.line_suffix.strip() and body == context.suffix.strip():
        return ""
    if not context.line_suffix.strip() and "\n" not in body:
        following = next((line for line in suffix_lines(context) if line.strip()), "")
        if (context.line_prefix + text).strip() == following.strip() and indent_width(
            leading_ws(context.line_prefix + text)
        ) == indent_width(leading_ws(following)):
            return ""
    return text


DEFAULT_FILTERS: tuple[Filter, ...] = (
    normalize_newlines,
    keep_first_line,
    trim_suffix_overlap,
    drop_repetition,
    truncate_block,
    balance_brackets,
    trim_syntax_errors,
    normalize_indentation,
    trim_trailing_whitespace,
    drop_empty,
)
"""The order the pipeline runs them in; docs/postprocessing.md says why."""
