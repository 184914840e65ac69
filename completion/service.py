"""The engine's lifecycle plus the pipeline: what the server and the CLI share.

The LSP layer and the headless ``complete`` command both hold one
``CompletionService``. It starts the engine in the background, remembers
whether loading failed (and why, for one clear message), rebuilds the engine
when its settings change, and runs completions through the pipeline.

An engine that fails for a reason that may pass (a server that is down, dies
mid-stream or rejects the key until the user fixes it) is rebuilt in the
background with growing delays; while it is down, requests fail fast instead
of each waiting on a dead socket. A model file that cannot load is final
until the settings change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from completion.alternatives import collect_alternatives
from completion.crossfile.provider import CrossFileProvider
from completion.document import Document
from completion.pipeline import Completion, CompletionOptions, CompletionPipeline
from completion.prompt import probe_token_strings
from completion.scheduler import Scheduler, SchedulerOptions
from completion.stats import Stats
from engines.base import (
    ContextTooLongError,
    Engine,
    EngineCrashedError,
    EngineError,
    EngineHealth,
    ModelInfo,
    ModelLoadError,
    ReportsHealth,
)
from engines.fleet import ReportsEndpoints
from engines.registry import EngineSettings, create_engine

log = logging.getLogger(__name__)


class EngineState(StrEnum):
    IDLE = "idle"
    LOADING = "loading"
    READY = "ready"
    RESTARTING = "restarting"
    """The engine's worker crashed and is being restarted (the message says why)."""
    FAILED = "failed"


@dataclass(frozen=True)
class EngineStatus:
    state: EngineState
    engine: str
    model: str
    message: str = ""
    load_seconds: float = 0.0
    endpoint: str = ""
    """The replica that served the last request ("" before one, or for a local engine)."""
    endpoint_count: int = 0
    """How many endpoints the engine has (0 for a local engine)."""


StatusListener = Callable[[EngineStatus], None]

