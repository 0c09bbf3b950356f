"""API usage of one run, shared by every flow: what the clients' stats moved by, as numeric metadata."""

from __future__ import annotations

from collections.abc import Mapping


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
