"""One run's numbers, named alike in every flow so the UI's plots compare: records by outcome, lag, and
API usage (what the clients' stats moved by)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping


def record_numbers(*, synced: int, skipped: int, dead_lettered: int, failed: int,
                   lags: Iterable[float] = ()) -> dict[str, int | float]:  # fmt: skip
    """Records this run considered, by outcome, and how far behind their source they landed (seconds)."""
    ordered = sorted(lags)
    return {
        "records": synced + skipped + dead_lettered + failed,
        "records_synced": synced,
        "records_skipped": skipped,
        "records_dead_lettered": dead_lettered,
        "records_failed": failed,
        "lag_seconds_p50": float(statistics.median(ordered)) if ordered else 0.0,
        "lag_seconds_max": float(ordered[-1]) if ordered else 0.0,
    }


def stats_delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, float]:
    """What a client's cumulative stats moved by between two snapshots (clients live longer than a run)."""
    return {k: v - before.get(k, 0) for k, v in after.items() if isinstance(v, (int, float))}


def api_numbers(shopify_stats: Mapping[str, float], netsuite_stats: Mapping[str, float]) -> dict[str, int | float]:
    """API calls and throttle waits per system, named alike in every flow so the UI plots compare."""
    return {
        "shopify_api_calls": int(shopify_stats.get("calls", 0)),
        "shopify_throttle_wait_seconds": float(shopify_stats.get("throttle_wait_s", 0.0)),
        "netsuite_api_calls": int(netsuite_stats.get("calls", 0)),
        "netsuite_throttle_wait_seconds": float(netsuite_stats.get("throttle_wait_s", 0.0)),
    }
