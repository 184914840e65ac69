"""A CRLF document gets the LF document's prompt, and its answer in CRLF."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion.document import Document
from completion.pipeline import CompletionOptions, CompletionPipeline, line_ending_at
from completion.stats import Stats
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions

# The tiny model answers this with a line break in it, which the CRLF answer must carry.
SOURCE = (
    "def area(width, height):\n    return width * height\n\n\ndef add_width(width, step):\n    "
)


def test_line_ending_is_read_near_the_cursor() -> None:
    assert line_ending_at(Document("file:///a", "a\r\nb\r\n"), 4) == "\r\n"
    assert line_ending_at(Document("file:///a", "a\nb"), 3) == "\n"
    assert line_ending_at(Document("file:///a", "one line"), 3) == "\n"


@pytest.mark.slow
async def test_crlf_and_lf_give_the_same_completion(tiny_model: Path) -> None:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model), n_ctx=512))
    await engine.start()
    try:
        pipeline = CompletionPipeline(engine, CompletionOptions(max_tokens=32), Stats())
        lf = Document("file:///lf.py", SOURCE, "python")
        crlf = Document("file:///crlf.py", SOURCE.replace("\n", "\r\n"), "python")
        lf_prompt = pipeline.make_prompt(pipeline.make_context(lf, len(lf.text)))
        crlf_prompt = pipeline.make_prompt(pipeline.make_context(crlf, len(crlf.text)))
        assert "\r" not in crlf_prompt.text and crlf_prompt.text == lf_prompt.text
        lf_result = await pipeline.complete(lf, len(lf.text))
        crlf_result = await pipeline.complete(crlf, len(crlf.text))
        assert "\n" in lf_result.text
        assert crlf_result.text == lf_result.text.replace("\n", "\r\n")
    finally:
        await engine.close()
