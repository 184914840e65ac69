"""Remote engines over HTTP: vLLM, llama-server, LM Studio, the DeepSeek API...

The last stage of the pipeline when the model runs on a server. One engine
talks to one endpoint through one pooled ``httpx.AsyncClient`` (keep-alive,
at most ``max_concurrency`` connections); what differs between servers is
data in engines/presets.py (wire protocol, paths, optional features).

- The prompt is the FIM string completion/ built (vLLM's /v1/completions has
  no ``suffix``); native-FIM servers get the raw prefix and suffix instead.
- Cancellation closes the HTTP stream: closing the generator, or cancelling
  the task that reads it, exits the ``client.stream`` block, which drops the
  connection. vLLM sees the disconnect and aborts the request.
- Retries happen only for failures to connect (the request never left this
  process); a request that may have run is never sent twice. The one
  exception is a prompt the server rejected as too long before generating:
  it is shrunk (head of the prefix, tail of the suffix) and sent once more.
- Errors become one clear ``EngineError`` per cause: unreachable server,
  rejected key, unknown model, context too long, stream cut mid-generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import httpx
from httpx_sse import EventSource, SSEError

from engines.answers import model_entries, not_a_listing, not_json
from engines.base import (
    ContextTooLongError,
    EngineError,
    EngineUnavailableError,
    GenerationRequest,
    GenerationUsage,
    ModelInfo,
    estimate_tokens,
)
from engines.presets import Preset, Wire

log = logging.getLogger(__name__)

_SPECIAL_TOKEN = re.compile(r"^<[|\uff5c].*[|\uff5c]>$")
_TOO_LONG = re.compile(
    r"context length|context window|context size|too long|max_model_len|"
    r"input is too large|exceeds? the (?:available|maximum)",
    re.IGNORECASE,
)


class AuthenticationError(EngineError):
    """The server rejected the API key (HTTP 401 or 403)."""


class ModelNotFoundError(EngineError):
    """The configured model name is not served (HTTP 404 naming the model)."""


class StreamInterruptedError(EngineUnavailableError):
    """The connection dropped in the middle of a generation (server died or restarted)."""


@dataclass(frozen=True)
class RemoteOptions:
    """Connection settings of a remote engine (from ``EngineSettings``)."""

    endpoint: str
    model_name: str | None = None
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    """Most seconds between two streamed chunks (and before the first)."""
    write_timeout: float = 10.0
    deadline: float = 60.0
    """Most seconds for a whole generation, however steadily it streams."""
    connect_retries: int = 2
    max_concurrency: int = 8
    keepalive_expiry: float = 4.0
    context_length: int | None = None
    """Context window when the server does not report one."""
    shrink_on_overflow: bool = True


def server_root(endpoint: str) -> str:
    """The server's root URL: endpoints may be given with or without /v1."""
    root = endpoint.strip().rstrip("/")
    for tail in ("/v1", "/beta", "/api"):
        if root.endswith(tail):
            return root[: -len(tail)]
    return root


def error_message(response_text: str) -> str:
    """The human part of an error body (OpenAI, FastAPI, llama-server or plain)."""
    try:
        body = json.loads(response_text)
    except ValueError:
        return response_text.strip()[:300]
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return response_text.strip()[:300]


