"""The headless ``complete`` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import fill_cases

pytestmark = pytest.mark.slow


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lsp.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_complete_prints_the_fill(tmp_path: Path, fill_model: Path) -> None:
    case = next(e for e in fill_cases() if e["language"] == "python")
    source = tmp_path / "hole.py"
    source.write_text(case["prefix"] + case["suffix"], encoding="utf-8")
    line = case["prefix"].count("\n") + 1
    column = len(case["prefix"].rsplit("\n", 1)[-1]) + 1
    result = run_cli("complete", f"{source}:{line}:{column}", "--model", str(fill_model))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == case["middle"].rstrip() + "\n"


def test_complete_json_from_stdin(fill_model: Path) -> None:
    case = next(e for e in fill_cases() if e["language"] == "python")
    line = case["prefix"].count("\n") + 1
    column = len(case["prefix"].rsplit("\n", 1)[-1]) + 1
    result = run_cli(
        "complete",
        "--stdin",
        "--line",
        str(line),
        "--col",
        str(column),
        "--language",
        "python",
        "--json",
        "--stats",
        "--model",
        str(fill_model),
        stdin=(case["prefix"] + case["suffix"]).encode(),
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text"] == case["middle"].rstrip()
    assert payload["usage"]["finishReason"] in ("stop", "cut")
    assert payload["stats"]["engineCalls"] == 1 and payload["stats"]["requests"] == 1


@pytest.mark.parametrize(
    ("content", "location", "message"),
    [
        (b"x = 1\n", "{path}:9:1", "past the end of the file"),
        (b"x = 1\n", "{path}:1:40", "past the end of line 1"),
        (b"\xff\xfe bad", "{path}:1:1", "not UTF-8"),
        (b"x = 1\n", "{path}", "missing line and column"),
    ],
)
def test_complete_errors_are_one_line(
    tmp_path: Path, any_model: Path, content: bytes, location: str, message: str
) -> None:
    source = tmp_path / "f.py"
    source.write_bytes(content)
    result = run_cli("complete", location.format(path=source), "--model", str(any_model))
    assert result.returncode != 0
    stderr = result.stderr.decode().strip()
    assert message in stderr and len(stderr.splitlines()) == 1, stderr
    assert result.stdout == b""


def test_complete_reports_a_corrupt_model(tmp_path: Path) -> None:
    source = tmp_path / "f.py"
    source.write_text("x = 1\n")
    model = tmp_path / "bad.gguf"
    model.write_bytes(b"not a model at all")
    result = run_cli("complete", f"{source}:1:1", "--model", str(model))
    assert result.returncode == 1
    assert f"{model} is not a GGUF file" in result.stderr.decode()


def test_config_command_shows_problems(tmp_path: Path) -> None:
    result = run_cli("config", "--set", "maxTokens=-3", "--set", "engine.nCtx=2048")
    assert result.returncode == 1
    shown = json.loads(result.stdout)
    assert shown["maxTokens"] == 64 and shown["engine"]["nCtx"] == 2048
    assert "maxTokens" in result.stderr.decode()


def test_stdout_carries_only_protocol(any_model: Path) -> None:
    """Loading a model in stdio mode writes nothing but LSP frames to stdout."""
    body = (
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
        b'{"processId":null,"rootUri":null,"capabilities":{}}}'
    )
    initialized = b'{"jsonrpc":"2.0","method":"initialized","params":{}}'
    frames = b"".join(b"Content-Length: %d\r\n\r\n" % len(b) + b for b in (body, initialized))
    result = run_cli("--stdio", "--model", str(any_model), "-vv", stdin=frames)
    assert result.stdout.startswith(b"Content-Length: ")
    chunks = result.stdout.split(b"Content-Length: ")[1:]
    for chunk in chunks:
        header, _, payload = chunk.partition(b"\r\n\r\n")
        length = int(header.split(b"\r\n")[0])
        json.loads(payload[:length])


def test_tcp_mode_serves_on_loopback(any_model: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "lsp.cli", "--tcp", "--port", str(port), "--model", str(any_model)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not listen"
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.05)
        with connection:
            body = (
                b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":'
                b'{"processId":null,"rootUri":null,"capabilities":{}}}'
            )
            connection.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            received = b""
            while b'"serverInfo"' not in received:
                chunk = connection.recv(65536)
                assert chunk, "connection closed before the initialize result"
                received += chunk
        assert b"inlineCompletionProvider" in received
    finally:
        server.kill()
        server.wait(timeout=10)


def test_config_output_masks_the_key_and_url_credentials() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lsp.cli",
            "config",
            "--engine",
            "openai",
            "--endpoint",
            "http://deploy:pa55word@10.0.0.7:8000/v1",
        ],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "DSCODER_API_KEY": "key-in-env-3141"},
    )
    shown = json.loads(result.stdout)
    assert shown["engine"]["endpoint"] == "http://deploy:***@10.0.0.7:8000/v1"
    assert shown["engine"]["apiKey"] == "***"
    assert b"pa55word" not in result.stdout + result.stderr
    assert b"key-in-env-3141" not in result.stdout + result.stderr
    assert shown["exclude"] == {"patterns": [], "defaults": True}
    assert shown["scrubSecrets"] == {"remote": True, "local": False}


def test_complete_refuses_an_excluded_file(tmp_path: Path, fill_model: Path) -> None:
    source = tmp_path / ".env"
    source.write_text("DB_PASSWORD=hunter2\nDB_HOST=", encoding="utf-8")
    result = run_cli("complete", f"{source}:2:9", "--model", str(fill_model))
    assert result.returncode == 1
    assert b"excluded: matches .env" in result.stderr
