"""Imported modules to workspace files on disk, per language.

- Python: relative imports from the file's package, absolute ones from the
  workspace root, its ``src/``, and the root of the file's own package tree;
  ``from pkg import mod`` also finds ``pkg/mod.py``.
- JavaScript/TypeScript: relative specifiers, with the usual extensions and
  ``index`` files (bare package names live in node_modules: left out).
- Go: import paths under the module named in ``go.mod``; every non-test
  ``.go`` file of the package's directory; the file's own package too.
- Rust: ``mod x;`` and ``crate::``/``self::``/``super::`` paths inside the crate.

Only paths inside the workspace root come back. Costs a few ``stat`` calls
per import; the provider caches the answer per import set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from completion.crossfile.definitions import ImportRef

__all__ = ["Resolved", "resolve_imports"]

_JS_EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs")


@dataclass(frozen=True)
class Resolved:
    """A workspace file an import points to, and what the importer takes from it."""

    path: str
    """Absolute path."""
    names: tuple[str, ...] = ()
    """Names imported from it explicitly."""
    qualifier: str | None = None
    """The name the importer uses for it (``alias.x``, ``pkg.X``, ``mod::x``)."""
    whole: bool = False
    """The importer takes the whole module (a module import, Go's own package):
    any of its definitions may be used."""


def _is_file(path: str) -> bool:
    return os.path.isfile(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_imports(
    grammar: str, file_path: str, imports: tuple[ImportRef, ...], root: str
) -> list[Resolved]:
    """The workspace files ``imports`` of ``file_path`` point to, in import order."""
    resolver = {
        "python": _python,
        "javascript": _javascript,
        "typescript": _javascript,
        "tsx": _javascript,
        "go": _go,
        "rust": _rust,
    }.get(grammar)
    if resolver is None:
        return []
    found: list[Resolved] = []
    seen: set[tuple[str, str | None]] = set()
    for item in resolver(file_path, imports, root):
        key = (item.path, item.qualifier)
        if item.path == file_path or key in seen or not _inside(item.path, root):
            continue
        seen.add(key)
        found.append(item)
    return found


# ----- Python -------------------------------------------------------------------


def _python_roots(file_path: str, root: str) -> list[str]:
    """Where absolute imports may start: the top of the file's package tree, the root, src/."""
    roots: list[str] = []
    directory = os.path.dirname(file_path)
    while _is_file(os.path.join(directory, "__init__.py")) and _inside(directory, root):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    roots.append(directory)
    for candidate in (root, os.path.join(root, "src"), os.path.join(root, "lib")):
        if candidate not in roots:
            roots.append(candidate)
    return roots


def _python_module(base: str, module: str) -> str | None:
    parts = [part for part in module.split(".") if part]
    stem = os.path.join(base, *parts) if parts else base
    if parts and _is_file(stem + ".py"):
        return stem + ".py"
    if _is_file(os.path.join(stem, "__init__.py")):
        return os.path.join(stem, "__init__.py")
    if parts and _is_file(stem + ".pyi"):
        return stem + ".pyi"
    return None


def _python(file_path: str, imports: tuple[ImportRef, ...], root: str) -> list[Resolved]:
    found: list[Resolved] = []
    roots = _python_roots(file_path, root)
    for ref in imports:
        if ref.level:
            base = os.path.dirname(file_path)
            for _ in range(ref.level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            bases = roots
        for base in bases:
            module = _python_module(base, ref.module)
            submodules = []
            for name in ref.names:
                sub = _python_module(base, f"{ref.module}.{name}" if ref.module else name)
                if sub is not None and sub != module:
                    submodules.append((name, sub))
            if module is None and not submodules:
                continue
            if module is not None:
                if ref.alias is not None:
                    # ``import a.b`` is used as ``a.b.x``; ``import a.b as c`` as ``c.x``.
                    found.append(Resolved(module, qualifier=ref.alias, whole=True))
                else:
                    found.append(Resolved(module, names=ref.names))
            for name, sub in submodules:
                found.append(Resolved(sub, qualifier=name, whole=True))
            break
    return found


# ----- JavaScript / TypeScript --------------------------------------------------------


def _js_file(base: str) -> str | None:
    if _is_file(base) and not base.endswith(".json"):
        return base
    stem, extension = os.path.splitext(base)
    if extension in (".js", ".jsx", ".mjs"):  # TypeScript imports name the emitted .js
        for replacement in (".ts", ".tsx"):
            if _is_file(stem + replacement):
                return stem + replacement
    for suffix in _JS_EXTENSIONS:
        if _is_file(base + suffix):
            return base + suffix
    for suffix in _JS_EXTENSIONS:
        index = os.path.join(base, "index" + suffix)
        if _is_file(index):
            return index
    return None


def _javascript(file_path: str, imports: tuple[ImportRef, ...], root: str) -> list[Resolved]:
    found = []
    directory = os.path.dirname(file_path)
    for ref in imports:
        if not ref.module.startswith("."):
            continue
        target = _js_file(os.path.normpath(os.path.join(directory, ref.module)))
        if target is not None:
            found.append(
                Resolved(target, ref.names, ref.alias, whole=ref.alias is not None or not ref.names)
            )
    return found


# ----- Go -----------------------------------------------------------------------


def _go_module(file_path: str, root: str) -> tuple[str, str] | None:
    """(module path, its directory) from the nearest go.mod at or above the file."""
    directory = os.path.dirname(file_path)
    while _inside(directory, root):
        mod = os.path.join(directory, "go.mod")
        if _is_file(mod):
            try:
                with open(mod, encoding="utf-8", errors="replace") as handle:
                    for line in handle:
                        if line.startswith("module "):
                            return line.split()[1].strip('"'), directory
            except OSError:
                return None
            return None
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return None


def _go_files(directory: str, skip: str = "") -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    return [
        os.path.join(directory, name)
        for name in names
        if name.endswith(".go") and not name.endswith("_test.go") and name != skip
    ][:32]


def _go(file_path: str, imports: tuple[ImportRef, ...], root: str) -> list[Resolved]:
    found = [
        Resolved(path, whole=True)
        for path in _go_files(os.path.dirname(file_path), os.path.basename(file_path))
    ]
    module = _go_module(file_path, root)
    if module is None:
        return found
    name, directory = module
    for ref in imports:
        if ref.module != name and not ref.module.startswith(name + "/"):
            continue
        package_dir = os.path.join(directory, *ref.module[len(name) :].split("/"))
        found.extend(Resolved(path, qualifier=ref.alias) for path in _go_files(package_dir))
    return found


# ----- Rust ---------------------------------------------------------------------


def _crate_src(file_path: str, root: str) -> str | None:
    directory = os.path.dirname(file_path)
    while _inside(directory, root):
        if _is_file(os.path.join(directory, "Cargo.toml")):
            return os.path.join(directory, "src")
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return None


def _rust_module_dir(file_path: str) -> str:
    """Where ``self::x`` lives: beside mod.rs/lib.rs/main.rs, else in the file's own folder."""
    name = os.path.basename(file_path)
    directory = os.path.dirname(file_path)
    if name in ("mod.rs", "lib.rs", "main.rs"):
        return directory
    return os.path.join(directory, Path(name).stem)


def _rust_file(base: str, parts: list[str]) -> tuple[str, list[str]] | None:
    """The file of the longest module prefix of ``parts``, and the parts left."""
    for cut in range(len(parts), 0, -1):
        stem = os.path.join(base, *parts[:cut])
        for candidate in (stem + ".rs", os.path.join(stem, "mod.rs")):
            if _is_file(candidate):
                return candidate, parts[cut:]
    return None


def _rust(file_path: str, imports: tuple[ImportRef, ...], root: str) -> list[Resolved]:
    found = []
    src = _crate_src(file_path, root)
    here = _rust_module_dir(file_path)
    for ref in imports:
        parts = ref.module.split("::")
        if parts[0] == "crate" and src is not None:
            base, rest = src, parts[1:]
        elif parts[0] == "self":
            base, rest = here, parts[1:]
        elif parts[0] == "super":
            base, rest = os.path.dirname(here), parts[1:]
            while rest and rest[0] == "super":
                base, rest = os.path.dirname(base), rest[1:]
        else:
            continue
        hit = _rust_file(base, rest) if rest else None
        if hit is None:
            if base == src:  # crate root items: lib.rs / main.rs
                for name in ("lib.rs", "main.rs"):
                    if _is_file(os.path.join(base, name)):
                        found.append(Resolved(os.path.join(base, name), ref.names))
            continue
        target, left = hit
        if left:
            # ``use crate::a::B`` where B is an item of a.rs: an explicit name.
            found.append(Resolved(target, (*ref.names, left[-1])))
        else:
            found.append(Resolved(target, ref.names, ref.alias, whole=ref.alias is not None))
    return found
