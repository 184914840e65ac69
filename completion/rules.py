"""The named post-processing rules that need more than ``(text, context) -> text``.

Part of the last pipeline stage: ``completion.postprocess`` runs them around
the filters of ``completion.filters``. Each rule answers one failure class of
docs/postprocessing.md ("Rules"), and each is a plain function a test can
call alone:

- before the filters, on the raw answer in the working view
  (``completion.placement``): ``drop_leading_blank_lines`` (class 8),
  ``drop_scope_escape`` (class 8), ``fit_first_line_indent`` (class 7);
- after them, turning the text into an ``Insertion`` for the real cursor:
  ``end_before_text`` (class 1), ``retype_closers`` (classes 2 and 6),
  ``keep_space_before_text`` (class 7), ``guard_syntax`` (harm).

The filters own the rest: ``limit_line_end_block`` (class 3),
``truncate_block`` (class 4), ``normalize_indentation`` (class 5),
``drop_repetition`` (class 9).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from completion.brackets import CLOSERS, OPENERS, brackets, unmatched_closers
from completion.context import Context
from completion.filters import (
    DEFINITION,
    grammar_of,
    next_code_indent,
    opens_block,
    trim_line_suffix,
)
from completion.indentation import detect_style, indent_width, leading_ws, lines_of
from completion.parse_window import error_nodes, parse, window_for


@dataclass(frozen=True)
class Insertion:
    """Insert ``text`` at the cursor, replacing the ``replaces`` characters after it.

    ``replaces`` is non-zero only when the answer re-types the closers that
    made up the rest of the cursor's line: the item's range then covers them,
    so accepting it leaves one copy of each.
    """

    text: str
    replaces: int = 0


# ------------------------------------------------------------------ helpers


def previous_code_line(context: Context) -> str | None:
    """The last non-blank line of the prefix before the cursor's line."""
    for line in reversed(lines_of(context.prefix)[:-1]):
        if line.strip():
            return line
    return None


def cursor_block_indent(context: Context) -> int:
    """The indentation of the block the cursor's line is in.

    The cursor's own indentation when it has one; at column 0 (the raw view),
    the previous code line's, one step deeper after a block opener.
    """
    if context.line_prefix:
        return indent_width(context.line_prefix)
    previous = previous_code_line(context)
    if previous is None:
        return 0
    width = indent_width(leading_ws(previous))
    if previous.rstrip().endswith((":", "{")):
        style = detect_style(context.prefix[-2000:])
        width += style.width if style is not None and not style.tabs else 4
    return width


# ------------------------------------------------------- before the filters


def drop_leading_blank_lines(text: str, context: Context) -> str:
    """Class 8: on an empty line, the answer starts on the cursor's line, not below it.

    Leading blank lines are dropped; the first code line then sits at the
    cursor, so the part of its indentation the cursor already has goes too
    (never doubled). Only when the cursor's line is empty: elsewhere a
    leading newline means the model left the line, which other rules judge.
    """
    if context.line_prefix.strip() or context.line_suffix.strip():
        return text
    lines = text.split("\n")
    if len(lines) < 2 or lines[0].strip():
        return text
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ""
    line = lines[first]
    if line.startswith(context.line_prefix):
        line = line[len(context.line_prefix) :]
    elif indent_width(leading_ws(line)) < indent_width(context.line_prefix):
        return text  # a dedent: drop_scope_escape judges it
    return "\n".join([line, *lines[first + 1 :]])


