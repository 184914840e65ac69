"""Definitions through imports: the signatures of what the current file imports.

tree-sitter finds the file's imports (``definitions.extract_imports``), the
resolver maps them to workspace files (``resolve``), and the index holds each
file's definitions. Ranked, best first:
0. names used within ``nearLines`` of the cursor,
1. names imported by name,
2. names used elsewhere in the file (``mod.name``, ``pkg.Name``, ``mod::name``;
   the provider passes the 300 lines either side of the cursor),
3. the other public definitions of modules imported whole.
A name a package only re-exports (``from .decoder import JSONDecoder`` in an
``__init__.py``) is followed one step to the file that defines it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from completion.crossfile.definitions import Definition, FileSummary, ImportRef
from completion.crossfile.index import WorkspaceIndex
from completion.crossfile.resolve import Resolved, resolve_imports
from completion.crossfile.snippet import Snippet

__all__ = ["ImportsSource", "Wanted"]

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_WHOLE = 48
"""Most unused definitions offered from one module imported whole."""


def _qualified(text: str, qualifiers: list[str]) -> dict[str, set[str]]:
    """``q.name`` and ``q::name`` uses in ``text`` of the given qualifiers.

    One pattern per qualifier: each starts with a literal, which the regex
    engine finds by a fast scan, where an alternation would be tried at every
    character.
    """
    pairs: dict[str, set[str]] = {}
    for qualifier in set(qualifiers):
        pattern = re.compile(re.escape(qualifier) + r"\s*(?:\.|::)\s*([A-Za-z_]\w*)")
        for match in pattern.finditer(text):
            before = text[match.start() - 1 : match.start()]
            if before and (before.isalnum() or before in "_."):
                continue  # part of a longer name: ``xparser.f``, ``a.parser.f``
            pairs.setdefault(qualifier, set()).add(match.group(1))
    return pairs


@dataclass(frozen=True)
class Wanted:
    """One definition to show, and why (its rank)."""

    rank: int
    order: int
    summary: FileSummary
    definition: Definition


class ImportsSource:
    """Turns a file's imports into ranked definition snippets."""

    def __init__(self, index: WorkspaceIndex, root: str) -> None:
        self.index = index
        self.root = root
        self._resolved: dict[tuple[str, tuple[ImportRef, ...]], list[Resolved]] = {}

    def resolve(
        self, grammar: str, file_path: str, imports: tuple[ImportRef, ...]
    ) -> list[Resolved]:
        """Resolved imports of ``file_path``, cached per import set."""
        key = (file_path, imports)
        found = self._resolved.get(key)
        if found is None:
            if len(self._resolved) > 512:
                self._resolved.clear()
            found = resolve_imports(grammar, file_path, imports, self.root)
            self._resolved[key] = found
        return found

    def candidates(
        self,
        resolved: list[Resolved],
        text: str,
        near: str,
        relative: Callable[[str], str],
        max_files: int = 64,
    ) -> list[Snippet]:
        """Ranked snippets of the definitions ``resolved`` leads to (see module docstring)."""
        near_words = set(_WORD.findall(near))
        all_words: set[str] | None = None
        qualifiers = [item.qualifier for item in resolved[:max_files] if item.qualifier]
        near_pairs, all_pairs = _qualified(near, qualifiers), _qualified(text, qualifiers)
        wanted: list[Wanted] = []
        order = 0
        for item in resolved[:max_files]:
            summary = self.index.get(item.path)
            if summary is None:
                continue
            names: dict[str, int] = {}
            qualifier = item.qualifier
            if qualifier:
                for name in sorted(near_pairs.get(qualifier, ())):
                    names.setdefault(name, 0)
                for name in sorted(all_pairs.get(qualifier, ())):
                    names.setdefault(name, 2)
            for name in item.names:
                names.setdefault(name, 0 if name in near_words else 1)
            if item.whole and not item.qualifier:
                if all_words is None:
                    all_words = set(_WORD.findall(text))
                for definition in summary.definitions:
                    if definition.name in near_words:
                        names.setdefault(definition.name, 0)
                    elif definition.name in all_words:
                        names.setdefault(definition.name, 2)
            for name, rank in names.items():
                found = self._definition(summary, name)
                if found is not None:
                    wanted.append(Wanted(rank, order, *found))
                    order += 1
            if item.whole:
                offered = 0
                for definition in summary.definitions:
                    if definition.exported and definition.name not in names:
                        wanted.append(Wanted(3, order, summary, definition))
                        order += 1
                        offered += 1
                        if offered >= _MAX_WHOLE:
                            break
        wanted.sort(key=lambda w: (w.rank, w.order))
        snippets = []
        details = []
        seen: set[tuple[str, int]] = set()
        for choice in wanted:
            summary, definition = choice.summary, choice.definition
            key = (summary.path, definition.line)
            if key in seen:
                continue
            seen.add(key)
            path = relative(summary.path)
            brief = definition.brief
            snippets.append(Snippet(path, brief[0], brief[-1], summary.text_of(brief), "imports"))
            rest = tuple(n for n in definition.lines if n > brief[-1])
            if choice.rank == 0 and rest:
                # Near the cursor: the members too, once every brief is in.
                details.append(Snippet(path, rest[0], rest[-1], summary.text_of(rest), "imports"))
        snippets += details
        return snippets

    def _definition(self, summary: FileSummary, name: str) -> tuple[FileSummary, Definition] | None:
        """``name`` in ``summary``, or in the file it re-exports ``name`` from."""
        definition = summary.by_name.get(name)
        if definition is not None:
            return summary, definition
        reexports = [ref for ref in summary.imports if name in ref.names]
        if not reexports:
            return None
        for item in self.resolve(summary.grammar, summary.path, tuple(reexports)):
            target = self.index.get(item.path)
            if target is not None and name in target.by_name:
                return target, target.by_name[name]
        return None
