"""What every channel shares: metrics, the timed assistant call, update deduplication, the
per-person rate limit and the webhook secret check."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram

from bot.types import KINDS, Reply


class UpdateClaims(Protocol):
    """Where channels record the updates they handled (`bot.storage.Store` in production)."""

    def claim_update(self, channel: str, key: str) -> bool: ...


class Metrics:
    """Prometheus metrics of the channels, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.questions = Counter(
            "trolyso_questions",
            "Questions answered, by channel and kind: the rows the reports count (docs/reports.md).",
            ["channel", "kind"],
            registry=self.registry,
        )
        self.errors = Counter(
            "trolyso_errors",
            "Errors while answering or sending, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "trolyso_answer_seconds",
            "Time the assistant took to produce a reply, by channel.",
            ["channel"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        for channel in ("telegram", "zalo", "web"):  # export zeros so every series exists from the start
            self.errors.labels(channel)
            for kind in KINDS:
                self.questions.labels(channel, kind)

    def error(self, channel: str) -> None:
        self.errors.labels(channel).inc()


async def ask(
    metrics: Metrics | None, channel: str, call: Callable[..., Reply], *args: Any
) -> Reply:
    """Run a CPU-bound assistant call in a worker thread, recording kind and latency."""
    started = time.perf_counter()
    reply = await asyncio.to_thread(call, *args)  # failures are counted by the channel's error path
    if metrics:
        metrics.latency.labels(channel).observe(time.perf_counter() - started)
        if reply.log_id is not None or reply.kind == "chitchat":  # a question as the reports count it
            metrics.questions.labels(channel, reply.kind).inc()
    return reply


async def claim(claims: UpdateClaims | None, channel: str, key: str) -> bool:
    """True the first time an update key is seen (across processes, via the store)."""
    if claims is None:  # nothing records updates (no database): handle everything
        return True
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:48]  # keys hold raw chat ids
    return await asyncio.to_thread(claims.claim_update, channel, digest)


class UserRateLimit:
    """At most `per_minute` questions per user in any 60-second window; 0 turns it off."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def allow(self, user: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = self._clock()
        if len(self._hits) > 10_000:  # forget users idle for a minute
            for key in [k for k, hits in self._hits.items() if now - hits[-1] >= 60]:
                del self._hits[key]
        hits = self._hits.setdefault(user, deque())
        while hits and now - hits[0] >= 60:
            hits.popleft()
        if len(hits) >= self.per_minute:
            return False
        hits.append(now)
        return True


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a webhook secret header."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
