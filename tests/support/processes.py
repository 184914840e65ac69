"""Looking at real processes from tests: children of a pid, waiting for one to end."""

from __future__ import annotations

import os
import select
from pathlib import Path


def parent_of(pid: int) -> int | None:
    """The parent pid of ``pid`` (read from /proc), or None when it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The parent pid follows the command name, which is in parentheses.
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and parent_of(int(entry.name)) == pid
    ]


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True when process ``pid`` is gone within ``timeout`` (pidfd: no polling)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)
