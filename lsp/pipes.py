"""Whether stdin is a pipe the server may read on its event loop.

Its own module so that ``lsp.early`` can ask before pygls is imported.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO


def own_pipe(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """True when stdin is a pipe or socket of its own, safe to make non-blocking.

    Non-blocking is a property of the open file, so stdin must not be the
    same socket as stdout (socat, inetd): writes to it could then be cut short.
    """
    if os.name != "posix":
        return False
    try:
        read, write = os.fstat(stdin.fileno()), os.fstat(stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    if not (stat.S_ISFIFO(read.st_mode) or stat.S_ISSOCK(read.st_mode)):
        return False
    return (read.st_dev, read.st_ino) != (write.st_dev, write.st_ino)
