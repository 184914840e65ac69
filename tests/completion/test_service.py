"""The completion service: one engine, and a pipeline that learns across requests."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from completion.document import Document
from completion.pipeline import CompletionOptions
from completion.scheduler import SchedulerOptions
from completion.service import CompletionService
from engines.registry import EngineSettings

pytestmark = pytest.mark.slow

BIG_FILE = "".join(f"def step_{n}(value):\n    return value + {n}\n\n\n" for n in range(400))


@pytest.fixture
async def service(tiny_model: Path) -> AsyncIterator[CompletionService]:
    service = CompletionService(
        CompletionOptions(),
        EngineSettings(model_path=str(tiny_model)),
        scheduler_options=SchedulerOptions(debounce_ms=0, cache=False),
    )
    yield service
    await service.close()


async def test_the_token_estimate_learned_once_serves_later_requests(
    service: CompletionService,
) -> None:
    document = Document("file:///big.py", BIG_FILE, "python")
    first = await service.complete(document, document.line_start(800))
    engine = await service.ready_engine()
    pipeline = service.pipeline_for(engine)
    assert pipeline.counter.calibrated
    reserved = pipeline.max_tokens(first.multiline)
    assert first.usage.prompt_tokens_total + reserved < 512

    await service.complete(document, document.line_start(1200))
    assert service.pipeline_for(engine) is pipeline
    assert service.stats.engine_calls == 2  # no prompt was rejected and resent

    # New options (a config change) get a new pipeline that keeps what was learned.
    await service.reconfigure(
        dataclasses.replace(service.options, max_tokens=32), service.engine_settings
    )
    renewed = service.pipeline_for(engine)
    assert renewed is not pipeline and renewed.counter is pipeline.counter


async def test_the_serving_replica_is_told_once_per_change_and_forgotten_by_a_new_engine(
    service: CompletionService,
) -> None:
    told: list[str] = []
    service.on_endpoint = lambda status: told.append(status.endpoint)
    engine = await service.ready_engine()
    pipeline = service.pipeline_for(engine)
    assert pipeline.on_served is not None
    # What the pipeline reports after each remote generation (the local engine names none).
    for endpoint in ("http://a:1/v1", "http://a:1/v1", "http://b:2/v1", "http://a:1/v1"):
        pipeline.on_served(endpoint)
    assert told == ["http://a:1/v1", "http://b:2/v1", "http://a:1/v1"]
    assert service.status.endpoint == "http://a:1/v1" and service.status.state == "ready"
    await service.reconfigure(
        service.options, dataclasses.replace(service.engine_settings, threads=1)
    )
    await service.ready_engine()
    assert service.status.endpoint == "" and service.status.endpoint_count == 0
