"""A model listing that is not JSON is one engine error that names engine.endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from completion.pipeline import CompletionOptions
from completion.service import CompletionService, EngineState, EngineStatus
from engines.answers import not_json
from engines.base import EngineUnavailableError
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from engines.registry import EngineSettings

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Sign in - Proxy</title></head><body></body></html>"
MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}


def test_html_is_named_with_its_title() -> None:
    assert not_json("text/html", LOGIN_PAGE) == "answered HTML, not JSON (title: Sign in - Proxy)"
    assert not_json("text/plain", "<html>oops") == "answered HTML, not JSON"
    assert not_json("text/plain", "") == "answered an empty body, not JSON"
    assert not_json("text/plain", "garbage {") == "answered text that is not JSON: 'garbage {'"


ANSWERS = {
    "login page": (
        httpx.Response(200, text=LOGIN_PAGE, headers={"content-type": "text/html"}),
        "answered HTML, not JSON",
    ),
    "garbage": (httpx.Response(200, text="{not json"), "answered text that is not JSON"),
    "a JSON array": (httpx.Response(200, json=[1, 2]), "answered JSON that is not a model list"),
    "data is a number": (httpx.Response(200, json={"data": 5}), "not a model list"),
}


@pytest.mark.parametrize("case", list(ANSWERS))
async def test_a_listing_that_is_not_one_is_an_engine_error(case: str) -> None:
    response, expected = ANSWERS[case]
    engine = RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint="http://mock/v1", model_name="m"),
        transport=httpx.MockTransport(lambda request: response),
    )
    with pytest.raises(EngineUnavailableError) as raised:
        await engine.start()
    message = str(raised.value)
    assert "engine.endpoint http://mock/v1/models" in message and expected in message
    await engine.close()


class _Listing(BaseHTTPRequestHandler):
    """A server on a wrong setup (a login page), until ``fixed`` is set."""

    fixed = threading.Event()

    def do_GET(self) -> None:
        if self.fixed.is_set():
            body, kind = json.dumps(MODELS).encode(), "application/json"
        else:
            body, kind = LOGIN_PAGE.encode(), "text/html"
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listing_server() -> Iterator[tuple[str, threading.Event]]:
    _Listing.fixed = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Listing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", _Listing.fixed
    finally:
        server.shutdown()
        server.server_close()


async def test_the_background_retry_recovers_once_the_server_is_right(
    listing_server: tuple[str, threading.Event],
) -> None:
    endpoint, fixed = listing_server
    statuses: list[EngineStatus] = []
    ready = asyncio.Event()

    def on_status(status: EngineStatus) -> None:
        statuses.append(status)
        if status.state is EngineState.READY:
            ready.set()
        elif status.state is EngineState.FAILED:
            fixed.set()  # the user fixes the endpoint after seeing the message

    settings = EngineSettings(name="openai", endpoint=endpoint, model_name="m")
    service = CompletionService(CompletionOptions(), settings, on_status=on_status)
    service.retry_delays = (0.05,)
    try:
        service.start()
        async with asyncio.timeout(30):
            await ready.wait()
    finally:
        await service.close()
    failed = [s for s in statuses if s.state is EngineState.FAILED]
    assert len(failed) == 1 and "answered HTML, not JSON" in (failed[0].message or "")
    assert f"engine.endpoint {endpoint}/models" in (failed[0].message or "")
