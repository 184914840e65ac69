"""What a file defines and imports, per language (completion/crossfile/definitions.py)."""

from __future__ import annotations

from completion.crossfile.definitions import ImportRef, parse_summary

PYTHON = '''"""Module doc."""
from .base import Base as B, helper
import os.path as osp
import json

# The size of one page.
PAGE = 4096


class Store(B):
    """Keeps pages."""

    def __init__(self, size: int) -> None:
        self.size = size

    def get(self, key: str) -> bytes:
        """One page."""
        return b""

    def _private(self) -> None:
        pass


@decorator
def load(
    path: str,
) -> Store:
    """Read a store from disk.

    More words.
    """
    return Store(1)
'''


def test_python_definitions_keep_signatures_docstrings_and_members() -> None:
    summary = parse_summary("/w/store.py", "python", PYTHON)
    names = [d.name for d in summary.definitions]
    assert names == ["PAGE", "Store", "load"]
    page, store, load = summary.definitions
    assert summary.text_of(page.lines) == "# The size of one page.\nPAGE = 4096\n"
    assert store.members == {"__init__", "get"}
    assert summary.text_of(store.brief) == 'class Store(B):\n    """Keeps pages."""\n'
    assert "    def get(self, key: str) -> bytes:\n" in summary.text_of(store.lines)
    assert "_private" not in summary.text_of(store.lines)
    assert summary.text_of(load.lines) == (
        'def load(\n    path: str,\n) -> Store:\n    """Read a store from disk.\n'
    )
    assert load.line == PYTHON.split("\n").index("def load(")  # not the decorator


def test_python_imports_relative_aliased_and_modules() -> None:
    summary = parse_summary("/w/store.py", "python", PYTHON)
    assert summary.imports == (
        ImportRef("base", 1, ("Base", "helper")),
        ImportRef("os.path", alias="osp"),
        ImportRef("json", alias="json"),
    )


def test_imports_survive_a_half_typed_line() -> None:
    # A blank line where an `if` was turns the whole file into one ERROR node.
    text = (
        "from pkg.util import clamp\n\nclass A:\n    def f(self):\n        \n"
        "            return clamp(1)\n"
    )
    summary = parse_summary("/w/a.py", "python", text)
    assert ImportRef("pkg.util", 0, ("clamp",)) in summary.imports


def test_typescript_exports_interfaces_and_classes() -> None:
    text = (
        'import { helper as h, other } from "./util";\n'
        'import * as models from "./models";\n'
        "/** A user. */\n"
        "export interface User {\n  id: number;\n}\n"
        "export async function fetchUser(id: number): Promise<User> {\n"
        "  const r = await fetch(`/u/${id}`);\n  const body = await r.json();\n"
        "  check(body);\n  return body;\n}\n"
        "export class Client {\n  constructor(private base: string) {}\n"
        "  get(path: string): Promise<unknown> {\n    return fetch(this.base + path);\n  }\n}\n"
    )
    summary = parse_summary("/w/api.ts", "typescript", text)
    assert summary.imports == (
        ImportRef("./util", names=("helper", "other")),
        ImportRef("./models", alias="models"),
    )
    user, fetch_user, client = summary.definitions
    assert summary.text_of(user.lines).startswith("/** A user. */\nexport interface User {\n")
    assert summary.text_of(fetch_user.lines) == (
        "export async function fetchUser(id: number): Promise<User> {\n"
        "  const r = await fetch(`/u/${id}`);\n"
    )
    assert client.members == {"constructor", "get"}


def test_go_package_functions_and_structs() -> None:
    text = (
        'package geo\n\nimport (\n\t"fmt"\n\tm "example.com/app/mathx"\n)\n\n'
        "// Clamp limits v to lo..hi.\nfunc Clamp(v, lo, hi int) int {\n\tif v < lo {\n"
        "\t\treturn lo\n\t}\n\treturn v\n}\n\ntype Point struct {\n\tX int\n\tY int\n}\n"
    )
    summary = parse_summary("/w/geo.go", "go", text)
    assert summary.package == "geo"
    assert summary.imports == (
        ImportRef("fmt", alias="fmt"),
        ImportRef("example.com/app/mathx", alias="m"),
    )
    clamp, point = summary.definitions
    assert summary.text_of(clamp.lines) == (
        "// Clamp limits v to lo..hi.\nfunc Clamp(v, lo, hi int) int {\n\tif v < lo {\n"
    )
    assert point.members == {"X", "Y"}


def test_rust_uses_mods_and_impl_methods() -> None:
    text = (
        "use crate::net::{addr::Addr, Other as O};\nmod wire;\n"
        "/// A socket.\npub struct Socket {\n    pub fd: i32,\n}\n"
        "impl Socket {\n    pub fn open(path: &str) -> Socket {\n        let fd = 0;\n"
        "        Socket { fd }\n    }\n}\n"
    )
    summary = parse_summary("/w/src/lib.rs", "rust", text)
    assert summary.imports == (
        ImportRef("crate::net::addr", names=("Addr",)),
        ImportRef("crate::net", names=("Other",)),
        ImportRef("self::wire", alias="wire"),
    )
    assert summary.by_name["Socket"].line == 3
    open_ = summary.by_name["open"]
    assert (
        summary.text_of(open_.lines) == "impl Socket {\n    pub fn open(path: &str) -> Socket {\n"
    )
