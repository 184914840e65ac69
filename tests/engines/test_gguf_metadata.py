"""The GGUF header reader agrees with llama.cpp and fails cleanly on bad files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engines.gguf_metadata import GGUFHeaderError, read_metadata, trained_context_length

llama_cpp = pytest.importorskip("llama_cpp")


@pytest.mark.parametrize("model_fixture", ["tiny_model", "smollm2"])
def test_values_match_what_llama_cpp_reads(
    model_fixture: str, request: pytest.FixtureRequest
) -> None:
    path: Path = request.getfixturevalue(model_fixture)
    llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    expected = llama.metadata
    ours = read_metadata(path, lambda key: not key.startswith("tokenizer.ggml.tokens"))
    scalars = {key: value for key, value in ours.items() if value is not None}
    assert scalars, "no metadata read"
    for key, value in scalars.items():
        if isinstance(value, bool):
            assert expected[key] == str(value).lower(), key
        elif isinstance(value, float):
            assert float(expected[key]) == pytest.approx(value), key
        else:
            assert str(value) == expected[key], key
    architecture = expected["general.architecture"]
    assert trained_context_length(path) == int(expected[f"{architecture}.context_length"])


def test_the_tiny_model_was_trained_on_a_short_context(tiny_model: Path) -> None:
    assert 0 < trained_context_length(tiny_model) < 4096


@pytest.mark.parametrize(
    "content",
    [b"", b"GGML" + bytes(64), b"GGUF" + (3).to_bytes(4, "little") + b"\xff" * 7],
    ids=["empty", "bad-magic", "truncated"],
)
def test_bad_files_raise_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFHeaderError):
        trained_context_length(path)


def test_random_header_bytes_raise_nothing_but_a_header_error(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.gguf"
    for seed in range(20):
        path.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + os.urandom(4096 + seed))
        try:
            trained_context_length(path)
        except GGUFHeaderError:
            continue
