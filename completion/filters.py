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
    recent_prefix,
    unclosed_openers,
    unmatched_closers,
)
from completion.context import Context
from completion.indentation import (
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
    "DEFAULT_FILTERS",
    "Filter",
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


def next_code_line(context: Context) -> str | None:
    """The suffix's next non-blank line after the cursor's, if any."""
    suffix = context.suffix
    start = suffix.find("\n")
    while start != -1:
        end = suffix.find("\n", start + 1)
        line = suffix[start + 1 : end if end != -1 else len(suffix)]
        if line.strip():
            return line.rstrip("\r")
        start = end
    return None


def next_code_indent(context: Context) -> int | None:
    """Indent width of the suffix's next non-blank line after the cursor's, if any."""
    line = next_code_line(context)
    return None if line is None else indent_width(leading_ws(line))


DEFINITION = re.compile(
    r"(?:export\s+|pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
    r"(?:def|class|fn|func|function|impl|interface|struct|enum|trait)\b"
)


def scope_floor(text: str, context: Context) -> int | None:
    """The least indentation a line of a multi-line answer may have.

    Lines at or deeper than the suffix's next code line belong to the
    answer, as long as they stay inside the enclosing definition (Python);
    with no code below, the enclosing definition alone sets the floor. In
    brace languages a closer-only line below (``}``) sets the floor one
    deeper than itself. None when
    neither is known, or when the floor is not below the answer's own block
    (nothing to add to the parse's cut then).
    """
    base = base_indent(text, context)
    if grammar_of(context) != "python":
        below_line = next_code_line(context)
        if below_line is None:
            return None
        # Below a closer-only line (the enclosing block's ``}``) the scope is one deeper.
        deeper = indent_width(leading_ws(below_line)) + is_closer_only(below_line)
        return deeper if deeper < base else None
    enclosing: int | None = None
    for line in reversed(context.prefix.split("\n")[-400:-1]):
        stripped = line.lstrip()
        if stripped.startswith(("def ", "class ", "async ")) and DEFINITION.match(stripped):
            width = indent_width(leading_ws(line))
            if width < base:
                enclosing = width
                break
    below = next_code_indent(context)
    floor = below
    if enclosing is not None:
        floor = enclosing + 1 if floor is None else max(floor, enclosing + 1)
    if floor is None or floor >= base:
        return None
    return floor


def extend_to_scope(text: str, context: Context, cut: int) -> int:
    """Class 4: carry a cut made at the end of an inner block on through the lines
    that dedent but stay in the scope the suffix resumes (``scope_floor``).

    A new definition is never taken in: the extension is for the statements
    that carry on the enclosing one.
    """
    if cut >= len(text) or grammar_of(context) is None:
        return cut
    floor = scope_floor(text, context)
    if floor is None:
        return cut
    kept = cut
    offset = cut
    while offset < len(text):
        start = offset + 1 if text[offset] == "\n" else offset
        newline = text.find("\n", start)
        end = newline if newline != -1 else len(text)
        line = text[start:end]
        offset = end
        if not line.strip():
            continue
        width = indent_width(leading_ws(line))
        if width < floor or DEFINITION.match(line.lstrip()) or is_closer_only(line):
            break
        kept = end
    return kept


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


def limit_line_end_block(text: str, context: Context) -> str:
    """Class 3: at the end of a non-empty line, a block only where the line opens one.

    Multi-line mode at a line's end (rest empty, or closers the answer may
    re-type) lets the answer run on only when the cursor's line, with the
    answer's first line, opens a block or leaves a bracket open; otherwise
    the first line is the answer, as in single-line mode.
    """
    if not context.multiline or not context.line_prefix.strip() or context.line_suffix.strip():
        return text
    first, newline, _ = text.partition("\n")
    if not newline or block_may_follow(first, context):
        return text
    return first if first.strip() else ""


def block_may_follow(first: str, context: Context) -> bool:
    """The cursor's line completed by ``first`` opens a block or leaves a bracket open."""
    line = context.line_prefix + first
    return opens_block(context, first) or unclosed_openers(line, grammar_of(context)) > 0


def trim_suffix_overlap(text: str, context: Context) -> str:
    """Cut output that reproduces the rest of the current line or the following lines."""
    text = trim_line_suffix(text, context)
    return _trim_following_lines(text, context)


def trim_line_suffix(text: str, context: Context) -> str:
    """Cut the end of the first line where it repeats the rest of the cursor's line."""
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
        # A lone last line cut off mid-way replays only after other lines.
        if _matches_suffix(shown[start:], below, partial=start > 0 and bool(shown[start].strip())):
            return start
    return None


def replays_suffix(text: str, context: Context) -> bool:
    """True when some complete line of ``text`` starts replaying the suffix."""
    return suffix_replay_line(text, context) is not None


def _matches_suffix(lines: Sequence[str], below: Sequence[str], partial: bool = False) -> bool:
    """Whether ``lines`` (blank lines ignored) replay ``below`` until one of them ends.

    Lines compare with their indentation, so a ``}`` closing an inner block
    does not match the suffix's ``}`` one level out. The last line may be cut
    off mid-way (max tokens): then it only has to start the suffix's line.
    """
    content = [line.rstrip() for line in lines if line.strip()]
    if not content:
        return False
    if content[0] != below[0].rstrip():
        # One line cut off mid-way (max_tokens) that starts the suffix's line.
        return partial and len(content) == 1 and below[0].startswith(content[0])

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
    lines = lines[: _near_duplicate_cut(lines, context)]
    selfish = next((n for n, line in enumerate(lines) if repeats_one_token(line)), None)
    if selfish is not None:
        lines = lines[:selfish]
        if not lines:
            return ""
    # A loop runs to the end of the output (max_tokens): only the last line can loop.
    shortened = cut_loop(lines[-1]) if len(lines[-1]) >= 16 else None
    if shortened is not None:
        lines[-1] = shortened
    return "\n".join(lines)


_SHAPE_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?")


def line_shape(line: str) -> tuple[str, list[str]]:
    """The line with names and numbers blanked out, and the names and numbers."""
    names = _SHAPE_TOKEN.findall(line)
    return _SHAPE_TOKEN.sub("#", line.strip()), names


def _near_duplicate_cut(lines: list[str], context: Context) -> int:
    """Class 9: where a run of same-shape lines that differ in names or numbers is cut.

    A run that reaches the end of the answer (a model looping to max_tokens)
    keeps its first line: six or more lines of one shape, or four or more
    where a single name or number steps along (``const b = 1;``, ``const c =
    1;`` ...). The line above an empty cursor line counts as the run's start.
    """
    content = [(n, line) for n, line in enumerate(lines) if line.strip()]
    if len(content) < 3:
        return len(lines)
    shown = [(n, context.line_prefix + line if n == 0 else line) for n, line in content]
    if not context.line_prefix.strip():
        above = lines_of(context.prefix[-1000:])[:-1]
        previous = next((line for line in reversed(above) if line.strip()), None)
        if previous is not None:
            shown.insert(0, (-1, previous))
    *complete, last = shown
    shape = line_shape(complete[-1][1])[0]
    last_shape = line_shape(last[1])[0]
    if "#" not in shape or not shape.startswith(last_shape):
        return len(lines)
    start = len(complete) - 1
    while start > 0 and line_shape(complete[start - 1][1])[0] == shape:
        start -= 1
    members = complete[start:]
    if len(members) + 1 < 4:
        return len(lines)
    names = [line_shape(line)[1] for _, line in members]
    varying = sum(1 for column in zip(*names, strict=False) if len(set(column)) > 1)
    if varying == 0 or (len(members) + 1 < 6 and varying != 1):
        return len(lines)
    first = next(n for n, _ in [*members, last] if n >= 0)
    return first + 1


_LOOP_AT_START = re.compile(r"(.{2,40}?)\1{3,}")


def repeats_one_token(line: str) -> bool:
    """Class 9: a line that is one unit repeated from its start (``foo = foo = foo = ``)."""
    body = line.strip()
    match = _LOOP_AT_START.match(body)
    if match is None or not re.search(r"[A-Za-z_]\w", match.group(1)):
        return False
    if re.search(r"[,;]", match.group(1)):
        return False  # a list that loops: cut_loop keeps one element
    rest = body[match.end() :]
    return match.group(1).startswith(rest) or match.group(1).strip().startswith(rest.strip())


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
            return text[: extend_to_scope(text, context, cut)]
    return text[: block_end(text, context)]


def block_end(text: str, context: Context) -> int:
    """The indentation rule's end of the answer, carried on through the suffix's scope."""
    return extend_to_scope(text, context, indent_block_end(text, context))


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
    if context.line_prefix.strip() and "\n" in text:
        # At a line's end, brackets the first line closes (``area(w, h):``)
        # are not the block: the construct that line belongs to is.
        first_end = start + len(text.split("\n", 1)[0].encode())
        while node is not None and node.parent is not None and node.end_byte <= first_end:
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
        later_line = "\n" in text[:index]
        if not later_line and dips <= line_open:
            # On the cursor's line: its own brackets, less those the rest closes.
            if dips <= line_open - line_closed:
                continue
            return text[:index]
        if rest_open is None or rest_closed is None:
            rest_open = unclosed_openers(recent_prefix(context.prefix), grammar)
            rest_closed = unmatched_closers(context.suffix, grammar)
        # The suffix's closers take the outermost open brackets. A closer of
        # the answer is no duplicate only when it closes a block inside those
        # (deeper than the suffix's closer line) that the suffix leaves open.
        inner = _closes_inner_block(text, index, context) and dips <= rest_open - rest_closed
        if (rest_closed > 0 and not inner) or dips > rest_open:
            return text[:index].rstrip(" \t") if later_line else text[:index]
        if context.multiline:
            return text[: extend_to_scope(text, context, line_end_after(text, index))]
    return text


def _closes_inner_block(text: str, index: int, context: Context) -> bool:
    """Class 4: a closer that starts a line deeper than the suffix's next closer line.

    The suffix's ``}`` closes its own block; a ``}`` of the answer indented
    deeper closes a block inside it (a loop's before the function's), which
    the suffix does not close. Judged by indentation, since the suffix in the
    prompt may be cut before its outer closers.
    """
    start = text.rfind("\n", 0, index) + 1
    head = text[start:index]
    if head.strip(" \t" + CLOSERS):
        return False  # only indentation and closers may come before it on its line
    below = next_code_line(context)
    if below is None or below.lstrip()[:1] not in CLOSERS:
        return False
    return indent_width(leading_ws(head)) > indent_width(leading_ws(below))


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
        if step is not None and step != style.width and step != local_step(context):
            lines[1:] = [rescale(line, base, step, style.width) for line in lines[1:]]
    return "\n".join(lines)


def local_step(context: Context, limit: int = 80) -> int | None:
    """Class 5: the indent step of the nearest block opener above the cursor.

    An answer indented with the step the code around the cursor uses is
    consistent with the document, whatever the commonest step elsewhere.
    """
    lines = [line for line in lines_of(context.prefix)[-limit:] if line.strip()]
    for above, below in zip(reversed(lines[:-1]), reversed(lines[1:]), strict=False):
        if above.rstrip().endswith((":", "{")):
            step = indent_width(leading_ws(below)) - indent_width(leading_ws(above))
            if step > 0:
                return step
    return None


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
    limit_line_end_block,
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