RETRY_DELAYS_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Waits before rebuilding a failed engine: the n-th retry waits the n-th (or last) one."""


class CompletionService:
    """Owns one engine at a time and the pipeline that uses it."""

    def __init__(
        self,
        options: CompletionOptions,
        engine_settings: EngineSettings,
        stats: Stats | None = None,
        on_status: StatusListener | None = None,
        scheduler_options: SchedulerOptions | None = None,
    ):
        self.options = options
        self.engine_settings = engine_settings
        self.stats = stats or Stats()
        self.scheduler = Scheduler(scheduler_options or SchedulerOptions(), self.stats)
        self.on_status = on_status
        self.on_endpoint: StatusListener | None = None
        """Told (with the current status) when the replica serving requests changes."""
        self._engine: Engine | None = None
        self._load_task: asyncio.Task[ModelInfo] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self._retries = 0
        self._pipeline: CompletionPipeline | None = None
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS
        self.workspace_uri = ""
        """The editor's workspace root, salting each document's session key."""
        self.cross_file = CrossFileProvider()
        """Other files' context: the LSP layer sets its root, documents and exclusion hook."""
        self.status = EngineStatus(EngineState.IDLE, engine_settings.name, self._model_label())

    def _model_label(self) -> str:
        settings = self.engine_settings
        return settings.model_name or settings.model_path or ""

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def _set_status(self, status: EngineStatus) -> None:
        status = replace(
            status, endpoint=self.status.endpoint, endpoint_count=self.status.endpoint_count
        )
        if status.state is EngineState.LOADING:  # a new engine has served nothing yet
            status = replace(status, endpoint="", endpoint_count=0)
        self.status = status
        if self.on_status is not None:
            try:
                self.on_status(status)
            except Exception:
                log.exception("status listener failed")

    def start(self) -> asyncio.Task[ModelInfo]:
        """Begin loading the engine in the background (idempotent)."""
        if self._load_task is None:
            self._load_task = asyncio.create_task(self._load(), name="engine-load")
            self._load_task.add_done_callback(_log_task_failure)
        return self._load_task

    async def _load(self) -> ModelInfo:
        label = self._model_label()
        self._set_status(EngineStatus(EngineState.LOADING, self.engine_settings.name, label))
        started = time.perf_counter()
        try:
            self._engine = create_engine(self.engine_settings, probe_token_strings())
            if isinstance(self._engine, ReportsHealth):
                self._engine.health_listener = self._health_listener(self._engine)
            info = await self._engine.start()
        except EngineError as error:
            self._failed(error)
            raise
        self._retries = 0
        seconds = time.perf_counter() - started
        self._set_status(
            EngineStatus(
                EngineState.READY, self.engine_settings.name, info.name, load_seconds=seconds
            )
        )
        return info

    def _health_listener(self, engine: Engine) -> Callable[[EngineHealth], None]:
        """Status updates from an engine that restarts its own worker."""

        def on_health(health: EngineHealth) -> None:
            if engine is not self._engine:
                return
            name, label = self.engine_settings.name, self._model_label()
            if health.state == "ready":
                info = engine.info
                model = info.name if info is not None else label
                self._set_status(EngineStatus(EngineState.READY, name, model, health.message))
                return
            self.stats.last_error = health.message
            state = EngineState.FAILED if health.state == "failed" else EngineState.RESTARTING
            self._set_status(EngineStatus(state, name, label, health.message))

        return on_health

    def _served_by(self, endpoint: str) -> None:
        """The pipeline's report of the replica that answered; tells ``on_endpoint`` of a change.

        A plain string compare per request: editors follow the replica from
        this push, not by polling ``dscoder/stats``.
        """
        if not endpoint or endpoint == self.status.endpoint:
            return
        engine = self._engine
        count = (
            len(engine.fleet_stats()["endpoints"]) if isinstance(engine, ReportsEndpoints) else 1
        )
        self.status = replace(self.status, endpoint=endpoint, endpoint_count=count)
        if self.on_endpoint is not None:
            try:
                self.on_endpoint(self.status)
            except Exception:
                log.exception("endpoint listener failed")

    def _failed(self, error: EngineError) -> None:
        """Report the failure once (the listener dedupes) and schedule a rebuild."""
        self.stats.last_error = str(error)
        label = self._model_label()
        self._set_status(
            EngineStatus(EngineState.FAILED, self.engine_settings.name, label, str(error))
        )
        if isinstance(error, ModelLoadError) or self._retry_task is not None:
            return
        delay = self.retry_delays[min(self._retries, len(self.retry_delays) - 1)]
        self._retries += 1
        log.info("engine failed (%s); rebuilding it in %.0f s", error, delay)
        self._retry_task = asyncio.create_task(self._rebuild_after(delay), name="engine-retry")
        self._retry_task.add_done_callback(_log_retry_failure)

    async def _rebuild_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._retry_task = None
        await self._stop_engine(cancel_retry=False)
        self.start()

    async def ready_engine(self) -> Engine:
        """The started engine; raises EngineError if it failed to load."""
        task = self.start()
        await asyncio.shield(task)
        assert self._engine is not None
        return self._engine

    async def reconfigure(
        self,
        options: CompletionOptions,
        engine_settings: EngineSettings,
        scheduler_options: SchedulerOptions | None = None,
    ) -> None:
        """Apply new settings; the engine restarts only if its own settings changed."""
        if options != self.options:
            self.scheduler.cache.clear()
        self.options = options
        if scheduler_options is not None:
            self.scheduler.options = scheduler_options
        if engine_settings == self.engine_settings and self.status.state != EngineState.FAILED:
            return
        self.engine_settings = engine_settings
        self._retries = 0
        await self._stop_engine()
        self.start()

    async def _stop_engine(self, cancel_retry: bool = True) -> None:
        retry, self._retry_task = self._retry_task, None
        if cancel_retry and retry is not None and retry is not asyncio.current_task():
            retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retry
        task, self._load_task = self._load_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, EngineError):
                await task
        await self.scheduler.close()
        self.scheduler.cache.clear()
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.close()

    def fingerprint(self, engine: Engine) -> str:
        """What a cached completion depends on besides the document."""
        name = engine.info.name if engine.info else ""
        return f"{engine.name}|{name}|{self.options!r}"

    async def complete(
        self,
        document: Document,
        offset: int,
        file_path: str | None = None,
        invoked: bool = False,
    ) -> Completion:
        engine = await self.ready_engine()
        pipeline = self.pipeline_for(engine)
        cross_file = self.options.context.cross_file

        async def prepare() -> None:
            await self.cross_file.prepare(document, cross_file)

        try:
            # A cached answer (typing through a suggestion) waits on nothing,
            # not even the cross-file index.
            return await self.scheduler.complete(
                pipeline, self.fingerprint(engine), document, offset, file_path, invoked, prepare
            )
        except (ContextTooLongError, EngineCrashedError):
            raise  # a crashed worker is restarted, and reported, by its engine
        except EngineError as error:
            # The engine broke under a request (a server that died mid-stream,
            # a key revoked): fail fast from now on and rebuild in the background.
            if engine is self._engine:
                self._failed(error)
            raise

    async def complete_alternatives(
        self, document: Document, offset: int, file_path: str | None = None
    ) -> list[Completion]:
        """An explicit request's answers: the usual one, then distinct samples.

        Samples run on a snapshot of the text the first answer was made for;
        if the document changed meanwhile, the first answer is all there is.
        """
        text = document.text
        first = await self.complete(document, offset, file_path, invoked=True)
        count = self.options.alternatives
        if count <= 1 or first.skipped or document.text != text:
            return [first] if first.text else []
        snapshot = document.snapshot()
        engine = await self.ready_engine()
        pipeline = self.pipeline_for(engine)

        async def sample(seed: int) -> Completion:
            return await pipeline.complete(snapshot, offset, file_path, seed=seed)

        several = pipeline.choices_sampler(snapshot, offset, file_path)
        return await collect_alternatives(first, count, sample, several)

    def pipeline_for(self, engine: Engine) -> CompletionPipeline:
        """The pipeline for ``engine`` and the current options, kept between requests.

        Kept so that what it learns survives: its token estimator is calibrated
        by the engine's real prompt sizes, and a fresh one would let over-long
        prompts through to the engine again.
        """
        pipeline = self._pipeline
        if pipeline is not None and pipeline.engine is engine and pipeline.options is self.options:
            pipeline.workspace_uri = self.workspace_uri
            return pipeline
        fresh = CompletionPipeline(engine, self.options, self.stats)
        fresh.workspace_uri = self.workspace_uri
        fresh.cross_file = self.cross_file
        fresh.on_served = self._served_by
        if pipeline is not None and pipeline.engine is engine:
            fresh.counter = pipeline.counter  # same tokenizer, new options
        self._pipeline = fresh
        return fresh

    async def close(self) -> None:
        await self.scheduler.close()
        await self._stop_engine()
        self.cross_file.index.close()


def _log_retry_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("engine rebuild crashed", exc_info=error)


def _log_task_failure(task: asyncio.Task[ModelInfo]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, EngineError):
        log.error("engine load crashed", exc_info=error)
