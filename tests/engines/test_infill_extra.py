"""llama-server ``/infill`` gets other files' snippets as ``input_extra``."""

from __future__ import annotations

import dataclasses

from engines.base import GenerationRequest
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS

BLOCK = "# pkg/geometry.py\ndef area(r):\n\n"
OWN = "# pkg/app.py\nx = "


def test_snippets_leave_the_prefix_for_input_extra() -> None:
    engine = RemoteEngine(PRESETS["llama-server"], RemoteOptions(endpoint="http://h:8080"))
    request = GenerationRequest(
        prompt="unused by /infill",
        prefix=BLOCK + OWN,
        suffix="\n",
        extra_files=(("pkg/geometry.py", "def area(r):\n"),),
        extra_chars=len(BLOCK),
    )
    body = engine.build_body(request)
    assert body["input_extra"] == [{"filename": "pkg/geometry.py", "text": "def area(r):\n"}]
    assert body["input_prefix"] == OWN
    # Without snippets nothing changes.
    bare = engine.build_body(dataclasses.replace(request, extra_files=(), extra_chars=0))
    assert bare["input_extra"] == [] and bare["input_prefix"] == BLOCK + OWN
