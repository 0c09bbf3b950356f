"""Client-side pacing for NetSuite: one client's concurrency cap and the counters operators see.

This cap is per client (its threads); the account-wide budget that every client and process shares is
:mod:`sync_assets.connectors.netsuite.account_slots`, taken after this one for each request.

NetSuite's only rate limit is the number of requests in flight per account, shared with every other
integration; going over it costs a 429 round trip. The cap is a semaphore of ``max_concurrency`` slots
whose effective size shrinks to just under the in-flight count that drew a 429 and grows back one slot
after a run of clean answers — so a cap configured above the account's real limit converges on it
instead of hammering it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sync_assets.connectors.stats import CallStats


class ClientStats(CallStats):
    """calls = HTTP attempts sent; retries = attempts repeated after an error; throttled = 429 answers;
    throttle_wait_s / retry_wait_s = seconds slept before retrying a 429 / another failure;
    queue_wait_s = seconds spent waiting for a free concurrency slot."""

    COUNTS = ("calls", "retries", "throttled")
    SECONDS = ("throttle_wait_s", "retry_wait_s", "queue_wait_s")


@dataclass(frozen=True)
class Slot:
    in_flight_at_start: int  # our requests in flight, this one included, when it was sent


class ConcurrencyLimiter:
    def __init__(self, max_concurrency: int, *, grow_after: int = 20) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.max_concurrency = max_concurrency
        self._limit = max_concurrency
        self._in_flight = 0
        self._clean = 0
        self._grow_after = grow_after
        self._cond = threading.Condition()

    @property
    def limit(self) -> int:
        with self._cond:
            return self._limit

    @contextmanager
    def slot(self, stats: ClientStats | None = None) -> Iterator[Slot]:
        started = time.monotonic()
        with self._cond:
            while self._in_flight >= self._limit:
                self._cond.wait()
            self._in_flight += 1
            slot = Slot(self._in_flight)
        if stats is not None:
            stats.add(queue_wait_s=time.monotonic() - started)
        try:
            yield slot
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify()

    def throttled(self, slot: Slot) -> None:
        """A 429 came back: the account had no room for ``slot.in_flight_at_start`` of ours."""
        with self._cond:
            self._limit = max(1, min(self._limit, slot.in_flight_at_start - 1))
            self._clean = 0

    def succeeded(self) -> None:
        with self._cond:
            if self._limit >= self.max_concurrency:
                return
            self._clean += 1
            if self._clean >= self._grow_after:
                self._limit += 1
                self._clean = 0
                self._cond.notify()
