"""What a file defines and what it imports, read from its tree-sitter tree.

Pure functions over a tree, safe to run on the index's worker thread (each
thread owns its parsers). A definition is kept as the set of its lines that
say the most in the fewest tokens: any comment just above it, its signature,
its docstring's first line (or its first body line), and for classes, traits
and impls the signatures of their members. Short definitions go in whole.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from completion.languages import parser

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree

__all__ = [
    "Definition",
    "FileSummary",
    "ImportRef",
    "extract_imports",
    "parse_summary",
    "summarise",
]

SUPPORTED = frozenset({"python", "javascript", "typescript", "tsx", "go", "rust"})
_SHORT_LINES = 4
"""Definitions this short go in whole."""
_MAX_SIGNATURE_LINES = 6
_LONG_LINE = 200
"""Lines longer than this (minified code, data) are cut."""


@dataclass(frozen=True)
class Definition:
    """One top-level name a file defines, and the lines that describe it."""

    name: str
    line: int
    """The defining line (0-based): where ``def``/``class``/``func`` is."""
    lines: tuple[int, ...]
    """Lines to show, ascending."""
    members: frozenset[str] = frozenset()
    """Names of methods and fields listed under a class, trait or impl."""
    exported: bool = True
    """False for names private by convention (``_name``, Go lower case)."""
    head: tuple[int, ...] = ()
    """The lines without the members (comment, signature, docstring's first
    line); empty when that is all of ``lines``."""

    @property
    def brief(self) -> tuple[int, ...]:
        return self.head or self.lines


@dataclass(frozen=True)
class ImportRef:
    """One imported module and the names the file takes from it."""

    module: str
    """As written: ``a.b``, ``./api``, ``example.com/m/pkg``, ``crate::a::b``."""
    level: int = 0
    """Python relative-import dots (0: absolute)."""
    names: tuple[str, ...] = ()
    """Names imported from the module (``from m import a, b``, ``{ a, b }``)."""
    alias: str | None = None
    """The name the module itself is bound to (``import m as alias``, ``* as ns``)."""


@dataclass(frozen=True)
class FileSummary:
    """The index's record of one file."""

    path: str
    grammar: str
    lines: dict[int, str]
    """The lines the definitions show, by number, without line breaks (only
    those: a summary crosses from the worker process, and stays in memory)."""
    definitions: tuple[Definition, ...]
    imports: tuple[ImportRef, ...] = ()
    package: str | None = None
    """Go's package name."""
    by_name: dict[str, Definition] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for definition in self.definitions:
            self.by_name.setdefault(definition.name, definition)

    def text_of(self, lines: tuple[int, ...]) -> str:
        """The given lines, in order, each ending with a line break."""
        out = []
        for n in lines:
            out.append(self.lines.get(n, "")[:_LONG_LINE] + "\n")
        return "".join(out)


_LOCAL = threading.local()


def _parser(grammar: str) -> Parser | None:
    parsers: dict[str, Parser | None] = getattr(_LOCAL, "parsers", None) or {}
    _LOCAL.parsers = parsers
    if grammar not in parsers:
        parsers[grammar] = parser(grammar)
    return parsers[grammar]


def parse_summary(path: str, grammar: str, text: str) -> FileSummary:
    """Parse ``text`` with this thread's parser and summarise it."""
    ts_parser = _parser(grammar) if grammar in SUPPORTED else None
    if ts_parser is None:
        return FileSummary(path, grammar, {}, ())
    source = text.encode("utf-8")

    # Through callbacks, so a worker thread hands the GIL over as it parses.
    def read(byte: int, _point: object) -> bytes:
        return source[byte : byte + _CHUNK]

    tree = ts_parser.parse(read, progress_callback=_keep_going)
    return summarise(path, grammar, text, tree)


_CHUNK = 4096


def _keep_going(_offset: int, _has_error: bool) -> bool:
    return False


