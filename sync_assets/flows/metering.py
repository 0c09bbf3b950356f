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


def api_numbers(shopify_stats: Mapping[str, float], netsuite_stats: Mapping[str, float], *,
                examined: int, synced: int) -> dict[str, int | float]:
    """What the run moved and what it cost, named alike in every flow so the UI plots compare.

    ``examined``: records the run looked at (read or checked against the ledger); ``synced``: records it
    wrote to the target. Per-synced-record figures divide by ``max(synced, 1)``: a run that synced nothing
    shows its whole spend as the price of nothing, which is the figure to watch. Every key is there every
    run (zero when nothing happened), so the UI's plots have no gaps.
    """
    per = max(synced, 1)
    points = float(shopify_stats.get("cost", 0.0))
    netsuite_calls = int(netsuite_stats.get("calls", 0))
    return {
        "records_examined": int(examined),
        "shopify_api_calls": int(shopify_stats.get("calls", 0)),
        "shopify_cost_points": points,
        "shopify_cost_points_per_synced_record": round(points / per, 3),
        "shopify_throttled": int(shopify_stats.get("throttled", 0)),  # THROTTLED answers (HTTP 200), retried
        "shopify_throttle_wait_seconds": float(shopify_stats.get("throttle_wait_s", 0.0)),
        "shopify_bulk_slot_waits": int(shopify_stats.get("bulk_slot_waits", 0)),
        "netsuite_api_calls": netsuite_calls,
        "netsuite_api_calls_per_synced_record": round(netsuite_calls / per, 3),
        "netsuite_throttled": int(netsuite_stats.get("throttled", 0)),  # 429 answers, retried
        "netsuite_throttle_wait_seconds": float(netsuite_stats.get("throttle_wait_s", 0.0)),
    }
