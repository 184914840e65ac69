"""The document plus a cursor become a ``Context``: prefix and suffix in a budget.

First stage of the pipeline (docs/context.md has the rules):
- A document that fits the token budget goes in whole.
- Otherwise the lines nearest the cursor are kept, the prefix gets the larger
  share (a side that needs less lends the rest to the other), and each cut is
  moved to a syntax boundary, so the prompt never starts or ends inside a
  construct that does not contain the cursor.
- The file's import/header block is pinned at the top when it fits.
- The rest of the cursor's line goes verbatim into the suffix and is never
  replaced; post-processing removes output that repeats it.
- ``completion.decisions`` says whether to complete at all and whether to
  ask for one line or a block.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from completion.crossfile.options import CrossFileOptions
from completion.decisions import DecisionOptions, Multiline, decide
from completion.document import Document
from completion.languages import path_comment
from completion.syntax import ancestors, point_of
from engines.base import estimate_tokens

if TYPE_CHECKING:
    from tree_sitter import Node, Point, Tree

    from completion.crossfile.snippet import Snippet

__all__ = [
    "Context",
    "ContextOptions",
    "TokenCounter",
    "build_context",
    "wants_multiline",
]

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class ContextOptions:
    """How much of the document goes into the prompt, and how it is cut."""

    max_tokens: int = 1536
    """Token budget for prefix plus suffix (the pipeline also caps it by the
    model's context window minus the completion's tokens and the template)."""
    prefix_share: float = 0.8
    """Fraction of the budget the prefix may use; the suffix gets the rest (as
    llama.vim's 256 prefix and 64 suffix lines). The suffix follows the prefix
    in the prompt, so the engine evaluates it again whenever the prefix changes
    before it: once per new line, since the text typed on the cursor's line
    goes after the middle marker (``line_in_middle``)."""
    multiline: Multiline = Multiline.AUTO
    """Whether completions may span lines: always, never, or decided per cursor."""
    syntax_cut: bool = True
    """Move each cut to a syntax boundary instead of cutting through a construct."""
    pin_header: bool = True
    """Keep the file's import/header block at the top of the prefix when it fits."""
    header_share: float = 0.25
    """Most of the prefix budget the pinned header block may take."""
    file_path_header: bool = False
    """Start the prompt with the file's path as a comment (``# src/app.py``), the
    form DeepSeek Coder saw in repository-level training. Off by default: plain
    single-file FIM prompts carry no header, and small models are thrown by it."""
    stable_head_lines: int = 16
    """When the prefix is cut, start it on a multiple of this many lines (0:
    off). Typing moves the nearest-lines cut forward a line at a time, and
    every move changes the prompt's head, which throws away the engine's
    cached prompt (llama.cpp's KV prefix, vLLM's prefix cache). On the grid the
    head stays put until the cursor has moved this many lines, at the cost of
    up to that many lines of context."""
    line_in_middle: bool = True
    """Put the text typed on the cursor's line after the FIM middle marker, as
    the start of the middle, instead of at the end of the prefix. Typing along
    a line then only appends to the prompt, so the engine's cached prompt is
    reused up to the new characters; otherwise the suffix, which follows the
    prefix in the prompt, is evaluated again on every keystroke."""
    typed_region: bool = True
    """While the user types in one place, keep the prompt's prefix and suffix
    as they were cut when typing began, and put everything typed since then
    after the FIM middle marker, across lines (``completion.region``): the
    prompt only grows at its end, so a new line costs the engine its new keys,
    not the suffix again. Needs a template whose middle follows the prompt.
    DeepSeek Coder's FIM training splits at random characters, so a middle
    that already holds typed lines is its normal input; the bundled tiny test
    model is trained on this form too."""
    typed_region_lines: int = 16
    """Most line breaks in the typed region before it is anchored again."""
    typed_region_tokens: int = 192
    """Most tokens in the typed region before it is anchored again."""
    parse_budget_ms: float = 4.0
    """Most time a request waits for the incremental reparse (0: no limit). A
    reparse that takes longer (rare: some edits make tree-sitter redo much of a
    big file) finishes on the next request; this one uses the tree as of the
    last parse, shifted by the edits since."""
    decisions: DecisionOptions = field(default_factory=DecisionOptions)
    """Rules for skipping a completion and for one line versus a block."""
    cross_file: CrossFileOptions = field(default_factory=CrossFileOptions)
    """Snippets of other workspace files at the prompt's head (completion/crossfile/)."""


@dataclass(frozen=True)
class Context:
    """What the model sees around the cursor, and how to shape its answer."""

    prefix: str
    suffix: str
    language_id: str
    multiline: bool
    line_prefix: str
    """Text left of the cursor on its line."""
    line_suffix: str
    """Text right of the cursor on its line."""
    indent: str = ""
    """Leading whitespace of the cursor's line."""
    file_path: str | None = None
    skip_reason: str | None = None
    """Set when the model should not be called at all, and why."""
    header: str = ""
    """The file-path comment that goes before the prefix in the prompt, or ''."""
    grammar: str | None = None
    """The tree-sitter grammar of the document, or None (text rules)."""
    prefix_start: int = 0
    """Document offset where the contiguous part of ``prefix`` starts."""
    pinned: int = 0
    """Length of the pinned header block at the start of ``prefix`` (0: none)."""
    suffix_end: int = 0
    """Document offset where ``suffix`` ends."""
    rule: str = ""
    """Which decision rule chose single- or multi-line (or skipping)."""
    snippets: tuple[Snippet, ...] = ()
    """Other files' snippets in ``header``, in the repository format."""
    cross_file_chars: int = 0
    """Length of the start of ``header`` the snippets take (before the file's own path)."""
    typed: int = 0
    """Length of the end of ``prefix`` typed since the typed region's anchor,
    which the prompt puts after the middle marker (0: the line rule decides)."""


def wants_multiline(line_prefix: str, line_suffix: str, mode: Multiline) -> bool:
    """Line-only rule (no document at hand): multi-line on a line blank around the cursor."""
    if mode is Multiline.ALWAYS:
        return True
    if mode is Multiline.NEVER:
        return False
    return not line_prefix.strip() and not line_suffix.strip()


def build_context(
    document: Document,
    offset: int,
    options: ContextOptions,
    count: TokenCounter = estimate_tokens,
    file_path: str | None = None,
) -> Context:
    """Cut the prefix and suffix around ``offset`` to fit ``options.max_tokens``."""
    text = document.text
    line = document.line_of(offset)
    line_start = document.line_start(line)
    line_end = document.line_end(line)
    line_prefix = text[line_start:offset]
    line_suffix = text[offset:line_end]
    header = ""
    if options.file_path_header and file_path:
        header = path_comment(file_path, document.grammar, document.language_id)
    budget = max(0, options.max_tokens - (count(header) if header else 0))
    prefix_budget = int(budget * options.prefix_share)
    suffix_budget = budget - prefix_budget

    # A side that needs less than its share lends the rest to the other side.
    prefix_cost = _cost(text, 0, offset, budget, count)
    suffix_cost = _cost(text, offset, len(text), budget, count)
    if suffix_cost <= suffix_budget:
        prefix_budget = budget - suffix_cost
    elif prefix_cost <= prefix_budget:
        suffix_budget = budget - prefix_cost

    # The prompt reaches no further than this from the cursor: what a big
    # document's windowed tree must cover.
    around = (
        offset - _REACH_CHARS_PER_TOKEN * prefix_budget,
        offset + _REACH_CHARS_PER_TOKEN * suffix_budget,
    )
    tree = document.syntax_tree(options.parse_budget_ms or None, around)
    decision = decide(document, offset, tree, options.multiline, options.decisions)
    grammar = document.grammar if tree is not None else None

    cutter = _Cutter(document, offset, line, tree, count, options)
    if prefix_cost <= prefix_budget:
        prefix, prefix_start, pinned = text[:offset], 0, 0
    else:
        prefix, prefix_start, pinned = cutter.prefix(line_prefix, prefix_budget)
    if suffix_cost <= suffix_budget:
        suffix, suffix_end = text[offset:], len(text)
    else:
        suffix, suffix_end = cutter.suffix(line_suffix, suffix_budget)

    indent = line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=document.language_id,
        multiline=decision.multiline,
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        indent=indent,
        file_path=file_path,
        skip_reason=decision.skip_reason,
        header=header,
        grammar=grammar,
        prefix_start=prefix_start,
        pinned=pinned,
        suffix_end=suffix_end,
        rule=decision.rule,
    )


