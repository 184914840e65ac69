"""The tiny FIM test model through the project's own llama.cpp engine."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from completion.prompt import build_prompt, detect_family, get_template, probe_token_strings
from engines.base import GenerationRequest, GenerationUsage
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from make_test_model import NAMES, Hole, make_holes, typed_region

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
HELD_OUT_SEED = 1234 + 99  # make_test_model.py evaluates on this seed too


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine(tiny_model: Path) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(
        LlamaCppOptions(model_path=str(tiny_model), n_ctx=512), probe_token_strings()
    )
    await engine.start()
    yield engine
    await engine.close()


async def fill(
    engine: LlamaCppEngine, hole: Hole, line_in_middle: bool = True, region_lines: int = 0
) -> tuple[str, GenerationUsage]:
    prompt = build_prompt(
        get_template("deepseek"),
        hole.prefix,
        hole.suffix,
        line_in_middle=line_in_middle,
        middle_start=hole.prefix[len(typed_region(hole, region_lines).prefix) :]
        if region_lines
        else None,
    ).text
    usage = GenerationUsage()
    request = GenerationRequest(prompt=prompt, max_tokens=64)
    return "".join([piece async for piece in engine.stream(request, usage)]), usage


async def test_detected_as_deepseek(engine: LlamaCppEngine) -> None:
    info = engine.info
    assert info is not None
    assert detect_family(info.name, info.metadata, info.special_tokens or frozenset()) == (
        "deepseek"
    )
    assert info.metadata["tokenizer.ggml.fim_pre_token_id"] != ""


@pytest.mark.parametrize("line_in_middle", [True, False], ids=["line-in-middle", "prefix"])
async def test_fills_held_out_holes_and_stops_by_itself(
    engine: LlamaCppEngine, line_in_middle: bool
) -> None:
    holes = make_holes(HELD_OUT_SEED, 60)
    results = [await fill(engine, hole, line_in_middle) for hole in holes]
    exact = sum(text == hole.middle for (text, _), hole in zip(results, holes, strict=True))
    stopped = sum(usage.finish_reason == "stop" for _, usage in results)
    assert exact >= 0.9 * len(holes)
    assert stopped == len(holes)


@pytest.mark.parametrize("region_lines", [1, 2, 3])
async def test_fills_held_out_holes_in_the_typed_region_form(
    engine: LlamaCppEngine, region_lines: int
) -> None:
    """The typed region's prompt (text typed across lines after the middle marker)
    gets the same answers as the line form, hole for hole."""
    holes = make_holes(HELD_OUT_SEED, 60)
    lines = [(await fill(engine, hole))[0] for hole in holes]
    region = [await fill(engine, hole, region_lines=region_lines) for hole in holes]
    exact = sum(text == hole.middle for (text, _), hole in zip(region, holes, strict=True))
    same = sum(text == line for (text, _), line in zip(region, lines, strict=True))
    assert exact >= 0.9 * len(holes), (exact, same)
    assert same >= 0.95 * len(holes), (exact, same)
    assert all(usage.finish_reason == "stop" for _, usage in region)


async def test_the_middle_depends_on_the_suffix(engine: LlamaCppEngine) -> None:
    hole = next(h for h in make_holes(HELD_OUT_SEED, 30) if h.kind == "single-line")
    returned = hole.suffix.split("return ", 1)[1].split("\n", 1)[0].rstrip(";")
    other = next(name for name in NAMES if name not in hole.prefix + hole.suffix)
    renamed = Hole(
        hole.language,
        hole.kind,
        hole.prefix,
        hole.middle.replace(returned, other, 1),
        hole.suffix.replace(f"return {returned}", f"return {other}", 1),
    )
    text, _ = await fill(engine, renamed)
    assert text == renamed.middle
