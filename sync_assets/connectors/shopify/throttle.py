"""Client-side model of Shopify's cost bucket, shared by every process of the app, and the counters the
Dagster layer reports.

Shopify meters every app+shop pair with a leaky bucket of query-cost points and reports its level in
``extensions.cost.throttleStatus`` on every answer. Pacing ourselves from that report (waiting until the
bucket holds what the next query will be charged) is what keeps throttled answers rare; the THROTTLED
retry in the client is the safety net for estimates that were wrong or for other apps sharing the bucket.

The bucket is one per app and shop, but every Dagster run is its own process with its own client. So the
last report (level, size, restore rate, when) lives in a small JSON file under a file lock
(:class:`SharedLevel`) that every client of the shop reads before it sends and writes after each answer:
one run's pacing then accounts for what the others spent. Clients of the batch lane keep a reserve of the
bucket for the real-time lane (:class:`LanePacing`): they wait while the bucket is below it, and wait
through throttling up to a deadline they state instead of giving up after a count of retries.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from filelock import FileLock

from sync_assets.connectors.stats import CallStats


@dataclass(frozen=True)
class LanePacing:
    """How a client of one lane spends the shared bucket.

    ``reserve_fraction``: part of the bucket this client leaves for others (the real-time lane leaves
    nothing; the batch lane waits while the bucket is below the reserve). ``throttle_deadline_s``: how long
    the client keeps waiting through THROTTLED answers and pacing for one request before it fails (None:
    ``max_throttle_retries`` answers, the real-time lane's fail-fast). ``wait_for_bulk_slot``: queue for the
    app's one bulk-query slot (batch) or let the caller read another way while it is busy (real-time).
    """

    name: str
    reserve_fraction: float = 0.0
    throttle_deadline_s: float | None = None
    wait_for_bulk_slot: bool = False


REALTIME = LanePacing("realtime")
BATCH = LanePacing("batch", reserve_fraction=0.3, throttle_deadline_s=1800.0, wait_for_bulk_slot=True)


def lane_pacing(lane: str, *, reserve_fraction: float | None = None,
                throttle_deadline_s: float | None = None) -> LanePacing:  # fmt: skip
    """The pacing of a sync-policy lane (``realtime`` or ``batch``), optionally with the batch knobs overridden."""
    if lane == REALTIME.name:
        return REALTIME
    if lane != BATCH.name:
        raise ValueError(f"Shopify client lane must be 'realtime' or 'batch', got {lane!r}")
    if reserve_fraction is not None and not 0.0 <= reserve_fraction < 1.0:
        raise ValueError(f"batch reserve fraction must be in [0, 1), got {reserve_fraction!r}")
    return LanePacing(
        BATCH.name,
        BATCH.reserve_fraction if reserve_fraction is None else reserve_fraction,
        BATCH.throttle_deadline_s if throttle_deadline_s is None else throttle_deadline_s,
        True,
    )


class _LocalLevel:
    """The bucket level of this process only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, float] = {}

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, float]]:
        with self._lock:
            yield self._state


class SharedLevel:
    """The bucket level in a JSON file under an exclusive file lock, shared by every process of the shop.

    Wall-clock stamps (processes share no monotonic clock). An unreadable file (a crash mid-write) reads
    as "no report yet": the next answer writes a good one.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file_lock = FileLock(str(self.path) + ".lock")

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, float]]:
        with self._lock, self._file_lock:
            try:
                state = json.loads(self.path.read_text())
                state = state if isinstance(state, dict) else {}
            except (OSError, ValueError):
                state = {}
            before = dict(state)
            yield state
            if state != before:
                self.path.write_text(json.dumps(state))


def shared_state_file(directory: str | os.PathLike, shop_url: str, name: str) -> Path:
    """``<directory>/<shop host>.<name>``: one file per shop, whatever the process."""
    host = shop_url.split("://", 1)[-1].strip("/").replace(":", "_").replace("/", "_")
    return Path(directory) / f"{host}.{name}"


class CostBucket:
    """Last reported bucket level, refilled on our side at ``restoreRate`` points per second.

    ``level``: where the level lives (default: this process only; :class:`SharedLevel` for every process).
    """

    def __init__(self, clock: Callable[[], float] | None = None, level: SharedLevel | None = None) -> None:
        # A shared level needs wall-clock stamps; a private one is safer on the monotonic clock.
        self._clock = clock or (time.time if level is not None else time.monotonic)
        self._level = level if level is not None else _LocalLevel()
        self._lock = threading.Lock()
        # Requested cost last charged per document: the best estimate of what it will cost next time.
        self._expected: dict[int, float] = {}

    def observe(self, document: str, cost: dict[str, Any] | None) -> None:
        """Record ``extensions.cost`` from an answer; absent or partial cost data is simply ignored."""
        if not isinstance(cost, dict):
            return
        status = cost.get("throttleStatus") or {}
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)):
            with self._lock:
                self._expected[hash(document)] = float(requested)
        try:
            available = float(status["currentlyAvailable"])
            maximum = float(status["maximumAvailable"])
            restore = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        with self._level.locked() as state:
            state.update(available=available, maximum=maximum, restore_rate=restore, seen_at=self._clock())

    @property
    def maximum(self) -> float | None:
        with self._level.locked() as state:
            return state.get("maximum")

    @property
    def restore_rate(self) -> float | None:
        with self._level.locked() as state:
            return state.get("restore_rate")

    def available_now(self) -> float | None:
        with self._level.locked() as state:
            return self._refilled(state)

    def _refilled(self, state: dict[str, float]) -> float | None:
        try:
            available, maximum, restore, seen = (state["available"], state["maximum"], state["restore_rate"],
                                                 state["seen_at"])  # fmt: skip
        except KeyError:
            return None
        return min(maximum, available + max(0.0, self._clock() - seen) * restore)

    def wait_before(self, document: str, reserve: float = 0.0, reserve_fraction: float = 0.0) -> float:
        """Seconds to wait so the bucket holds this document's expected cost plus ``reserve`` points plus
        ``reserve_fraction`` of the bucket; 0 if unknown."""
        with self._lock:
            expected = self._expected.get(hash(document))
        with self._level.locked() as state:
            available = self._refilled(state)
            maximum, restore = state.get("maximum"), state.get("restore_rate")
        if expected is None or available is None or not restore or not maximum:
            return 0.0
        need = min(expected + reserve + reserve_fraction * maximum, maximum)
        if available >= need:
            return 0.0
        return (need - available) / restore

    def spend(self, document: str) -> None:
        """Debit the expected cost right away, so concurrent callers (threads, other processes) don't all see
        a full bucket."""
        with self._lock:
            expected = self._expected.get(hash(document))
        if expected is None:
            return
        with self._level.locked() as state:
            available = self._refilled(state)
            if available is None:
                return
            state.update(available=available - expected, seen_at=self._clock())


class ClientStats(CallStats):
    """Totals since the client was made.

    ``throttled`` counts THROTTLED/429 answers; ``paced`` counts waits taken *before* sending so that
    Shopify would not throttle; ``throttle_wait_s`` is the sum of both kinds of wait; ``cost`` is the sum
    of ``actualQueryCost``; ``bulk_slot_waits`` counts looks at a bulk slot someone else held;
    ``bulk_wait_s`` is the time spent waiting for our bulk operations to finish on Shopify's side.
    """

    COUNTS = ("calls", "retries", "throttled", "paced", "bulk_slot_waits")
    SECONDS = ("throttle_wait_s", "bulk_wait_s")
    AMOUNTS = ("cost",)
