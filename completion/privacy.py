"""The privacy stage: what may reach an engine at all, and in what form.

Every prompt passes here before an engine sees it:

- **content exclusion** decides that a file gets no completion and is never
  used as context for another file. Its globs are the defaults below, the
  ``exclude.patterns`` setting and a workspace ``.dscoderignore``, all in
  gitignore syntax, matched by ``pathspec`` (so ``!.env.example`` in the
  ignore file brings one default back). ``Exclusion.reason`` says why a file
  is excluded; ``Exclusion.excludes`` is the yes/no that context sources ask.
- **secret scrubbing** replaces well-known credential shapes (the table in
  ``engines/credentials.py``) by ``PLACEHOLDER`` in the prefix and suffix, on
  by default for remote engines. A completion that would write a placeholder
  back into the file is dropped (``reinserts_placeholder``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pathspec

from engines.credentials import replace_secrets

log = logging.getLogger(__name__)

DEFAULT_EXCLUDES: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_rsa*",
    "id_ed25519*",
    "*.p12",
    "*.pfx",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "*.kdbx",
    "secrets.*",
    "credentials*",
)
"""Files that hold credentials far more often than code."""

IGNORE_FILE = ".dscoderignore"

PLACEHOLDER = "<redacted>"
"""What a scrubbed secret becomes in the prompt."""


@dataclass(frozen=True)
class ExcludeOptions:
    """Files that never get completions nor serve as context (the ``exclude`` section)."""

    patterns: tuple[str, ...] = ()
    """Globs in gitignore syntax, added to the defaults (and to ``.dscoderignore``)."""
    defaults: bool = True
    """Apply ``DEFAULT_EXCLUDES`` (.env, *.pem, id_rsa*, ...); false turns them off."""


@dataclass(frozen=True)
class ScrubOptions:
    """Where credential shapes are replaced before a prompt is sent (``scrubSecrets``)."""

    remote: bool = True
    """Scrub prompts sent to a remote engine (a server, possibly not yours)."""
    local: bool = False
    """Scrub prompts for the in-process engine too (they never leave the machine)."""

    def applies(self, remote_engine: bool) -> bool:
        return self.remote if remote_engine else self.local


# ----- exclusion ---------------------------------------------------------------


def path_of(location: str) -> str | None:
    """The file path of a URI (or a plain path); None for unnamed buffers."""
    if "://" not in location and not location.startswith(("untitled:", "file:")):
        return location or None
    parsed = urlparse(location)
    if parsed.scheme == "untitled":
        return None
    return unquote(parsed.path) or None


class Exclusion:
    """Answers "may this file reach an engine?" for one set of options and roots.

    ``roots`` are the workspace folders; each may hold a ``.dscoderignore``,
    re-read when it changes (one ``stat`` per question). Paths inside a root
    are matched relative to it; other paths against their whole path, so
    ``.env`` matches a ``.env`` anywhere.
    """

    def __init__(self, options: ExcludeOptions | None = None, roots: Iterable[str] = ()):
        self.options = options or ExcludeOptions()
        self.roots = tuple(str(Path(root)) for root in roots if root)
        self._base_lines = [
            *(DEFAULT_EXCLUDES if self.options.defaults else ()),
            *self.options.patterns,
        ]
        self._base = pathspec.GitIgnoreSpec.from_lines(self._base_lines)
        self._per_root: dict[str, tuple[float | None, pathspec.GitIgnoreSpec]] = {}

    def reason(self, location: str) -> str | None:
        """Why ``location`` (a URI or path) is excluded, or None when it is not."""
        path = path_of(location)
        if path is None:
            return None
        root = self._root_of(path)
        if root is None:
            relative, spec = path.lstrip("/"), self._base
        else:
            relative, spec = os.path.relpath(path, root), self._spec_for(root)
        result = spec.check_file(relative)
        if not result.include or result.index is None:
            return None
        pattern = spec.patterns[result.index]
        source = getattr(pattern, "pattern", None) or "an exclude pattern"
        return f"excluded: matches {source}"

    def excludes(self, location: str) -> bool:
        """True when ``location`` must never reach an engine, as target or context."""
        return self.reason(location) is not None

    def _root_of(self, path: str) -> str | None:
        best: str | None = None
        for root in self.roots:
            if (path == root or path.startswith(root.rstrip("/") + "/")) and (
                best is None or len(root) > len(best)
            ):
                best = root
        return best

    def _spec_for(self, root: str) -> pathspec.GitIgnoreSpec:
        ignore_file = Path(root) / IGNORE_FILE
        try:
            mtime: float | None = ignore_file.stat().st_mtime
        except OSError:
            mtime = None
        cached = self._per_root.get(root)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        lines: list[str] = []
        if mtime is not None:
            try:
                lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as error:
                log.warning("cannot read %s: %s", ignore_file, error.strerror)
        spec = pathspec.GitIgnoreSpec.from_lines([*self._base_lines, *lines])
        self._per_root[root] = (mtime, spec)
        return spec


# ----- scrubbing ------------------------------------------------------------------

_KEY_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_KEY_BEGIN = re.compile(rf"-----BEGIN {_KEY_LABEL}-----")
_KEY_END = re.compile(rf"-----END {_KEY_LABEL}-----")
_KEY_TAIL = re.compile(rf"\A[\s\S]*?-----END {_KEY_LABEL}-----")
# A quoted secret the cursor is typing inside: `password = "hun|ter2"`.
_OPEN_ASSIGNMENT = re.compile(
    r"((?:password|passwd|pwd|secret|token|api[_-]?key|apikey)[A-Za-z0-9_]*[\"']?\s*"
    r"(?::=|=>|[:=])\s*[\"'])([^\"'\n]*)\Z",
    re.IGNORECASE,
)
_CLOSING_VALUE = re.compile(r"\A[^\"'\n]+(?=[\"'])")


def _last_line(text: str) -> int:
    return text.rfind("\n") + 1


def _inside_key_block(text: str) -> bool:
    begins = [m.start() for m in _KEY_BEGIN.finditer(text)]
    ends = [m.start() for m in _KEY_END.finditer(text)]
    return bool(begins) and (not ends or begins[-1] > ends[-1])


def _starts_inside_key_block(text: str) -> bool:
    end = _KEY_END.search(text)
    if end is None:
        return False
    begin = _KEY_BEGIN.search(text)
    return begin is None or begin.start() > end.start()


def scrub(prefix: str, suffix: str) -> tuple[str, str, int]:
    """Prefix and suffix with credential shapes replaced, and how many were.

    Each side is scrubbed on its own (a pattern must never swallow the hole
    between them), then the cursor's own spot: inside a private key block,
    or inside a quoted secret being typed, the part across the cursor goes too.
    """
    cursor_in_key = _inside_key_block(prefix)
    scrubbed_prefix, before = replace_secrets(prefix, PLACEHOLDER)
    scrubbed_suffix, after = replace_secrets(suffix, PLACEHOLDER)
    count = before + after
    if cursor_in_key or _starts_inside_key_block(suffix):
        tail = _KEY_TAIL.match(suffix)
        scrubbed_suffix = PLACEHOLDER + (suffix[tail.end() :] if tail else "")
        scrubbed_suffix, more = replace_secrets(scrubbed_suffix, PLACEHOLDER)
        count += (0 if cursor_in_key else 1) + more
    elif typing := _OPEN_ASSIGNMENT.search(scrubbed_prefix, _last_line(scrubbed_prefix)):
        rest = _CLOSING_VALUE.match(scrubbed_suffix)
        if typing.group(2) or rest:
            scrubbed_prefix = scrubbed_prefix[: typing.start(2)] + PLACEHOLDER
            scrubbed_suffix = scrubbed_suffix[rest.end() :] if rest else scrubbed_suffix
            count += 1
    return scrubbed_prefix, scrubbed_suffix, count


def reinserts_placeholder(text: str) -> bool:
    """True when ``text`` would write a placeholder (or a piece of one) into the file."""
    return PLACEHOLDER in text or "<redacted" in text or "redacted>" in text
