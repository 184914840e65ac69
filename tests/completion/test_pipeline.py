"""The pipeline on the real tiny model: prompt-cache reuse while typing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from completion.context import ContextOptions
from completion.document import Document
from completion.pipeline import CompletionOptions, CompletionPipeline
from completion.stats import Stats
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "tiny-dscoder" / "examples.json"


@pytest.fixture
async def engine(tiny_model: Path) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model), n_ctx=512))
    await engine.start()
    yield engine
    await engine.close()


def mid_line_case(language: str) -> dict[str, str]:
    cases = json.loads(EXAMPLES.read_text())
    return next(c for c in cases if c["kind"] == "mid-line" and c["language"] == language)


async def evaluated_while_typing(engine: LlamaCppEngine, line_in_middle: bool) -> list[int]:
    """Prompt tokens evaluated per key while a call's arguments are typed out."""
    case = mid_line_case("python")
    # The typed region would carry the line after the marker in both forms.
    context = ContextOptions(line_in_middle=line_in_middle, typed_region=False)
    pipeline = CompletionPipeline(engine, CompletionOptions(context=context), Stats())
    typed = case["middle"]
    evaluated = []
    for n in range(len(typed) + 1):
        text = case["prefix"] + typed[:n] + case["suffix"]
        offset = len(case["prefix"]) + n
        result = await pipeline.complete(Document("file:///t.py", text, "python"), offset)
        evaluated.append(result.usage.prompt_tokens)
    return evaluated[1:]  # the first call evaluates the whole prompt either way


@pytest.mark.slow
async def test_typing_along_a_line_evaluates_only_the_new_keys(engine: LlamaCppEngine) -> None:
    in_middle = await evaluated_while_typing(engine, line_in_middle=True)
    in_prefix = await evaluated_while_typing(engine, line_in_middle=False)
    suffix_tokens = await engine.count_tokens(mid_line_case("python")["suffix"])
    # Each key costs its own token or two (a retokenised boundary), not the suffix again.
    assert max(in_middle) <= 3
    assert min(in_prefix) > suffix_tokens // 2


@pytest.mark.slow
@pytest.mark.parametrize("language", ["python", "javascript"])
async def test_the_model_continues_a_typed_line_in_either_prompt_form(
    engine: LlamaCppEngine, language: str
) -> None:
    case = mid_line_case(language)
    document = Document("file:///t", case["prefix"] + case["suffix"], language)
    for line_in_middle in (True, False):
        options = CompletionOptions(context=ContextOptions(line_in_middle=line_in_middle))
        pipeline = CompletionPipeline(engine, options, Stats())
        result = await pipeline.complete(document, len(case["prefix"]))
        assert result.text == case["middle"], dataclasses.asdict(options.context)


async def evaluated_across_lines(engine: LlamaCppEngine, typed_region: bool) -> list[int]:
    """Prompt tokens evaluated per key while two lines are typed into a function."""
    head = "".join(f"def f{n}(a, b):\n    return a + b + {n}\n\n\n" for n in range(12))
    tail = "".join(f"def g{n}(a, b):\n    return a - b - {n}\n\n\n" for n in range(12))
    prefix = head + "def h(a, b):\n"
    typed = "    x = a * 2\n    y = x - b\n    return y\n"
    context = ContextOptions(typed_region=typed_region)
    pipeline = CompletionPipeline(engine, CompletionOptions(context=context), Stats())
    document = Document("file:///t.py", prefix + "\n\n" + tail, "python")
    evaluated = []
    for n, key in enumerate(typed):
        offset = len(prefix) + n
        document.replace(offset, offset, key)
        result = await pipeline.complete(document, offset + 1)
        evaluated.append(result.usage.prompt_tokens)
    return evaluated[1:]  # the first call evaluates the whole prompt either way


@pytest.mark.slow
async def test_typing_across_lines_in_the_typed_region_evaluates_only_the_new_keys(
    engine: LlamaCppEngine,
) -> None:
    region = await evaluated_across_lines(engine, typed_region=True)
    lines = await evaluated_across_lines(engine, typed_region=False)
    # Each key costs its own token or two; without the region, each new line
    # re-evaluates the suffix. (One re-anchor is allowed: the budget check.)
    assert sum(tokens > 3 for tokens in region) <= 1, str(region)
    assert sum(tokens > 40 for tokens in lines) >= 3, str(lines)