def summarise(path: str, grammar: str, text: str, tree: Tree) -> FileSummary:
    lines = tuple(text.split("\n"))
    reader = _Reader(grammar, lines)
    root = tree.root_node
    for node in _flatten_errors(root.named_children, 100_000):
        reader.top_level(node)
    shown = {n for definition in reader.definitions for n in definition.lines}
    return FileSummary(
        path,
        grammar,
        {n: lines[n] for n in sorted(shown) if n < len(lines)},
        tuple(reader.definitions),
        extract_imports(grammar, root),
        reader.package,
    )


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")


def _name(node: Node, field_name: str = "name") -> str:
    return _text(node.child_by_field_name(field_name))


class _Reader:
    """Walks a file's top-level nodes and collects definitions."""

    def __init__(self, grammar: str, lines: tuple[str, ...]) -> None:
        self.grammar = grammar
        self.lines = lines
        self.definitions: list[Definition] = []
        self.package: str | None = None

    def add(
        self,
        name: str,
        node: Node,
        lines: set[int],
        members: frozenset[str] = frozenset(),
        exported: bool | None = None,
        head: set[int] | None = None,
    ) -> None:
        if not name:
            return
        if exported is None:
            go = self.grammar == "go"
            exported = name[:1].isupper() if go else not name.startswith("_")
        comment = self._comment_above(node)
        lines |= comment
        brief = tuple(sorted(head | comment)) if head is not None and head != lines else ()
        self.definitions.append(
            Definition(name, node.start_point.row, tuple(sorted(lines)), members, exported, brief)
        )

    def _comment_above(self, node: Node) -> set[int]:
        """Up to three lines of a comment that ends right above ``node``."""
        previous = node.prev_named_sibling
        if previous is None or "comment" not in previous.type:
            return set()
        if previous.end_point.row < node.start_point.row - 1:
            return set()
        start = previous.start_point.row
        # Line comments are separate nodes: walk up the run of them.
        while True:
            before = previous.prev_named_sibling
            if before is None or "comment" not in before.type:
                break
            if before.end_point.row < previous.start_point.row - 1:
                break
            previous, start = before, before.start_point.row
        end = node.start_point.row - 1
        return set(range(start, min(end, start + 2) + 1))

    def signature(self, node: Node, body: Node | None) -> set[int]:
        """The signature's lines, plus the docstring's or body's first line."""
        start, end = node.start_point.row, node.end_point.row
        if end - start + 1 <= _SHORT_LINES or body is None:
            last = end if end - start + 1 <= _SHORT_LINES else start
            return set(range(start, last + 1))
        head_end = body.start_point.row
        if self.grammar == "python":
            head_end -= 1  # a block starts at its first statement
            head_end = max(head_end, start)
        head_end = min(head_end, start + _MAX_SIGNATURE_LINES - 1)
        lines = set(range(start, head_end + 1))
        first = self._first_body_line(body, head_end)
        if first is not None and first <= end:
            lines.add(first)
        return lines

    def _first_body_line(self, body: Node, head_end: int) -> int | None:
        for child in body.named_children:
            if child.start_point.row <= head_end:
                continue
            return int(child.start_point.row)
        return None

    def top_level(self, node: Node) -> None:
        handler = getattr(self, "_" + self.grammar.replace("tsx", "typescript"), None)
        if handler is not None:
            handler(node)

    # ----- Python ---------------------------------------------------------

    def _python(self, node: Node) -> None:
        target = node
        if node.type == "decorated_definition":
            inner = node.child_by_field_name("definition")
            if inner is None:
                return
            target = inner
        if target.type == "function_definition":
            self.add(
                _name(target), target, self.signature(target, target.child_by_field_name("body"))
            )
        elif target.type == "class_definition":
            body = target.child_by_field_name("body")
            lines = self.signature(target, body)
            head = set(lines)
            members: set[str] = set()
            if (
                body is not None
                and target.end_point.row - target.start_point.row + 1 > _SHORT_LINES
            ):
                for child in body.named_children[:64]:
                    method = (
                        child.child_by_field_name("definition")
                        if child.type == "decorated_definition"
                        else child
                    )
                    if method is None or method.type != "function_definition":
                        continue
                    name = _name(method)
                    if name.startswith("_") and name != "__init__":
                        continue
                    members.add(name)
                    row = method.start_point.row
                    method_body = method.child_by_field_name("body")
                    last = method_body.start_point.row - 1 if method_body is not None else row
                    lines.update(range(row, max(row, min(last, row + 2)) + 1))
                    if len(members) >= 12:
                        break
            self.add(_name(target), target, lines, frozenset(members), head=head)
        elif node.type in ("expression_statement", "assignment"):
            assignment = node
            if node.type == "expression_statement":
                assignment = node.named_children[0] if node.named_children else node
            if assignment.type == "assignment" and assignment.named_children:
                left = assignment.child_by_field_name("left") or assignment.named_children[0]
                if left.type == "identifier":
                    self.add(_text(left), node, {node.start_point.row})

    # ----- JavaScript / TypeScript ------------------------------------------

    _JS_BODY_TYPES = frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "class_declaration",
            "abstract_class_declaration",
            "interface_declaration",
            "enum_declaration",
            "type_alias_declaration",
            "function_signature",
        }
    )

    def _javascript(self, node: Node) -> None:
        self._typescript(node)

    def _typescript(self, node: Node, outer: Node | None = None) -> None:
        if node.type == "export_statement":
            declaration = node.child_by_field_name("declaration")
            if declaration is not None:
                self._typescript(declaration, node)
            return
        anchor = outer or node
        if node.type in self._JS_BODY_TYPES:
            body = node.child_by_field_name("body")
            lines = self.signature(node, body)
            if outer is not None:
                lines.add(outer.start_point.row)
            head = set(lines)
            members: set[str] = set()
            if node.type.endswith("class_declaration") and body is not None:
                for child in body.named_children[:64]:
                    if child.type not in (
                        "method_definition",
                        "public_field_definition",
                        "method_signature",
                    ):
                        continue
                    name = _name(child) or _name(child, "property")
                    if not name or name.startswith("#") or name.startswith("_"):
                        continue
                    members.add(name)
                    lines.add(child.start_point.row)
                    if len(members) >= 12:
                        break
            self.add(_name(node), anchor, lines, frozenset(members), head=head)
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                if declarator.type != "variable_declarator":
                    continue
                name_node = declarator.child_by_field_name("name")
                if name_node is None or name_node.type != "identifier":
                    continue
                value = declarator.child_by_field_name("value")
                body = value.child_by_field_name("body") if value is not None else None
                self.add(_text(name_node), anchor, self.signature(node, body))

    # ----- Go ---------------------------------------------------------------

    def _go(self, node: Node) -> None:
        if node.type == "package_clause":
            for child in node.named_children:
                self.package = _text(child)
        elif node.type in ("function_declaration", "method_declaration"):
            self.add(_name(node), node, self.signature(node, node.child_by_field_name("body")))
        elif node.type == "type_declaration":
            for spec in node.named_children:
                if spec.type not in ("type_spec", "type_alias"):
                    continue
                kind = spec.child_by_field_name("type")
                lines = self.signature(node, kind)
                members: set[str] = set()
                if kind is not None and kind.type in ("struct_type", "interface_type"):
                    body_rows = range(
                        kind.start_point.row + 1, min(kind.end_point.row, kind.start_point.row + 13)
                    )
                    lines.update(body_rows)
                    members = {
                        word
                        for row in body_rows
                        if row < len(self.lines)
                        for word in re.findall(r"^\s*([A-Za-z_]\w*)", self.lines[row])
                    }
                self.add(
                    _name(spec),
                    node if len(node.named_children) == 1 else spec,
                    lines,
                    frozenset(members),
                )
        elif node.type in ("const_declaration", "var_declaration"):
            for spec in node.named_children:
                if spec.type in ("const_spec", "var_spec"):
                    self.add(_name(spec), spec, {spec.start_point.row})

    # ----- Rust -------------------------------------------------------------

    _RUST_ITEMS = frozenset(
        {
            "function_item",
            "struct_item",
            "enum_item",
            "trait_item",
            "type_item",
            "const_item",
            "static_item",
            "union_item",
            "macro_definition",
            "function_signature_item",
        }
    )

    def _rust(self, node: Node) -> None:
        if node.type in self._RUST_ITEMS:
            body = node.child_by_field_name("body")
            lines = self.signature(node, body)
            head = set(lines)
            members: set[str] = set()
            if node.type in ("struct_item", "enum_item", "trait_item") and body is not None:
                for child in body.named_children[:24]:
                    name = _name(child)
                    if name:
                        members.add(name)
                        lines.add(child.start_point.row)
            self.add(_name(node), node, lines, frozenset(members), head=head)
        elif node.type == "impl_item":
            body = node.child_by_field_name("body")
            type_name = _text(node.child_by_field_name("type"))
            head = {node.start_point.row}
            if body is None:
                return
            for child in body.named_children[:64]:
                if child.type != "function_item":
                    continue
                row = child.start_point.row
                method_body = child.child_by_field_name("body")
                last = method_body.start_point.row if method_body is not None else row
                self.add(
                    _name(child),
                    child,
                    head | set(range(row, min(last, row + 3) + 1)),
                    exported=_text(child).startswith("pub"),
                )
            if type_name:
                self.add(type_name.split("<")[0], node, head, exported=True)


