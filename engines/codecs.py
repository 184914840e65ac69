"""Wire codecs: how one server family spells a generation and streams it back.

The remote engine (engines/openai_compat.py) does the HTTP work the same way
for every server; a codec only turns a ``GenerationRequest`` into the JSON
body, splits the response into JSON payloads (SSE or NDJSON), and reads the
text and usage out of each payload. A preset names its codec by ``wire``, so
a new server is one codec here (if it speaks a new dialect) plus one preset.

- ``OpenAICompletions``: POST /v1/completions with our FIM prompt (vLLM, LM
  Studio, Xinference, llama_cpp.server).
- ``DeepSeekPromptSuffix``: the same stream, but the server builds the FIM
  prompt from ``prompt`` (the prefix) and ``suffix`` (DeepSeek API /beta).
- ``LlamaInfill``: llama-server's /infill with ``input_prefix``/``input_suffix``.
- ``OllamaGenerate``: Ollama's /api/generate, NDJSON, raw or with ``suffix``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import httpx
from httpx_sse import EventSource

from engines.base import EngineError, GenerationRequest, GenerationUsage
from engines.presets import Preset, Wire

_SPECIAL_TOKEN = re.compile(r"^<[|\uff5c].*[|\uff5c]>$")


def leading_indent(prefix: str) -> int:
    """Indentation of the cursor's line, for llama-server's ``n_indent``."""
    line = prefix[prefix.rfind("\n") + 1 :]
    return len(line) - len(line.lstrip(" \t"))


class Codec:
    """One wire format: request body, payload framing, payload reading.

    The base class frames server-sent events and filters stop sequences the
    way every server needs; subclasses spell the body and read the payloads.
    """

    takes_n = False
    """The wire has a field for several choices (``n``); whether a server honours
    it is learned from its answers (engines/openai_compat.py)."""

    def __init__(self, preset: Preset):
        self.preset = preset

    def native(self, request: GenerationRequest) -> bool:
        """Whether the server builds the FIM prompt itself for this request."""
        return self.preset.native_fim and request.prefix is not None

    def stops(
        self, request: GenerationRequest, special_ids: Mapping[str, int]
    ) -> tuple[list[str], list[int]]:
        """Stop strings and stop token ids, as this server accepts them."""
        preset = self.preset
        stop = list(request.stop)
        stop_ids = list(request.stop_token_ids)
        if preset.stop_token_ids:
            # Special tokens never reach the output text: stop on their ids.
            mapped = {s: i for s, i in special_ids.items() if s in request.stop}
            stop_ids += mapped.values()
            stop = [s for s in stop if s not in mapped]
        if self.native(request) or not preset.stop_token_ids:
            # The server never prints special tokens, and most cap the list.
            stop = [s for s in stop if not _SPECIAL_TOKEN.match(s)]
        if preset.max_stop is not None:
            stop = stop[: preset.max_stop]
        return stop, stop_ids

    def body(
        self, request: GenerationRequest, model: str | None, special_ids: Mapping[str, int]
    ) -> dict[str, Any]:
        """The JSON body, with the preset's fixed fields on top."""
        body = self.spell(request, model, special_ids)
        body.update(self.preset.body)
        return body

    def spell(
        self, request: GenerationRequest, model: str | None, special_ids: Mapping[str, int]
    ) -> dict[str, Any]:
        raise NotImplementedError

    async def payloads(self, response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
        """Decoded JSON payloads of a server-sent-events stream."""
        async for event in EventSource(response).aiter_sse():
            data = event.data.strip()
            if data == "[DONE]":
                # Read to the end of the body so the connection goes back to
                # the pool (keep-alive) instead of being closed.
                continue
            if data:
                yield json_object(data)

    def read(self, payload: dict[str, Any], usage: GenerationUsage) -> str:
        """Text of one payload; updates ``usage`` (``finish_reason`` on the last)."""
        raise NotImplementedError

    def read_choices(
        self, payload: dict[str, Any], usage: GenerationUsage
    ) -> list[tuple[int, str]]:
        """``(choice index, text)`` of one payload; one choice unless the wire has ``n``."""
        return [(0, self.read(payload, usage))]


class OpenAICompletions(Codec):
    """POST /v1/completions, SSE ``{"choices": [{"text": ...}]}`` then ``[DONE]``.

    With ``n`` the choices of one stream carry their ``index``.
    """

    takes_n = True

    def spell(
        self, request: GenerationRequest, model: str | None, special_ids: Mapping[str, int]
    ) -> dict[str, Any]:
        stop, stop_ids = self.stops(request, special_ids)
        body: dict[str, Any] = {
            "model": model,
            "prompt": self.prompt(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
        }
        body.update(self.fim_fields(request))
        if stop:
            body["stop"] = stop
        if stop_ids:
            body["stop_token_ids"] = sorted(set(stop_ids))
        if request.seed is not None:
            body["seed"] = request.seed
        if self.preset.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return body

    def prompt(self, request: GenerationRequest) -> str:
        return request.prompt

    def fim_fields(self, request: GenerationRequest) -> dict[str, Any]:
        return {}

    def read(self, payload: dict[str, Any], usage: GenerationUsage) -> str:
        return "".join(text for index, text in self.read_choices(payload, usage) if index == 0)

    def read_choices(
        self, payload: dict[str, Any], usage: GenerationUsage
    ) -> list[tuple[int, str]]:
        stats = payload.get("usage")
        if isinstance(stats, dict):
            usage.prompt_tokens_total = int(stats.get("prompt_tokens") or 0)
            cached = (stats.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            usage.prompt_tokens = usage.prompt_tokens_total - int(cached)
            usage.generated_tokens = int(stats.get("completion_tokens") or 0)
        pieces: list[tuple[int, str]] = []
        for choice in payload.get("choices") or []:
            text = str(choice.get("text") or "")
            if choice.get("finish_reason"):
                usage.finish_reason = finish_reason(choice["finish_reason"])
            if text and not isinstance(stats, dict):
                usage.generated_tokens += 1
            index = _int_or_zero(choice.get("index"))
            usage.choices = max(usage.choices, index + 1)
            pieces.append((index, text))
        return pieces


class DeepSeekPromptSuffix(OpenAICompletions):
    """OpenAI completions where the server builds FIM: ``prompt`` is the prefix, plus ``suffix``."""

    def prompt(self, request: GenerationRequest) -> str:
        if self.native(request):
            return request.prefix or ""
        return request.prompt

    def fim_fields(self, request: GenerationRequest) -> dict[str, Any]:
        return {"suffix": request.suffix or ""} if self.native(request) else {}


class LlamaInfill(Codec):
    """llama-server POST /infill, SSE ``{"content": ..., "stop": bool}``."""

    def spell(
        self, request: GenerationRequest, model: str | None, special_ids: Mapping[str, int]
    ) -> dict[str, Any]:
        native = self.native(request)
        stop, _ = self.stops(request, special_ids)
        return {
            # Other files' snippets go apart, in input_extra; the prefix drops them.
            "input_prefix": (request.prefix or "")[request.extra_chars :] if native else "",
            "input_suffix": request.suffix or "",
            "input_extra": [{"filename": f, "text": t} for f, t in request.extra_files]
            if native
            else [],
            "prompt": "" if native else request.prompt,
            "n_predict": request.max_tokens,
            "n_indent": leading_indent(request.prefix or ""),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stop": stop,
            "stream": True,
        }

    def read(self, payload: dict[str, Any], usage: GenerationUsage) -> str:
        text = str(payload.get("content") or "")
        if payload.get("stop"):
            usage.finish_reason = finish_reason(payload.get("stop_type"))
            timings = payload.get("timings") or {}
            usage.prompt_tokens = int(timings.get("prompt_n") or 0)
            usage.prompt_tokens_total = int(payload.get("tokens_evaluated") or 0)
            usage.generated_tokens = int(payload.get("tokens_predicted") or 0)
        elif text:
            usage.generated_tokens += 1
        return text


class OllamaGenerate(Codec):
    """Ollama POST /api/generate, NDJSON ``{"response": ..., "done": bool}``."""

    def spell(
        self, request: GenerationRequest, model: str | None, special_ids: Mapping[str, int]
    ) -> dict[str, Any]:
        native = self.native(request)
        stop, _ = self.stops(request, special_ids)
        options: dict[str, Any] = {
            "num_predict": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if stop:
            options["stop"] = stop
        if request.seed is not None:
            options["seed"] = request.seed
        body: dict[str, Any] = {
            "model": model,
            "prompt": request.prefix if native else request.prompt,
            "stream": True,
            "options": options,
        }
        if native:
            body["suffix"] = request.suffix or ""
        return body

    async def payloads(self, response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
        async for line in response.aiter_lines():
            if line.strip():
                yield json_object(line)

    def read(self, payload: dict[str, Any], usage: GenerationUsage) -> str:
        text = str(payload.get("response") or "")
        if payload.get("done"):
            usage.finish_reason = finish_reason(payload.get("done_reason"))
            usage.prompt_tokens = int(payload.get("prompt_eval_count") or 0)
            usage.generated_tokens = int(payload.get("eval_count") or 0)
        elif text:
            usage.generated_tokens += 1
        return text


CODECS: dict[Wire, type[Codec]] = {
    Wire.OPENAI: OpenAICompletions,
    Wire.DEEPSEEK: DeepSeekPromptSuffix,
    Wire.LLAMA_INFILL: LlamaInfill,
    Wire.OLLAMA: OllamaGenerate,
}


def codec_for(preset: Preset) -> Codec:
    return CODECS[preset.wire](preset)


def json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise EngineError(f"server sent malformed JSON in its stream: {text[:120]!r}") from error
    if not isinstance(value, dict):
        raise EngineError(f"server sent unexpected JSON in its stream: {text[:120]!r}")
    return value


def finish_reason(reason: object) -> str:
    """Normalise servers' finish reasons to GenerationUsage's vocabulary."""
    text = str(reason or "stop").lower()
    if text in ("length", "limit", "max_tokens"):
        return "length"
    return "stop"


def _int_or_zero(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
