"""Session-wide real servers for tests: started once, stopped by PID at the end.

Test modules import the fixtures they use from here. The servers themselves
are kept in a process-wide table, so a session starts vLLM at most once even
when several modules ask for it; pytest's cleanup stops them.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.servers import (
    TINY_GGUF,
    TINY_HF,
    ServerProcess,
    llama_cpp_python_server,
    llama_cpp_server_available,
    llama_server,
    llama_server_binary,
    vllm_python,
    vllm_server,
)

_RUNNING: dict[str, ServerProcess] = {}


def _stop_all() -> None:
    while _RUNNING:
        _, server = _RUNNING.popitem()
        server.stop()


atexit.register(_stop_all)


def shared_server(
    key: str,
    config: pytest.Config,
    tmp_factory: pytest.TempPathFactory,
    make: Callable[[Path], ServerProcess],
) -> ServerProcess:
    """The running server ``key``, started on first use (or restarted if it died)."""
    server = _RUNNING.get(key)
    if server is None:
        server = make(tmp_factory.mktemp(key))
        _RUNNING[key] = server
        config.add_cleanup(lambda: _RUNNING.pop(key, server).stop())
        server.start()
    elif not server.running:
        server.start()
    return server


@pytest.fixture(scope="session")
def vllm(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    """vLLM on the CPU serving the tiny model in HF format (as ``tiny-dscoder``).

    ``DSCODER_VLLM_URL`` points the tests at an already running server of the
    same model instead (tests that kill the server then skip).
    """
    external = os.environ.get("DSCODER_VLLM_URL")
    if external:
        port = int(external.rstrip("/").rsplit(":", 1)[1].split("/")[0])
        return ServerProcess("vllm (external)", [], port, Path(os.devnull))
    if vllm_python() is None:
        pytest.skip("vLLM is not installed (run tools/install_vllm.sh or set DSCODER_VLLM_PYTHON)")
    if not (TINY_HF / "config.json").is_file():
        pytest.skip(f"the tiny HF model is missing at {TINY_HF}")
    return shared_server(
        "vllm",
        pytestconfig,
        tmp_path_factory,
        lambda log_dir: vllm_server(log_dir, extra=["--enable-log-requests"]),
    )


@pytest.fixture(scope="session")
def llama_cpp_python(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    """``python -m llama_cpp.server`` serving the tiny GGUF."""
    if not llama_cpp_server_available():
        pytest.skip(
            "llama-cpp-python's server extras are not installed: "
            "pip install 'llama-cpp-python[server]'"
        )
    if not TINY_GGUF.is_file():
        pytest.skip(f"the tiny GGUF is missing at {TINY_GGUF}")
    return shared_server(
        "llama-cpp-python", pytestconfig, tmp_path_factory, llama_cpp_python_server
    )


@pytest.fixture(scope="session")
def llama_cpp_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> ServerProcess:
    """llama.cpp's C++ ``llama-server`` serving the tiny GGUF (for ``/infill``)."""
    if llama_server_binary() is None:
        pytest.skip(
            "llama-server is not built (run tools/build_llama_server.sh "
            "or set DSCODER_LLAMA_SERVER)"
        )
    if not TINY_GGUF.is_file():
        pytest.skip(f"the tiny GGUF is missing at {TINY_GGUF}")
    return shared_server("llama-server", pytestconfig, tmp_path_factory, llama_server)
