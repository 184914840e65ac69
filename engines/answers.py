"""Saying what a server sent when it was not the JSON asked for.

A wrong port or a proxy's login page answers ``/v1/models`` with HTML or
other text; the user needs to see that in one line, next to the setting to
fix (``engine.endpoint``), instead of a ``JSONDecodeError`` traceback.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def not_json(content_type: str, text: str) -> str:
    """What came back, for a message: "answered HTML, not JSON (title: Sign in)"."""
    start = text.lstrip()[:200].lower()
    if "html" in content_type.lower() or start.startswith(("<!doctype html", "<html", "<head")):
        title = _TITLE.search(text)
        shown = f" (title: {' '.join(title.group(1).split())[:80]})" if title else ""
        return f"answered HTML, not JSON{shown}"
    if not text.strip():
        return "answered an empty body, not JSON"
    return f"answered text that is not JSON: {' '.join(text.split())[:80]!r}"


def model_entries(body: Any) -> list[Any] | None:
    """The entries of a model listing (OpenAI ``data`` or Ollama ``models``), or None."""
    if not isinstance(body, dict):
        return None
    entries = body.get("data", body.get("models"))
    return entries if isinstance(entries, list) else None


def not_a_listing(body: Any) -> str:
    return f"answered JSON that is not a model list: {json.dumps(body)[:80]}"