# ----- imports ----------------------------------------------------------------

_QUOTED = re.compile(r"""['"`]([^'"`]+)['"`]""")
_REQUIRE = re.compile(r"""require\(\s*['"]([^'"]+)['"]\s*\)""")


def extract_imports(grammar: str, root: Node, limit: int = 400) -> tuple[ImportRef, ...]:
    """The imports among a file's top-level statements (and one level into
    ``if``/``try`` blocks in Python)."""
    found: list[ImportRef] = []
    nodes = _flatten_errors(root.named_children[:limit], limit)
    if grammar == "python":
        for node in list(nodes):
            if node.type in ("if_statement", "try_statement"):
                for child in node.named_children:
                    if child.type == "block":
                        nodes.extend(child.named_children[:50])
                    for grandchild in child.named_children if child.type.endswith("clause") else ():
                        if grandchild.type == "block":
                            nodes.extend(grandchild.named_children[:50])
    for node in nodes:
        if grammar == "python":
            found.extend(_python_imports(node))
        elif grammar in ("javascript", "typescript", "tsx"):
            found.extend(_js_imports(node))
        elif grammar == "go":
            found.extend(_go_imports(node))
        elif grammar == "rust":
            found.extend(_rust_imports(node))
    return tuple(found)


def _flatten_errors(nodes: list[Node], limit: int, depth: int = 2) -> list[Node]:
    """``nodes`` with ERROR nodes replaced by their children: a half-typed line
    can turn a whole file into one ERROR node, whose children still parse."""
    flat: list[Node] = []
    for node in nodes:
        if node.type == "ERROR" and depth > 0:
            flat.extend(_flatten_errors(node.named_children[:limit], limit, depth - 1))
        else:
            flat.append(node)
    return flat[:limit]


