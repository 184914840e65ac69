"""Comparing tree-sitter trees in tests: an incremental tree against a fresh parse."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Tree


def sexp(tree: Tree) -> str:
    """Every node's type and byte range, nested, for comparing two trees exactly."""
    parts: list[str] = []
    cursor = tree.walk()
    while True:
        node = cursor.node
        if node is not None:
            missing = "!" if node.is_missing else ""
            parts.append(f"({node.type}{missing}[{node.start_byte},{node.end_byte}]")
        if cursor.goto_first_child():
            continue
        parts.append(")")
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return " ".join(parts)
            parts.append(")")
