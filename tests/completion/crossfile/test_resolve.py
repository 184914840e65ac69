"""Imports to workspace files, per language (completion/crossfile/resolve.py)."""

from __future__ import annotations

from pathlib import Path

from completion.crossfile.definitions import ImportRef
from completion.crossfile.resolve import Resolved, resolve_imports
from tests.completion.crossfile.workspace import write


def test_python_relative_absolute_and_submodule_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/base.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "",
            "pkg/app.py": "",
        },
    )
    app = str(tmp_path / "pkg/app.py")
    found = resolve_imports(
        "python",
        app,
        (
            ImportRef("base", 1, ("Base",)),
            ImportRef("pkg.sub", 0, ("mod",)),
            ImportRef("pkg.sub.mod", alias="m"),
            ImportRef("os", alias="os"),  # not in the workspace
        ),
        str(tmp_path),
    )
    assert found == [
        Resolved(str(tmp_path / "pkg/base.py"), ("Base",)),
        Resolved(str(tmp_path / "pkg/sub/__init__.py"), ("mod",)),
        Resolved(str(tmp_path / "pkg/sub/mod.py"), qualifier="mod", whole=True),
        Resolved(str(tmp_path / "pkg/sub/mod.py"), qualifier="m", whole=True),
    ]


def test_typescript_extensions_and_index_files(tmp_path: Path) -> None:
    write(tmp_path, {"src/util.ts": "", "src/models/index.ts": "", "src/app.ts": ""})
    found = resolve_imports(
        "typescript",
        str(tmp_path / "src/app.ts"),
        (
            ImportRef("./util.js", names=("helper",)),
            ImportRef("./models", alias="models"),
            ImportRef("react", names=("useState",)),
        ),
        str(tmp_path),
    )
    assert found == [
        Resolved(str(tmp_path / "src/util.ts"), ("helper",)),
        Resolved(str(tmp_path / "src/models/index.ts"), qualifier="models", whole=True),
    ]


def test_go_packages_in_the_module_and_the_own_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "go.mod": "module example.com/app\n\ngo 1.22\n",
            "geo/geo.go": "",
            "geo/geo_test.go": "",
            "cmd/main.go": "",
            "cmd/flags.go": "",
        },
    )
    found = resolve_imports(
        "go",
        str(tmp_path / "cmd/main.go"),
        (ImportRef("example.com/app/geo", alias="geo"), ImportRef("fmt", alias="fmt")),
        str(tmp_path),
    )
    assert found == [
        Resolved(str(tmp_path / "cmd/flags.go"), whole=True),
        Resolved(str(tmp_path / "geo/geo.go"), qualifier="geo"),
    ]


def test_rust_mod_and_crate_paths(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"Cargo.toml": "", "src/lib.rs": "", "src/net/mod.rs": "", "src/net/addr.rs": ""},
    )
    found = resolve_imports(
        "rust",
        str(tmp_path / "src/lib.rs"),
        (
            ImportRef("self::net", alias="net"),
            ImportRef("crate::net::addr", names=("Addr",)),
            ImportRef("std::io", names=("Read",)),
        ),
        str(tmp_path),
    )
    assert found == [
        Resolved(str(tmp_path / "src/net/mod.rs"), qualifier="net", whole=True),
        Resolved(str(tmp_path / "src/net/addr.rs"), ("Addr",)),
    ]


def test_nothing_outside_the_workspace(tmp_path: Path) -> None:
    write(tmp_path, {"outside.py": "", "ws/app.py": ""})
    found = resolve_imports(
        "python", str(tmp_path / "ws/app.py"), (ImportRef("outside", 2),), str(tmp_path / "ws")
    )
    assert found == []
