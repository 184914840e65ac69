"""The sandbox really confines and really stops code; every case runs a real process."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

from testbed.sandbox import Limits, run_python, run_shell

FAST = Limits(timeout_s=3)


def read(path: Path) -> str:
    return path.read_text()


def exists(path: Path | str) -> bool:
    return Path(path).exists()


def process_alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for its parent."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


async def test_passing_and_failing_programs() -> None:
    ok = await run_python("assert sum([1, 2]) == 3\nprint('fine')", FAST)
    assert ok.passed and ok.stdout.strip() == "fine"
    bad = await run_python("assert 1 == 2", FAST)
    assert bad.status == "failed" and "AssertionError" in bad.stderr


async def test_an_endless_loop_is_killed_and_the_next_run_goes_on() -> None:
    looping = await run_python("while True:\n    pass\n", Limits(timeout_s=1.5))
    assert looping.status == "timeout"
    assert looping.seconds < 10
    after = await run_python("print(6 * 7)", FAST)
    assert after.passed and after.stdout.strip() == "42"


async def test_writes_outside_the_temp_dir_are_refused(tmp_path: Path) -> None:
    target = tmp_path / f"escaped-{uuid.uuid4().hex}.txt"
    result = await run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert result.status == "failed"
    assert "PermissionError" in result.stderr
    assert not exists(target)
    removed = await run_python(f"import os\nos.remove({str(tmp_path)!r})", FAST)
    assert "PermissionError" in removed.stderr and exists(tmp_path)


async def test_writes_inside_are_allowed_but_capped_and_discarded() -> None:
    inside = await run_python("open('note.txt', 'w').write('x')\nimport os\nprint(os.getcwd())")
    assert inside.passed
    assert not exists(inside.stdout.strip())
    huge = await run_python(
        "f = open('big', 'wb')\nwhile True:\n    f.write(b'x' * 1_000_000)\n",
        Limits(timeout_s=10, file_bytes=1 << 20),
    )
    assert huge.status == "failed" and "File too large" in huge.stderr


async def test_new_processes_and_sockets_are_refused() -> None:
    spawn = await run_python("import subprocess\nsubprocess.run(['true'])", FAST)
    assert "PermissionError" in spawn.stderr
    fork = await run_python("import os\nos.fork()", FAST)
    assert "PermissionError" in fork.stderr
    net = await run_python("import socket\nsocket.create_connection(('127.0.0.1', 9))", FAST)
    assert "PermissionError" in net.stderr


async def test_the_environment_is_minimal(monkeypatch: object) -> None:
    os.environ["DSCODER_SANDBOX_SECRET"] = "leak"
    try:
        result = await run_python(
            "import os\nprint(os.environ.get('DSCODER_SANDBOX_SECRET'), os.environ['HOME'])",
            FAST,
        )
    finally:
        del os.environ["DSCODER_SANDBOX_SECRET"]
    secret, home = result.stdout.split()
    assert secret == "None" and "dscoder-sandbox-" in home


async def test_a_shell_command_and_its_children_are_killed_on_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    result = await run_shell(
        f"sleep 300 & echo $! > {pid_file}; wait", tmp_path, Limits(timeout_s=1.0)
    )
    assert result.status == "timeout"
    child = int(read(pid_file))
    # The whole process group got SIGKILL: the background child is gone too. The
    # kernel takes it down when it next runs, which on a busy machine is not at once;
    # a child that escaped the kill would sleep on for 300 s.
    deadline = time.monotonic() + 5.0
    while process_alive(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not process_alive(child)
