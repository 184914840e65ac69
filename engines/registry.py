"""From engine name plus settings to an ``Engine``: the one table to extend.

Adding an engine is one module in engines/ and one entry in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from engines.base import Engine, EngineError
from engines.credentials import remember_secret
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions
from engines.presets import PRESETS


@dataclass(frozen=True)
class EngineSettings:
    """Everything any engine may need (the ``engine`` plus ``model`` config)."""

    name: str = "llama-cpp"
    """Which engine runs the model: llama-cpp (in-process) or a remote server's preset."""
    model_path: str | None = None
    """GGUF file for the in-process engine."""
    model_name: str | None = None
    """Model name on a remote server; None to ask its /v1/models."""
    endpoint: str | None = None
    """Remote server URL, e.g. http://127.0.0.1:8000/v1; unset: the preset's default."""
    endpoints: tuple[str, ...] | str = ()
    """Replicas serving the same model; with ``endpoint`` set too, it comes first.
    A document sticks to one replica (rendezvous hashing) and fails over."""
    session_header: str = "x-session-id"
    """HTTP header carrying each document's opaque session key (for session-aware
    routers such as vLLM production-stack's); "" sends none."""
    hedge_after_ms: float | None = None
    """Also send a request to a second replica when the first has streamed nothing
    after this many milliseconds (the slower one is cancelled); unset: never."""
    api_key: str | None = field(default=None, repr=False)
    """Bearer key for remote servers; never logged. Prefer ``api_key_env``."""
    api_key_env: str | None = None
    """Environment variable holding the key (default: the preset's, e.g. DEEPSEEK_API_KEY)."""
    connect_timeout: float = 3.0
    """Seconds to open a connection to a remote server (connection failures are retried)."""
    read_timeout: float = 30.0
    """Most seconds a remote server may stay silent before and during a stream."""
    request_deadline: float = 60.0
    """Most seconds for one whole remote generation."""
    connect_retries: int = 2
    """Retries of failed connections (never of requests that were sent)."""
    max_concurrency: int = 8
    """Remote requests in flight at once (one pooled connection each)."""
    shrink_on_overflow: bool = True
    """When a server says the prompt is too long, cut it and resend once."""
    n_ctx: int = 4096
    """llama.cpp context size (capped at the model's trained context); for
    remote engines, the window when the server reports none."""
    threads: int | None = None
    """CPU threads for llama.cpp; unset: llama.cpp's choice."""
    gpu_layers: int = 0
    """Layers offloaded to the GPU (-1: all)."""
    n_batch: int = 512
    """Prompt batch size for llama.cpp."""
    seed: int = 0
    flash_attention: str = "auto"
    """llama.cpp flash attention: auto (off for deepseek2, else llama.cpp's default), on, off."""
    speculative: str = "off"
    """llama.cpp greedy decoding with drafts: off, or prompt-lookup (drafts copied from
    the prompt where its last tokens occurred before, verified in one batch). Off by
    default: on CPU a batch costs nearly as much as its tokens one by one, so it was
    slower here (docs/performance.md, "Prompt-lookup decoding")."""
    speculative_draft_tokens: int = 4
    """Most prompt-lookup draft tokens verified in one batch."""
    speculative_ngram: int = 3
    """Longest n-gram (in tokens) that prompt lookup searches the context for."""


class UnknownEngineError(EngineError):
    pass


EngineFactory = Callable[[EngineSettings, frozenset[str]], Engine]


def _llama_cpp(settings: EngineSettings, probe_tokens: frozenset[str]) -> Engine:
    if not settings.model_path:
        raise EngineError(
            "no model configured: set model.path (--model, DSCODER_MODEL) to a GGUF file"
        )
    options = LlamaCppOptions(
        model_path=settings.model_path,
        n_ctx=settings.n_ctx,
        n_threads=settings.threads,
        n_batch=settings.n_batch,
        n_gpu_layers=settings.gpu_layers,
        seed=settings.seed,
        flash_attention=settings.flash_attention,
        speculative=settings.speculative,
        speculative_draft_tokens=settings.speculative_draft_tokens,
        speculative_ngram=settings.speculative_ngram,
    )
    return LlamaCppEngine(options, probe_tokens)


def _remote(settings: EngineSettings, probe_tokens: frozenset[str]) -> Engine:
    from engines.openai_compat import RemoteEngine, RemoteOptions, resolve_api_key

    preset = PRESETS[settings.name]
    listed = settings.endpoints
    listed = (listed,) if isinstance(listed, str) else tuple(listed)
    endpoint = settings.endpoint or (listed[0] if listed else preset.default_endpoint)
    if not endpoint:
        raise EngineError(
            f"engine {settings.name!r} needs a server URL: set engine.endpoint (--endpoint URL)"
        )
    hedge = settings.hedge_after_ms
    api_key = resolve_api_key(settings.api_key, settings.api_key_env, preset)
    remember_secret(api_key)  # masked wherever it appears: a 401 body, a log line
    options = RemoteOptions(
        endpoint=endpoint,
        endpoints=listed,
        session_header=settings.session_header,
        hedge_after=hedge / 1000 if hedge is not None and hedge > 0 else None,
        model_name=settings.model_name,
        api_key=api_key,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.request_deadline,
        connect_retries=settings.connect_retries,
        max_concurrency=settings.max_concurrency,
        context_length=settings.n_ctx,
        shrink_on_overflow=settings.shrink_on_overflow,
    )
    return RemoteEngine(preset, options, probe_tokens)


_FACTORIES: dict[str, EngineFactory] = {
    "llama-cpp": _llama_cpp,
    **{name: _remote for name in PRESETS},
}

REMOTE_ENGINES = frozenset(PRESETS)
"""Engines that run on a server: requests may run concurrently."""


def engine_names() -> list[str]:
    return sorted(_FACTORIES)


def create_engine(settings: EngineSettings, probe_tokens: frozenset[str] = frozenset()) -> Engine:
    """Build (but do not start) the engine ``settings.name`` names."""
    try:
        factory = _FACTORIES[settings.name]
    except KeyError:
        known = ", ".join(engine_names())
        raise UnknownEngineError(f"unknown engine {settings.name!r}; known: {known}") from None
    return factory(settings, probe_tokens)
