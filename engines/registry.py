"""From engine name plus settings to an ``Engine``: the one table to extend.

Adding an engine is one module in engines/ and one entry in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engines.base import Engine, EngineError
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions


@dataclass(frozen=True)
class EngineSettings:
    """Everything any engine may need (the ``engine`` plus ``model`` config)."""

    name: str = "llama-cpp"
    model_path: str | None = None
    """GGUF file for the in-process engine."""
    model_name: str | None = None
    """Model name on a remote server; None to ask its /v1/models."""
    endpoint: str | None = None
    api_key: str | None = None
    n_ctx: int = 4096
    threads: int | None = None
    gpu_layers: int = 0
    n_batch: int = 512
    seed: int = 0


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
    )
    return LlamaCppEngine(options, probe_tokens)


_FACTORIES: dict[str, EngineFactory] = {
    "llama-cpp": _llama_cpp,
}


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
