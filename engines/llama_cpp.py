"""Local GGUF engine on llama-cpp-python: the default, no server needed.

llama.cpp runs in a supervised worker process (engines/llama_worker.py), so
a native fault there (a SIGSEGV in ggml, an abort, the OOM killer) costs a
restart, not the language server; this process never imports llama_cpp.
Tokens stream back over a pipe; closing the stream sends a cancel that the
worker checks before every token and between prompt-evaluation chunks, so
the model stops within one token. The worker keeps its KV cache between
requests, so a prompt that shares its head with the previous one costs only
the new tokens.

When the worker dies, every request it owed fails at once with
EngineCrashedError, the health listener hears one plain message (which
model, which signal, the likely cause and the fix), and the worker is
restarted after a short backoff. After ``CRASH_LIMIT`` crashes within
``CRASH_WINDOW_SECONDS`` the engine stays failed: no restart storm.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.base import (
    ContextTooLongError,
    EngineCrashedError,
    EngineError,
    EngineHealth,
    EngineUnavailableError,
    GenerationRequest,
    GenerationUsage,
    HealthListener,
    ModelInfo,
    ModelLoadError,
)
from engines.llama_worker import WorkerClient, WorkerExit, WorkerExitedError

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
CRASH_LIMIT = 3
CRASH_WINDOW_SECONDS = 60.0
RESTART_DELAYS_SECONDS = (0.2, 1.0, 3.0)
"""Wait before the n-th restart within the crash window."""
DOCTOR_HINT = "run `dscoder-lsp doctor` to check the build, the CPU and the model"


@dataclass(frozen=True)
class LlamaCppOptions:
    """Settings of the in-process engine (the ``engine`` config section)."""

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    n_batch: int = 512
    n_gpu_layers: int = 0
    seed: int = 0
    use_mmap: bool = True
    flash_attention: str = "auto"
    """auto (llama.cpp's default, off for deepseek2), on or off."""
    speculative: str = "off"
    """Greedy decoding with drafts: off or prompt-lookup (llama_worker.PromptLookup)."""
    speculative_draft_tokens: int = 4
    """Most draft tokens verified in one batch."""
    speculative_ngram: int = 3
    """Longest n-gram looked up for a draft."""


def check_gguf_file(path: Path) -> None:
    """Fail with a clear message before llama.cpp sees a bad file."""
    if not path.exists():
        raise ModelLoadError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelLoadError(f"model path is not a file: {path}")
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise ModelLoadError(f"cannot read model file {path}: {error.strerror}") from error
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF file (starts with {magic!r}, expected {GGUF_MAGIC!r})"
        )


