"""The cross-file provider: runs the sources, splits the budget, keeps the block stable.

The completion service owns one. The LSP layer tells it about documents
(open, edit through a listener, save, close) and watched files; the pipeline
asks it for the snippets of one request (``select``).

Prompt-cache friendliness: ``select`` remembers its answer per document under
a key made of what its sources read: the cursor's region (``regionLines``),
the file's import statements, the other open documents' versions, the
recent-chunk ring as seen from this file, and the index generations of the
imported files. While the key holds, the same snippets come back, and render
to the same bytes at the head of the prompt: typing never changes them.

Privacy: every path goes through ``is_excluded`` (content exclusion's hook;
the default excludes nothing), and no file over ``max_document_bytes`` is read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from completion.crossfile.definitions import SUPPORTED, ImportRef, extract_imports
from completion.crossfile.imports import ImportsSource
from completion.crossfile.index import NOTHING_EXCLUDED, PathFilter, WorkspaceIndex
from completion.crossfile.open_files import OpenDocument, WindowCache, rank_windows
from completion.crossfile.options import SOURCES, CrossFileOptions
from completion.crossfile.recent import RecentChunks
from completion.crossfile.resolve import Resolved
from completion.crossfile.snippet import Snippet, snippet_comment

if TYPE_CHECKING:
    from completion.document import Document, DocumentEdit

log = logging.getLogger(__name__)

__all__ = ["CrossFileProvider", "path_of_uri"]

TokenCounter = Callable[[str], int]
_MAX_CANDIDATES = 200
_USE_LINES = 300
"""Names used this many lines around the cursor rank as used in the file: a
bound on the text scanned per selection, whatever the file's size."""


