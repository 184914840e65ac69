"""Two real replicas: ``python -m llama_cpp.server`` serving SmolLM2 on 127.0.0.1.

A document sticks to one replica while both are up, moves to the other when
its replica is killed, and returns when it is back; over stdio, the server's
``dscoder/stats`` names the replica that served the last request. Nothing
waits on a sleep: readiness and health are polled with bounded timeouts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engines.base import GenerationRequest, GenerationUsage
from engines.fleet import Endpoint, rendezvous_order, session_key
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from tests.e2e.conftest import StartServer, open_document, plain
from tests.support.servers import (
    TINY_NAME,
    ServerProcess,
)

pytestmark = pytest.mark.slow

WORKSPACE = "file:///work/shop"


def fleet_engine(servers: list[ServerProcess]) -> RemoteEngine:
    urls = [server.url + "/v1" for server in servers]
    options = RemoteOptions(endpoint=urls[0], endpoints=tuple(urls[1:]), connect_retries=1)
    return RemoteEngine(PRESETS["openai"], options)


def keys_owned_by_each(urls: list[str]) -> dict[str, str]:
    """One document key per replica (the replica rendezvous hashing gives it)."""
    owned: dict[str, str] = {}
    for n in range(100):
        key = session_key(WORKSPACE, f"{WORKSPACE}/module_{n}.py")
        owned.setdefault(rendezvous_order(key, urls)[0], key)
        if len(owned) == len(urls):
            return owned
    raise AssertionError("100 keys all hashed to one replica")


async def served_by(engine: RemoteEngine, key: str) -> str:
    usage = GenerationUsage()
    request = GenerationRequest(prompt="def add(a, b):\n    return", max_tokens=4, session_key=key)
    text = "".join([piece async for piece in engine.stream(request, usage)])
    assert text and usage.finish_reason in ("stop", "length")
    return usage.endpoint


async def until_healthy(endpoint: Endpoint, engine: RemoteEngine) -> None:
    while not endpoint.healthy:
        await engine.fleet.changed.wait()


async def test_a_document_sticks_to_one_replica_while_both_are_up(
    replicas: list[ServerProcess],
) -> None:
    engine = fleet_engine(replicas)
    urls = [e.url for e in engine.fleet.endpoints]
    try:
        await engine.start()
        for url, key in keys_owned_by_each(urls).items():
            assert [await served_by(engine, key) for _ in range(3)] == [url] * 3
        counts = {e["url"]: e["requests"] for e in engine.fleet_stats()["endpoints"]}
        assert counts == dict.fromkeys(urls, 3)
    finally:
        await engine.close()


async def test_when_its_replica_dies_a_document_moves_to_the_other(
    replicas: list[ServerProcess],
) -> None:
    engine = fleet_engine(replicas)
    urls = [e.url for e in engine.fleet.endpoints]
    owned = keys_owned_by_each(urls)
    key = owned[urls[0]]
    try:
        await engine.start()
        assert await served_by(engine, key) == urls[0]
        replicas[0].kill()
        assert [await served_by(engine, key) for _ in range(3)] == [urls[1]] * 3
        dead = engine.fleet.endpoints[0]
        assert not dead.healthy and dead.ejections == 1
        # The other replica's documents never moved.
        assert await served_by(engine, owned[urls[1]]) == urls[1]
    finally:
        await engine.close()


async def test_when_the_replica_returns_its_documents_return(
    replicas: list[ServerProcess],
) -> None:
    engine = fleet_engine(replicas)
    urls = [e.url for e in engine.fleet.endpoints]
    key = keys_owned_by_each(urls)[urls[0]]
    try:
        await engine.start()
        replicas[0].kill()
        assert await served_by(engine, key) == urls[1]
        replicas[0].start(120)  # same port; the fleet's backoff probes find it
        async with asyncio.timeout(60):
            await until_healthy(engine.fleet.endpoints[0], engine)
        assert await served_by(engine, key) == urls[0]
    finally:
        await engine.close()


async def test_stats_name_the_replica_that_served_the_document(
    start_server: StartServer, replicas: list[ServerProcess]
) -> None:
    urls = [server.url + "/v1" for server in replicas]
    client = await start_server(
        options={
            "engine": {"name": "openai", "endpoints": urls},
            "model": {"name": TINY_NAME},
            "template": "plain",
        }
    )
    uri = f"{Path.cwd().as_uri()}/fleet_doc.py"
    text = "def add(a, b):\n    return"
    open_document(client, uri, text)
    result = plain(
        await client.protocol.send_request_async(
            "dscoder/complete",
            {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 10}},
        )
    )
    stats = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    owner = rendezvous_order(session_key(Path.cwd().as_uri(), uri), urls)[0]
    assert result["usage"]["endpoint"] == owner
    assert stats["lastEndpoint"] == owner
    served = {e["url"]: e["requests"] for e in stats["endpoints"]}
    assert served[owner] >= 1 and sum(served.values()) == served[owner]


async def test_the_status_notification_names_the_replica_when_it_changes(
    start_server: StartServer, replicas: list[ServerProcess]
) -> None:
    urls = [server.url + "/v1" for server in replicas]
    client = await start_server(
        options={
            "engine": {"name": "openai", "endpoints": urls},
            "model": {"name": TINY_NAME},
            "template": "plain",
        }
    )
    named: list[Any] = []
    arrived = asyncio.Event()

    @client.feature("dscoder/status")
    def on_status(params: Any) -> None:
        if plain(params).get("endpoint"):
            named.append(plain(params))
            arrived.set()

    workspace = Path.cwd().as_uri()
    owned: dict[str, list[str]] = {url: [] for url in urls}
    for n in range(100):
        uri = f"{workspace}/replica_doc_{n}.py"
        owned[rendezvous_order(session_key(workspace, uri), urls)[0]].append(uri)
    assert all(len(uris) >= 2 for uris in owned.values())
    text = "def add(a, b):\n    return"

    async def complete(uri: str) -> str:
        result = plain(
            await client.protocol.send_request_async(
                "dscoder/complete",
                {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 10}},
            )
        )
        return str(result["usage"]["endpoint"])

    async def next_named() -> Any:
        async with asyncio.timeout(10):
            await arrived.wait()
        arrived.clear()
        return named[-1]

    (first, again), (second, _) = owned[urls[0]][:2], owned[urls[1]][:2]
    for uri in (first, again, second):
        open_document(client, uri, text)

    assert await complete(first) == urls[0]
    status = await next_named()
    assert status["endpoint"] == urls[0] and status["endpointCount"] == 2
    assert status["state"] == "ready" and status["engine"] == "openai"

    # Another document on the same replica: no push (one would precede the answer).
    assert await complete(again) == urls[0]
    assert len(named) == 1

    assert await complete(second) == urls[1]
    status = await next_named()
    assert status["endpoint"] == urls[1] and status["endpointCount"] == 2
    assert len(named) == 2
