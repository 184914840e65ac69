"""Endpoint selection: rendezvous stability, health, and the engine's use of a fleet.

The selection maths and the health state machine are pure; the engine's
use of them (the header, failover on connect, no resend after a 5xx,
hedging) runs against ``httpx.MockTransport``, because a refused connection
or a replica that stays silent on one request only is a fault a real server
cannot produce on demand. tests/e2e/test_fleet.py runs real replicas.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from engines.base import EngineError, GenerationRequest, GenerationUsage
from engines.fleet import (
    Endpoint,
    Fleet,
    FleetOptions,
    ReportsEndpoints,
    rendezvous_order,
    session_key,
)
from engines.openai_compat import RemoteEngine, RemoteOptions
from engines.presets import PRESETS
from engines.registry import EngineSettings, create_engine

URLS = ["http://a:8000/v1", "http://b:8000/v1", "http://c:8000/v1"]
KEYS = [session_key("file:///work", f"file:///work/src/module_{n}.py") for n in range(600)]


# -- pure selection ---------------------------------------------------------------


def test_session_key_is_stable_opaque_and_salted_by_the_workspace() -> None:
    key = session_key("file:///home/ana/shop", "file:///home/ana/shop/cart.py")
    assert key == session_key("file:///home/ana/shop", "file:///home/ana/shop/cart.py")
    assert "cart" not in key and "ana" not in key and len(key) == 32
    assert key != session_key("file:///home/bo/shop", "file:///home/ana/shop/cart.py")
    assert key != session_key("file:///home/ana/shop", "file:///home/ana/shop/cart2.py")


def test_rendezvous_order_is_deterministic_and_spreads_keys() -> None:
    owners = Counter(rendezvous_order(key, URLS)[0] for key in KEYS)
    assert set(owners) == set(URLS)
    assert all(len(KEYS) * 0.2 < count < len(KEYS) * 0.47 for count in owners.values()), owners
    # The order of the configured list does not matter.
    assert all(rendezvous_order(k, URLS) == rendezvous_order(k, URLS[::-1]) for k in KEYS)


def test_removing_an_endpoint_moves_only_its_own_keys() -> None:
    before = {key: rendezvous_order(key, URLS)[0] for key in KEYS}
    survivors = [url for url in URLS if url != URLS[1]]
    after = {key: rendezvous_order(key, survivors)[0] for key in KEYS}
    moved = {key for key in KEYS if before[key] != after[key]}
    assert moved == {key for key in KEYS if before[key] == URLS[1]}
    # Its keys go to their second choice, so they spread over the survivors.
    assert {after[key] for key in moved} == set(survivors)
    # And when it returns, exactly those keys come back.
    again = {key: rendezvous_order(key, URLS)[0] for key in KEYS}
    assert again == before


def endpoints() -> list[Endpoint]:
    return [Endpoint(url, url.removesuffix("/v1")) for url in URLS]


async def test_an_ejected_endpoint_is_tried_last_and_returns_after_a_probe() -> None:
    answering = asyncio.Event()
    probed: list[str] = []

    async def probe(endpoint: Endpoint) -> bool:
        probed.append(endpoint.url)
        return answering.is_set()

    fleet = Fleet(endpoints(), probe, FleetOptions(probe_initial=0.01, probe_max=0.02))
    key = KEYS[0]
    owner = fleet.owner(key)
    try:
        changed = fleet.changed
        fleet.failed(owner, "cannot connect")
        await asyncio.wait_for(changed.wait(), 5)
        order = fleet.candidates(key)
        assert order[-1] is owner and not owner.healthy
        assert fleet.owner(key) is not owner
        assert (owner.errors, owner.ejections) == (1, 1)
        async with asyncio.timeout(10):
            while len(probed) < 2:  # failed probes back off and go on
                await asyncio.sleep(0.01)
        changed = fleet.changed
        answering.set()
        await asyncio.wait_for(changed.wait(), 10)
        assert owner.healthy and fleet.owner(key) is owner
    finally:
        await fleet.close()


async def test_without_affinity_requests_rotate_over_healthy_endpoints() -> None:
    fleet = Fleet(endpoints(), options=FleetOptions(affinity=False))
    firsts = [fleet.candidates(KEYS[0])[0].url for _ in range(6)]
    assert Counter(firsts) == dict.fromkeys(URLS, 2)
    fleet.eject(fleet.endpoints[0], "down")
    assert URLS[0] not in {fleet.candidates(None)[0].url for _ in range(4)}
    await fleet.close()


def test_settings_accept_endpoints_and_keep_endpoint_first() -> None:
    engine = create_engine(
        EngineSettings(
            name="vllm",
            endpoint=URLS[2],
            endpoints=(URLS[0], URLS[2]),
            session_header="x-route",
            hedge_after_ms=150,
        )
    )
    assert isinstance(engine, RemoteEngine) and isinstance(engine, ReportsEndpoints)
    assert [e.url for e in engine.fleet.endpoints] == [URLS[2], URLS[0]]
    assert engine.options.session_header == "x-route"
    assert engine.options.hedge_after == pytest.approx(0.15)
    single = create_engine(EngineSettings(name="vllm", endpoints=URLS[1]))
    assert isinstance(single, RemoteEngine)
    assert [e.url for e in single.fleet.endpoints] == [URLS[1]]


# -- the engine on a fleet (MockTransport) ----------------------------------------


MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}


def sse(*texts: str) -> bytes:
    chunks = [{"choices": [{"text": t, "finish_reason": None}]} for t in texts]
    chunks.append({"choices": [{"text": "", "finish_reason": "stop"}]})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


class Replicas:
    """A MockTransport handler playing several hosts: up, refusing, or failing."""

    def __init__(self) -> None:
        self.refusing: set[str] = set()
        self.failing: set[str] = set()
        self.silent: set[str] = set()
        self.unanswering: set[str] = set()
        """Hosts that never accept a connection (gone, not refusing)."""
        self.connect_timeouts: list[tuple[str, float]] = []
        self.closed_while_idle: set[str] = set()
        """Hosts whose next request meets a pooled connection they had closed."""
        self.posts: list[tuple[str, httpx.Headers]] = []
        self.closed: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.connect_timeouts.append((host, request.extensions["timeout"]["connect"]))
        if host in self.unanswering:
            raise httpx.ConnectTimeout("timed out", request=request)
        if host in self.refusing:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/v1/models":
            return httpx.Response(200, json=MODELS)
        if host in self.closed_while_idle:
            self.closed_while_idle.discard(host)
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        self.posts.append((host, request.headers))
        if host in self.failing:
            return httpx.Response(500, json={"error": {"message": "CUDA error"}})
        if host in self.silent:
            return httpx.Response(
                200, stream=Silent(self, host), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(
            200, content=sse(f"from {host}"), headers={"content-type": "text/event-stream"}
        )


class Silent(httpx.AsyncByteStream):
    """A stream that never sends a byte, and records that it was closed."""

    def __init__(self, replicas: Replicas, host: str):
        self.replicas = replicas
        self.host = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        await asyncio.Event().wait()
        yield b""

    async def aclose(self) -> None:
        self.replicas.closed.append(self.host)


def fleet_engine(replicas: Replicas, **options: Any) -> RemoteEngine:
    return RemoteEngine(
        PRESETS["openai"],
        RemoteOptions(endpoint=URLS[0], endpoints=tuple(URLS[1:]), model_name="m", **options),
        transport=httpx.MockTransport(replicas),
    )


async def generate(engine: RemoteEngine, key: str) -> tuple[str, GenerationUsage]:
    usage = GenerationUsage()
    request = GenerationRequest(prompt="x", session_key=key)
    return "".join([p async for p in engine.stream(request, usage)]), usage


def host_of(url: str) -> str:
    return httpx.URL(url).host


async def test_requests_carry_the_session_header_and_stick_to_one_replica() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas)
    try:
        await engine.start()
        owner = engine.fleet.owner(KEYS[0])
        for _ in range(4):
            text, usage = await generate(engine, KEYS[0])
            assert text == f"from {host_of(owner.url)}" and usage.endpoint == owner.url
        assert {host for host, _ in replicas.posts} == {host_of(owner.url)}
        assert all(headers["x-session-id"] == KEYS[0] for _, headers in replicas.posts)
        stats = engine.fleet_stats()
        assert stats["lastEndpoint"] == owner.url
        served = {e["url"]: e["requests"] for e in stats["endpoints"]}
        assert served[owner.url] == 4 and sum(served.values()) == 4
    finally:
        await engine.close()


async def test_no_session_header_when_configured_off() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas, session_header="")
    try:
        await generate(engine, KEYS[0])
        assert "x-session-id" not in replicas.posts[0][1]
    finally:
        await engine.close()


async def test_a_refused_connection_moves_to_the_next_replica_in_the_same_request() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas)
    try:
        await engine.start()
        owner, second = engine.fleet.candidates(KEYS[0])[:2]
        replicas.refusing.add(host_of(owner.url))
        text, usage = await generate(engine, KEYS[0])
        assert usage.endpoint == second.url and text == f"from {host_of(second.url)}"
        assert not owner.healthy and owner.ejections == 1
        # Other documents stay where they were.
        for key in KEYS[1:50]:
            original = rendezvous_order(key, URLS)[0]
            if original != owner.url:
                assert engine.fleet.owner(key).url == original
    finally:
        await engine.close()


async def test_a_replica_that_never_accepts_costs_the_short_failover_connect_timeout() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas, connect_timeout=3.0)
    try:
        await engine.start()
        owner, second = engine.fleet.candidates(KEYS[0])[:2]
        replicas.unanswering.add(host_of(owner.url))
        replicas.connect_timeouts.clear()
        _, usage = await generate(engine, KEYS[0])
        assert usage.endpoint == second.url and not owner.healthy
        assert replicas.connect_timeouts[0] == (host_of(owner.url), 0.5)
    finally:
        await engine.close()


def test_the_connect_timeout_is_cut_only_while_another_replica_is_healthy() -> None:
    fleet = Fleet(endpoints())
    first, *others = fleet.endpoints
    assert fleet.connect_timeout(first, 3.0) == 0.5
    assert fleet.connect_timeout(first, 0.2) == 0.2
    for endpoint in others:
        endpoint.healthy = False
    assert fleet.connect_timeout(first, 3.0) == 3.0  # nowhere else to go: wait it out
    single = Fleet(endpoints()[:1])
    assert single.connect_timeout(single.endpoints[0], 3.0) == 3.0


async def test_a_keepalive_connection_closed_while_idle_is_retried_on_the_same_replica() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas)
    try:
        await engine.start()
        owner = engine.fleet.owner(KEYS[0])
        replicas.closed_while_idle.add(host_of(owner.url))
        _, usage = await generate(engine, KEYS[0])
        # The request never reached the replica: it goes there again, not elsewhere.
        assert usage.endpoint == owner.url and owner.healthy and owner.errors == 0
        assert [host for host, _ in replicas.posts] == [host_of(owner.url)]
    finally:
        await engine.close()


async def test_a_5xx_ejects_the_replica_and_is_never_resent() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas)
    try:
        await engine.start()
        owner = engine.fleet.owner(KEYS[0])
        replicas.failing.add(host_of(owner.url))
        with pytest.raises(EngineError, match=r"HTTP 500.*CUDA error"):
            await generate(engine, KEYS[0])
        assert len(replicas.posts) == 1  # it may have run: not sent again
        assert not owner.healthy and owner.errors == 1
        _, usage = await generate(engine, KEYS[0])  # the next request goes elsewhere
        assert usage.endpoint != owner.url
    finally:
        await engine.close()


async def test_every_replica_refusing_is_one_clear_error() -> None:
    replicas = Replicas()
    replicas.refusing.update(host_of(url) for url in URLS)
    engine = fleet_engine(replicas, connect_retries=1)
    with pytest.raises(EngineError, match=r"cannot reach any of the servers.*engine.endpoints"):
        await engine.start()
    await engine.close()


async def test_hedging_takes_the_first_replica_to_stream_and_closes_the_other() -> None:
    replicas = Replicas()
    engine = fleet_engine(replicas, hedge_after=0.05)
    try:
        await engine.start()
        owner, second = engine.fleet.candidates(KEYS[0])[:2]
        replicas.silent.add(host_of(owner.url))
        text, usage = await generate(engine, KEYS[0])
        assert text == f"from {host_of(second.url)}" and usage.endpoint == second.url
        assert [host for host, _ in replicas.posts] == [host_of(owner.url), host_of(second.url)]
        assert replicas.closed == [host_of(owner.url)]  # the loser's stream was closed
        assert owner.healthy and owner.errors == 0  # cancelled by us, not its fault
    finally:
        await engine.close()
