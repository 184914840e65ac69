"""``serve-vllm``'s fleet knobs: parallelism flags, replicas and their endpoints (no server)."""

from __future__ import annotations

import json

import pytest

from engines.vllm_launcher import main


def test_replicas_get_consecutive_ports_and_the_endpoints_are_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    argv = ["deepseek-ai/deepseek-coder-1.3b-base", "--port", "8100", "--replicas", "3"]
    assert main([*argv, "--tensor-parallel-size", "2", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    commands = [line for line in err.splitlines() if line.startswith("vLLM: ")]
    assert len(commands) == 3
    for index, line in enumerate(commands):
        assert f"--port {8100 + index}" in line
        assert "--tensor-parallel-size 2" in line
        assert f"CUDA_VISIBLE_DEVICES={2 * index},{2 * index + 1} " in line
    options = json.loads(out.split("initializationOptions: ")[1])
    assert options["engine"]["endpoints"] == [
        "http://127.0.0.1:8100/v1",
        "http://127.0.0.1:8101/v1",
        "http://127.0.0.1:8102/v1",
    ]


def test_parallelism_and_speculative_config_pass_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    speculative = '{"method": "ngram", "num_speculative_tokens": 4}'
    argv = ["m", "--data-parallel-size", "2", "--speculative-config", speculative, "--dry-run"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "--data-parallel-size 2" in err and f"--speculative-config {speculative}" in err
    assert "CUDA_VISIBLE_DEVICES" not in err  # one server: the user's GPUs as they are
    assert '"endpoint": "http://127.0.0.1:8000/v1"' in out


def test_zero_replicas_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["m", "--replicas", "0", "--dry-run"]) == 2
    assert "--replicas must be at least 1" in capsys.readouterr().err


def test_speculative_ngram_builds_vllms_ngram_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["m", "--speculative", "ngram", "--speculative-tokens", "5", "--dry-run"]) == 0
    err = capsys.readouterr().err
    command = err.split("vLLM: ")[1].split()
    passed = json.loads(command[command.index("--speculative-config") + 1])
    assert passed == {
        "method": "ngram",
        "num_speculative_tokens": 5,
        "prompt_lookup_max": 3,
        "prompt_lookup_min": 1,
    }


def test_speculative_shorthand_and_json_together_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["m", "--speculative", "ngram", "--speculative-config", "{}", "--dry-run"]
    assert main(argv) == 2
    assert "not both" in capsys.readouterr().err
