"""Run untrusted code (a model's completion plus a benchmark's tests) safely enough.

Used by the HumanEval pass@1 scorer and by the repo runner's ``--test-command``.
Nothing runs in the testbed's own process. Each run gets:

- a separate process in its own session (process group), killed as a group
  with SIGKILL when the wall-clock timeout passes, so the run goes on;
- a fresh temporary directory as cwd, HOME and TMPDIR, deleted afterwards;
- ``resource.setrlimit`` limits: CPU seconds, address space, file size (which
  also caps the captured output, written to files), processes, open files;
- a minimal environment (no proxies, no PYTHONPATH) and, where the kernel
  allows it (root, or user namespaces), an empty network namespace;
- for Python code, an audit hook installed before the code runs that refuses
  writes, renames and deletions outside the temporary directory, new
  processes, sockets and ctypes.

The audit hook is a guard against accidents, not a jail against an attacker
who targets CPython's internals; the limits and the process boundary are
what keep a runaway completion from hanging or filling the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
TAIL_BYTES = 2000


@dataclass(frozen=True)
class Limits:
    """What one sandboxed run may use."""

    timeout_s: float = 10.0
    """Wall clock; the process group is killed after it."""
    cpu_s: int | None = None
    """CPU seconds (RLIMIT_CPU); default: the timeout rounded up, plus one."""
    memory_bytes: int | None = 2 << 30
    """Address space (RLIMIT_AS); None for no limit."""
    file_bytes: int = 16 << 20
    """Largest file the process may write (RLIMIT_FSIZE), output included."""
    processes: int = 64
    """RLIMIT_NPROC (per user; the kernel does not enforce it for root)."""
    open_files: int = 256
    no_network: bool = True
    """Unshare the network namespace when the kernel allows it."""

    def cpu_seconds(self) -> int:
        return self.cpu_s if self.cpu_s is not None else int(self.timeout_s) + 1


@dataclass
class Outcome:
    """How a sandboxed run ended."""

    status: str
    """``passed`` (exit 0), ``failed`` (non-zero exit or a signal), ``timeout``, ``error``."""
    returncode: int | None
    seconds: float
    stdout: str = ""
    stderr: str = ""
    """The last ``TAIL_BYTES`` of each stream."""
    details: dict[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _limiter(limits: Limits) -> Callable[[], None]:
    """The preexec function: runs in the child between fork and exec."""

    def apply() -> None:
        def cap(which: int, value: int) -> None:
            with contextlib.suppress(ValueError, OSError):
                _soft, hard = resource.getrlimit(which)
                if hard != resource.RLIM_INFINITY:
                    value = min(value, hard)
                resource.setrlimit(which, (value, value))

        cap(resource.RLIMIT_CPU, limits.cpu_seconds())
        if limits.memory_bytes is not None:
            cap(resource.RLIMIT_AS, limits.memory_bytes)
        cap(resource.RLIMIT_FSIZE, limits.file_bytes)
        cap(resource.RLIMIT_NPROC, limits.processes)
        cap(resource.RLIMIT_NOFILE, limits.open_files)
        cap(resource.RLIMIT_CORE, 0)
        if limits.no_network:
            # Best effort: fails without privileges, and then the env is all we have.
            with contextlib.suppress(Exception):
                ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)

    return apply


def minimal_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }
    env.update(extra or {})
    return env


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


async def run_process(
    argv: list[str],
    cwd: Path,
    limits: Limits,
    env: Mapping[str, str],
    output_dir: Path | None = None,
) -> Outcome:
    """Run ``argv`` under ``limits``; output goes to files in ``output_dir`` (default cwd)."""
    output_dir = output_dir or cwd
    out_path, err_path = output_dir / ".stdout", output_dir / ".stderr"
    started = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                preexec_fn=_limiter(limits),
            )
        except OSError as error:
            return Outcome("error", None, 0.0, stderr=str(error))
        status = ""
        try:
            await asyncio.wait_for(process.wait(), limits.timeout_s)
        except TimeoutError:
            status = "timeout"
        finally:
            # Kill the whole group: the main process and anything it forked.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.returncode is None:
                await process.wait()
    seconds = time.perf_counter() - started
    code = process.returncode
    if not status:
        status = "passed" if code == 0 else "failed"
    details: dict[str, object] = {}
    if code is not None and code < 0:
        details["signal"] = signal.Signals(-code).name
    return Outcome(status, code, seconds, _tail(out_path), _tail(err_path), details)


# The bootstrap that guards a Python program. It runs in the child, with the
# sandbox directory as argv[1] and the program as argv[2].
GUARD = r"""
import os, sys

ROOT = os.path.realpath(sys.argv[1])
PROGRAM = sys.argv[2]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
DENIED = {
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "subprocess.Popen", "pty.spawn", "ctypes.dlopen",
    "ctypes.dlsym", "ctypes.cdata", "socket.connect", "socket.bind", "socket.sendto",
    "socket.getaddrinfo", "socket.gethostbyname", "os.chroot", "os.setuid",
    "winreg.OpenKey", "sys.remote_exec",
}
PATH_EVENTS = {
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
    "os.replace": (0, 1), "os.chmod": (0,), "os.chown": (0,), "os.link": (0, 1),
    "os.symlink": (0, 1), "os.truncate": (0,), "os.utime": (0,), "shutil.rmtree": (0,),
    "shutil.copyfile": (1,), "shutil.copytree": (1,), "shutil.move": (0, 1),
}


def inside(path):
    if isinstance(path, int):
        return True
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    full = os.path.realpath(os.path.join(os.getcwd(), os.fspath(path)))
    return full == ROOT or full.startswith(ROOT + os.sep)


def hook(event, args):
    if event in DENIED or event.startswith("os.exec"):
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "open":
        path, mode, flags = args
        writes = (mode is not None and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writes and path is not None and not inside(path):
            raise PermissionError(f"sandbox: writing {path!r} is not allowed")
    elif event in PATH_EVENTS:
        for index in PATH_EVENTS[event]:
            if index < len(args) and args[index] is not None and not inside(args[index]):
                raise PermissionError(f"sandbox: {event} on {args[index]!r} is not allowed")


source = open(PROGRAM, encoding="utf-8").read()
code = compile(source, PROGRAM, "exec")
sys.addaudithook(hook)
del hook
sys.argv = [PROGRAM]
exec(code, {"__name__": "__main__", "__file__": PROGRAM, "__builtins__": __builtins__})
"""


async def run_python(program: str, limits: Limits | None = None) -> Outcome:
    """Run a Python program in a fresh temporary directory, guarded and limited."""
    limits = limits or Limits()
    workdir = Path(tempfile.mkdtemp(prefix="dscoder-sandbox-"))
    try:
        (workdir / "guard.py").write_text(GUARD, encoding="utf-8")
        (workdir / "program.py").write_text(program, encoding="utf-8")
        argv = [sys.executable, "-I", "-B", "guard.py", str(workdir), "program.py"]
        return await run_process(argv, workdir, limits, minimal_env(workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def run_shell(
    command: str,
    cwd: Path,
    limits: Limits,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """A user's test command through ``/bin/sh -c``, limited, its output kept aside."""
    output_dir = Path(tempfile.mkdtemp(prefix="dscoder-test-output-"))
    try:
        base = {
            key: value
            for key, value in (env if env is not None else os.environ).items()
            if not key.lower().endswith("_proxy")
        }
        return await run_process(["/bin/sh", "-c", command], cwd, limits, base, output_dir)
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