def _ints(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def overflow_numbers(message: str) -> tuple[int | None, int | None]:
    """(context window, prompt tokens) as a context-too-long message states them.

    vLLM: "maximum context length is 512 tokens ... at least 513 input tokens";
    llama-cpp-python: "... is 512 tokens, however you requested 1421 tokens
    (1401 in your prompt; ...)". Either may be None.
    """
    window = re.search(r"(?:context length|context size|max_model_len)\D{0,20}(\d+)", message)
    asked = re.search(r"(\d+) (?:input|prompt) tokens", message)
    asked = asked or re.search(r"(\d+) in your prompt", message)
    asked = asked or re.search(r"(?:request|prompt|input) has (\d+)", message)
    return (
        int(window.group(1)) if window else None,
        int(asked.group(1)) if asked else None,
    )


def keep_ratio(window: int | None, prompt_tokens: int | None, max_tokens: int) -> float:
    """Fraction of prefix/suffix to keep so the prompt and answer fit ``window``."""
    if window and prompt_tokens:
        room = window - max_tokens - 8
        if room > 0:
            return max(0.05, min(0.9, room / prompt_tokens * 0.9))
    return 0.5


def shrink_request(request: GenerationRequest, keep: float) -> GenerationRequest | None:
    """The same request with the prefix's head and the suffix's tail cut.

    ``keep`` is the fraction of prefix and suffix characters to keep; cuts
    fall on line boundaries. The prompt text is rebuilt by replacing the old
    prefix and suffix inside it, so any FIM template works; the part of the
    prefix carried after the middle marker (``middle_start``) stays whole.
    None when the request carries no prefix/suffix to cut.
    """
    prefix, suffix = request.prefix, request.suffix
    if prefix is None or suffix is None or not (prefix or suffix):
        return None
    typed = request.middle_start if prefix.endswith(request.middle_start) else ""
    head = prefix[: len(prefix) - len(typed)]
    new_head = head[len(head) - int(len(head) * keep) :]
    if new_head != head and "\n" in new_head:
        new_head = new_head[new_head.index("\n") + 1 :]
    new_suffix = suffix[: int(len(suffix) * keep)]
    if new_suffix != suffix and "\n" in new_suffix:
        new_suffix = new_suffix[: new_suffix.rindex("\n") + 1]
    prompt = request.prompt
    start = prompt.find(head) if head else -1
    after = start + len(head) if start >= 0 else 0
    end = prompt.find(suffix, after) if suffix else -1
    if (head and start < 0) or (suffix and end < 0):
        return None
    pieces = []
    cursor = 0
    if start >= 0:
        pieces += [prompt[:start], new_head]
        cursor = after
    if end >= 0:
        pieces += [prompt[cursor:end], new_suffix]
        cursor = end + len(suffix)
    pieces.append(prompt[cursor:])
    return replace(request, prompt="".join(pieces), prefix=new_head + typed, suffix=new_suffix)


def leading_indent(prefix: str) -> int:
    """Indentation of the cursor's line, for llama-server's ``n_indent``."""
    line = prefix[prefix.rfind("\n") + 1 :]
    return len(line) - len(line.lstrip(" \t"))


class RemoteEngine:
    """A model served over HTTP (see module docstring)."""

    def __init__(
        self,
        preset: Preset,
        options: RemoteOptions,
        probe_tokens: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.name = preset.name
        self.preset = preset
        self.options = options
        self.probe_tokens = probe_tokens
        self.root = server_root(options.endpoint)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._retired: list[httpx.AsyncClient] = []
        self._info: ModelInfo | None = None
        self._model: str | None = options.model_name or preset.default_model
        self._special_ids: dict[str, int] = {}
        self._bos: list[int] | None = None
        self._slots = asyncio.Semaphore(max(1, options.max_concurrency))
        self._start_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RemoteEngine({self.name!r}, {self.root!r}, model={self._model!r})"

    # -- lifecycle -----------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            options = self.options
            headers = {"Accept": "application/json"}
            if options.api_key:
                headers["Authorization"] = f"Bearer {options.api_key}"
            self._client = httpx.AsyncClient(
                base_url=self.root,
                headers=headers,
                timeout=httpx.Timeout(
                    connect=options.connect_timeout,
                    read=options.read_timeout,
                    write=options.write_timeout,
                    pool=options.deadline,
                ),
                limits=httpx.Limits(
                    max_connections=options.max_concurrency,
                    max_keepalive_connections=options.max_concurrency,
                    # Below the 5 s idle timeout of uvicorn (vLLM, llama-cpp-python,
                    # Xinference): reusing a connection the server is closing
                    # fails a request that cannot be safely resent.
                    keepalive_expiry=options.keepalive_expiry,
                ),
                transport=self._transport,
                trust_env=False,
            )
        return self._client

    async def start(self) -> ModelInfo:
        async with self._start_lock:
            if self._info is None:
                self._info = await self._probe()
            return self._info

    async def _probe(self) -> ModelInfo:
        started = time.perf_counter()
        card: dict[str, Any] = {}
        if self.preset.models_path:
            card = await self._model_card()
        if not self._model:
            raise EngineError(
                f"{self.name}: no model name configured and {self.root} lists none; "
                "set model.name (--model-name)"
            )
        if self.preset.tokenize is not None and self.probe_tokens:
            self._special_ids = await self._probe_special_tokens()
        context = (
            _int(card.get("max_model_len"))
            or _int((card.get("meta") or {}).get("n_ctx_train"))
            or self.preset.max_context
            or self.options.context_length
            or 4096
        )
        metadata = {k: str(v) for k, v in card.items() if isinstance(v, str | int | float)}
        info = ModelInfo(
            name=self._model,
            engine=self.name,
            context_length=context,
            special_tokens=frozenset(self._special_ids) if self.preset.tokenize else None,
            metadata=metadata,
            family=self.preset.family,
        )
        log.info(
            "%s: %s at %s ready in %.2fs (context %d)",
            self.name,
            info.name,
            self.root,
            time.perf_counter() - started,
            context,
        )
        return info

    async def _model_card(self) -> dict[str, Any]:
        """The served model's entry in /v1/models; fills in the model name."""
        assert self.preset.models_path is not None
        response = await self._send("GET", self.preset.models_path)
        if response.status_code in (404, 405):
            return {}  # no listing endpoint: trust the configured name
        if response.status_code >= 400:
            self._raise_for(response.status_code, response.text)
        where = f"{self.name}: engine.endpoint {self.root}{self.preset.models_path}"
        try:
            body = response.json()
        except ValueError:
            answer = not_json(response.headers.get("content-type", ""), response.text)
            raise EngineUnavailableError(f"{where} {answer}") from None
        entries = model_entries(body)
        if entries is None:
            raise EngineUnavailableError(f"{where} {not_a_listing(body)}")
        if "data" not in body:  # Ollama /api/tags
            entries = [{"id": m.get("name"), **m} for m in entries if isinstance(m, dict)]
        cards = [e for e in entries or [] if isinstance(e, dict) and e.get("id")]
        names = [str(c["id"]) for c in cards]
        if self._model is None:
            if not cards:
                return {}
            self._model = names[0]
            return cards[0]
        for card in cards:
            if card["id"] in (self._model, f"{self._model}:latest"):
                return card
        if names:
            raise ModelNotFoundError(
                f"{self.name}: model {self._model!r} is not served at {self.root}; "
                f"it serves: {', '.join(names)}"
            )
        return {}

    async def _probe_special_tokens(self) -> dict[str, int]:
        """Which probe strings the server's tokenizer maps to one token id."""
        found: dict[str, int] = {}

        async def probe(token: str) -> None:
            ids = await self.tokenize(token)
            if len(ids) == 1:
                found[token] = ids[0]

        await asyncio.gather(*(probe(token) for token in sorted(self.probe_tokens)))
        return found

    async def close(self) -> None:
        self._retire_pool()
        retired, self._retired = self._retired, []
        for client in retired:
            await client.aclose()

    # -- tokens --------------------------------------------------------------

    async def tokenize(self, text: str) -> list[int]:
        """Token ids from the server's tokenizer (no BOS); [] if it has none."""
        if self.preset.tokenize is None:
            return []
        if self._bos is None:
            # Some servers always prepend BOS: what "" tokenizes to is dropped.
            self._bos = await self._tokenize("")
        ids = await self._tokenize(text)
        if self._bos and ids[: len(self._bos)] == self._bos:
            ids = ids[len(self._bos) :]
        return ids

    async def _tokenize(self, text: str) -> list[int]:
        api = self.preset.tokenize
        assert api is not None
        body: dict[str, Any] = {api.text_field: text, **api.extra}
        if api.send_model and self._model:
            body["model"] = self._model
        response = await self._send("POST", api.path, json=body)
        if response.status_code >= 400:
            self._raise_for(response.status_code, response.text)
        tokens = response.json().get("tokens", [])
        return [int(t) if not isinstance(t, dict) else int(t["id"]) for t in tokens]

    @property
    def counts_exactly(self) -> bool:
        """False when ``count_tokens`` can only estimate (no tokenize endpoint)."""
        return self.preset.tokenize is not None

    async def count_tokens(self, text: str) -> int:
        if self.preset.tokenize is None:
            return estimate_tokens(text)
        return len(await self.tokenize(text))

    # -- generation ----------------------------------------------------------

    def build_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of one generation request, per the preset's wire."""
        preset = self.preset
        native = preset.native_fim and request.prefix is not None
        stop = list(request.stop)
        stop_ids = list(request.stop_token_ids)
        if preset.stop_token_ids:
            # Special tokens never reach the output text: stop on their ids.
            mapped = {s: i for s, i in self._special_ids.items() if s in request.stop}
            stop_ids += mapped.values()
            stop = [s for s in stop if s not in mapped]
        if native or not preset.stop_token_ids:
            # The server never prints special tokens, and most cap the list.
            stop = [s for s in stop if not _SPECIAL_TOKEN.match(s)]
        if preset.max_stop is not None:
            stop = stop[: preset.max_stop]
        body: dict[str, Any]
        if preset.wire is Wire.LLAMA_INFILL:
            body = {
                "input_prefix": request.prefix if native else "",
                "input_suffix": request.suffix or "",
                "input_extra": [],
                "prompt": "" if native else request.prompt,
                "n_predict": request.max_tokens,
                "n_indent": leading_indent(request.prefix or ""),
                "temperature": request.temperature,
                "top_p": request.top_p,
                "stop": stop,
                "stream": True,
            }
        elif preset.wire is Wire.OLLAMA:
            options: dict[str, Any] = {
                "num_predict": request.max_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
            }
            if stop:
                options["stop"] = stop
            if request.seed is not None:
                options["seed"] = request.seed
            body = {
                "model": self._model,
                "prompt": request.prefix if native else request.prompt,
                "stream": True,
                "options": options,
            }
            if native:
                body["suffix"] = request.suffix or ""
        else:
            body = {
                "model": self._model,
                "prompt": request.prefix if native else request.prompt,
                "max_tokens": request.max_tokens,
                "temperature": request.temperature,
                "top_p": request.top_p,
                "stream": True,
            }
            if native:
                body["suffix"] = request.suffix or ""
            if stop:
                body["stop"] = stop
            if stop_ids:
                body["stop_token_ids"] = sorted(set(stop_ids))
            if request.seed is not None:
                body["seed"] = request.seed
            if preset.stream_usage:
                body["stream_options"] = {"include_usage": True}
        body.update(preset.body)
        return body

    async def stream(
        self, request: GenerationRequest, usage: GenerationUsage | None = None
    ) -> AsyncIterator[str]:
        """Stream one generation; shrink and resend once if the prompt overflows."""
        usage = usage if usage is not None else GenerationUsage()
        if self._info is None:
            await self.start()
        started = time.perf_counter()
        try:
            try:
                async with contextlib.aclosing(self._generate(request, usage)) as pieces:
                    async for piece in pieces:
                        yield piece
            except ContextTooLongError as error:
                # Rejected before generating anything, so resending cannot run it twice.
                keep = await self._keep_ratio(str(error), request)
                smaller = shrink_request(request, keep) if self.options.shrink_on_overflow else None
                if smaller is None or usage.generated_tokens:
                    raise
                log.info("%s: prompt too long, retrying with %.0f%% of it", self.name, keep * 100)
                async with contextlib.aclosing(self._generate(smaller, usage)) as pieces:
                    async for piece in pieces:
                        yield piece
        except (GeneratorExit, asyncio.CancelledError):
            usage.finish_reason = usage.finish_reason or "cancelled"
            raise
        except EngineError:
            usage.finish_reason = "error"
            raise
        finally:
            usage.engine_seconds += time.perf_counter() - started

    async def _keep_ratio(self, message: str, request: GenerationRequest) -> float:
        """Fraction of the prompt to keep, from the error's numbers or /tokenize."""
        window, size = overflow_numbers(message)
        window = window or (self._info.context_length if self._info else None)
        if self.preset.tokenize is not None:
            with contextlib.suppress(EngineError):
                size = await self.count_tokens(request.prompt) or size
        return keep_ratio(window, size, request.max_tokens)

    async def _generate(
        self, request: GenerationRequest, usage: GenerationUsage
    ) -> AsyncGenerator[str, None]:
        body = self.build_body(request)
        deadline = time.monotonic() + self.options.deadline
        usage.finish_reason = None
        try:
            async with contextlib.aclosing(self._run(body, usage, deadline)) as pieces:
                async for piece in pieces:
                    yield piece
        except StreamInterruptedError:
            # The server dropped a connection: its other pooled ones are
            # suspect too, and a request on one could not be resent.
            self._retire_pool()
            raise

    def _retire_pool(self) -> None:
        """Open new connections from now on; the old pool closes with the engine."""
        if self._client is not None:
            self._retired.append(self._client)
            self._client = None

    async def _run(
        self, body: dict[str, Any], usage: GenerationUsage, deadline: float
    ) -> AsyncGenerator[str, None]:
        async with self._slots, self._open_stream(body) as response:
            if response.status_code >= 400:
                await response.aread()
                self._raise_for(response.status_code, response.text)
            try:
                async with contextlib.aclosing(self._events(response)) as events:
                    async for payload in events:
                        piece = self._consume(payload, usage)
                        if piece:
                            yield piece
                        if time.monotonic() > deadline:
                            raise EngineUnavailableError(
                                f"{self.name}: generation took longer than "
                                f"{self.options.deadline:g}s at {self.root}"
                            )
                if usage.finish_reason is None:
                    # Every server marks its last chunk; a stream that just
                    # stops was cut (server crash, proxy timeout, server bug).
                    raise StreamInterruptedError(
                        f"{self.name}: the stream from {self.root} ended before the "
                        "generation finished (the server may have crashed; see its log)"
                    )
            except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                raise StreamInterruptedError(
                    f"{self.name}: the server at {self.root} closed the stream mid-generation "
                    f"(it may have crashed or restarted): {str(error) or type(error).__name__}"
                ) from error
            except httpx.ReadTimeout as error:
                raise EngineUnavailableError(
                    f"{self.name}: no data from {self.root} for "
                    f"{self.options.read_timeout:g}s; the server is overloaded or stuck"
                ) from error
            except SSEError as error:
                raise EngineError(
                    f"{self.name}: {self.root}{self.preset.completion_path} did not stream "
                    f"server-sent events ({error}); check engine.name and engine.endpoint"
                ) from error

    def _open_stream(self, body: dict[str, Any]) -> _StreamContext:
        return _StreamContext(self, body)

    async def _events(self, response: httpx.Response) -> AsyncGenerator[dict[str, Any], None]:
        """Decoded JSON payloads of the response stream (SSE or NDJSON)."""
        if self.preset.wire is Wire.OLLAMA:
            async for line in response.aiter_lines():
                if line.strip():
                    yield _json_object(line)
            return
        async for event in EventSource(response).aiter_sse():
            data = event.data.strip()
            if data == "[DONE]":
                # Read to the end of the body so the connection goes back to
                # the pool (keep-alive) instead of being closed.
                continue
            if data:
                yield _json_object(data)

    def _consume(self, payload: dict[str, Any], usage: GenerationUsage) -> str:
        """Text of one streamed payload; updates ``usage`` from it."""
        error = payload.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            self._raise_for(
                int(code) if isinstance(code, int) else 500,
                json.dumps({"error": {"message": str(message)}}),
            )
        wire = self.preset.wire
        if wire is Wire.OLLAMA:
            text = str(payload.get("response") or "")
            if payload.get("done"):
                usage.finish_reason = _finish(payload.get("done_reason"))
                usage.prompt_tokens = int(payload.get("prompt_eval_count") or 0)
                usage.generated_tokens = int(payload.get("eval_count") or 0)
            elif text:
                usage.generated_tokens += 1
            return text
        if wire is Wire.LLAMA_INFILL:
            text = str(payload.get("content") or "")
            if payload.get("stop"):
                usage.finish_reason = _finish(payload.get("stop_type"))
                timings = payload.get("timings") or {}
                usage.prompt_tokens = int(timings.get("prompt_n") or 0)
                usage.prompt_tokens_total = int(payload.get("tokens_evaluated") or 0)
                usage.generated_tokens = int(payload.get("tokens_predicted") or 0)
            elif text:
                usage.generated_tokens += 1
            return text
        stats = payload.get("usage")
        if isinstance(stats, dict):
            usage.prompt_tokens_total = int(stats.get("prompt_tokens") or 0)
            cached = (stats.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            usage.prompt_tokens = usage.prompt_tokens_total - int(cached)
            usage.generated_tokens = int(stats.get("completion_tokens") or 0)
        choices = payload.get("choices") or []
        if not choices:
            return ""
        choice = choices[0]
        text = str(choice.get("text") or "")
        if choice.get("finish_reason"):
            usage.finish_reason = _finish(choice["finish_reason"])
        if text and not isinstance(stats, dict):
            usage.generated_tokens += 1
        return text

    # -- HTTP plumbing -------------------------------------------------------

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One read-only request (model list, tokenizer): connection failures are retried,
        and so is a pooled connection the server closed under us."""
        for attempt in range(self.options.connect_retries + 1):
            try:
                return await self.client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if attempt == self.options.connect_retries:
                    self._raise_unreachable(error)
                await asyncio.sleep(0.2 * 2**attempt)
            except (httpx.RemoteProtocolError, httpx.ReadError) as error:
                if attempt == self.options.connect_retries:
                    raise EngineUnavailableError(
                        f"{self.name}: {self.root}{path} dropped the connection: "
                        f"{str(error) or type(error).__name__}"
                    ) from error
            except httpx.TimeoutException as error:
                raise EngineUnavailableError(
                    f"{self.name}: {self.root}{path} did not answer in time ({error!r})"
                ) from error
            except httpx.TransportError as error:
                raise EngineUnavailableError(
                    f"{self.name}: request to {self.root}{path} failed: {error!r}"
                ) from error
        raise AssertionError("unreachable")

    def _raise_unreachable(self, error: Exception) -> NoReturn:
        raise EngineUnavailableError(
            f"{self.name}: cannot reach the server at {self.root} "
            f"({str(error) or type(error).__name__}); is it running? (engine.endpoint)"
        ) from error

    def _raise_for(self, status: int, text: str) -> NoReturn:
        """Map an HTTP error to the one EngineError the user can act on."""
        message = error_message(text)
        where = f"{self.name} at {self.root}"
        if status in (401, 403):
            key_source = "engine.apiKey" if self.options.api_key else f"${self.preset.api_key_env}"
            raise AuthenticationError(
                f"{where} rejected the API key (HTTP {status}): check {key_source}. {message}"
            )
        if _TOO_LONG.search(message) and status in (400, 413, 422, 500):
            raise ContextTooLongError(f"{where}: prompt too long for the model: {message}")
        if status == 404:
            if "model" in message.lower():
                raise ModelNotFoundError(
                    f"{where}: model {self._model!r} not found (check model.name): {message}"
                )
            raise EngineError(
                f"{where}: no such endpoint (HTTP 404); check engine.name and engine.endpoint"
                f": {message}"
            )
        if status in (502, 503, 504):
            raise EngineUnavailableError(f"{where} is unavailable (HTTP {status}): {message}")
        raise EngineError(f"{where} failed (HTTP {status}): {message}")


class _StreamContext:
    """``client.stream(...)`` with connection-failure retries before any byte is sent."""

    def __init__(self, engine: RemoteEngine, body: dict[str, Any]):
        self.engine = engine
        self.body = body
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        engine = self.engine
        client = engine.client
        request = client.build_request("POST", engine.preset.completion_path, json=self.body)
        retries = engine.options.connect_retries
        for attempt in range(retries + 1):
            try:
                self.response = await client.send(request, stream=True)
                return self.response
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if attempt == retries:
                    engine._raise_unreachable(error)
                await asyncio.sleep(0.2 * 2**attempt)
            except httpx.ReadTimeout as error:
                raise EngineUnavailableError(
                    f"{engine.name}: {engine.root} sent no response in "
                    f"{engine.options.read_timeout:g}s"
                ) from error
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
                raise StreamInterruptedError(
                    f"{engine.name}: the server at {engine.root} dropped the connection "
                    f"before answering: {str(error) or type(error).__name__}"
                ) from error
        raise AssertionError("unreachable")

    async def __aexit__(self, *exc_info: object) -> None:
        if self.response is not None:
            # Closing an unfinished streamed response closes its socket: the
            # server sees the disconnect and stops generating.
            await self.response.aclose()


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise EngineError(f"server sent malformed JSON in its stream: {text[:120]!r}") from error
    if not isinstance(value, dict):
        raise EngineError(f"server sent unexpected JSON in its stream: {text[:120]!r}")
    return value


def _int(value: object) -> int | None:
    if isinstance(value, int) and value > 0:
        return value
    return None


def _finish(reason: object) -> str:
    """Normalise servers' finish reasons to GenerationUsage's vocabulary."""
    text = str(reason or "stop").lower()
    if text in ("length", "limit", "max_tokens"):
        return "length"
    return "stop"


def resolve_api_key(configured: str | None, env_name: str | None, preset: Preset) -> str | None:
    """The configured key, else the preset's (or configured) environment variable."""
    if configured:
        return configured
    return os.environ.get(env_name or preset.api_key_env) or None
