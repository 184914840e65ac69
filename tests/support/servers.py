"""Real model servers on 127.0.0.1 for tests and benches: start, wait, stop.

Each server runs in its own process group on a free port. Readiness is
polled on an HTTP path (``/v1/models`` by default), never waited for with a
fixed sleep; if the process dies first, the error carries its log tail.
``stop`` ends the group by its id (the server and any workers it spawned).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("DSCODER_CACHE", Path.home() / ".cache" / "dscoder-lsp"))
TINY_DIR = ROOT / "tests" / "fixtures" / "tiny-dscoder"
TINY_HF = TINY_DIR / "hf"
TINY_GGUF = TINY_DIR / "tiny-dscoder.gguf"
TINY_NAME = "tiny-dscoder"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def vllm_python() -> Path | None:
    """The interpreter of the separate vLLM venv (tools/install_vllm.sh), if installed."""
    configured = os.environ.get("DSCODER_VLLM_PYTHON")
    path = Path(configured) if configured else CACHE / "vllm-venv" / "bin" / "python"
    return path if path.is_file() else None


def llama_server_binary() -> Path | None:
    """llama.cpp's llama-server built by tools/build_llama_server.sh, if present."""
    configured = os.environ.get("DSCODER_LLAMA_SERVER")
    path = Path(configured) if configured else CACHE / "bin" / "llama-server"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def llama_cpp_server_available() -> bool:
    """llama-cpp-python's server extras are importable in this interpreter."""
    try:
        import fastapi  # noqa: F401
        import llama_cpp.server  # noqa: F401
        import sse_starlette  # noqa: F401
        import starlette_context  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class ServerProcess:
    """One running server: its command, port, log file and process."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/v1/models"
    process: subprocess.Popen[bytes] | None = None
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> ServerProcess:
        """Launch and block until the ready path answers 200."""
        started = time.perf_counter()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
            start_new_session=True,
            cwd=ROOT,
        )
        log.close()
        self.wait_ready(timeout)
        self.start_seconds = time.perf_counter() - started
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode} before it was "
                        f"ready:\n{self.log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + self.ready_path).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"{self.name} not ready after {timeout:g}s:\n{self.log_tail()}"
                    )
                # Poll interval, not a wait for readiness.
                time.sleep(0.25)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole group at once: a crash, for tests of dying servers."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the group, then SIGKILL whatever is left after ``grace`` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)
        # Workers the server spawned share its group; make sure none survive.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.poll() is None:
            process.wait(timeout=30)

    def restart(self, timeout: float = 300.0) -> ServerProcess:
        self.stop()
        return self.start(timeout)


def vllm_server(
    log_dir: Path,
    model_dir: Path = TINY_HF,
    served_name: str = TINY_NAME,
    extra: Sequence[str] = (),
) -> ServerProcess:
    """vLLM's OpenAI server on the CPU (not started yet)."""
    python = vllm_python()
    assert python is not None, "vLLM is not installed: run tools/install_vllm.sh"
    port = free_port()
    command = [
        str(python),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model_dir),
        "--served-model-name",
        served_name,
        "--enforce-eager",
        "--dtype",
        "float32",
        "--max-model-len",
        "512",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]
    env = {
        "VLLM_CPU_KVCACHE_SPACE": "1",
        "VLLM_CPU_OMP_THREADS_BIND": "nobind",
        "VLLM_LOGGING_LEVEL": "INFO",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    return ServerProcess("vllm", command, port, log_dir / f"vllm-{port}.log", env)


def llama_cpp_python_server(log_dir: Path, model: Path = TINY_GGUF) -> ServerProcess:
    """llama-cpp-python's OpenAI server (``python -m llama_cpp.server``), not started yet."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        TINY_NAME,
        "--n_ctx",
        "512",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return ServerProcess("llama_cpp.server", command, port, log_dir / f"llama-cpp-{port}.log")


def llama_server(log_dir: Path, model: Path = TINY_GGUF) -> ServerProcess:
    """llama.cpp's C++ llama-server (``/infill``), not started yet."""
    binary = llama_server_binary()
    assert binary is not None, "llama-server is not built: run tools/build_llama_server.sh"
    port = free_port()
    command = [
        str(binary),
        "-m",
        str(model),
        "--alias",
        TINY_NAME,
        "-c",
        "512",
        "-t",
        "1",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return ServerProcess("llama-server", command, port, log_dir / f"llama-server-{port}.log")


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Two real ``llama_cpp.server`` replicas serving SmolLM2, stopped after the test."""
    from tests.conftest import smollm2_path

    if not llama_cpp_server_available():
        pytest.skip("llama-cpp-python's server extras are not installed")
    servers = [llama_cpp_python_server(tmp_path, smollm2_path()) for _ in range(2)]
    try:
        for server in servers:
            server.start(120)
        yield servers
    finally:
        for server in servers:
            server.stop()