def drop_scope_escape(text: str, context: Context) -> str:
    """Class 8: nothing when the first code line leaves the cursor's block.

    An answer whose first code line is less indented than the block the
    cursor is in, while the suffix carries on inside that block, starts
    something elsewhere (a new ``def`` at column 0 inside a body): it is not
    what goes here.
    """
    if context.line_prefix.strip():
        return text
    lines = text.split("\n")
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return text
    line = lines[first]
    width = indent_width(leading_ws(line))
    if first == 0:
        width += indent_width(context.line_prefix)
    block = cursor_block_indent(context)
    below = next_code_indent(context)
    # At column 0 the cursor's block is a guess: an opener whose body the suffix is stays.
    opener = (
        not context.line_prefix
        and line.rstrip().endswith((":", "{"))
        and not DEFINITION.match(line.lstrip())
    )
    continues = bool(_CONTINUATION.match(line.lstrip()))  # else:, except:, } else {
    if below is not None and width < block <= below and not opener and not continues:
        return ""
    return text


def fit_first_line_indent(text: str, context: Context) -> str:
    """Class 7: an answer that repeats the cursor's indentation does not double it.

    When the cursor already stands at (or past) the indentation its line
    needs, leading whitespace on the answer's first line is dropped. An
    indentation the line still needs (the cursor at a block opener's level)
    is kept: the cursor's indentation is never dropped or doubled.
    """
    prefix = context.line_prefix
    if not prefix or prefix.strip() or context.line_suffix.strip():
        return text
    lead = leading_ws(text.split("\n", 1)[0])
    if not lead or not text.strip():
        return text
    previous = previous_code_line(context)
    needed = 0
    if previous is not None:
        needed = indent_width(leading_ws(previous))
        if opens_block(_with_line(context, previous), ""):
            needed += 1  # any step deeper than the opener: the editor indented already
    if indent_width(prefix) >= needed:
        return text[len(lead) :]
    return text


def _with_line(context: Context, line: str) -> Context:
    """``context`` as if the cursor stood at the end of ``line``."""
    return dataclasses.replace(context, line_prefix=line, line_suffix="")


# -------------------------------------------------------- after the filters


def end_before_text(text: str, raw: str, context: Context) -> str:
    """Class 1: before existing text, an answer that ends its line keeps the newline.

    The answer was judged as whole lines above the existing text; its closing
    newline (and the cursor's indentation, which the existing text had) put
    that text back on a line of its own.
    """
    if not text or "\n" not in raw.lstrip("\n"):
        return text
    return text + "\n" + context.line_prefix


def keep_newline_at_column_zero(text: str, raw: str, context: Context) -> str:
    """Class 1, on an empty line at column 0: an answer that ended its line keeps the newline.

    At column 0 (where Neovim requests on InsertEnter) the model writes whole
    lines; one that stops right after its newline, or goes on with exactly
    the suffix, meant the cursor's empty line to stay below it. With
    indentation before the cursor (an editor after Enter) the line was opened
    for the answer, and no newline is added.
    """
    if not text or context.line_prefix or context.line_suffix.strip():
        return text
    body = raw.lstrip("\n")
    if not body.startswith(text):
        return text
    after = body[len(text) :]
    if not after.startswith("\n"):
        return text
    rest = after[1:]
    suffix = context.suffix
    if not rest.strip() or (suffix.startswith("\n") and suffix.startswith(rest)):
        return text + "\n"
    return text


def bracket_balance(text: str, grammar: str | None) -> int:
    """Openers minus closers in ``text``, strings and comments skipped."""
    balance = 0
    for _, char in brackets(text, grammar):
        balance += 1 if char in OPENERS else -1 if char in CLOSERS else 0
    return balance


def statement_head(context: Context, grammar: str | None, limit: int = 20) -> str:
    """The prefix from the line where the cursor's statement begins (at most ``limit`` up).

    A block opened above it (a function's ``{``) is closed by the suffix,
    not by the answer, so it is left out of the balance.
    """
    lines = context.prefix.split("\n")[-limit:]
    for number in range(len(lines) - 1, -1, -1):
        head = "\n".join(lines[number:])
        if not unmatched_closers(head, grammar):
            return head
    return context.line_prefix


