"""Counters for ``dscoder/stats`` and ``complete --stats``.

Every stage reports here, so one flat object explains where the time and the
model work went. Latencies are kept in a bounded window so memory stays flat.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engines.fleet import percentile


@dataclass
class Stats:
    """Process-wide completion counters (thread-safe: engines report from workers)."""

    requests: int = 0
    cache_hits: int = 0
    inflight_reuses: int = 0
    """Requests served by adopting a generation that was already running."""
    prefetches: int = 0
    engine_calls: int = 0
    prompt_tokens: int = 0
    """Prompt tokens the model evaluated (after KV/prefix-cache reuse)."""
    prompt_tokens_total: int = 0
    """Prompt tokens sent, before reuse."""
    generated_tokens: int = 0
    cancelled: int = 0
    """Engine runs stopped before they finished."""
    requests_cancelled: int = 0
    """Requests that ended cancelled: by the client's $/cancelRequest or superseded."""
    superseded: int = 0
    skipped: int = 0
    empty: int = 0
    errors: int = 0
    secrets_scrubbed: int = 0
    """Credentials replaced by a placeholder in prompts sent to an engine."""
    excluded: int = 0
    """Requests refused because their file is excluded (completion/privacy.py)."""
    last_latency_ms: float = 0.0
    last_engine_ms: float = 0.0
    last_error: str | None = None
    last_request_ms: dict[str, float] = field(default_factory=dict)
    """The last answered request's time, split: lastServerMs (in the server),
    lastDebounceMs, lastEngineWaitMs (generating, or waiting on a generation it
    adopted); keyed as in the snapshot."""
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    engine_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    overhead_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    """Request time outside the engine, for requests that called it."""
    debounce_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    """Debounce waited by each request that reached the engine stage."""
    prompt_eval: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=1000))
    """(evaluated, total) prompt tokens per engine call."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def record_latency(self, total_ms: float, engine_ms: float | None = None) -> None:
        with self._lock:
            self.latencies_ms.append(total_ms)
            self.last_latency_ms = total_ms
            if engine_ms is not None:
                self.engine_ms.append(engine_ms)
                self.overhead_ms.append(max(0.0, total_ms - engine_ms))
                self.last_engine_ms = engine_ms

    def record_request(self, server_ms: float, debounce_ms: float, engine_wait_ms: float) -> None:
        with self._lock:
            self.last_request_ms = {
                "lastServerMs": round(server_ms, 3),
                "lastDebounceMs": round(debounce_ms, 3),
                "lastEngineWaitMs": round(engine_wait_ms, 3),
            }

    def record_debounce(self, waited_ms: float) -> None:
        with self._lock:
            self.debounce_ms.append(waited_ms)

    def record_prompt(self, evaluated: int, total: int) -> None:
        with self._lock:
            self.prompt_eval.append((evaluated, total))

    def prompt_eval_log(self) -> list[list[int]]:
        """[evaluated, total] prompt tokens of the latest engine calls, oldest first."""
        with self._lock:
            return [[evaluated, total] for evaluated, total in self.prompt_eval]

    def snapshot(self) -> dict[str, Any]:
        """A flat JSON-able view, camelCase for the protocol."""
        with self._lock:
            latencies = list(self.latencies_ms)
            engine = list(self.engine_ms)
            overhead = list(self.overhead_ms)
            debounce = list(self.debounce_ms)
            evaluated = [float(e) for e, _ in self.prompt_eval]
            fractions = [e / t for e, t in self.prompt_eval if t]
            return {
                "requests": self.requests,
                "cacheHits": self.cache_hits,
                "inflightReuses": self.inflight_reuses,
                "prefetches": self.prefetches,
                "engineCalls": self.engine_calls,
                "promptTokens": self.prompt_tokens,
                "promptTokensTotal": self.prompt_tokens_total,
                "generatedTokens": self.generated_tokens,
                "cancelled": self.cancelled,
                "requestsCancelled": self.requests_cancelled,
                "superseded": self.superseded,
                "skipped": self.skipped,
                "empty": self.empty,
                "errors": self.errors,
                "secretsScrubbed": self.secrets_scrubbed,
                "excluded": self.excluded,
                "latencyP50Ms": round(percentile(latencies, 0.5), 2),
                "latencyP95Ms": round(percentile(latencies, 0.95), 2),
                "engineP50Ms": round(percentile(engine, 0.5), 2),
                "engineP95Ms": round(percentile(engine, 0.95), 2),
                "overheadP50Ms": round(percentile(overhead, 0.5), 3),
                "overheadP95Ms": round(percentile(overhead, 0.95), 3),
                "debounceP50Ms": round(percentile(debounce, 0.5), 2),
                "promptTokensEvaluatedP50": percentile(evaluated, 0.5),
                "promptEvaluatedFractionP50": round(percentile(fractions, 0.5), 4),
                "promptTokensEvaluatedP95": percentile(evaluated, 0.95),
                "promptEvaluatedFractionP95": round(percentile(fractions, 0.95), 4),
                "lastLatencyMs": round(self.last_latency_ms, 2),
                "lastEngineMs": round(self.last_engine_ms, 2),
                "lastError": self.last_error,
                **self.last_request_ms,
            }