def path_of_uri(uri: str) -> str | None:
    """The absolute file-system path of a ``file:`` URI, else None."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return os.path.normpath(unquote(parsed.path))


class CrossFileProvider:
    """Workspace state for cross-file context (see module docstring)."""

    def __init__(
        self,
        root: str | None = None,
        is_excluded: PathFilter = NOTHING_EXCLUDED,
        max_document_bytes: int = 10_000_000,
        documents: Mapping[str, Document] | None = None,
    ) -> None:
        self._is_excluded = is_excluded
        self._max_bytes = max_document_bytes
        self.index = WorkspaceIndex(self.excluded, max_document_bytes)
        self.imports = ImportsSource(self.index, root or "")
        self.documents: Mapping[str, Document] = documents if documents is not None else {}
        """The open documents by URI (the server hands over its own dict)."""
        self.recent = RecentChunks()
        self.windows = WindowCache()
        self._root = os.path.normpath(root) if root else ""
        self._last_edit: dict[str, float] = {}
        self._indexed_versions: dict[str, int] = {}
        self._selections: dict[str, tuple[object, tuple[Snippet, ...]]] = {}
        self.selections_made = 0
        """How often the snippets were chosen afresh (not reused): for tests."""

    # ----- settings ------------------------------------------------------------

    @property
    def root(self) -> str:
        return self._root

    @root.setter
    def root(self, root: str | None) -> None:
        self._root = os.path.normpath(root) if root else ""
        self.imports = ImportsSource(self.index, self._root)
        self._selections.clear()

    @property
    def max_document_bytes(self) -> int:
        return self._max_bytes

    @max_document_bytes.setter
    def max_document_bytes(self, size: int) -> None:
        self._max_bytes = size
        self.index.max_file_bytes = size
        self._selections.clear()

    def set_exclusion(self, is_excluded: PathFilter) -> None:
        """Plug in content exclusion (``completion.privacy``'s answer per path)."""
        self._is_excluded = is_excluded
        self._selections.clear()

    def excluded(self, path: str) -> bool:
        try:
            return bool(self._is_excluded(path))
        except Exception:
            log.exception("content exclusion failed for %s; leaving the file out", path)
            return True

    def relative(self, path: str) -> str:
        """``path`` as the prompt shows it: relative to the workspace root."""
        root = self._root
        if root and (path.startswith(root.rstrip(os.sep) + os.sep)):
            return path[len(root.rstrip(os.sep)) + 1 :].replace(os.sep, "/")
        return os.path.basename(path)

    def _path_of_document(self, document: Document) -> str:
        path = path_of_uri(document.uri)
        return self.relative(path) if path else document.uri.rsplit("/", 1)[-1]

    def _usable(self, document: Document) -> bool:
        """May this document be read as context (not excluded, not too large)?"""
        if len(document.text) > self._max_bytes:
            return False
        path = path_of_uri(document.uri)
        return path is None or not self.excluded(path)

    # ----- events ----------------------------------------------------------------

    def opened(self, document: Document) -> None:
        """A document was opened: follow its edits."""
        if self._on_edit not in document.listeners:
            document.listeners.append(self._on_edit)

    def closed(self, uri: str) -> None:
        self.windows.forget(uri)
        self._last_edit.pop(uri, None)
        self._selections.pop(uri, None)

    def saved(self, uri: str) -> None:
        path = path_of_uri(uri)
        if path is not None:
            self.index.invalidate(path)

    def files_changed(self, uris: list[str]) -> None:
        """``workspace/didChangeWatchedFiles``: files changed on disk."""
        for uri in uris:
            path = path_of_uri(uri)
            if path is not None:
                self.index.invalidate(path)

    def _on_edit(self, document: Document, edit: DocumentEdit) -> None:
        self._last_edit[document.uri] = time.monotonic()
        self._record(document, document.line_of(min(edit.new_end, len(document.text))))

    def viewed(self, document: Document, offset: int) -> None:
        """The user is at ``offset`` (a completion request): a view for the ring."""
        self._record(document, document.line_of(offset))

    def _record(self, document: Document, line: int) -> None:
        if not self._usable(document):
            return
        self.recent.record(
            document.uri,
            self._path_of_document(document),
            document.line_count,
            document.line_text,
            line,
            document.language_id,
        )

    def configure(self, options: CrossFileOptions) -> None:
        recent = options.recent
        ring = self.recent
        if (ring.size, ring.chunk_lines, ring.max_overlap) != (
            recent.size,
            recent.chunk_lines,
            recent.max_overlap,
        ):
            ring.size, ring.chunk_lines, ring.max_overlap = (
                recent.size,
                recent.chunk_lines,
                recent.max_overlap,
            )

    # ----- the request path -------------------------------------------------------

    def _imports_of(
        self, document: Document, budget_ms: float | None
    ) -> tuple[str, tuple[ImportRef, ...]]:
        grammar = document.grammar
        if grammar not in SUPPORTED:
            return "", ()
        tree = document.syntax_tree(budget_ms)
        if tree is None or grammar is None:
            return "", ()
        return grammar, extract_imports(grammar, tree.root_node)

    def _resolved(self, document: Document, options: CrossFileOptions) -> list[Resolved]:
        path = path_of_uri(document.uri)
        if not options.wants("imports") or path is None or not self._root:
            return []
        grammar, imports = self._imports_of(document, None)
        if not grammar:
            return []
        resolved = self.imports.resolve(grammar, path, imports)
        self._sync_open_documents(resolved)
        return resolved

    def _sync_open_documents(self, resolved: list[Resolved]) -> None:
        """Imported files that are open are indexed from their text, not the disk."""
        if not self.documents:
            return
        wanted = {item.path for item in resolved}
        for uri, document in self.documents.items():
            path = path_of_uri(uri)
            if path is None or path not in wanted:
                continue
            if self._indexed_versions.get(path) != document.version:
                self._indexed_versions[path] = document.version
                self.index.update_text(path, document.text)

    async def prepare(self, document: Document, options: CrossFileOptions) -> None:
        """Index the files the document imports, waiting at most ``imports.waitMs``.

        Files whose parse takes longer are indexed in the background for the
        next request. Names that a module only re-exports are followed one step.
        """
        if not options.enabled:
            return
        try:
            await self._prepare(document, options)
        except Exception:  # context is a bonus: never fail a completion over it
            log.exception("indexing the imports of %s failed", document.uri)

    async def _prepare(self, document: Document, options: CrossFileOptions) -> None:
        deadline = time.monotonic() + options.imports.wait_ms / 1000
        resolved = self._resolved(document, options)
        if not resolved:
            return
        paths = [item.path for item in resolved[: options.imports.max_files]]
        await self.index.wait(paths, max(0.0, deadline - time.monotonic()))
        onward: list[str] = []
        for path in paths:
            summary = self.index.get(path)
            if summary is None:
                continue
            refs = tuple(ref for ref in summary.imports if ref.names)
            if refs:
                onward += [r.path for r in self.imports.resolve(summary.grammar, path, refs)]
        if onward:
            await self.index.wait(onward[:64], max(0.0, deadline - time.monotonic()))

    def select(
        self,
        document: Document,
        offset: int,
        options: CrossFileOptions,
        budget: int,
        count: TokenCounter,
    ) -> tuple[Snippet, ...]:
        """The snippets for a prompt at ``offset``, within ``budget`` tokens."""
        if not options.enabled or budget <= 0 or not self._usable(document):
            return ()
        self.configure(options)
        uri = document.uri
        line = document.line_of(offset)
        region = line // max(1, options.region_lines)
        resolved = self._resolved(document, options)
        others = self._other_documents(document) if options.wants("openFiles") else ()
        key = (
            region,
            budget,
            options,
            count(" " * 300),  # the estimate's calibration
            tuple(resolved),
            tuple((d.uri, d.version) for d in others),
            self.recent.key(uri) if options.wants("recent") else (),
        )
        cached = self._selections.get(uri)
        self.viewed(document, offset)
        # Any file (re)indexed since, imported or re-exported from, may change the choice.
        if cached is not None and cached[0] == (key, self.index.changes):
            return cached[1]
        chosen = self._choose(document, line, options, budget, count, resolved, others)
        self.selections_made += 1
        self._selections[uri] = ((key, self.index.changes), chosen)
        return chosen

    def _other_documents(self, document: Document) -> tuple[OpenDocument, ...]:
        found = []
        for uri, other in self.documents.items():
            if uri == document.uri or not self._usable(other):
                continue
            found.append(
                OpenDocument(
                    uri,
                    self._path_of_document(other),
                    other.language_id,
                    other.version,
                    other.text,
                    self._last_edit.get(uri, 0.0),
                )
            )
        found.sort(key=lambda d: d.uri)
        return tuple(found)

    def _choose(
        self,
        document: Document,
        line: int,
        options: CrossFileOptions,
        budget: int,
        count: TokenCounter,
        resolved: list[Resolved],
        others: tuple[OpenDocument, ...],
    ) -> tuple[Snippet, ...]:
        candidates: dict[str, list[Snippet]] = {}
        if resolved:
            near = options.imports.near_lines
            candidates["imports"] = self.imports.candidates(
                resolved,
                _lines(document, line - _USE_LINES, line + _USE_LINES),
                _lines(document, line - near, line + near),
                self.relative,
                options.imports.max_files,
            )
        if others:
            o = options.open_files
            query = _lines(document, line - (2 * o.query_lines) // 3, line + o.query_lines // 3)
            candidates["openFiles"] = rank_windows(
                query,
                document.language_id,
                others,
                self.windows,
                o.window_lines,
                o.max_windows,
                o.min_similarity,
            )
        if options.wants("recent"):
            candidates["recent"] = self.recent.candidates(document.uri)
        return allocate(candidates, options, budget, count)


def _lines(document: Document, first: int, last: int) -> str:
    first = max(0, first)
    last = min(document.line_count - 1, last)
    if last < first:
        return ""
    end = document.line_end(last)
    return document.text[document.line_start(first) : end]


def allocate(
    candidates: Mapping[str, list[Snippet]],
    options: CrossFileOptions,
    budget: int,
    count: TokenCounter,
) -> tuple[Snippet, ...]:
    """Fill each source's share in rank order, then lend what is left over.

    A snippet that overlaps lines of one already taken from the same file is
    skipped. Each snippet's ``tokens`` is its cost with its path comment.
    """
    active = [name for name in SOURCES if options.wants(name) and candidates.get(name)]
    if not active or budget <= 0:
        return ()
    shares = {
        "imports": options.imports.share,
        "openFiles": options.open_files.share,
        "recent": options.recent.share,
    }
    total_share = sum(shares[name] for name in active) or 1.0
    taken: list[Snippet] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    spent = 0
    left: dict[str, list[Snippet]] = {}

    costs: dict[int, int] = {}

    def cost_of(snippet: Snippet) -> int:
        cost = costs.get(id(snippet))
        if cost is None:
            cost = costs[id(snippet)] = count(
                snippet_comment(snippet.path, snippet.language_id) + snippet.text
            )
        return cost

    def overlaps(snippet: Snippet) -> bool:
        return any(
            snippet.start_line <= end and start <= snippet.end_line
            for start, end in spans.get(snippet.path, ())
        )

    def take(snippet: Snippet, cost: int) -> None:
        nonlocal spent
        spent += cost
        spans.setdefault(snippet.path, []).append((snippet.start_line, snippet.end_line))
        taken.append(
            Snippet(
                snippet.path,
                snippet.start_line,
                snippet.end_line,
                snippet.text,
                snippet.source,
                snippet.language_id,
                cost,
            )
        )

    for name in active:
        quota = int(budget * shares[name] / total_share)
        used = 0
        rest = []
        for snippet in candidates[name][:_MAX_CANDIDATES]:
            if overlaps(snippet):
                continue
            cost = cost_of(snippet)
            if used + cost <= quota and spent + cost <= budget:
                used += cost
                take(snippet, cost)
            else:
                rest.append(snippet)
        left[name] = rest
    for name in active:
        for snippet in left[name]:
            if budget - spent < 8:  # no snippet is that small
                break
            if overlaps(snippet):
                continue
            cost = cost_of(snippet)
            if spent + cost <= budget:
                take(snippet, cost)
    return tuple(taken)


async def wait_until_indexed(
    provider: CrossFileProvider, document: Document, seconds: float
) -> None:
    """For one-shot callers (the CLI): index the document's imports, up to ``seconds``."""
    options = CrossFileOptions()
    longer = dataclasses.replace(
        options, imports=dataclasses.replace(options.imports, wait_ms=seconds * 1000)
    )
    await provider.prepare(document, longer)
    await asyncio.sleep(0)
