"""Client-side model of Shopify's cost bucket, and the counters the Dagster layer reports.

Shopify meters every app+shop pair with a leaky bucket of query-cost points and reports its level in
``extensions.cost.throttleStatus`` on every answer. Pacing ourselves from that report (waiting until the
bucket holds what the next query will be charged) is what keeps throttled answers rare; the THROTTLED
retry in the client is the safety net for estimates that were wrong or for other apps sharing the bucket.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from sync_assets.connectors.stats import CallStats


class CostBucket:
    """Last reported bucket level, refilled on our side at ``restoreRate`` points per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.maximum: float | None = None
        self.restore_rate: float | None = None
        self._available: float | None = None
        self._seen_at = 0.0
        # Requested cost last charged per document: the best estimate of what it will cost next time.
        self._expected: dict[int, float] = {}

    def observe(self, document: str, cost: dict[str, Any] | None) -> None:
        """Record ``extensions.cost`` from an answer; absent or partial cost data is simply ignored."""
        if not isinstance(cost, dict):
            return
        status = cost.get("throttleStatus") or {}
        with self._lock:
            requested = cost.get("requestedQueryCost")
            if isinstance(requested, (int, float)):
                self._expected[hash(document)] = float(requested)
            try:
                available = float(status["currentlyAvailable"])
                maximum = float(status["maximumAvailable"])
                restore = float(status["restoreRate"])
            except (KeyError, TypeError, ValueError):
                return
            self._available, self.maximum, self.restore_rate = available, maximum, restore
            self._seen_at = self._clock()

    def available_now(self) -> float | None:
        with self._lock:
            return self._available_locked()

    def _available_locked(self) -> float | None:
        if self._available is None or self.restore_rate is None or self.maximum is None:
            return None
        refilled = self._available + (self._clock() - self._seen_at) * self.restore_rate
        return min(self.maximum, refilled)

    def wait_before(self, document: str, reserve: float = 0.0) -> float:
        """Seconds to wait so the bucket holds this document's expected cost (plus ``reserve``); 0 if unknown."""
        with self._lock:
            expected = self._expected.get(hash(document))
            available = self._available_locked()
            if expected is None or available is None or not self.restore_rate:
                return 0.0
            need = min(expected + reserve, self.maximum or expected + reserve)
            if available >= need:
                return 0.0
            return (need - available) / self.restore_rate

    def spend(self, document: str) -> None:
        """Debit the expected cost right away, so concurrent callers on this client don't all see a full bucket."""
        with self._lock:
            expected = self._expected.get(hash(document))
            available = self._available_locked()
            if expected is None or available is None:
                return
            self._available = available - expected
            self._seen_at = self._clock()


class ClientStats(CallStats):
    """Totals since the client was made.

    ``throttled`` counts THROTTLED/429 answers; ``paced`` counts waits taken *before* sending so that
    Shopify would not throttle; ``throttle_wait_s`` is the sum of both kinds of wait; ``cost`` is the sum
    of ``actualQueryCost``.
    """

    COUNTS = ("calls", "retries", "throttled", "paced")
    SECONDS = ("throttle_wait_s",)
    AMOUNTS = ("cost",)
