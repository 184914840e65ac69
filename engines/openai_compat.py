"""Remote engines over HTTP: vLLM, llama-server, LM Studio, the DeepSeek API...

The last stage of the pipeline when the model runs on a server. One engine
talks to its endpoints through one pooled ``httpx.AsyncClient`` (keep-alive
per origin, at most ``max_concurrency`` requests in flight); what differs
between servers is
data in engines/presets.py (wire protocol, paths, optional features) plus one
codec per wire format in engines/codecs.py (body, stream framing, payloads).

- The prompt is the FIM string completion/ built (vLLM's /v1/completions has
  no ``suffix``); native-FIM servers get the raw prefix and suffix instead.
- Cancellation closes the HTTP stream: closing the generator, or cancelling
  the task that reads it, exits the ``client.stream`` block, which drops the
  connection. vLLM sees the disconnect and aborts the request.
- Several endpoints (replicas of one model) form a fleet (engines/fleet.py):
  a request goes to the replica its session key ranks first, and moves to
  the next only when it cannot connect, within the same deadline. With
  ``hedge_after`` a silent first replica gets a duplicate on the next one;
  the first to stream wins and the other is closed.
- Retries happen only for failures to connect (the request never left this
  process); a request that may have run is never sent twice. The one
  exception is a prompt the server rejected as too long before generating:
  it is shrunk (head of the prefix, tail of the suffix; engines/overflow.py)
  and sent once more. One loop (``_connect``) does all the retrying.
- Errors become one clear ``EngineError`` per cause: unreachable server,
  rejected key, unknown model, context too long, stream cut mid-generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
from httpx_sse import SSEError

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
from engines.codecs import codec_for
from engines.fleet import Endpoint, Fleet, FleetOptions
from engines.overflow import keep_ratio, overflow_numbers, says_too_long, shrink_request
from engines.presets import Preset

__all__ = [
    "AuthenticationError",
    "ModelNotFoundError",
    "RemoteEngine",
    "RemoteOptions",
    "ServerFailedError",
    "StreamInterruptedError",
    "error_message",
    "resolve_api_key",
    "server_root",
]

log = logging.getLogger(__name__)

# httpcore's words for a connection closed before any response byte came back.
_STALE_KEEPALIVE = "without sending a response"


class AuthenticationError(EngineError):
    """The server rejected the API key (HTTP 401 or 403)."""


class ModelNotFoundError(EngineError):
    """The configured model name is not served (HTTP 404 naming the model)."""


class StreamInterruptedError(EngineUnavailableError):
    """The connection dropped in the middle of a generation (server died or restarted)."""


class ServerFailedError(EngineError):
    """The server failed the request (HTTP 5xx other than 502-504)."""


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
    endpoints: tuple[str, ...] = ()
    """More replicas serving the same model (``endpoint`` is tried with them)."""
    session_header: str = "x-session-id"
    """Header carrying the request's session key, for session-aware routers; "" for none."""
    hedge_after: float | None = None
    """Seconds after which a request that has streamed nothing is also sent to a
    second replica (the slower one is cancelled); None: never."""
    affinity: bool = True
    """Keep a document on one replica (rendezvous hashing); False: round-robin."""

    def urls(self) -> list[str]:
        """Every endpoint, ``endpoint`` first, without duplicates."""
        return list(dict.fromkeys([self.endpoint, *self.endpoints]))


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


