"""In-process GGUF engine on llama-cpp-python: the default, no server needed.

A llama context is not thread-safe, so every call into it runs on one
dedicated worker thread owned by the engine (never pygls's thread pool, which
also reads stdin). Tokens travel to the event loop through a queue; closing
the stream sets a flag the worker checks before every token and between
prompt-evaluation chunks, so the model stops within one token.

The prompt is evaluated against the tokens already in the KV cache, so a
prompt that shares its head with the previous one costs only the new tokens.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.base import (
    ContextTooLongError,
    EngineUnavailableError,
    GenerationRequest,
    GenerationUsage,
    ModelInfo,
    ModelLoadError,
)
from engines.gguf_metadata import GGUFHeaderError, trained_context_length

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
# Special-token strings whose presence identifies FIM families (see
# completion/prompt.py); engines may not import completion/, so the probe
# list is passed in by the caller.
_PROMPT_EVAL_CHUNK = 64


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


class _Cancelled(Exception):
    pass


class LlamaCppEngine:
    """Runs a GGUF model in this process (see module docstring)."""

    name = "llama-cpp"

    def __init__(self, options: LlamaCppOptions, probe_tokens: frozenset[str] = frozenset()):
        self.options = options
        self.probe_tokens = probe_tokens
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-cpp")
        self._llama: Any = None
        self._info: ModelInfo | None = None
        self._start_lock = asyncio.Lock()

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    async def start(self) -> ModelInfo:
        async with self._start_lock:
            if self._info is not None:
                return self._info
            loop = asyncio.get_running_loop()
            self._info = await loop.run_in_executor(self._executor, self._load)
            return self._info

    def _load(self) -> ModelInfo:
        path = Path(self.options.model_path).expanduser()
        check_gguf_file(path)
        try:
            import llama_cpp  # noqa: F401
        except ImportError as error:
            raise ModelLoadError(
                "the llama-cpp engine needs llama-cpp-python: pip install 'dscoder-lsp[llama]'"
            ) from error
        from llama_cpp import Llama

        started = time.perf_counter()
        n_ctx = self.options.n_ctx
        trained = _trained_context(path)
        if trained and trained < n_ctx:
            # Positions past the trained context give garbage.
            log.info("%s was trained on %d tokens of context; using that", path, trained)
            n_ctx = trained
        llama = self._open(Llama, path, n_ctx)
        self._llama = llama
        metadata = {str(k): str(v) for k, v in (llama.metadata or {}).items()}
        special = frozenset(token for token in self.probe_tokens if self._is_single_token(token))
        eos = {llama.token_eos()}
        eot = llama._model.token_eot()
        if eot >= 0:
            eos.add(eot)
        name = metadata.get("general.name") or path.stem
        info = ModelInfo(
            name=name,
            engine=self.name,
            context_length=llama.n_ctx(),
            eos_token_ids=tuple(sorted(t for t in eos if t >= 0)),
            special_tokens=special,
            metadata=metadata,
        )
        log.info(
            "loaded %s (%s) in %.2fs, n_ctx=%d",
            path,
            name,
            time.perf_counter() - started,
            info.context_length,
        )
        return info

    def _open(self, llama_class: Any, path: Path, n_ctx: int) -> Any:
        try:
            return llama_class(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=self.options.n_threads,
                n_batch=self.options.n_batch,
                n_gpu_layers=self.options.n_gpu_layers,
                seed=self.options.seed,
                use_mmap=self.options.use_mmap,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelLoadError(f"llama.cpp could not load {path}: {error}") from error

    def _is_single_token(self, text: str) -> bool:
        tokens = self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return len(tokens) == 1

    def _require_model(self) -> Any:
        if self._llama is None:
            raise EngineUnavailableError("the model is not loaded yet")
        return self._llama

    async def count_tokens(self, text: str) -> int:
        # Tokenizing reads only the vocabulary, which is safe beside a decode.
        llama = self._require_model()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    async def stream(
        self, request: GenerationRequest, usage: GenerationUsage | None = None
    ) -> AsyncIterator[str]:
        self._require_model()
        usage = usage if usage is not None else GenerationUsage()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def emit(item: str | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        job = loop.run_in_executor(self._executor, self._generate, request, usage, cancel, emit)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()
            # The worker sees the flag before its next token; waiting for it
            # keeps usage complete and the single worker free for the next call.
            await asyncio.shield(job)

    def _generate(
        self,
        request: GenerationRequest,
        usage: GenerationUsage,
        cancel: threading.Event,
        emit: Callable[[str | BaseException | None], None],
    ) -> None:
        started = time.perf_counter()
        try:
            self._generate_tokens(request, usage, cancel, emit)
        except _Cancelled:
            usage.finish_reason = "cancelled"
        except ContextTooLongError as error:  # expected: the caller cuts the prompt and retries
            usage.finish_reason = "error"
            log.info("%s", error)
            emit(error)
        except Exception as error:  # reported to the consumer, not lost in the thread
            usage.finish_reason = "error"
            log.exception("generation failed")
            emit(error)
        finally:
            usage.engine_seconds = time.perf_counter() - started
            emit(None)

    def _generate_tokens(
        self,
        request: GenerationRequest,
        usage: GenerationUsage,
        cancel: threading.Event,
        emit: Callable[[str | BaseException | None], None],
    ) -> None:
        llama = self._llama
        add_bos = bool(llama._model.add_bos_token())
        tokens = llama.tokenize(request.prompt.encode("utf-8"), add_bos=add_bos, special=True)
        usage.prompt_tokens_total = len(tokens)
        n_ctx = llama.n_ctx()
        if len(tokens) + 1 > n_ctx:
            raise ContextTooLongError(
                f"prompt of {len(tokens)} tokens does not fit the context of {n_ctx}"
            )
        max_tokens = max(0, min(request.max_tokens, n_ctx - len(tokens)))
        usage.prompt_tokens = self._evaluate_prompt(tokens, cancel)

        greedy = request.temperature <= 0
        stop_ids = set(request.stop_token_ids)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        if max_tokens == 0:
            usage.finish_reason = "length"
            return
        previous = tokens[-1:]
        if not greedy and request.seed is not None:
            llama.set_seed(request.seed)  # alternatives: the same seed gives the same sample
        for token in llama.generate(
            tokens,
            top_k=1 if greedy else 40,
            top_p=1.0 if greedy else request.top_p,
            min_p=0.0,
            temp=0.0 if greedy else request.temperature,
            repeat_penalty=1.0,
            reset=True,
        ):
            if cancel.is_set():
                raise _Cancelled
            if token in stop_ids or self._is_end_of_generation(token):
                usage.finish_reason = "stop"
                return
            usage.generated_tokens += 1
            piece = decoder.decode(llama.detokenize([token], prev_tokens=previous))
            previous = [token]
            if piece:
                emit(piece)
            if usage.generated_tokens >= max_tokens:
                usage.finish_reason = "length"
                return
        usage.finish_reason = "stop"

    def _is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._llama._model.vocab, token))

    def _evaluate_prompt(self, tokens: list[int], cancel: threading.Event) -> int:
        """Evaluate all but the last prompt token in small chunks; return how many.

        Tokens already in the KV cache are kept. Chunking lets a cancelled
        request abandon a long prompt between chunks; ``generate`` then finds
        the whole prefix cached and evaluates only the last token.
        """
        llama = self._llama
        cached = llama.input_ids[: llama.n_tokens]
        common = 0
        for have, want in zip(cached, tokens[:-1], strict=False):
            if have != want:
                break
            common += 1
        llama.n_tokens = common
        pending = tokens[common:-1]
        for start in range(0, len(pending), _PROMPT_EVAL_CHUNK):
            if cancel.is_set():
                raise _Cancelled
            llama.eval(pending[start : start + _PROMPT_EVAL_CHUNK])
        return len(pending) + 1

    async def close(self) -> None:
        llama, self._llama = self._llama, None
        self._info = None
        if llama is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, llama.close)
        self._executor.shutdown(wait=False)


def _trained_context(path: Path) -> int:
    """The context length the model was trained with, from the GGUF header (0 if unknown)."""
    try:
        return trained_context_length(path)
    except GGUFHeaderError as error:
        log.debug("no trained context length from %s: %s", path, error)
        return 0  # llama.cpp's own load reports what is wrong with the file