def _python_imports(node: Node) -> list[ImportRef]:
    if node.type == "import_statement":
        refs = []
        for child in node.named_children:
            if child.type == "dotted_name":
                refs.append(ImportRef(_text(child), alias=_text(child)))
            elif child.type == "aliased_import":
                refs.append(
                    ImportRef(_name(child), alias=_text(child.child_by_field_name("alias")))
                )
        return refs
    if node.type != "import_from_statement":
        return []
    module_node = node.child_by_field_name("module_name")
    level, module = 0, ""
    if module_node is not None and module_node.type == "relative_import":
        text = _text(module_node)
        level = len(text) - len(text.lstrip("."))
        module = text.lstrip(".")
    else:
        module = _text(module_node)
    names = []
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            names.append(_name(child))
        else:
            names.append(_text(child))
    return [ImportRef(module, level, tuple(names))]


def _js_imports(node: Node) -> list[ImportRef]:
    if node.type in ("import_statement", "export_statement"):
        source = node.child_by_field_name("source")
        if source is None:
            return []
        match = _QUOTED.search(_text(source))
        if match is None:
            return []
        names: list[str] = []
        alias = None
        for clause in node.named_children:
            if clause.type in ("import_clause", "export_clause"):
                for part in [clause, *clause.named_children]:
                    if part.type == "identifier" and part.parent is clause:
                        names.append(_text(part))  # default import: the module's default
                    elif part.type == "namespace_import":
                        alias = _text(part.named_children[-1]) if part.named_children else None
                    elif part.type in ("named_imports", "export_clause"):
                        for spec in part.named_children:
                            names.append(_name(spec))
        return [ImportRef(match.group(1), names=tuple(n for n in names if n), alias=alias)]
    if node.type in ("lexical_declaration", "variable_declaration"):
        text = _text(node)
        match = _REQUIRE.search(text)
        if match is None:
            return []
        head = text[: match.start()]
        names = re.findall(r"[A-Za-z_$][\w$]*", head.split("=")[0])
        names = [n for n in names if n not in ("const", "let", "var")]
        if "{" in head:
            return [ImportRef(match.group(1), names=tuple(names))]
        return [ImportRef(match.group(1), alias=names[0] if names else None)]
    return []


