"""The engine protocol: the last stage of the pipeline.

An engine turns a finished prompt string into a stream of text pieces and
describes the model behind it. Engines know nothing about documents, cursors
or FIM templates: completion/ builds the prompt, an engine only runs it.

Cancellation is part of the contract. Closing the stream (``aclose()``, or the
consuming task being cancelled) must stop the model within one token for
in-process engines, and close the HTTP stream for remote ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from engines.credentials import redact


class EngineError(Exception):
    """A failure the user can act on: a missing model, an unreachable server.

    ``str(error)`` is one clear sentence that names what is wrong. It is
    redacted on the way in (a 401 body echoing the key, a password in the
    endpoint URL), so every place that shows or logs it is safe.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ModelLoadError(EngineError):
    """The model could not be loaded (missing file, corrupt GGUF, ...)."""


class EngineUnavailableError(EngineError):
    """The engine is not ready: still loading, or its server cannot be reached."""


class ContextTooLongError(EngineError):
    """The prompt does not fit the model's context window."""


@dataclass(frozen=True)
class ModelInfo:
    """What the engine knows about its model.

    ``metadata`` holds raw key/values (GGUF metadata, or a server's model card)
    so that completion/prompt.py can detect the FIM family; ``special_tokens``
    lists which well-known special-token strings tokenize to a single id.
    """

    name: str
    engine: str
    context_length: int
    eos_token_ids: tuple[int, ...] = ()
    special_tokens: frozenset[str] | None = None
    """None when the engine cannot look into the vocabulary (most servers)."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    family: str | None = None
    """Set by the engine when the model itself declares its family (a preset)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One generation: the exact prompt text plus sampling and stop settings."""

    prompt: str
    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    seed: int | None = None
    # The un-templated parts, for engines whose server builds the FIM prompt
    # itself (llama-server /infill, the DeepSeek API's prompt+suffix).
    prefix: str | None = None
    suffix: str | None = None
    middle_start: str = ""
    """The end of ``prefix`` (the text typed on the cursor's line) that
    ``prompt`` carries after the middle marker instead of before the hole."""
    session_key: str | None = None
    """Opaque, stable key of the document this request is for (engines/fleet.py's
    ``session_key``): remote engines keep one key on one replica."""
    extra_files: tuple[tuple[str, str], ...] = ()
    """Other files' snippets (path, text) for servers that take them apart
    (llama-server /infill ``input_extra``). ``prefix`` and ``prompt`` carry them
    already, in the first ``extra_chars`` characters of ``prefix``."""
    extra_chars: int = 0


@dataclass
class GenerationUsage:
    """Counters an engine fills in while it streams (read after the stream ends)."""

    prompt_tokens: int = 0
    """Prompt tokens the model actually evaluated (after KV/prefix-cache reuse)."""
    prompt_tokens_total: int = 0
    """Prompt length in tokens."""
    generated_tokens: int = 0
    finish_reason: str | None = None
    """'stop' (EOS or stop sequence), 'length', 'cancelled', 'error', or 'cut'
    (the pipeline closed the stream because post-processing had its answer)."""
    engine_seconds: float = 0.0
    """Wall time spent inside the model (prompt eval plus decoding)."""
    endpoint: str = ""
    """The replica that served the request (remote engines)."""
    choices: int = 0
    """How many choices the answer carried, where the wire numbers them (``n``)."""
    drafted_tokens: int = 0
    """Speculative draft tokens verified (local engine with ``engine.speculative``)."""
    accepted_tokens: int = 0
    """Of those, the ones the model agreed with."""

    def as_json(self) -> dict[str, object]:
        """The counters as ``dscoder/complete`` and ``complete --json`` report them."""
        return {
            "promptTokens": self.prompt_tokens,
            "promptTokensTotal": self.prompt_tokens_total,
            "generatedTokens": self.generated_tokens,
            "finishReason": self.finish_reason,
            "endpoint": self.endpoint or None,
        }


@runtime_checkable
class Engine(Protocol):
    """The protocol every engine implements (see module docstring)."""

    name: str

    @property
    def info(self) -> ModelInfo | None:
        """The model's description, or None until ``start`` has finished."""
        ...

    async def start(self) -> ModelInfo:
        """Load the model or probe the server. Raises EngineError on failure."""
        ...

    def stream(
        self, request: GenerationRequest, usage: GenerationUsage | None = None
    ) -> AsyncIterator[str]:
        """Yield text pieces as they are generated; stop when closed or cancelled."""
        ...

    @property
    def counts_exactly(self) -> bool:
        """False when ``count_tokens`` can only estimate (no tokenizer at hand)."""
        ...

    async def count_tokens(self, text: str) -> int:
        """The number of tokens ``text`` takes, as the model counts them."""
        ...

    async def close(self) -> None:
        """Release the model or connections. Safe to call twice."""
        ...


@runtime_checkable
class SamplesSeveral(Protocol):
    """An engine that can draw several samples of one prompt in one call (``n``).

    Optional: the pipeline asks for it only for alternatives, and samples one
    at a time from engines without it (the local engine) or while
    ``samples_several`` is False (a server found to ignore ``n``).
    """

    @property
    def samples_several(self) -> bool:
        """Whether a call with ``n`` is expected to return ``n`` choices."""
        ...

    def stream_choices(
        self, request: GenerationRequest, n: int, usage: GenerationUsage | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """Yield ``(choice index, text piece)`` for up to ``n`` samples of ``request``.

        ``usage`` counts the whole call. A server that ignored ``n`` yields
        index 0 only, and ``samples_several`` turns False from then on. The
        cancellation contract is ``stream``'s.
        """
        ...


def estimate_tokens(text: str, bytes_per_token: float = 3.0) -> int:
    """A fast token estimate for budgets when no tokenizer is at hand.

    UTF-8 bytes (so CJK text and emoji are not undercounted) divided by
    bytes-per-token: code tokenizers average 3 to 4, and erring low keeps
    prompts inside the real budget. ``TokenEstimator`` calibrates the ratio.
    """
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    return int(size / bytes_per_token) + 1


class TokenEstimator:
    """``estimate_tokens``, calibrated by the engine's real counts.

    The ratio starts at 3 bytes per token and follows the prompt sizes the
    engine reports, staying on the cautious side.
    """

    def __init__(self, bytes_per_token: float = 3.0) -> None:
        self.bytes_per_token = bytes_per_token
        self.version = 0
        """Changes whenever the ratio does, so budgets derived from it are redone."""
        self.calibrated = False
        """True once an engine count of a long enough prompt was observed."""

    def __call__(self, text: str) -> int:
        return estimate_tokens(text, self.bytes_per_token)

    def observe(self, prompt: str, tokens: int) -> None:
        """Learn from one prompt the engine tokenized into ``tokens`` tokens."""
        if tokens < 64:
            return  # too short to say much (and engines without counts report 0)
        self.calibrated = True
        measured = len(prompt.encode("utf-8")) / tokens
        # Slow to trust longer tokens, quick to learn shorter ones; never above 4.
        ratio = self.bytes_per_token
        ratio = ratio + 0.2 * (measured - ratio) if measured > ratio else measured
        ratio = round(min(4.0, max(1.0, ratio)), 2)
        if ratio != self.bytes_per_token:
            self.bytes_per_token = ratio
            self.version += 1


class EngineCrashedError(EngineUnavailableError):
    """The engine's worker process died; it restarts itself, or has failed for good.

    Raised to every request the dead worker owed, and to new ones until it is
    back. The engine has already told its health listener, so callers should
    not report it again nor rebuild the engine.
    """


@dataclass(frozen=True)
class EngineHealth:
    """A change an engine reports on its own, outside any request."""

    state: str
    """'restarting' (a crash; the message says which and why), 'ready' (back
    after a restart) or 'failed' (crashed too often; no more restarts)."""
    message: str = ""


HealthListener = Callable[[EngineHealth], None]


@runtime_checkable
class ReportsHealth(Protocol):
    """An engine that supervises something that can die (a worker process)."""

    health_listener: HealthListener | None
