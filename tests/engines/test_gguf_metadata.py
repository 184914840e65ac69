"""The GGUF header reader agrees with llama.cpp and fails cleanly on bad files."""

from __future__ import annotations

import random
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


def test_a_damaged_real_header_gives_the_value_or_a_header_error(
    tmp_path: Path, tiny_model: Path
) -> None:
    """Cut or corrupt the tiny model's header anywhere: never another exception."""
    header = tiny_model.read_bytes()[:4096]
    expected = trained_context_length(tiny_model)
    rng = random.Random(5)
    path = tmp_path / "damaged.gguf"
    outcomes = set()
    for trial in range(300):
        data = bytearray(header[: rng.randrange(8, len(header))])
        if trial % 2:
            for _ in range(3):
                data[rng.randrange(4, len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            value = trained_context_length(path)
        except GGUFHeaderError:
            outcomes.add("error")
            continue
        outcomes.add("value")
        assert value in (expected, 0) or trial % 2, value  # a clean cut never gives junk
    assert outcomes == {"error", "value"}  # both paths were exercised
