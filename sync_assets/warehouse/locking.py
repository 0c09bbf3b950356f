"""Waiting for DuckDB's file lock, briefly: one read-write process per file, readers only without it.

Whoever cannot get the lock within its wait gives up cleanly (:class:`WarehouseLockedError`) and tries
again on its next run; nobody retries into the lock for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import duckdb

from sync_assets.connectors.http import Backoff

T = TypeVar("T")


class WarehouseLockedError(Exception):
    """The live warehouse stayed locked by another process for the whole wait."""


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "resource temporarily unavailable" in text)


def retry_locked(action: Callable[[], T], path: str, timeout_s: float) -> tuple[T, float]:
    """``action()`` (a connect or an ATTACH of ``path``), retrying lock conflicts with jittered backoff for up
    to ``timeout_s``; returns its result and the seconds waited."""
    backoff = Backoff(max_attempts=1_000, base_seconds=0.02, cap_seconds=1.0)
    start = time.monotonic()
    attempt = 0
    while True:
        try:
            return action(), time.monotonic() - start
        except duckdb.Error as exc:
            waited = time.monotonic() - start
            if not is_lock_error(exc):
                raise
            if waited >= timeout_s:
                raise WarehouseLockedError(
                    f"live warehouse {path} stayed locked by another process for {waited:.1f}s "
                    f"({attempt + 1} attempts); trying again on the next run. Last error: {exc}"
                ) from exc
            time.sleep(min(backoff.delay(attempt), max(0.0, timeout_s - waited)))
            attempt += 1