class RemoteEngine:
    """A model served over HTTP by one server or a fleet of replicas (see module docstring)."""

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
        self.fleet = Fleet(
            [Endpoint(url, server_root(url)) for url in options.urls()],
            probe=self._alive,
            options=FleetOptions(affinity=options.affinity),
        )
        self.root = self.fleet.endpoints[0].root
        self.codec = codec_for(preset)
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._retired: list[httpx.AsyncClient] = []
        self._info: ModelInfo | None = None
        self._model: str | None = options.model_name or preset.default_model
        self._special_ids: dict[str, int] = {}
        self._bos: list[int] | None = None
        self._slots = asyncio.Semaphore(max(1, options.max_concurrency))
        self._start_lock = asyncio.Lock()
        self._honours_n: bool | None = None
        """Whether the server returns ``n`` choices; None until an answer shows it."""

    def __repr__(self) -> str:
        roots = ", ".join(e.root for e in self.fleet.endpoints)
        return f"RemoteEngine({self.name!r}, {roots!r}, model={self._model!r})"

    # -- lifecycle -----------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def client(self) -> httpx.AsyncClient:
        """One pool for every endpoint (httpx keeps connections per origin)."""
        if self._client is None:
            options = self.options
            headers = {"Accept": "application/json"}
            if options.api_key:
                headers["Authorization"] = f"Bearer {options.api_key}"
            connections = options.max_concurrency * len(self.fleet)
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=self._timeout(),
                limits=httpx.Limits(
                    max_connections=connections,
                    max_keepalive_connections=connections,
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
        """Probe every endpoint; the first that answers describes the model.

        Endpoints that fail are ejected (they come back when a health probe
        succeeds); the engine fails only when none answers.
        """
        started = time.perf_counter()
        endpoints = self.fleet.endpoints
        results = await asyncio.gather(
            *(self._probe_endpoint(e) for e in endpoints), return_exceptions=True
        )
        info: ModelInfo | None = None
        for endpoint, result in zip(endpoints, results, strict=True):
            if isinstance(result, ModelInfo):
                info = info or result
            elif isinstance(result, Exception):
                if len(endpoints) > 1:
                    log.warning("%s", result)
                self.fleet.eject(endpoint, str(result))
            else:
                raise result
        if info is None:
            errors = [r for r in results if isinstance(r, Exception)]
            if len(errors) > 1 and all(isinstance(e, EngineUnavailableError) for e in errors):
                roots = ", ".join(e.root for e in endpoints)
                raise EngineUnavailableError(
                    f"{self.name}: cannot reach any of the servers at {roots}; are they "
                    f"running? (engine.endpoints). First: {errors[0]}"
                ) from errors[0]
            raise errors[0]
        log.info(
            "%s: %s at %s ready in %.2fs (context %d)",
            self.name,
            info.name,
            ", ".join(e.root for e in endpoints if e.healthy),
            time.perf_counter() - started,
            info.context_length,
        )
        return info

    async def _probe_endpoint(self, endpoint: Endpoint) -> ModelInfo:
        """Models, window and special tokens, as one endpoint reports them."""
        card: dict[str, Any] = {}
        if self.preset.models_path:
            card = await self._model_card(endpoint)
        if not self._model:
            raise EngineError(
                f"{self.name}: no model name configured and {endpoint.root} lists none; "
                "set model.name (--model-name)"
            )
        if self.preset.tokenize is not None and self.probe_tokens:
            special = await self._probe_special_tokens(endpoint)
            self._special_ids = self._special_ids or special
        context = (
            _int(card.get("max_model_len"))
            or _int((card.get("meta") or {}).get("n_ctx_train"))
            or self.preset.max_context
            or self.options.context_length
            or 4096
        )
        metadata = {k: str(v) for k, v in card.items() if isinstance(v, str | int | float)}
        return ModelInfo(
            name=self._model,
            engine=self.name,
            context_length=context,
            special_tokens=frozenset(self._special_ids) if self.preset.tokenize else None,
            metadata=metadata,
            family=self.preset.family,
        )

    async def _model_card(self, endpoint: Endpoint) -> dict[str, Any]:
        """The served model's entry in /v1/models; fills in the model name."""
        assert self.preset.models_path is not None
        response = await self._send("GET", self.preset.models_path, [endpoint])
        if response.status_code in (404, 405):
            return {}  # no listing endpoint: trust the configured name
        if response.status_code >= 400:
            self._raise_for(response.status_code, response.text, endpoint.root)
        where = f"{self.name}: engine.endpoint {endpoint.root}{self.preset.models_path}"
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
                f"{self.name}: model {self._model!r} is not served at {endpoint.root}; "
                f"it serves: {', '.join(names)}"
            )
        return {}

    async def _probe_special_tokens(self, endpoint: Endpoint) -> dict[str, int]:
        """Which probe strings the server's tokenizer maps to one token id."""
        found: dict[str, int] = {}

        async def probe(token: str) -> None:
            ids = await self.tokenize(token, [endpoint])
            if len(ids) == 1:
                found[token] = ids[0]

        await asyncio.gather(*(probe(token) for token in sorted(self.probe_tokens)))
        return found

    async def _alive(self, endpoint: Endpoint) -> bool:
        """The fleet's health probe: the endpoint answers (any status below 500)."""
        path = self.preset.models_path or self.preset.completion_path
        method = "GET" if self.preset.models_path else "HEAD"
        try:
            response = await self.client.request(
                method, endpoint.root + path, timeout=self.options.connect_timeout
            )
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def close(self) -> None:
        await self.fleet.close()
        self._retire_pool()
        retired, self._retired = self._retired, []
        for client in retired:
            await client.aclose()

    # -- tokens --------------------------------------------------------------

    async def tokenize(self, text: str, endpoints: list[Endpoint] | None = None) -> list[int]:
        """Token ids from the server's tokenizer (no BOS); [] if it has none."""
        if self.preset.tokenize is None:
            return []
        if self._bos is None:
            # Some servers always prepend BOS: what "" tokenizes to is dropped.
            self._bos = await self._tokenize("", endpoints)
        ids = await self._tokenize(text, endpoints)
        if self._bos and ids[: len(self._bos)] == self._bos:
            ids = ids[len(self._bos) :]
        return ids

    async def _tokenize(self, text: str, endpoints: list[Endpoint] | None) -> list[int]:
        api = self.preset.tokenize
        assert api is not None
        body: dict[str, Any] = {api.text_field: text, **api.extra}
        if api.send_model and self._model:
            body["model"] = self._model
        targets = endpoints or self.fleet.candidates(None)
        response = await self._send("POST", api.path, targets, json=body)
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

    def build_body(self, request: GenerationRequest, n: int = 1) -> dict[str, Any]:
        """The JSON body of one generation request, spelled by the preset's codec."""
        body = self.codec.body(request, self._model, self._special_ids)
        if n > 1:
            body["n"] = n
        return body

    async def stream(
        self, request: GenerationRequest, usage: GenerationUsage | None = None
    ) -> AsyncIterator[str]:
        """Stream one generation; shrink and resend once if the prompt overflows."""
        async with contextlib.aclosing(self._stream(request, 1, usage)) as pieces:
            async for _, piece in pieces:
                yield piece

    @property
    def samples_several(self) -> bool:
        """The wire has ``n`` and no answer has shown this server ignoring it."""
        return self.codec.takes_n and self._honours_n is not False

    async def stream_choices(
        self, request: GenerationRequest, n: int, usage: GenerationUsage | None = None
    ) -> AsyncIterator[tuple[int, str]]:
        """``n`` samples in one request, as ``(choice index, piece)`` (engines.base.SamplesSeveral).

        Whether the server honours ``n`` is learned here, not assumed: a
        stream that ends with choice 0 alone means it ignored ``n``
        (llama_cpp.server does), and a request it rejects for ``n`` (before
        generating anything) is sent once more without it.
        """
        usage = usage if usage is not None else GenerationUsage()
        if n > 1 and self.samples_several:
            try:
                async with contextlib.aclosing(self._stream(request, n, usage)) as pieces:
                    async for choice in pieces:
                        if usage.choices > 1:
                            self._honours_n = True
                        yield choice
            except EngineError as error:
                # Only a plain rejection (HTTP 4xx) may be about n; a known cause is not.
                if usage.choices or self._honours_n is not None or type(error) is not EngineError:
                    raise
                log.info("%s: n=%d rejected (%s); sampling one at a time", self.name, n, error)
                self._honours_n = False
            else:
                if usage.choices > 1:
                    self._honours_n = True
                elif self._honours_n is None:
                    log.info("%s: the server ignores n; sampling one at a time", self.name)
                    self._honours_n = False
                return
        async with contextlib.aclosing(self._stream(request, 1, usage)) as pieces:
            async for choice in pieces:
                yield choice

    async def _stream(
        self, request: GenerationRequest, n: int, usage: GenerationUsage | None
    ) -> AsyncGenerator[tuple[int, str], None]:
        usage = usage if usage is not None else GenerationUsage()
        if self._info is None:
            await self.start()
        started = time.perf_counter()
        try:
            try:
                async with contextlib.aclosing(self._generate(request, usage, n)) as pieces:
                    async for piece in pieces:
                        yield piece
            except ContextTooLongError as error:
                # Rejected before generating anything, so resending cannot run it twice.
                keep = await self._keep_ratio(str(error), request)
                smaller = shrink_request(request, keep) if self.options.shrink_on_overflow else None
                if smaller is None or usage.generated_tokens:
                    raise
                log.info("%s: prompt too long, retrying with %.0f%% of it", self.name, keep * 100)
                async with contextlib.aclosing(self._generate(smaller, usage, n)) as pieces:
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
        self, request: GenerationRequest, usage: GenerationUsage, n: int = 1
    ) -> AsyncGenerator[tuple[int, str], None]:
        body = self.build_body(request, n)
        deadline = time.monotonic() + self.options.deadline
        usage.finish_reason = None
        key = request.session_key
        headers = {self.options.session_header: key} if key and self.options.session_header else {}
        endpoints = self.fleet.candidates(key)
        hedge = self.options.hedge_after
        if hedge is not None and sum(e.healthy for e in endpoints) >= 2:
            run = self._hedged(endpoints, body, headers, usage, deadline, hedge)
        else:
            run = self._attempt(endpoints, body, headers, usage, deadline)
        try:
            async with contextlib.aclosing(run) as pieces:
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

    async def _attempt(
        self,
        endpoints: list[Endpoint],
        body: dict[str, Any],
        headers: dict[str, str],
        usage: GenerationUsage,
        deadline: float,
    ) -> AsyncGenerator[tuple[int, str], None]:
        """One generation on the first of ``endpoints`` that accepts a connection."""
        async with self._slots, self._open_stream(body, endpoints, headers, deadline) as opened:
            endpoint, response = opened
            self.fleet.started(endpoint)
            usage.endpoint = endpoint.url
            started = time.monotonic()
            try:
                async with contextlib.aclosing(
                    self._read_stream(endpoint, response, usage, deadline)
                ) as pieces:
                    async for piece in pieces:
                        yield piece
            except EngineError as error:
                at_fault = isinstance(error, EngineUnavailableError | ServerFailedError)
                self.fleet.failed(endpoint, str(error), eject=at_fault)
                raise
            except asyncio.CancelledError:
                self.fleet.succeeded(endpoint)  # cancelled by us, not the replica's fault
                raise
            except GeneratorExit:
                # Closed by the consumer: post-processing had its answer.
                self.fleet.succeeded(endpoint, time.monotonic() - started)
                raise
            self.fleet.succeeded(endpoint, time.monotonic() - started)

    async def _read_stream(
        self,
        endpoint: Endpoint,
        response: httpx.Response,
        usage: GenerationUsage,
        deadline: float,
    ) -> AsyncGenerator[tuple[int, str], None]:
        """``(choice index, piece)`` as the server streams them."""
        root = endpoint.root
        if response.status_code >= 400:
            await response.aread()
            self._raise_for(response.status_code, response.text, root)
        try:
            async with contextlib.aclosing(self.codec.payloads(response)) as payloads:
                async for payload in payloads:
                    self._check_payload(payload, root)
                    for index, piece in self.codec.read_choices(payload, usage):
                        if piece:
                            yield index, piece
                    if time.monotonic() > deadline:
                        raise EngineUnavailableError(
                            f"{self.name}: generation took longer than "
                            f"{self.options.deadline:g}s at {root}"
                        )
            if usage.finish_reason is None:
                # Every server marks its last chunk; a stream that just
                # stops was cut (server crash, proxy timeout, server bug).
                raise StreamInterruptedError(
                    f"{self.name}: the stream from {root} ended before the "
                    "generation finished (the server may have crashed; see its log)"
                )
        except (httpx.RemoteProtocolError, httpx.ReadError) as error:
            raise StreamInterruptedError(
                f"{self.name}: the server at {root} closed the stream mid-generation "
                f"(it may have crashed or restarted): {str(error) or type(error).__name__}"
            ) from error
        except httpx.ReadTimeout as error:
            raise EngineUnavailableError(
                f"{self.name}: no data from {root} for "
                f"{self.options.read_timeout:g}s; the server is overloaded or stuck"
            ) from error
        except SSEError as error:
            raise EngineError(
                f"{self.name}: {root}{self.preset.completion_path} did not stream "
                f"server-sent events ({error}); check engine.name and engine.endpoint"
            ) from error

    async def _hedged(
        self,
        endpoints: list[Endpoint],
        body: dict[str, Any],
        headers: dict[str, str],
        usage: GenerationUsage,
        deadline: float,
        hedge_after: float,
    ) -> AsyncGenerator[tuple[int, str], None]:
        """The first replica to stream wins; a second starts after ``hedge_after``
        seconds of silence, and the loser is cancelled (its stream closed)."""
        queue: asyncio.Queue[tuple[int, tuple[int, str] | BaseException | None]] = asyncio.Queue()
        usages = [GenerationUsage(), GenerationUsage()]
        orders = [endpoints, endpoints[1:] + endpoints[:1]]
        tasks: dict[int, asyncio.Task[None]] = {}

        async def run(index: int) -> None:
            try:
                attempt = self._attempt(orders[index], body, headers, usages[index], deadline)
                async with contextlib.aclosing(attempt) as pieces:
                    async for piece in pieces:
                        await queue.put((index, piece))
                await queue.put((index, None))
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await queue.put((index, error))

        def launch(index: int) -> None:
            tasks[index] = asyncio.get_running_loop().create_task(run(index), name="hedge")

        winner: int | None = None
        launch(0)
        try:
            while True:
                if winner is None and len(tasks) == 1:
                    try:
                        index, value = await asyncio.wait_for(queue.get(), hedge_after)
                    except TimeoutError:
                        log.debug("%s: nothing after %gs, hedging", self.name, hedge_after)
                        launch(1)
                        continue
                else:
                    index, value = await queue.get()
                if winner is None:
                    if isinstance(value, BaseException):
                        tasks.pop(index)
                        if tasks:
                            continue  # the other replica may still answer
                        raise value
                    winner = index
                    for other, task in list(tasks.items()):
                        if other != winner:
                            task.cancel()
                if index != winner:
                    continue
                if value is None:
                    return
                if isinstance(value, BaseException):
                    raise value
                yield value
        finally:
            for task in tasks.values():
                task.cancel()
            for task in tasks.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            source = usages[winner if winner is not None else 0]
            usage.prompt_tokens = source.prompt_tokens
            usage.prompt_tokens_total = source.prompt_tokens_total
            usage.generated_tokens = source.generated_tokens
            usage.finish_reason = source.finish_reason
            usage.endpoint = source.endpoint
            usage.choices = source.choices

    def _check_payload(self, payload: dict[str, Any], root: str) -> None:
        """Raise the error a server reported inside its stream (every wire spells it alike)."""
        error = payload.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            code = error.get("code") if isinstance(error, dict) else None
            self._raise_for(
                int(code) if isinstance(code, int) else 500,
                json.dumps({"error": {"message": str(message)}}),
                root,
            )

    # -- HTTP plumbing -------------------------------------------------------

    async def _send(
        self, method: str, path: str, endpoints: list[Endpoint], **kwargs: Any
    ) -> httpx.Response:
        """One read-only request (model list, tokenizer): safe to send again."""
        client = self.client

        def send(endpoint: Endpoint) -> Awaitable[httpx.Response]:
            timeout = self._timeout(endpoint)
            return client.request(method, endpoint.root + path, timeout=timeout, **kwargs)

        _, response = await self._connect(send, path, endpoints, resendable=True)
        return response

    @contextlib.asynccontextmanager
    async def _open_stream(
        self,
        body: dict[str, Any],
        endpoints: list[Endpoint],
        headers: dict[str, str],
        deadline: float,
    ) -> AsyncIterator[tuple[Endpoint, httpx.Response]]:
        """``client.stream(...)`` on the first endpoint that connects; nothing is resent."""
        client = self.client
        path = self.preset.completion_path

        def send(endpoint: Endpoint) -> Awaitable[httpx.Response]:
            request = client.build_request(
                "POST",
                endpoint.root + path,
                json=body,
                headers=headers,
                timeout=self._timeout(endpoint),
            )
            return client.send(request, stream=True)

        endpoint, response = await self._connect(
            send, path, endpoints, resendable=False, deadline=deadline
        )
        try:
            yield endpoint, response
        finally:
            # Closing an unfinished streamed response closes its socket: the
            # server sees the disconnect and stops generating.
            await response.aclose()

    def _timeout(self, endpoint: Endpoint | None = None) -> httpx.Timeout:
        """The configured timeouts; for one endpoint, the connect one as the fleet
        cuts it while another replica could take the request (failover)."""
        options = self.options
        connect = options.connect_timeout
        if endpoint is not None:
            connect = self.fleet.connect_timeout(endpoint, connect)
        return httpx.Timeout(
            connect=connect,
            read=options.read_timeout,
            write=options.write_timeout,
            pool=options.deadline,
        )

    async def _connect(
        self,
        send: Callable[[Endpoint], Awaitable[httpx.Response]],
        path: str,
        endpoints: list[Endpoint],
        *,
        resendable: bool,
        deadline: float | None = None,
    ) -> tuple[Endpoint, httpx.Response]:
        """Run ``send`` on each endpoint in turn until one answers; the one retry loop.

        A failure to connect moves on to the next endpoint (the request never
        left this process), and each round over them all is retried with
        backoff while the deadline allows. A connection dropped after the
        request went out is retried only when ``resendable`` (read-only
        requests): a generation that may have run is never sent twice.
        """
        retries = self.options.connect_retries
        failure: Exception | None = None
        for attempt in range(retries + 1):
            last = attempt == retries
            pending, stale = list(endpoints), set()
            while pending:
                endpoint = pending.pop(0)
                root = endpoint.root
                try:
                    return endpoint, await send(endpoint)
                except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                    failure = error
                    self.fleet.failed(endpoint, f"cannot connect: {str(error) or type(error)}")
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
                    if _STALE_KEEPALIVE in str(error) and endpoint.url not in stale:
                        # A pooled keep-alive connection the server had closed
                        # while idle: the request never reached it. Once more at
                        # once, on a fresh connection to the same replica (as
                        # browsers do), so the document keeps its prefix cache.
                        failure = error
                        stale.add(endpoint.url)
                        pending.insert(0, endpoint)
                        continue
                    self.fleet.failed(endpoint, f"dropped the connection: {error}")
                    if resendable and not last:
                        failure = error
                        continue
                    when = "" if resendable else " before answering"
                    raise StreamInterruptedError(
                        f"{self.name}: the server at {root} dropped the connection{when} "
                        f"({path}): {str(error) or type(error).__name__}"
                    ) from error
                except httpx.ReadTimeout as error:
                    self.fleet.failed(endpoint, "no response in time")
                    raise EngineUnavailableError(
                        f"{self.name}: {root}{path} sent no response in "
                        f"{self.options.read_timeout:g}s"
                    ) from error
                except httpx.TimeoutException as error:
                    raise EngineUnavailableError(
                        f"{self.name}: {root}{path} did not answer in time ({error!r})"
                    ) from error
                except httpx.TransportError as error:
                    raise EngineUnavailableError(
                        f"{self.name}: request to {root}{path} failed: {error!r}"
                    ) from error
            if last:
                break
            delay = 0.2 * 2**attempt
            if deadline is not None and time.monotonic() + delay > deadline:
                break
            await asyncio.sleep(delay)
        assert failure is not None
        self._raise_unreachable(failure, endpoints)

    def _raise_unreachable(self, error: Exception, endpoints: list[Endpoint]) -> NoReturn:
        cause = str(error) or type(error).__name__
        if len(endpoints) == 1:
            raise EngineUnavailableError(
                f"{self.name}: cannot reach the server at {endpoints[0].root} "
                f"({cause}); is it running? (engine.endpoint)"
            ) from error
        roots = ", ".join(e.root for e in endpoints)
        raise EngineUnavailableError(
            f"{self.name}: cannot reach any of the servers at {roots} "
            f"({cause}); are they running? (engine.endpoints)"
        ) from error

    def _raise_for(self, status: int, text: str, root: str | None = None) -> NoReturn:
        """Map an HTTP error to the one EngineError the user can act on."""
        message = error_message(text)
        where = f"{self.name} at {root or self.root}"
        if status in (401, 403):
            key_source = "engine.apiKey" if self.options.api_key else f"${self.preset.api_key_env}"
            raise AuthenticationError(
                f"{where} rejected the API key (HTTP {status}): check {key_source}. {message}"
            )
        if says_too_long(message) and status in (400, 413, 422, 500):
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
        if status >= 500:
            raise ServerFailedError(f"{where} failed (HTTP {status}): {message}")
        raise EngineError(f"{where} failed (HTTP {status}): {message}")

    def fleet_stats(self) -> dict[str, Any]:
        """Per-endpoint counters for ``dscoder/stats``."""
        return self.fleet.snapshot()


def _int(value: object) -> int | None:
    if isinstance(value, int) and value > 0:
        return value
    return None


def resolve_api_key(configured: str | None, env_name: str | None, preset: Preset) -> str | None:
    """The configured key, else the preset's (or configured) environment variable."""
    if configured:
        return configured
    return os.environ.get(env_name or preset.api_key_env) or None
