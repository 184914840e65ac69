"""``dscoder-lsp doctor``: each check, and the command's exit status, on real parts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from engines.doctor import Check, cpu_check, cpu_features, model_file_check, report
from engines.llama_worker import FAULT_ENV

CPUINFO = """processor\t: 0
flags\t\t: fpu sse2 avx f16c fma avx2 bmi2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8
processor\t: 1
flags\t\t: fpu
"""


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lsp.cli", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_cpu_features_are_the_ones_ggml_uses(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    features = cpu_features(cpuinfo)
    assert features == [
        "avx",
        "f16c",
        "fma",
        "avx2",
        "bmi2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "amx_tile",
        "amx_int8",
    ]
    assert "GGML_NATIVE=OFF" in cpu_check(features).detail
    assert "AMX" not in cpu_check(["avx2"]).detail


def test_model_file_checks(tmp_path: Path, any_model: Path) -> None:
    assert model_file_check(str(any_model)).ok
    assert not model_file_check(None).ok
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    check = model_file_check(str(text))
    assert not check.ok and "not a GGUF file" in check.detail


def test_report_exits_non_zero_on_any_problem(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        assert report([Check("cpu", True, "avx2"), Check("model", False, "gone")], handle) == 1
    assert out.read_text().splitlines() == [
        "ok   cpu: avx2",
        "FAIL model: gone",
        "dscoder-lsp doctor: problems with model",
    ]


@pytest.mark.slow
def test_doctor_passes_with_a_good_model(any_model: Path) -> None:
    result = doctor("--model", str(any_model))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout
    assert "ok   cpu:" in lines and "ok   llama.cpp: CPU :" in lines
    assert "ok   generation:" in lines and "one token" in lines and "flash_attn_type=" in lines
    assert lines.rstrip().endswith("all checks passed")


@pytest.mark.slow
def test_doctor_reports_a_crash_instead_of_suffering_it(any_model: Path) -> None:
    # A real SIGSEGV in the throwaway worker while it loads the model.
    result = doctor("--model", str(any_model), env={**os.environ, FAULT_ENV: "load"})
    assert result.returncode == 1
    assert "FAIL generation: llama.cpp crashed while loading" in result.stdout
    assert "SIGSEGV" in result.stdout and str(any_model) in result.stdout


@pytest.mark.slow
def test_doctor_reports_a_missing_model(tmp_path: Path) -> None:
    result = doctor("--model", str(tmp_path / "missing.gguf"))
    assert result.returncode == 1
    assert "FAIL model: model file not found" in result.stdout
    assert "generation" not in result.stdout


@pytest.mark.slow
def test_doctor_checks_the_remote_endpoint() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = doctor(
        "--engine", "openai", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model-name", "x"
    )
    assert result.returncode == 1
    assert "FAIL endpoint:" in result.stdout and str(port) in result.stdout