def _cost(text: str, start: int, end: int, budget: int, count: TokenCounter) -> int:
    """Tokens in ``text[start:end]``, without tokenizing text that cannot fit."""
    # No tokenizer packs more than ~16 characters into a token on average.
    if end - start > 16 * max(budget, 1):
        return budget + 1
    return count(text[start:end])


def _clip_to_budget(text: str, budget: int, count: TokenCounter, keep_end: bool) -> str:
    """Shorten ``text`` by characters until it fits, keeping its end or start."""
    if count(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        piece = text[-middle:] if keep_end else text[:middle]
        if count(piece) <= budget:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return ""
    return text[-low:] if keep_end else text[:low]


_BLOCK = 16
"""Lines counted together while the budget clearly has room."""

_REACH_CHARS_PER_TOKEN = 4
"""Most characters per token of the budget's estimate (``TokenEstimator`` stays
at or under 4 bytes per token): each side of the prompt reaches no further
than this times its budget from the cursor, so a big document's windowed tree
(``completion.syntax_window``) is asked for that much. A cut that lands
outside the window anyway (another counter) moves it."""


class _Cutter:
    """Cuts one side of the cursor to a budget, at line and syntax boundaries."""

    def __init__(
        self,
        document: Document,
        offset: int,
        line: int,
        tree: Tree | None,
        count: TokenCounter,
        options: ContextOptions,
    ) -> None:
        self.document = document
        self.text = document.text
        self.offset = offset
        self.line = line
        self.tree = tree if options.syntax_cut else None
        self.header_tree = tree
        self.count = count
        self.options = options

    def _span(self, first: int, last: int) -> str:
        """Lines ``first`` to ``last`` (inclusive) with their line breaks."""
        document = self.document
        end = document.line_start(last + 1) if last + 1 < document.line_count else len(self.text)
        return self.text[document.line_start(first) : end]

    def _take(self, lines: range, budget: int) -> tuple[int, int]:
        """Walk ``lines`` (outwards from the cursor) while they fit ``budget``.

        Returns the last line taken (or one step before ``lines.start``) and
        the budget left. Lines are counted a block at a time, then one by one
        in the block that does not fit: far fewer calls to ``count``.
        """
        step = lines.step
        taken = lines.start - step
        position = 0
        while position < len(lines):
            block = lines[position : position + _BLOCK]
            low, high = min(block[0], block[-1]), max(block[0], block[-1])
            cost = self.count(self._span(low, high))
            if cost <= budget:
                budget -= cost
                taken = block[-1]
                position += len(block)
                continue
            for n in block:
                cost = self.count(self._span(n, n))
                if cost > budget:
                    return taken, budget
                budget -= cost
                taken = n
            return taken, budget
        return taken, budget

    def _tree_over(self, first: int, last: int) -> Tree | None:
        """The syntax tree with lines ``first`` to ``last`` in it (a windowed one moved)."""
        document, tree = self.document, self.tree
        if tree is None or document.tree_covers(tree, first, last):
            return tree
        around = (document.line_start(first), document.line_end(last))
        tree = document.syntax_tree(self.options.parse_budget_ms or None, around)
        return tree if tree is not None and document.tree_covers(tree, first, last) else None

    def _cursor_point(self) -> Point:
        start = self.document.line_start(self.line)
        return point_of(self.text, start, self.offset, self.line)

    def prefix(self, line_prefix: str, budget: int) -> tuple[str, int, int]:
        """(prefix, offset where its contiguous part starts, pinned header length)."""
        head = _clip_to_budget(line_prefix, budget, self.count, keep_end=True)
        if len(head) < len(line_prefix) or self.line == 0:
            return head, self.offset - len(head), 0
        budget -= self.count(head)
        pin, lowest = "", -1
        if self.options.pin_header:
            header_end = header_block_end(self.document, self.header_tree)
            if 0 <= header_end < self.line - 1:
                block = self.text[: self.document.line_start(header_end + 1)]
                cost = self.count(block)
                if cost <= budget * self.options.header_share:
                    pin, lowest, budget = block, header_end, budget - cost
        first, _ = self._take(range(self.line - 1, lowest, -1), budget)
        first = min(first, self.line)
        grid = self.options.stable_head_lines
        if grid > 1 and lowest + 1 < first < self.line - 2 * grid:
            first = -(-first // grid) * grid  # up to the grid: drop a few more lines
        if first > lowest + 1 and self.tree is not None and first < self.line:
            tree = self._tree_over(first, self.line)
            if tree is not None:
                first = self._clean_prefix_start(tree, first)
        start = self.document.line_start(first)
        return pin + self.text[start : self.offset], start, len(pin)

    def suffix(self, line_suffix: str, budget: int) -> tuple[str, int]:
        """(suffix, offset where it ends)."""
        tail = _clip_to_budget(line_suffix, budget, self.count, keep_end=False)
        document = self.document
        if len(tail) < len(line_suffix) or self.line + 1 >= document.line_count:
            return tail, self.offset + len(tail)
        budget -= self.count(tail)
        line_end = document.line_end(self.line)
        line_break = self.text[line_end : document.line_start(self.line + 1)]
        budget -= self.count(line_break)
        if budget < 0:
            return tail, self.offset + len(tail)
        last, budget = self._take(range(self.line + 1, document.line_count), budget)
        if budget < 0:
            return tail, self.offset + len(tail)
        if last < document.line_count - 1 and self.tree is not None and last > self.line:
            tree = self._tree_over(self.line, last)
            if tree is not None:
                last = self._clean_suffix_end(tree, last)
        end = document.line_start(last + 1) if last + 1 < document.line_count else len(self.text)
        return self.text[self.offset : end], end

    def _clean_prefix_start(self, tree: Tree, first: int) -> int:
        """Move the prefix's first line down past any construct it would cut.

        Walk out from the node at the cut: each ancestor that starts above the
        cut and ends before the cursor is cut through; starting after it ends
        is clean. Take the outermost such end that drops at most half the lines.
        """
        cursor = self._cursor_point()
        text_line = self.document.line_text(first)
        indent = len(text_line) - len(text_line.lstrip())
        start = self.document.line_start(first)
        point = point_of(self.text, start, start + indent, first)
        node = tree.root_node.descendant_for_point_range(point, point)
        if node is None:
            return first
        max_drop = (self.line - first) // 2
        best = first
        for ancestor in ancestors(node):
            if ancestor.parent is None or _contains(ancestor, cursor):
                break
            if ancestor.start_point.row >= first:
                continue
            end = ancestor.end_point
            after = end.row if end.column == 0 else end.row + 1
            if after - first > max_drop or after > self.line:
                break
            best = max(best, after)
        return best

    def _clean_suffix_end(self, tree: Tree, last: int) -> int:
        """Move the suffix's last line up above any construct it would cut."""
        cursor = self._cursor_point()
        text_line = self.document.line_text(last)
        end_column = len(text_line.rstrip())
        start = self.document.line_start(last)
        point = point_of(self.text, start, start + max(end_column - 1, 0), last)
        node = tree.root_node.descendant_for_point_range(point, point)
        if node is None:
            return last
        max_drop = (last - self.line) // 2
        best = last
        for ancestor in ancestors(node):
            if ancestor.parent is None or ancestor.start_point <= cursor:
                break
            end = ancestor.end_point
            if end.row <= last or (end.row == last + 1 and end.column == 0):
                continue
            before = ancestor.start_point.row - 1
            if last - before > max_drop or before < self.line:
                break
            best = min(best, before)
        return best


def _contains(node: Node, point: Point) -> bool:
    return bool(node.start_point <= point <= node.end_point)


# Top-level nodes that make up a file's header block, per grammar (comments
# are allowed between them everywhere).
_HEADER_TYPES: dict[str, frozenset[str]] = {
    "python": frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
    "javascript": frozenset({"import_statement"}),
    "typescript": frozenset({"import_statement", "import_alias"}),
    "tsx": frozenset({"import_statement", "import_alias"}),
    "go": frozenset({"package_clause", "import_declaration"}),
    "rust": frozenset({"use_declaration", "extern_crate_declaration", "inner_attribute_item"}),
    "java": frozenset({"package_declaration", "import_declaration"}),
    "c": frozenset({"preproc_include"}),
    "cpp": frozenset({"preproc_include", "using_declaration", "namespace_alias_definition"}),
    "csharp": frozenset({"using_directive", "extern_alias_directive"}),
    "php": frozenset({"php_tag", "namespace_use_declaration", "namespace_definition"}),
    "kotlin": frozenset({"package_header", "import_list", "import_header"}),
    "scala": frozenset({"package_clause", "import_declaration"}),
    "swift": frozenset({"import_declaration"}),
}
# Header nodes that only their text gives away: require calls (Ruby, Lua,
# CommonJS) and includes.
_REQUIRE_NODE = re.compile(
    r"\s*(?:require(?:_relative)?\b|#\s*include\b|"
    r"(?:local|const|let|var)\s+[\w{}\s,]+=\s*require\b)"
)
# Header lines for languages without a grammar.
_IMPORT_LINE = re.compile(
    r"\s*(?:import\b|from\s+\S+\s+import\b|#\s*include\b|using\s|use\s|package\s|"
    r"extern\s+crate\b|@import\b|require(?:_relative)?\b|"
    r"(?:local|const|let|var)\s+[\w{}\s,]+=\s*require\b)"
)
_PREAMBLE_LINE = re.compile(r"\s*(?:$|#|//|/\*|\*|--|<\?php|['\"]use strict)")
_HEADER_SCAN = 200


def header_block_end(document: Document, tree: Tree | None) -> int:
    """Last line of the file's leading import block (comments included), or -1."""
    if tree is None:
        return _text_header_end(document)
    types = _HEADER_TYPES.get(document.grammar or "", frozenset())
    cursor = tree.walk()
    end = -1
    if not cursor.goto_first_child():
        return -1
    for _ in range(_HEADER_SCAN):
        node = cursor.node
        if node is None:
            break
        if node.type in types or (
            node.end_byte - node.start_byte < 200
            and node.text is not None
            and _REQUIRE_NODE.match(node.text.decode("utf-8", "replace"))
        ):
            end = node.end_point.row - (1 if node.end_point.column == 0 else 0)
        elif not ("comment" in node.type or _is_docstring(node)):
            break
        if not cursor.goto_next_sibling():
            break
    return end


def _is_docstring(node: Node) -> bool:
    """A module docstring or a directive prologue ('use strict')."""
    if node.type == "string":
        return True
    return (
        node.type == "expression_statement"
        and node.named_child_count == 1
        and (node.named_children[0].type == "string")
    )


def _text_header_end(document: Document) -> int:
    end = -1
    for n in range(min(document.line_count, _HEADER_SCAN)):
        line = document.line_text(n)
        if _IMPORT_LINE.match(line):
            end = n
        elif not _PREAMBLE_LINE.match(line):
            break
    return end