def retype_closers(text: str, context: Context) -> Insertion:
    """Classes 2 and 6: the answer before closers-only text, by bracket balance.

    Three readings of the answer are weighed by the bracket balance of the
    statement (prefix from its last top-level line + answer + rest of the
    line), strings and comments skipped, and the one nearest to balanced wins:
    - the answer as it is, the closers after it (``r())`` before ``)``);
    - the answer re-typing the closers: the item's range replaces them, which
      lets a block follow (``w, h):`` then the body, over ``)``);
    - the answer cut before the closers it repeats (``items`` for ``items))``).
    On a tie, a one-line answer is cut (no range needed), a block re-types.
    """
    if not text:
        return Insertion("")
    grammar = grammar_of(context)
    rest = context.line_suffix
    head = statement_head(context, grammar)
    cut = trim_line_suffix(text.split("\n", 1)[0], context).rstrip()

    def weight(candidate: str, after: str) -> int:
        return abs(bracket_balance(head + candidate + after, grammar))

    as_is = (weight(text, rest), Insertion(text))
    retyped = (weight(text, ""), Insertion(text, len(rest)))
    trimmed = (weight(cut, rest), Insertion(cut))
    ordered = [as_is, trimmed, retyped] if "\n" not in text else [as_is, retyped, trimmed]
    best = min(ordered, key=lambda pair: pair[0])
    return best[1]


def keep_space_before_text(text: str, raw: str, context: Context) -> str:
    """Class 7: spaces the model typed before existing text are kept (``2, `` before ``n)``)."""
    rest = context.line_suffix
    if not text or "\n" in text or not rest or rest[0].isspace():
        return text
    first = raw.split("\n", 1)[0]
    if not first.startswith(text):
        return text
    after = first[len(text) :]
    spaces = after[: len(after) - len(after.lstrip(" \t"))]
    remainder = after[len(spaces) :]
    if spaces and (not remainder.strip() or rest.startswith(remainder.rstrip()[:1] or " ")):
        return text + spaces
    return text


_CONTINUES = re.compile(r"\S")
_CONTINUATION = re.compile(r"(elif|else|except|finally|catch|case|default)\b|\}\s*(else|catch)\b")


def guard_syntax(insertion: Insertion, context: Context) -> Insertion:
    """Harm: an answer never makes the code around the cursor parse worse.

    The window around the cursor is parsed without and with the insertion;
    when the insertion adds syntax errors, whole lines come off its end
    while that helps, and an answer that still adds errors is dropped. No
    grammar, or a window that does not start at a top-level line: no change.
    """
    text = insertion.text
    grammar = grammar_of(context)
    if not text or grammar is None:
        return insertion
    window = window_for(context)
    if not window.at_top:
        return insertion
    below = window.below[insertion.replaces :]
    before = _errors(grammar, (window.above + window.below).encode())
    after = _errors(grammar, (window.above + text + below).encode())
    if before is None or after is None or after <= before:
        return insertion
    tail = "\n" + context.line_prefix if text.endswith("\n" + context.line_prefix) else ""
    body = text[: len(text) - len(tail)] if tail else text
    lines = body.split("\n")
    for keep in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:keep]).rstrip()
        if not _CONTINUES.search(candidate):
            break
        candidate += tail
        replaces = insertion.replaces if _retypes(candidate, insertion, context) else 0
        score = _errors(grammar, (window.above + candidate + window.below[replaces:]).encode())
        if score is not None and score <= before:
            return Insertion(candidate, replaces)
    return Insertion("")


def _retypes(candidate: str, insertion: Insertion, context: Context) -> bool:
    """Whether a shortened candidate still types the closers its range covers."""
    if not insertion.replaces:
        return False
    closers = context.line_suffix[: insertion.replaces].strip()
    return candidate.split("\n", 1)[0].rstrip().endswith(closers[:1]) or closers in candidate


def _errors(grammar: str, source: bytes) -> int | None:
    tree = parse(grammar, source)
    return None if tree is None else error_nodes(tree.root_node, 0, len(source))
