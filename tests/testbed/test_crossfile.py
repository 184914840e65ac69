from __future__ import annotations

from pathlib import Path

from testbed.crossfile import Workspace
from testbed.holes import CROSS_FILE, cut_holes


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


WORKSPACE = {
    "pkg/__init__.py": "from .shapes import Circle\n",
    "pkg/shapes.py": (
        "import math\n\n"
        "UNIT = 1.0\n\n\n"
        "class Circle:\n"
        "    def __init__(self, radius):\n"
        "        self.radius = radius\n\n\n"
        "def area(circle):\n"
        "    return math.pi * circle.radius ** 2\n"
    ),
    "pkg/report.py": (
        "from .shapes import area, UNIT\n"
        "from pkg import Circle\n"
        "import pkg.shapes as shapes\n\n\n"
        "def describe(radius):\n"
        "    circle = Circle(radius * UNIT)\n"
        "    size = area(circle)\n"
        "    label = 'size'\n"
        "    other = shapes.area(shapes.Circle(2))\n"
        "    missing = shapes.nothing_here\n"
        "    return label, size, other, missing\n"
    ),
    "app.py": (
        "from pkg.report import describe\n"
        "from os import path\n\n"
        "print(describe(3))\n"
        "print(path.join('a', 'b'))\n"
    ),
}


def uses_by_line(root: Path, path: str) -> dict[str, tuple[str, str]]:
    sources = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*.py")}
    workspace = Workspace(sources)
    lines = sources[path].split("\n")
    return {
        lines[use.row].strip(): (use.name, f"{use.defined_in}:{use.defined_line}")
        for use in workspace.uses(path)
    }


def test_relative_absolute_and_module_imports_resolve_to_the_defining_file(
    tmp_path: Path,
) -> None:
    write(tmp_path, WORKSPACE)
    found = uses_by_line(tmp_path, "pkg/report.py")
    assert found == {
        # A re-export in pkg/__init__.py is followed to the file that defines Circle.
        "circle = Circle(radius * UNIT)": ("Circle", "pkg/shapes.py:6"),
        "size = area(circle)": ("area", "pkg/shapes.py:11"),
        "other = shapes.area(shapes.Circle(2))": ("area", "pkg/shapes.py:11"),
    }
    # Import lines, local-only lines and names the module does not define are not holes.
    assert uses_by_line(tmp_path, "app.py") == {
        "print(describe(3))": ("describe", "pkg/report.py:6")
    }
    # Uses of the file's own names or the standard library are not cross-file.
    assert uses_by_line(tmp_path, "pkg/shapes.py") == {}


def test_a_name_rebound_locally_is_not_a_cross_file_use(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.py": "def helper():\n    return 1\n",
            "b.py": "from a import helper\n\n\ndef go():\n    helper = 2\n    return helper\n",
        },
    )
    assert uses_by_line(tmp_path, "b.py") == {}


def test_a_root_that_is_a_package_resolves_its_own_absolute_imports(tmp_path: Path) -> None:
    root = write(
        tmp_path / "lib",
        {
            "__init__.py": "",
            "core.py": "LIMIT = 10\n",
            "use.py": "from lib.core import LIMIT\n\nvalue = LIMIT + 1\n",
        },
    )
    holes = cut_holes(root, 5, seed=0, kinds=[CROSS_FILE])
    assert [(h.source, h.expected) for h in holes] == [("use.py", "value = LIMIT + 1")]
    assert holes[0].extra["crossFile"] == {
        "name": "LIMIT",
        "definedIn": "core.py",
        "definedLine": 1,
    }


def test_cross_file_holes_are_whole_lines_and_reproducible(tmp_path: Path) -> None:
    write(tmp_path, WORKSPACE)
    holes = cut_holes(tmp_path, 10, seed=4, kinds=[CROSS_FILE])
    assert {h.expected for h in holes} == {
        "circle = Circle(radius * UNIT)",
        "size = area(circle)",
        "other = shapes.area(shapes.Circle(2))",
        "print(describe(3))",
    }
    for hole in holes:
        assert hole.kind == CROSS_FILE
        original = (tmp_path / hole.source).read_text()
        assert hole.prefix + hole.expected + hole.suffix == original
    again = cut_holes(tmp_path, 10, seed=4, kinds=[CROSS_FILE])
    assert [h.as_json() for h in holes] == [h.as_json() for h in again]
    # --include narrows where holes are cut, not where definitions are found.
    only_app = cut_holes(tmp_path, 10, seed=4, include=["app.py"], kinds=[CROSS_FILE])
    assert [h.expected for h in only_app] == ["print(describe(3))"]


def test_the_default_kinds_do_not_include_cross_file(tmp_path: Path) -> None:
    write(tmp_path, WORKSPACE)
    assert all(h.kind != CROSS_FILE for h in cut_holes(tmp_path, 50, seed=0))