class LlamaCppEngine:
    """Runs a GGUF model in a supervised worker process (see module docstring)."""

    name = "llama-cpp"

    def __init__(self, options: LlamaCppOptions, probe_tokens: frozenset[str] = frozenset()):
        self.options = options
        self.probe_tokens = probe_tokens
        self.health_listener: HealthListener | None = None
        self.restart_delays: tuple[float, ...] = RESTART_DELAYS_SECONDS
        self.crash_limit = CRASH_LIMIT
        self.crash_window = CRASH_WINDOW_SECONDS
        self.context_params: dict[str, int] = {}
        """What llama.cpp's context was created with (n_ctx, n_batch, flash_attn_type...)."""
        self.system_info = ""
        self._worker: WorkerClient | None = None
        self._info: ModelInfo | None = None
        self._start_lock = asyncio.Lock()
        self._down: str | None = None
        """Why requests fail fast now: restarting after a crash, or failed for good."""
        self._crashes: deque[float] = deque()
        self._restart_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def worker_pid(self) -> int | None:
        """The live worker's process id (for `doctor`, logs and tests)."""
        worker = self._worker
        return worker.pid if worker is not None and worker.alive else None

    @property
    def model_path(self) -> Path:
        return Path(self.options.model_path).expanduser()

    async def start(self) -> ModelInfo:
        async with self._start_lock:
            if self._info is not None:
                return self._info
            check_gguf_file(self.model_path)
            try:
                self._info = await self._launch()
            except WorkerExitedError as error:
                raise ModelLoadError(self._load_crash_message(error.exit)) from None
            return self._info

    async def _launch(self) -> ModelInfo:
        """Spawn a worker and load the model in it; raises WorkerExitedError if it dies."""
        started = time.perf_counter()
        worker = await WorkerClient.spawn(self._worker_exited)
        self._worker = worker
        try:
            reply = await worker.call(
                "load",
                options={**dataclasses.asdict(self.options), "model_path": str(self.model_path)},
                probe_tokens=sorted(self.probe_tokens),
            )
        except BaseException:
            worker.on_exit = None
            worker.kill()  # an abandoned or failed load must not leave a process behind
            raise
        if "error" in reply:
            await worker.close()
            raise ModelLoadError(str(reply["error"]))
        loaded: dict[str, Any] = reply["done"]
        self.context_params = dict(loaded["context_params"])
        self.system_info = str(loaded["system_info"])
        log.info(
            "loaded %s (%s) in worker %d in %.2fs, n_ctx=%d",
            self.model_path,
            loaded["name"],
            worker.pid,
            time.perf_counter() - started,
            loaded["context_length"],
        )
        return ModelInfo(
            name=str(loaded["name"]),
            engine=self.name,
            context_length=int(loaded["context_length"]),
            eos_token_ids=tuple(loaded["eos_token_ids"]),
            special_tokens=frozenset(loaded["special_tokens"]),
            metadata=dict(loaded["metadata"]),
        )

    # ----- crashes and restarts ---------------------------------------------------

    def _worker_exited(self, worker: WorkerClient, exit: WorkerExit) -> None:
        if worker is not self._worker or self._closed or self._info is None:
            return  # a load in progress reports its own crash
        if self._restart_task is not None:
            return  # the restart's load failed: it reports the crash itself
        self._crashed(exit)

    def _crashed(self, exit: WorkerExit) -> None:
        now = time.monotonic()
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.crash_window:
            self._crashes.popleft()
        count = len(self._crashes)
        cause, fix = likely_cause(exit.returncode)
        model = self._model_label()
        if count >= self.crash_limit:
            self._down = (
                f"the llama.cpp worker running {model} crashed {_times(count)} in "
                f"{self.crash_window:.0f} s (last: {exit.reason}), so it is not restarted "
                f"again: the local engine has failed. Likely cause: {cause}. Fix: {fix}; "
                f"{DOCTOR_HINT}. Changing a setting or restarting the editor tries again."
            )
            log.error("%s", self._down)
            self._tell(EngineHealth("failed", self._down))
            return
        delay = self.restart_delays[min(count - 1, len(self.restart_delays) - 1)]
        self._down = (
            f"the llama.cpp worker running {model} crashed ({exit.reason}); restarting it. "
            f"Likely cause: {cause}. Fix: {fix}; {DOCTOR_HINT}."
        )
        log.error("%s", self._down)
        self._tell(EngineHealth("restarting", self._down))
        self._restart_task = asyncio.create_task(self._restart_after(delay), name="llama-restart")
        self._restart_task.add_done_callback(_log_restart_failure)

    async def _restart_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._launch()
        except WorkerExitedError as error:
            self._restart_task = None
            self._crashed(error.exit)
            return
        except EngineError as error:
            self._restart_task = None
            self._down = f"the llama.cpp worker crashed and could not be restarted: {error}"
            self._tell(EngineHealth("failed", self._down))
            return
        self._restart_task = None
        self._down = None
        log.info("llama.cpp worker restarted (pid %d)", self.worker_pid or 0)
        self._tell(EngineHealth("ready", f"restarted {self._model_label()} after a crash"))

    def _tell(self, health: EngineHealth) -> None:
        if self.health_listener is None:
            return
        try:
            self.health_listener(health)
        except Exception:
            log.exception("engine health listener failed")

    def _model_label(self) -> str:
        name = self._info.name if self._info is not None else ""
        file = self.model_path.name
        return f"{name} ({file})" if name and name != self.model_path.stem else file

    def _load_crash_message(self, exit: WorkerExit) -> str:
        cause, fix = likely_cause(exit.returncode)
        return (
            f"llama.cpp crashed while loading {self.model_path} ({exit.reason}). "
            f"Likely cause: {cause}. Fix: {fix}; {DOCTOR_HINT}."
        )

    # ----- requests ----------------------------------------------------------------

    def _live_worker(self) -> WorkerClient:
        if self._down is not None:
            raise EngineCrashedError(self._down)
        worker = self._worker
        if self._info is None or worker is None:
            raise EngineUnavailableError("the model is not loaded yet")
        return worker

    def _crash_error(self, exit: WorkerExit) -> EngineCrashedError:
        return EngineCrashedError(
            self._down or f"the llama.cpp worker running {self._model_label()} {exit.reason}"
        )

    @property
    def counts_exactly(self) -> bool:
        """The worker counts with the model's own tokenizer."""
        return True

    async def count_tokens(self, text: str) -> int:
        worker = self._live_worker()
        try:
            reply = await worker.call("count", text=text)
        except WorkerExitedError as error:
            raise self._crash_error(error.exit) from None
        if "error" in reply:
            raise EngineUnavailableError(str(reply["error"]))
        return int(reply["count"])

    async def stream(
        self, request: GenerationRequest, usage: GenerationUsage | None = None
    ) -> AsyncIterator[str]:
        worker = self._live_worker()
        usage = usage if usage is not None else GenerationUsage()
        request_id, replies = worker.open(
            "generate",
            prompt=request.prompt,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop_token_ids=list(request.stop_token_ids),
        )
        final: dict[str, Any] | WorkerExit | None = None
        try:
            while True:
                reply = await replies.get()
                if isinstance(reply, dict) and "p" in reply:
                    usage.generated_tokens = int(reply["n"])
                    yield str(reply["p"])
                    continue
                final = reply
                break
        finally:
            if final is None:
                worker.cancel(request_id)
                # The worker stops before its next token; waiting for its reply
                # keeps usage complete and the worker free for the next call.
                final = await asyncio.shield(_last_reply(replies))
            worker.finished(request_id)
            _record(usage, final)
        if isinstance(final, WorkerExit):
            raise self._crash_error(final)
        if "error" in final:
            if final.get("kind") == "context":
                log.info("%s", final["error"])
                raise ContextTooLongError(str(final["error"]))
            raise EngineError(f"llama.cpp generation failed: {final['error']}")

    async def close(self) -> None:
        self._closed = True
        restart, self._restart_task = self._restart_task, None
        if restart is not None:
            restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await restart
        worker, self._worker = self._worker, None
        self._info = None
        if worker is not None:
            await worker.close()


