"""Before calling the model: complete here at all, and one line or several?

Part of the first stage: ``build_context`` calls ``decide`` and copies the
answer into ``Context.skip_reason`` and ``Context.multiline``. The rules read
the document's syntax tree around the cursor when the language has a grammar,
and fall back to text rules otherwise. docs/context.md lists them; each can
be switched off in ``DecisionOptions`` (config ``context.decisions``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from completion.brackets import is_closers_only, unclosed_openers
from completion.languages import NON_CODE_GRAMMARS
from completion.syntax import ancestors, point_of

if TYPE_CHECKING:
    from tree_sitter import Node, Point, Tree

    from completion.document import Document


class Multiline(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class DecisionOptions:
    """Which of the skip and multi-line rules apply (the ``context.decisions`` section)."""

    skip_inside_word: bool = True
    """No completion with word characters on both sides of the cursor."""
    skip_after_statement_end: bool = True
    """No completion right after a closing ``)]};`` that ends a statement at line end."""
    skip_in_data_strings: bool = True
    """No completion inside a string of a data or prose file (JSON, YAML, TOML...)."""
    multiline_on_empty_line: bool = True
    """Auto mode: an empty line (empty block body, line inside a body) gets a block."""
    multiline_after_block_opener: bool = True
    """Auto mode: right after a block opener at line end (``{``, ``:``...) gets a block."""
    single_line_in_comments: bool = True
    """Auto mode: inside a comment, complete the line only."""
    multiline_before_text: bool = True
    """Auto mode: only indentation left of the cursor and code right of it (the
    cursor at a line's start) gets whole lines ending with their newline."""
    multiline_at_line_end: bool = True
    """Auto mode: the end of a non-empty line (nothing right of the cursor, or
    only closers the answer may re-type) may get a block, when the line then
    opens one (post-processing judges that from the answer's first line)."""


@dataclass(frozen=True)
class Decision:
    skip_reason: str | None
    multiline: bool
    rule: str
    """Which rule decided, for logs and tests."""


_WORD = re.compile(r"\w")
_CLOSERS = frozenset(")]};")
# What may stand right of the cursor and still count as "the line is done".
_TRAILING_CLOSERS = re.compile(r"[\s)\]}>;,'\"`]*")
_KEYWORD_OPENER = re.compile(r"(?:^|\W)(?:do|then|else|begin|repeat)$")
_COLON_GRAMMARS = frozenset({"python", "yaml"})
_TEXT_COMMENT = re.compile(r"^\s*(?:#|//|--|/\*|\*|;|%|<!--)")
_STATEMENT_TYPE = re.compile(r"statement|declaration|definition|_item$|directive|^pair$")
_STRING_TYPE = re.compile(r"string|_scalar$|char_literal|heredoc|template_literal")
_BLOCK_TYPE = re.compile(r"block|body|compound_statement|declaration_list|^program$|^module$")


def decide(
    document: Document,
    offset: int,
    tree: Tree | None,
    mode: Multiline = Multiline.AUTO,
    options: DecisionOptions | None = None,
) -> Decision:
    """Skip or not, and single- or multi-line, for the cursor at ``offset``."""
    options = options or DecisionOptions()
    line = document.line_of(offset)
    line_start = document.line_start(line)
    text = document.text
    line_prefix = text[line_start:offset]
    line_suffix = text[offset : document.line_end(line)]
    grammar = document.grammar if tree is not None else None

    chain: list[Node] = []
    cursor: Point | None = None
    if tree is not None:
        cursor = point_of(text, line_start, offset, line)
        node = tree.root_node.descendant_for_point_range(cursor, cursor)
        chain = ancestors(node) if node is not None else []
        if offset > line_start:
            # A token that ends at the cursor (a line comment at line end, a
            # closing quote) is found from the character before it.
            left = point_of(text, line_start, offset - 1, line)
            node = tree.root_node.descendant_for_point_range(left, left)
            if node is not None:
                chain = [*ancestors(node), *chain]

    skip = _skip_reason(
        text, offset, line_prefix, line_suffix, grammar, chain, cursor, tree, document, options
    )
    if skip is not None:
        return Decision(skip, False, "skip")
    if mode is Multiline.ALWAYS:
        return Decision(None, True, "always")
    if mode is Multiline.NEVER:
        return Decision(None, False, "never")
    multiline, rule = _multiline(line_prefix, line_suffix, grammar, chain, cursor, options)
    return Decision(None, multiline, rule)


def _skip_reason(
    text: str,
    offset: int,
    line_prefix: str,
    line_suffix: str,
    grammar: str | None,
    chain: list[Node],
    cursor: Point | None,
    tree: Tree | None,
    document: Document,
    options: DecisionOptions,
) -> str | None:
    before = text[offset - 1] if offset else ""
    after = text[offset] if offset < len(text) else ""
    if options.skip_inside_word and _WORD.match(before) and _WORD.match(after):
        return "inside a word"
    if (
        options.skip_in_data_strings
        and grammar in NON_CODE_GRAMMARS
        and cursor is not None
        and _inside(chain, cursor, _STRING_TYPE)
    ):
        return "inside a string of a data file"
    if (
        options.skip_after_statement_end
        and before in _CLOSERS
        and not line_suffix.strip()
        and _statement_ends_here(line_prefix, grammar, tree, document, offset)
    ):
        return f"after {before!r} that ends a statement"
    return None


def _statement_ends_here(
    line_prefix: str, grammar: str | None, tree: Tree | None, document: Document, offset: int
) -> bool:
    """True when the closer left of the cursor completes a statement with no error."""
    if tree is None or grammar is None:
        # Text rules: only ';' and '}' say "statement over" without a parse.
        return line_prefix.rstrip()[-1:] in (";", "}")
    if grammar in NON_CODE_GRAMMARS:
        return False
    line = document.line_of(offset - 1)
    point = point_of(document.text, document.line_start(line), offset - 1, line)
    node: Node | None = tree.root_node.descendant_for_point_range(point, point)
    end = (point.row, point.column + 1)
    while node is not None and node.parent is not None and tuple(node.end_point) == end:
        if node.has_error:
            return False
        parent = node.parent
        if node.is_named and (
            _STATEMENT_TYPE.search(node.type) or parent.parent is None or _is_block(parent)
        ):
            return not _has_error_after(parent, node)
        node = parent
    return False


def _is_block(node: Node) -> bool:
    return bool(_BLOCK_TYPE.search(node.type))


def _has_error_after(parent: Node, node: Node) -> bool:
    """An ERROR sibling right after ``node`` means the statement is still open."""
    sibling = node.next_sibling
    return sibling is not None and (sibling.is_error or sibling.is_missing)


def _inside(chain: list[Node], cursor: Point, pattern: re.Pattern[str]) -> bool:
    """The cursor is strictly inside a node whose type matches ``pattern``."""
    return any(
        pattern.search(node.type) and node.start_point < cursor < node.end_point for node in chain
    )


def in_comment(chain: list[Node], cursor: Point) -> bool:
    """Inside a comment, or at the end of a line comment (not after ``*/``)."""
    for node in chain:
        if "comment" not in node.type or not node.start_point < cursor <= node.end_point:
            continue
        if node.end_point > cursor:
            return True
        closed = node.text is not None and node.text.rstrip().endswith((b"*/", b"-->", b"]]"))
        if not closed:
            return True
    return False


def _multiline(
    line_prefix: str,
    line_suffix: str,
    grammar: str | None,
    chain: list[Node],
    cursor: Point | None,
    options: DecisionOptions,
) -> tuple[bool, str]:
    if options.single_line_in_comments:
        if cursor is not None and chain:
            if in_comment(chain, cursor):
                return False, "comment"
        elif _TEXT_COMMENT.match(line_prefix):
            return False, "comment"
    blank_line = not line_prefix.strip() and not line_suffix.strip()
    if blank_line:
        if not options.multiline_on_empty_line:
            return False, "empty line (rule off)"
        return True, _empty_line_kind(chain)
    if options.multiline_after_block_opener and _TRAILING_CLOSERS.fullmatch(line_suffix):
        stripped = line_prefix.rstrip()
        if stripped.endswith("{") or _KEYWORD_OPENER.search(stripped):
            return True, "after block opener"
        if (
            stripped.endswith(":")
            and (grammar in _COLON_GRAMMARS or grammar is None)
            and not unclosed_openers(stripped, grammar)  # a dict key or a slice, not a block
        ):
            return True, "after block opener"
    if not line_prefix.strip():
        if options.multiline_before_text:
            return True, "before text on its line"
        return False, "before text on its line (rule off)"
    if options.multiline_at_line_end and (not line_suffix.strip() or is_closers_only(line_suffix)):
        return True, "line end"
    return False, "mid-line"


def _empty_line_kind(chain: list[Node]) -> str:
    """Name the empty-line case: an empty block body, a line in a body, top level."""
    for node in chain:
        if node.parent is None:
            return "empty line at top level"
        if _is_block(node):
            if not any(child.is_named and "comment" not in child.type for child in node.children):
                return "empty block body"
            return "empty line in body"
        if node.start_point.row < node.end_point.row:
            return "empty line in body"
    return "empty line"
