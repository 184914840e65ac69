"""Endpoint selection for a fleet of replicas: affinity, passive health, failover.

Sits under the remote engine (engines/openai_compat.py): for each request the
engine asks ``Fleet.candidates`` for the order in which to try endpoints, and
reports back what happened; the fleet never does HTTP itself except through
the probe the engine hands it.

- **Affinity.** A request carries a session key (``session_key``: a hash of
  the workspace and document URIs, no path in clear). Rendezvous hashing
  ranks the healthy endpoints for that key, so a document keeps landing on
  the same replica (and its prefix cache) and moves only when that replica
  is down; when it returns, its documents return to it and nobody else's move.
- **Passive health.** A connect failure, an HTTP 5xx, a dropped stream or a
  missed deadline ejects an endpoint. An ejected endpoint is still tried,
  last, when every endpoint is down; it returns once a probe succeeds. Probes
  back off exponentially with jitter, so replicas coming back are not stormed.
- **Failover connect timeout.** While another endpoint is healthy, a
  connection attempt waits at most ``failover_connect_timeout``: a replica
  whose host is gone stays silent instead of refusing, and each editor
  would otherwise wait out the whole connect timeout before moving on.
- **Stats.** Requests, errors, ejections and latency percentiles per endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


def session_key(workspace_uri: str, document_uri: str) -> str:
    """A stable, opaque key for one document in one workspace (no path in clear)."""
    digest = hashlib.sha256(f"{workspace_uri}\n{document_uri}".encode()).hexdigest()
    return digest[:32]


def rendezvous_score(key: str, endpoint: str) -> int:
    digest = hashlib.blake2b(f"{key}\n{endpoint}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_order(key: str, endpoints: Sequence[str]) -> list[str]:
    """``endpoints`` ranked for ``key``: highest random weight first.

    Removing an endpoint moves only the keys it ranked first; every other
    key keeps its endpoint.
    """
    return sorted(endpoints, key=lambda name: (-rendezvous_score(key, name), name))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[rank]


@dataclass
class Endpoint:
    """One replica: its URL, health and counters."""

    url: str
    """As configured (shown in stats and messages)."""
    root: str
    """Server root the API paths hang from."""
    healthy: bool = True
    requests: int = 0
    errors: int = 0
    ejections: int = 0
    last_error: str = ""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=500))

    def snapshot(self) -> dict[str, Any]:
        latencies = list(self.latencies_ms)
        return {
            "url": self.url,
            "healthy": self.healthy,
            "requests": self.requests,
            "errors": self.errors,
            "ejections": self.ejections,
            "latencyP50Ms": round(percentile(latencies, 0.5), 2),
            "latencyP95Ms": round(percentile(latencies, 0.95), 2),
            "lastError": self.last_error or None,
        }


@runtime_checkable
class ReportsEndpoints(Protocol):
    """An engine with endpoints to report in ``dscoder/stats`` (the remote engine)."""

    def fleet_stats(self) -> dict[str, Any]:
        """``{"endpoints": [...], "lastEndpoint": url}``."""
        ...


Probe = Callable[[Endpoint], Awaitable[bool]]
"""True when the endpoint answers again (the engine's cheap health request)."""


@dataclass(frozen=True)
class FleetOptions:
    affinity: bool = True
    """Rank endpoints by the request's session key; False: round-robin (benches)."""
    probe_initial: float = 0.25
    """Seconds before the first probe of an ejected endpoint."""
    probe_max: float = 1.0
    """Longest wait between two probes."""
    failover_connect_timeout: float = 0.5
    """Most seconds to wait for a replica to accept a connection while another
    healthy one could take the request: replicas connect in milliseconds on a
    LAN, and one whose host is gone (no refusal, just silence) must not cost
    each editor its whole connect timeout before it moves on."""


class Fleet:
    """The endpoints of one remote engine and their health (see module docstring)."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        probe: Probe | None = None,
        options: FleetOptions | None = None,
    ):
        if not endpoints:
            raise ValueError("a fleet needs at least one endpoint")
        self.endpoints = list(endpoints)
        self.options = options or FleetOptions()
        self._probe = probe
        self._probes: dict[str, asyncio.Task[None]] = {}
        self._turn = 0
        self.last: Endpoint | None = None
        """The endpoint that served the last successful request."""
        self.changed = asyncio.Event()
        """Set whenever an endpoint is ejected or returns (tests and benches wait on it)."""

    def __len__(self) -> int:
        return len(self.endpoints)

    def candidates(self, key: str | None) -> list[Endpoint]:
        """Endpoints in the order to try them: healthy ones ranked, then ejected ones."""
        healthy = [e for e in self.endpoints if e.healthy]
        down = [e for e in self.endpoints if not e.healthy]
        if key and self.options.affinity:
            return self._ranked(key, healthy) + self._ranked(key, down)
        self._turn += 1
        if healthy:
            start = self._turn % len(healthy)
            healthy = healthy[start:] + healthy[:start]
        return healthy + down

    @staticmethod
    def _ranked(key: str, endpoints: list[Endpoint]) -> list[Endpoint]:
        by_url = {e.url: e for e in endpoints}
        return [by_url[url] for url in rendezvous_order(key, list(by_url))]

    def connect_timeout(self, endpoint: Endpoint, configured: float) -> float:
        """Seconds to wait for ``endpoint`` to accept a connection: the configured
        timeout, cut to ``failover_connect_timeout`` while another endpoint is healthy."""
        if any(e.healthy for e in self.endpoints if e is not endpoint):
            return min(configured, self.options.failover_connect_timeout)
        return configured

    def owner(self, key: str) -> Endpoint:
        """The endpoint ``key`` goes to now."""
        return self.candidates(key)[0]

    # -- outcomes ------------------------------------------------------------

    def started(self, endpoint: Endpoint) -> None:
        endpoint.requests += 1

    def succeeded(self, endpoint: Endpoint, seconds: float | None = None) -> None:
        if seconds is not None:
            endpoint.latencies_ms.append(seconds * 1000)
        self.last = endpoint
        if not endpoint.healthy:
            self._restore(endpoint)

    def failed(self, endpoint: Endpoint, reason: str, eject: bool = True) -> None:
        """A request on ``endpoint`` failed; ``eject`` when the endpoint itself is at fault."""
        endpoint.errors += 1
        endpoint.last_error = reason
        if eject:
            self.eject(endpoint, reason)

    def eject(self, endpoint: Endpoint, reason: str) -> None:
        if not endpoint.healthy:
            return
        endpoint.healthy = False
        endpoint.ejections += 1
        # With one endpoint there is nowhere to move: the engine's error says it all.
        level = logging.WARNING if len(self.endpoints) > 1 else logging.DEBUG
        log.log(level, "endpoint %s ejected: %s", endpoint.url, reason)
        self._signal()
        if self._probe is not None and len(self.endpoints) > 1:
            task = asyncio.get_running_loop().create_task(
                self._probe_until_back(endpoint), name=f"probe {endpoint.url}"
            )
            self._probes[endpoint.url] = task
            task.add_done_callback(self._probe_done)

    def _restore(self, endpoint: Endpoint) -> None:
        endpoint.healthy = True
        log.info("endpoint %s is back", endpoint.url)
        self._signal()
        task = self._probes.pop(endpoint.url, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _signal(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def _probe_until_back(self, endpoint: Endpoint) -> None:
        assert self._probe is not None
        delay = self.options.probe_initial
        while not endpoint.healthy:
            # Jitter: editors whose replica restarts do not probe in lockstep.
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            if endpoint.healthy:
                return
            if await self._probe(endpoint):
                self._probes.pop(endpoint.url, None)
                self._restore(endpoint)
                return
            delay = min(self.options.probe_max, delay * 2)

    def _probe_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("endpoint probe crashed", exc_info=error)

    async def close(self) -> None:
        tasks, self._probes = list(self._probes.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- reporting -----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "endpoints": [e.snapshot() for e in self.endpoints],
            "lastEndpoint": self.last.url if self.last else None,
        }