async def _last_reply(
    replies: asyncio.Queue[dict[str, Any] | WorkerExit],
) -> dict[str, Any] | WorkerExit:
    while True:
        reply = await replies.get()
        if not (isinstance(reply, dict) and "p" in reply):
            return reply


def _record(usage: GenerationUsage, final: dict[str, Any] | WorkerExit) -> None:
    if isinstance(final, WorkerExit):
        usage.finish_reason = "error"
        return
    done = final.get("done")
    if done is None:
        usage.finish_reason = "error"
        return
    usage.prompt_tokens = int(done["prompt_tokens"])
    usage.prompt_tokens_total = int(done["prompt_tokens_total"])
    usage.generated_tokens = int(done["generated"])
    usage.finish_reason = str(done["finish_reason"])
    usage.engine_seconds = float(done["engine_seconds"])
    usage.drafted_tokens = int(done.get("drafted", 0))
    usage.accepted_tokens = int(done.get("accepted", 0))


_NATIVE_FAULTS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}


def likely_cause(returncode: int) -> tuple[str, str]:
    """(likely cause, fix) for a worker that ended with ``returncode``, in plain words."""
    signum = -returncode if returncode < 0 else 0
    if signum in _NATIVE_FAULTS:
        return (
            "a native fault in llama.cpp: a build with CPU kernels this machine cannot run "
            "(AMX or AVX-512 under a VM), or engine.threads, engine.nBatch or engine.nCtx "
            "out of range",
            "rebuild llama-cpp-python with tools/install.sh (GGML_NATIVE=OFF), and check "
            "engine.threads, engine.nBatch and engine.nCtx",
        )
    if signum == signal.SIGABRT:
        return (
            "llama.cpp stopped on a failed internal check (a damaged model file, or "
            "settings it cannot honour)",
            "check the model file and the engine settings",
        )
    if signum == signal.SIGKILL:
        return (
            "it was killed from outside, most often by the out-of-memory killer",
            "use a smaller model or a smaller engine.nCtx, or free memory",
        )
    return ("it stopped unexpectedly", "see the server log (-v --log-file FILE)")


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _log_restart_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("llama.cpp worker restart crashed", exc_info=error)
