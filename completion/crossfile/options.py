"""Options of the cross-file context: the ``context.crossFile`` config section."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "SOURCES",
    "CrossFileOptions",
    "ImportsOptions",
    "OpenFilesOptions",
    "RecentOptions",
]

SOURCES = ("imports", "openFiles", "recent")
"""Source names, in the order their snippets go into the prompt (dependencies first)."""


@dataclass(frozen=True)
class OpenFilesOptions:
    """Windows of other open documents, ranked by identifier similarity."""

    enabled: bool = True
    share: float = 0.35
    """Part of the cross-file budget for this source (unused parts go to the others)."""
    window_lines: int = 30
    """Lines per window of an open document."""
    query_lines: int = 30
    """Lines around the cursor whose identifiers are compared with each window."""
    max_windows: int = 3
    min_similarity: float = 0.05
    """Windows less similar than this (Jaccard of identifier sets) are left out."""


@dataclass(frozen=True)
class ImportsOptions:
    """Signatures of the definitions the current file imports, from the workspace."""

    enabled: bool = True
    share: float = 0.5
    near_lines: int = 40
    """Names used this many lines around the cursor are ranked first."""
    max_files: int = 64
    """Most imported files looked at per request."""
    wait_ms: float = 5.0
    """Most time a request waits for imported files to be indexed; the rest
    are indexed in the background and serve later requests."""


@dataclass(frozen=True)
class RecentOptions:
    """A ring buffer of chunks the user recently edited or looked at."""

    enabled: bool = True
    share: float = 0.15
    chunk_lines: int = 16
    """Lines per chunk (centred on the edit or the cursor)."""
    size: int = 16
    """Chunks kept; the oldest go first."""
    max_overlap: float = 0.5
    """A chunk overlapping a kept chunk of the same file by more than this
    share of its lines, or with near the same identifiers, replaces it."""


@dataclass(frozen=True)
class CrossFileOptions:
    """Snippets of other workspace files at the head of the prompt."""

    enabled: bool = True
    share: float = 0.3
    """Part of ``context.maxTokens`` the cross-file block may take; what it
    does not use goes to the current file."""
    sources: tuple[str, ...] = SOURCES
    """Which sources run, by name: imports, openFiles, recent."""
    region_lines: int = 32
    """The block is chosen again when the cursor moves to another region of
    this many lines (or a source changes), never on a keystroke."""
    open_files: OpenFilesOptions = field(default_factory=OpenFilesOptions)
    imports: ImportsOptions = field(default_factory=ImportsOptions)
    recent: RecentOptions = field(default_factory=RecentOptions)

    def wants(self, source: str) -> bool:
        """Whether ``source`` runs: listed in ``sources`` and switched on."""
        if not self.enabled or source not in self.sources:
            return False
        switches = {
            "openFiles": self.open_files.enabled,
            "imports": self.imports.enabled,
            "recent": self.recent.enabled,
        }
        return switches.get(source, False)
