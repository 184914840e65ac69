"""Answer ``initialize`` before pygls and lsprotocol are imported.

Importing pygls and lsprotocol and building lsprotocol's converter take
most of a second on a slow machine: more than the editor should wait for
``initialize``. The answer itself (server capabilities and info) depends only
on the server's code and the client's capabilities, so it is kept in a
small cache file, keyed by both, the first time pygls computes it. On the
next start with the same key, the server reads the ``initialize`` request
straight off the stdin pipe, writes the cached answer, and only then imports
the protocol stack (``DSCODER_EARLY_INITIALIZE=0`` turns this off). The
request is then handed to pygls as if just read, so
it sets up its state (client capabilities, position encoding, workspace)
and our own handler runs as usual; its answer, the same as the cached one,
is not sent again. Messages the client sends meanwhile wait in the pipe.

Only for stdio on a pipe (the event-loop reader takes the bytes already
read); anything unusual in the first message (not ``initialize``, bad
framing, no cache entry) falls back to the ordinary start with the bytes
read so far handed over unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import select
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HEADER_END = b"\r\n\r\n"
_MAX_FIRST_MESSAGE = 1 << 22


@dataclass
class FirstMessage:
    """What was read from stdin before the protocol stack was imported."""

    raw: bytes
    """Every byte read so far, the first message included: pygls reads them again."""
    initialize_id: Any = None
    """The id of the first message when it is ``initialize`` (else None)."""
    answered: bool = False
    """True when that ``initialize`` was answered from the cache already."""
    cache_key: str | None = None
    """The key its answer is (or will be) cached under."""


def cache_dir() -> Path:
    """``$DSCODER_CACHE/initialize``, as the project's other caches (else the XDG cache)."""
    own = os.environ.get("DSCODER_CACHE")
    if own:
        return Path(own) / "initialize"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dscoder-lsp" / "initialize"


def code_fingerprint() -> str:
    """Changes whenever the server's code or its protocol libraries might have."""
    from importlib.util import find_spec

    from lsp import __version__

    parts = [__version__]
    files = sorted(Path(__file__).parent.glob("*.py"))
    for package in ("pygls", "lsprotocol"):
        spec = find_spec(package)  # finds, does not import
        origin = spec.origin if spec is not None else None
        if origin:
            files.append(Path(origin))
        parts.append(f"{package}:{origin}")
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        parts.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(parts)


def cache_key(request: dict[str, Any]) -> str | None:
    params = request.get("params")
    if not isinstance(params, dict):
        return None
    capabilities = json.dumps(params.get("capabilities"), sort_keys=True)
    digest = hashlib.sha256(f"{code_fingerprint()}\n{capabilities}".encode())
    return digest.hexdigest()[:32]


def _read(fd: int) -> bytes:
    """One read from ``fd``, waiting on a non-blocking pipe; b"" at EOF or on an error."""
    while True:
        try:
            return os.read(fd, 65536)
        except BlockingIOError:
            select.select([fd], [], [])
        except InterruptedError:
            continue
        except OSError:
            return b""


def read_first_message(fd: int) -> tuple[bytes, dict[str, Any] | None]:
    """(bytes read, the first message parsed) from a pipe; None when it cannot be parsed."""
    data = b""
    while _HEADER_END not in data:
        chunk = _read(fd)
        if not chunk:
            return data, None
        data += chunk
        if len(data) > _MAX_FIRST_MESSAGE:
            return data, None
    header, _, body = data.partition(_HEADER_END)
    length = None
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
    if length is None or length > _MAX_FIRST_MESSAGE:
        return data, None
    while len(body) < length:
        chunk = _read(fd)
        if not chunk:
            return data, None
        data += chunk
        body += chunk
    try:
        message = json.loads(body[:length])
    except ValueError:
        return data, None
    return data, message if isinstance(message, dict) else None


def can_answer_early(stdin: Any, stdout: Any) -> bool:
    """True when stdin is a pipe the event loop will read (the server's own test)."""
    if os.environ.get("DSCODER_EARLY_INITIALIZE", "1") == "0":
        return False
    from lsp.pipes import own_pipe

    return own_pipe(stdin, stdout)


def answer_early(fd: int, out: Any) -> FirstMessage:
    """Read the first message; answer it from the cache when it is a known ``initialize``."""
    raw, message = read_first_message(fd)
    first = FirstMessage(raw)
    if message is None or message.get("method") != "initialize" or "id" not in message:
        return first
    first.initialize_id = message["id"]
    first.cache_key = cache_key(message)
    if first.cache_key is None:
        return first
    try:
        result = json.loads((cache_dir() / f"{first.cache_key}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return first  # not cached yet: pygls answers, and the answer is stored
    body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result})
    encoded = body.encode("utf-8")
    frame = memoryview(b"Content-Length: %d\r\n\r\n" % len(encoded) + encoded)
    try:
        while frame:
            written = out.write(frame)
            frame = frame[written if written is not None else len(frame) :]
        out.flush()
    except OSError as error:  # the client is gone; pygls will find out too
        log.debug("could not write the early initialize answer: %s", error)
        return first
    first.answered = True
    return first


def store_answer(key: str, result: Any) -> None:
    """Keep pygls's ``initialize`` result (JSON-able) for the next start."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary = directory / f".{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(result), "utf-8")
        temporary.replace(directory / f"{key}.json")
    except OSError as error:
        log.debug("could not cache the initialize answer: %s", error)
