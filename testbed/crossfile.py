"""Cross-file holes: lines whose true text uses a name another workspace file defines.

Python only, read with the standard ``ast`` module (independent of the
tree-sitter code the server uses to build its cross-file context, so the
testbed does not grade that code with itself). A file's imports bind local
names to workspace modules:

- ``from .x import name`` / ``from pkg.x import name``: ``name`` is used bare;
- ``import pkg.x as alias`` / ``import pkg`` / ``from pkg import x`` (``x``
  a module): ``alias.name`` is used as an attribute.

The name must be defined at top level of the target module (def, class or
assignment); a package ``__init__`` that only re-exports it is followed to
the defining file, a few steps at most. A line that uses such a name, is
not an import, and does not redefine the name locally is a candidate.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import PurePosixPath

MAX_REEXPORT_STEPS = 3


@dataclass(frozen=True)
class CrossFileUse:
    """One line (0-based ``row``) of ``path`` that uses ``name`` from ``defined_in``."""

    path: str
    row: int
    name: str
    defined_in: str
    defined_line: int
    """1-based line of the definition in ``defined_in``."""


def module_names(paths: list[str], package: str | None) -> dict[str, str]:
    """Dotted module name to relative path; ``package`` prefixes all when the root is one."""
    modules: dict[str, str] = {}
    for path in paths:
        parts = list(PurePosixPath(path).with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if package:
            parts.insert(0, package)
        if parts:
            modules[".".join(parts)] = path
    return modules


def top_level_names(tree: ast.Module) -> dict[str, int]:
    """Names bound at module level by def, class or assignment, with their first line."""
    names: dict[str, int] = {}

    def bind(target: ast.expr, line: int) -> None:
        if isinstance(target, ast.Name):
            names.setdefault(target.id, line)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                bind(element, line)

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.setdefault(node.name, node.lineno)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                bind(target, node.lineno)
        elif isinstance(node, ast.AnnAssign):
            bind(node.target, node.lineno)
    return names


def _locally_bound(tree: ast.Module) -> set[str]:
    """Names the file itself defines or assigns anywhere: a use of those is not cross-file."""
    bound = set(top_level_names(tree))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


class Workspace:
    """The Python files of one folder, parsed once, with what each defines."""

    def __init__(self, sources: dict[str, str], package: str | None = None):
        self.trees: dict[str, ast.Module] = {}
        for path, text in sources.items():
            try:
                self.trees[path] = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
        self.modules = module_names(sorted(self.trees), package)
        self.module_of = {path: module for module, path in self.modules.items()}
        self.defined = {path: top_level_names(tree) for path, tree in self.trees.items()}

    def absolute(self, path: str, module: str | None, level: int) -> str:
        """The dotted name an import in ``path`` refers to (relative imports resolved)."""
        if not level:
            return module or ""
        package = self.module_of.get(path, "").split(".")
        if not path.endswith("__init__.py"):
            package = package[:-1]
        base = package[: len(package) - (level - 1)]
        return ".".join([*base, module] if module else base)

    def definer(self, module: str, name: str, steps: int = 0) -> tuple[str, int] | None:
        """The file and line that define ``name`` as imported from ``module``."""
        path = self.modules.get(module)
        if path is None:
            return None
        if name in self.defined[path]:
            return path, self.defined[path][name]
        if steps >= MAX_REEXPORT_STEPS:
            return None
        for node in self.trees[path].body:
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        target = self.absolute(path, node.module, node.level)
                        return self.definer(target, alias.name, steps + 1)
        return None

    def bindings(self, path: str) -> dict[str, tuple[str, str | None]]:
        """Local name -> (module, imported name), or (module, None) for a module alias."""
        bound: dict[str, tuple[str, str | None]] = {}
        for node in ast.walk(self.trees[path]):
            if isinstance(node, ast.ImportFrom):
                base = self.absolute(path, node.module, node.level)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if f"{base}.{alias.name}" in self.modules:
                        bound[local] = (f"{base}.{alias.name}", None)
                    elif base in self.modules and alias.name != "*":
                        bound[local] = (base, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name not in self.modules:
                        continue
                    if alias.asname:
                        bound[alias.asname] = (alias.name, None)
                    elif "." not in alias.name:
                        bound[alias.name] = (alias.name, None)
        return bound

    def uses(self, path: str) -> list[CrossFileUse]:
        """The lines of ``path`` that use a name defined in another workspace file, by row."""
        tree = self.trees.get(path)
        if tree is None:
            return []
        bound = self.bindings(path)
        local = _locally_bound(tree)
        import_rows = {
            row
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for row in range(node.lineno - 1, node.end_lineno or node.lineno)
        }
        found: dict[int, CrossFileUse] = {}
        for node in ast.walk(tree):
            used: tuple[str, str] | None = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                binding = bound.get(node.id)
                if binding is not None and binding[1] is not None:
                    used = (binding[0], binding[1])
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                binding = bound.get(node.value.id)
                if binding is not None and binding[1] is None and node.value.id not in local:
                    used = (binding[0], node.attr)
            if used is None:
                continue
            assert isinstance(node, ast.expr)
            row = node.lineno - 1
            if row in import_rows or row in found:
                continue
            if isinstance(node, ast.Name) and node.id in local:
                continue
            definition = self.definer(*used)
            if definition is None or definition[0] == path:
                continue
            found[row] = CrossFileUse(path, row, used[1], definition[0], definition[1])
        return [found[row] for row in sorted(found)]