def _go_imports(node: Node) -> list[ImportRef]:
    if node.type != "import_declaration":
        return []
    specs: list[Node] = []
    for child in node.named_children:
        if child.type == "import_spec":
            specs.append(child)
        elif child.type == "import_spec_list":
            specs.extend(c for c in child.named_children if c.type == "import_spec")
    refs = []
    for spec in specs:
        path = _text(spec.child_by_field_name("path")).strip('"`')
        name = _text(spec.child_by_field_name("name")) or path.rsplit("/", 1)[-1]
        refs.append(ImportRef(path, alias=name))
    return refs


def _rust_imports(node: Node) -> list[ImportRef]:
    if node.type == "mod_item" and node.child_by_field_name("body") is None:
        name = _name(node)
        return [ImportRef("self::" + name, alias=name)] if name else []
    if node.type != "use_declaration":
        return []
    argument = node.child_by_field_name("argument")
    refs = []
    compact = re.sub(r"\s*([{},:])\s*", r"\1", _text(argument)).strip()
    for path in _expand_use(compact):
        if path.endswith("::*"):
            refs.append(ImportRef(path[:-3]))
            continue
        path = path.split(" as ")[0].strip()
        if "::" not in path:
            continue
        module, name = path.rsplit("::", 1)
        if name == "self":
            refs.append(ImportRef(module, alias=module.rsplit("::", 1)[-1]))
        else:
            refs.append(ImportRef(module, names=(name,)))
    return refs


def _expand_use(text: str) -> list[str]:
    """``a::{b, c::{d, e}}`` as ``a::b``, ``a::c::d``, ``a::c::e``."""
    brace = text.find("{")
    if brace == -1:
        return [text] if text else []
    depth, end = 0, len(text)
    for n in range(brace, len(text)):
        if text[n] == "{":
            depth += 1
        elif text[n] == "}":
            depth -= 1
            if depth == 0:
                end = n
                break
    head, inner = text[:brace], text[brace + 1 : end]
    parts, depth, start = [], 0, 0
    for n, char in enumerate(inner):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:n])
            start = n + 1
    parts.append(inner[start:])
    return [path for part in parts if part for path in _expand_use(head + part)]
