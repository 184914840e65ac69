"""docs/configuration.md is what tools/config_docs.py prints from the config classes."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_docs", ROOT / "tools" / "config_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_page_is_up_to_date() -> None:
    tool = load_tool()
    page = (ROOT / "docs" / "configuration.md").read_text("utf-8")
    assert page == tool.render(), "run tools/config_docs.py and commit docs/configuration.md"


def test_every_key_and_its_docstring_are_listed() -> None:
    text = load_tool().render()
    assert "| `scheduler.cancelledGraceMs` | `150` | between 0 and 10000 | How long" in text
    assert '| `engine.flashAttention` | `"auto"` | one of auto, on, off |' in text
    assert '| `context.multiline` | `"auto"` | one of auto, always, never |' in text
