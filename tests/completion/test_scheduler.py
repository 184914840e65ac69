"""The scheduler on a real engine: cache, adoption, supersession, debounce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from completion.context import ContextOptions
from completion.decisions import Multiline
from completion.document import Document
from completion.pipeline import CompletionOptions, CompletionPipeline
from completion.scheduler import (
    INDENT,
    LINE_START,
    PauseLearner,
    Scheduler,
    SchedulerOptions,
    TypingPace,
    accepted_document,
    ends_line,
    key_kind,
    next_line_indent,
)
from completion.stats import Stats
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from tests.support.trees import sexp

pytestmark = pytest.mark.slow
TEXT = "def add(a, b):\n    return\n"
CURSOR = len("def add(a, b):\n    return")


@pytest.fixture
async def pipeline(smollm2: Path) -> AsyncIterator[CompletionPipeline]:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(smollm2), n_ctx=512))
    await engine.start()
    yield CompletionPipeline(engine, CompletionOptions(template="plain"), Stats())
    await engine.close()


def make(pipeline: CompletionPipeline, **options: object) -> Scheduler:
    return Scheduler(SchedulerOptions(debounce_ms=0, **options), pipeline.stats)  # type: ignore[arg-type]


async def test_second_request_is_a_cache_hit(pipeline: CompletionPipeline) -> None:
    scheduler = make(pipeline)
    document = Document("u", TEXT)
    first = await scheduler.complete(pipeline, "m", document, CURSOR)
    second = await scheduler.complete(pipeline, "m", document, CURSOR)
    assert first.text and second.text == first.text and second.cached
    assert pipeline.stats.engine_calls == 1 and pipeline.stats.cache_hits == 1


async def test_typing_through_costs_no_engine_call(pipeline: CompletionPipeline) -> None:
    scheduler = make(pipeline)
    first = await scheduler.complete(pipeline, "m", Document("u", TEXT), CURSOR)
    typed = first.text[:3]
    moved = Document("u", TEXT[:CURSOR] + typed + TEXT[CURSOR:])
    result = await scheduler.complete(pipeline, "m", moved, CURSOR + 3)
    assert result.text == first.text[3:] and pipeline.stats.engine_calls == 1


async def test_cache_off_calls_the_engine_each_time(pipeline: CompletionPipeline) -> None:
    scheduler = make(pipeline, cache=False, reuse_inflight=False)
    document = Document("u", TEXT)
    await scheduler.complete(pipeline, "m", document, CURSOR)
    await scheduler.complete(pipeline, "m", document, CURSOR)
    assert pipeline.stats.engine_calls == 2


async def test_a_request_adopts_a_matching_running_generation(
    pipeline: CompletionPipeline,
) -> None:
    scheduler = make(pipeline, cache=False)
    document = Document("u", TEXT)
    first = asyncio.create_task(scheduler.complete(pipeline, "m", document, CURSOR))
    await asyncio.sleep(0)  # the flight is launched
    second = await scheduler.complete(pipeline, "m", document, CURSOR)
    assert (await first).text == second.text and second.cached
    assert pipeline.stats.engine_calls == 1 and pipeline.stats.inflight_reuses == 1


async def test_a_generation_that_does_not_match_is_not_counted_as_adopted(
    pipeline: CompletionPipeline,
) -> None:
    scheduler = make(pipeline, cache=False, cancel_superseded=False)
    document = Document("u", TEXT)
    first = asyncio.create_task(scheduler.complete(pipeline, "m", document, CURSOR))
    await asyncio.sleep(0)  # the flight is launched and has produced nothing yet
    typed = " nothing_the_model_would_write_42"
    moved = Document("u", TEXT[:CURSOR] + typed + TEXT[CURSOR:])
    second = await scheduler.complete(pipeline, "m", moved, CURSOR + len(typed))
    await first
    assert not second.cached
    assert (pipeline.stats.requests, pipeline.stats.inflight_reuses) == (2, 0)
    assert pipeline.stats.engine_calls == 2


# A block to write on an empty line: a generation of many tokens, still
# running when the tests below act on it.
BLOCK = "def main():\n    \n"
BLOCK_CURSOR = len("def main():\n    ")


def long_running(pipeline: CompletionPipeline, max_tokens: int = 300) -> None:
    pipeline.options = CompletionOptions(template="plain", max_tokens_multiline=max_tokens)


async def engine_started(pipeline: CompletionPipeline, calls: int = 1) -> None:
    async with asyncio.timeout(30):
        while pipeline.stats.engine_calls < calls:
            await asyncio.sleep(0.005)


async def started_then_cancelled(
    scheduler: Scheduler, pipeline: CompletionPipeline, document: Document, cursor: int
) -> None:
    """A request whose generation is running when the editor cancels it."""
    task = asyncio.create_task(scheduler.complete(pipeline, "m", document, cursor))
    await engine_started(pipeline)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_next_request_adopts_a_cancelled_generation(
    pipeline: CompletionPipeline,
) -> None:
    # Editors cancel the pending request on every key and send the next one a
    # little later: a generation that still matches serves it.
    long_running(pipeline, 60)
    expected = (
        await make(pipeline, cache=False).complete(
            pipeline, "m", Document("u", BLOCK), BLOCK_CURSOR
        )
    ).text
    assert len(expected) > 1
    pipeline.stats = Stats()
    scheduler = make(pipeline, cache=False, cancelled_grace_ms=60_000)
    await started_then_cancelled(scheduler, pipeline, Document("u", BLOCK), BLOCK_CURSOR)
    assert pipeline.stats.cancelled == 0  # still running, within the grace
    typed = expected[0]
    moved = Document("u", BLOCK[:BLOCK_CURSOR] + typed + BLOCK[BLOCK_CURSOR:])
    result = await scheduler.complete(pipeline, "m", moved, BLOCK_CURSOR + 1)
    assert result.cached and result.text == expected[1:]
    assert (pipeline.stats.engine_calls, pipeline.stats.inflight_reuses) == (1, 1)


async def test_a_request_cancelled_while_adopting_is_cancelled(
    pipeline: CompletionPipeline,
) -> None:
    long_running(pipeline)
    scheduler = make(pipeline, cache=False, cancelled_grace_ms=60_000)
    document = Document("u", BLOCK)
    await started_then_cancelled(scheduler, pipeline, document, BLOCK_CURSOR)
    adopting = asyncio.create_task(scheduler.complete(pipeline, "m", document, BLOCK_CURSOR))
    await asyncio.sleep(0.05)
    adopting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await adopting
    assert pipeline.stats.cancelled == 0  # the generation is in its grace again
    assert pipeline.stats.engine_calls == 1
    await scheduler.close()
    assert pipeline.stats.cancelled == 1


async def test_a_request_is_not_cancelled_with_the_generation_it_found(
    pipeline: CompletionPipeline,
) -> None:
    # With no grace the cancelled request's generation is stopping when the
    # next request arrives: that request starts its own instead of failing.
    long_running(pipeline, 20)
    scheduler = make(pipeline, cache=False, cancelled_grace_ms=0)
    await started_then_cancelled(scheduler, pipeline, Document("u", BLOCK), BLOCK_CURSOR)
    result = await scheduler.complete(pipeline, "m", Document("u", BLOCK), BLOCK_CURSOR)
    assert result.text and not result.cached
    assert pipeline.stats.engine_calls == 2


@pytest.mark.parametrize("grace_ms", [0, 100])
async def test_a_cancelled_generation_nobody_adopts_is_stopped(
    pipeline: CompletionPipeline, grace_ms: int
) -> None:
    long_running(pipeline)
    scheduler = make(pipeline, cache=False, cancelled_grace_ms=grace_ms)
    await started_then_cancelled(scheduler, pipeline, Document("u", BLOCK), BLOCK_CURSOR)
    async with asyncio.timeout(30):
        while pipeline.stats.cancelled == 0:
            await asyncio.sleep(0.005)
    assert pipeline.stats.generated_tokens < 300


async def test_a_request_that_cannot_use_a_cancelled_generation_stops_it(
    pipeline: CompletionPipeline,
) -> None:
    long_running(pipeline)
    # Not superseded by the new request's own launch: stopped for not matching.
    scheduler = make(pipeline, cache=False, cancelled_grace_ms=60_000, cancel_superseded=False)
    await started_then_cancelled(scheduler, pipeline, Document("u", BLOCK), BLOCK_CURSOR)
    typed = "nothing_the_model_would_write_42 = 1"
    moved = Document("u", BLOCK[:BLOCK_CURSOR] + typed + BLOCK[BLOCK_CURSOR:])
    second = asyncio.create_task(
        scheduler.complete(pipeline, "m", moved, BLOCK_CURSOR + len(typed))
    )
    await engine_started(pipeline, 2)
    # Stopped by that request, not by the minute-long grace.
    async with asyncio.timeout(30):
        while pipeline.stats.cancelled == 0:
            await asyncio.sleep(0.005)
    second.cancel()
    await scheduler.close()


async def test_a_prefetch_is_adopted_with_no_grace(pipeline: CompletionPipeline) -> None:
    long_running(pipeline, 40)
    scheduler = make(pipeline, prefetch=True, cancelled_grace_ms=0)
    document = Document("u", BLOCK)
    shown = await scheduler.complete(pipeline, "m", document, BLOCK_CURSOR)
    assert shown.text and pipeline.stats.prefetches == 1
    document.replace(BLOCK_CURSOR, BLOCK_CURSOR, shown.text)  # accepted
    after = await scheduler.complete(pipeline, "m", document, BLOCK_CURSOR + len(shown.text))
    assert after.cached and pipeline.stats.engine_calls == 2
    assert pipeline.stats.cancelled == 0


def test_debounce_adapts_to_typing_speed() -> None:
    pace = TypingPace()
    for moment in (0.0, 0.1, 0.2, 0.3):
        pace.update(moment)
    assert 90 < pace.average_ms < 110
    pace.update(5.0)  # a pause is not typing speed
    assert 90 < pace.average_ms < 110
    scheduler = Scheduler(SchedulerOptions(debounce_ms=50, debounce_max_ms=250), Stats())
    assert scheduler.debounce_seconds("u", immediate=True) == 0.0


def test_a_closed_document_is_forgotten() -> None:
    options = SchedulerOptions(debounce_ms=50, debounce_max_ms=250, adaptive_debounce=True)
    scheduler = Scheduler(options, Stats())
    scheduler.debounce_seconds("file:///a.py", immediate=False)  # the document's pace
    for moment in (0.0, 0.2, 0.4, 0.6):
        scheduler._pace["file:///a.py"].update(moment)
    assert scheduler.debounce_seconds("file:///a.py", immediate=False) == pytest.approx(0.24)
    scheduler.forget("file:///a.py")
    assert "file:///a.py" not in scheduler._pace
    assert scheduler.debounce_seconds("file:///a.py", immediate=False) == 0.05  # a new start
    scheduler.forget("file:///never-opened.py")


async def test_an_edit_during_the_debounce_is_in_the_prompt(tiny_model: Path) -> None:
    from tests.conftest import fill_case

    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model)))
    await engine.start()
    try:
        # Single-line only: an empty line would be answered at once, without a debounce.
        single = CompletionOptions(context=ContextOptions(multiline=Multiline.NEVER))
        tiny = CompletionPipeline(engine, single, Stats())
        scheduler = Scheduler(SchedulerOptions(debounce_ms=100), tiny.stats)
        case = fill_case("single-line")
        name = case["middle"].split(" = ")[0]  # defined by the hole, used in the suffix
        stale = case["suffix"].replace(name, "stale_name")
        document = Document("file:///d.py", case["prefix"] + stale, "python")
        request = asyncio.create_task(scheduler.complete(tiny, "m", document, len(case["prefix"])))
        await asyncio.sleep(0.02)  # the request is now waiting out its debounce
        start = len(case["prefix"])
        document.replace(start, len(document.text), case["suffix"])
        result = await request
        assert result.text == case["middle"]
    finally:
        await engine.close()


async def test_an_accepted_suggestion_is_served_by_the_prefetch(tiny_model: Path) -> None:
    from tests.conftest import fill_case

    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model)))
    await engine.start()
    try:
        tiny = CompletionPipeline(engine, CompletionOptions(), Stats())
        scheduler = Scheduler(SchedulerOptions(debounce_ms=0, prefetch=True), tiny.stats)
        case = fill_case("mid-line")
        cursor = len(case["prefix"])
        document = Document("file:///d.py", case["prefix"] + case["suffix"], "python")
        shown = await scheduler.complete(tiny, "m", document, cursor)
        assert shown.text == case["middle"]
        document.replace(cursor, cursor, shown.text)  # accepted
        after = await scheduler.complete(tiny, "m", document, cursor + len(shown.text))
        again = await scheduler.complete(tiny, "m", document, cursor + len(shown.text))
        assert after.cached and again.cached and after.text == again.text
        assert (tiny.stats.prefetches, tiny.stats.engine_calls) == (1, 2)
    finally:
        await engine.close()


def test_the_accepted_document_is_parsed_as_if_from_scratch() -> None:
    text = "def f(a):\n    return a\n\n\ndef g(b):\n    return b\n"
    document = Document("file:///d.py", text, "python")
    assert document.syntax_tree() is not None
    offset = text.index("a\n")
    accepted = accepted_document(document, offset, "a + 1 if a else (\n        0)")
    fresh = Document("file:///other.py", accepted.text, "python")
    assert accepted.text == text[:offset] + "a + 1 if a else (\n        0)" + text[offset:]
    assert sexp(accepted.syntax_tree()) == sexp(fresh.syntax_tree())  # type: ignore[arg-type]
    assert document.text == text  # the original is untouched


def test_pauses_do_not_count_as_typing_speed() -> None:
    pace = TypingPace()
    for moment in (0.0, 0.1, 0.2, 0.3, 0.9, 1.0):  # a 600 ms pause among 100 ms gaps
        pace.update(moment)
    assert 90 < pace.average_ms < 110
    before = TypingPace()
    for moment in (0.0, 0.1, 0.2, 0.3, 0.9, 1.0):
        before.update(moment, learn_pauses=False)  # the old rule: only gaps over 1 s
    assert before.average_ms > 150


@pytest.mark.parametrize(
    ("text", "previous", "kind"),
    [
        ("x = foo", "", "word"),
        ("x = ", "", "space"),
        ("foo(", "", "opener"),
        ("foo(a,", "", "opener"),
        ("a.", "", "punctuation"),
        ("if a:\n", "punctuation", LINE_START),
        ("if a:\n    ", "punctuation", LINE_START),  # Enter with the editor's indent
        ("if a:\n  ", LINE_START, INDENT),  # indentation typed by hand
        ("", "", LINE_START),
    ],
)
def test_key_kinds(text: str, previous: str, kind: str) -> None:
    assert key_kind(text + "\nrest", len(text), previous) == kind


def test_the_learner_skips_the_debounce_only_where_this_user_pauses() -> None:
    learner = PauseLearner()
    for number in range(40):
        learner.observe("opener", paused=number % 2 == 0)  # half of them
        learner.observe("word", paused=number % 20 == 0)  # one in twenty
    assert learner.at_once("opener") is True
    assert learner.at_once("word") is False
    assert learner.at_once("space") is None  # never seen: the default rules apply
    learner.observe("space", paused=True)
    assert learner.at_once("space") is None  # one key is not enough to judge


def test_a_learner_follows_a_change_of_habit() -> None:
    learner = PauseLearner()
    for _ in range(50):
        learner.observe("opener", paused=True)
    for _ in range(150):
        learner.observe("opener", paused=False)
    assert learner.at_once("opener") is False


@pytest.fixture
async def tiny_engine(tiny_model: Path) -> AsyncIterator[LlamaCppEngine]:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model)))
    await engine.start()
    yield engine
    await engine.close()


async def test_hand_typed_indentation_is_debounced_once_learned(
    tiny_engine: LlamaCppEngine,
) -> None:
    tiny = CompletionPipeline(tiny_engine, CompletionOptions(), Stats())
    scheduler = Scheduler(SchedulerOptions(debounce_ms=50), tiny.stats)
    document = Document("file:///d.py", "def f(a):\n    ", "python")
    context = tiny.make_context(document, len(document.text))
    kind = key_kind(document.text, len(document.text), LINE_START)
    assert kind == INDENT
    # Unknown habits: a blank line is answered at once, as before.
    assert scheduler.at_once(document, len(document.text), context, False, kind)
    for _ in range(10):
        scheduler.pauses.observe(INDENT, paused=False)
    assert not scheduler.at_once(document, len(document.text), context, False, kind)
    assert scheduler.at_once(document, len(document.text), context, False, LINE_START)


async def test_the_key_after_an_accept_is_not_debounced(tiny_engine: LlamaCppEngine) -> None:
    from tests.conftest import fill_case

    single = CompletionOptions(context=ContextOptions(multiline=Multiline.NEVER))
    tiny = CompletionPipeline(tiny_engine, single, Stats())
    scheduler = Scheduler(SchedulerOptions(debounce_ms=2000, debounce_max_ms=2000), tiny.stats)
    case = fill_case("mid-line")
    cursor = len(case["prefix"])
    document = Document("file:///d.py", case["prefix"] + case["suffix"], "python")
    shown = await scheduler.complete(tiny, "m", document, cursor, invoked=True)
    assert shown.text == case["middle"] and shown.timing.debounce_ms == 0
    document.replace(cursor, cursor, shown.text)  # accepted
    after = await scheduler.complete(tiny, "m", document, cursor + len(shown.text))
    assert not after.cached and after.timing.debounce_ms == 0
    assert tiny.stats.engine_calls == 2
    # Anywhere else the debounce still applies (cancelled before it ends).
    document.replace(cursor, cursor, "x")
    elsewhere = asyncio.create_task(scheduler.complete(tiny, "m", document, cursor + 1))
    await asyncio.sleep(0.3)
    assert not elsewhere.done() and tiny.stats.engine_calls == 2
    elsewhere.cancel()
    with pytest.raises(asyncio.CancelledError):
        await elsewhere


async def test_a_cache_hit_waits_for_nothing(tiny_engine: LlamaCppEngine) -> None:
    from tests.conftest import fill_case

    tiny = CompletionPipeline(tiny_engine, CompletionOptions(), Stats())
    scheduler = Scheduler(SchedulerOptions(debounce_ms=2000, debounce_max_ms=2000), tiny.stats)
    case = fill_case("mid-line")
    cursor = len(case["prefix"])
    document = Document("file:///d.py", case["prefix"] + case["suffix"], "python")
    assert scheduler.cached(tiny, "m", document, cursor) is None
    shown = await scheduler.complete(tiny, "m", document, cursor, invoked=True)
    document.replace(cursor, cursor, shown.text[:2])  # typed through
    hit = scheduler.cached(tiny, "m", document, cursor + 2)  # no await: nothing waited
    assert hit is not None and hit.cached and hit.text == shown.text[2:]
    assert (tiny.stats.cache_hits, tiny.stats.engine_calls) == (1, 1)


@pytest.mark.parametrize(
    ("text", "indent"),
    [
        ("def f(a):\n    x = 1", "    "),
        ("def f(a):\n    if a:", "        "),
        ("def f(a):\n  if a:", "    "),  # two-space style
        ("f = {", "    "),  # no indented line yet: four spaces
        ("if (a) {\n\tb();\n\tif (c) {", "\t\t"),
        ("x = 1", ""),
    ],
)
def test_the_next_line_is_indented_as_an_editor_would(text: str, indent: str) -> None:
    assert next_line_indent(text + "\nrest", len(text)) == indent


def test_a_line_ends_where_only_blanks_follow_code() -> None:
    text = "x = 1  \n\ny = f(2)\n"
    assert ends_line(Document("u", text), len("x = 1"))
    assert not ends_line(Document("u", text), len("x = 1  \n"))  # a blank line
    assert not ends_line(Document("u", text), len("x = 1  \n\ny = f("))  # code follows


async def test_the_line_after_enter_is_prefetched_where_the_model_ends_a_line(
    tiny_engine: LlamaCppEngine,
) -> None:
    from tests.conftest import fill_case

    tiny = CompletionPipeline(tiny_engine, CompletionOptions(), Stats())
    scheduler = Scheduler(SchedulerOptions(debounce_ms=0, prefetch_next_line=True), tiny.stats)
    case = fill_case("single-line")  # "    level = height + step", then "    return level"
    text = case["prefix"] + case["middle"] + case["suffix"]
    cursor = len(case["prefix"] + case["middle"])
    document = Document("file:///d.py", text, "python")
    done = await scheduler.complete(tiny, "m", document, cursor, invoked=True)
    assert done.text == "" and tiny.stats.prefetches == 1  # the line is complete
    document.replace(cursor, cursor, "\n    ")  # Enter, and the editor's indentation
    after = await scheduler.complete(tiny, "m", document, cursor + 5)
    # Served from the prefetch, whatever the model said there (the retrained
    # tiny model says nothing: the body is complete).
    assert after.cached and tiny.stats.engine_calls == 2
