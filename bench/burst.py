"""Real-time lane under a burst: 2,000 storefront orders placed at once (sandbox control API), drained by
the real Dagster daemon (``dagster dev``) with the webhook receiver on, as ``sync-assets dev`` runs.

Reports time to drain (every order ``done`` in the ledger, then read back from NetSuite through SuiteQL),
how many orders runs it took (coalescing: a handful, never one per order), failures (runs, dead letters,
orders left undone: must be zero), and API economy from the sandbox's counters: NetSuite peak in flight
against the configured limit, throttled answers from each system (fine when the client waited and
retried; a failure is not). Figures are printed, never asserted.

    uv run python bench/burst.py                   # 2,000 orders
    uv run python bench/burst.py --quick           # 200 orders
    uv run python bench/burst.py --no-webhooks     # polling sensor only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sync_assets import settings  # noqa: E402
from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG  # noqa: E402
from sync_assets.devstack import DevStack, RunInfo, done_times  # noqa: E402
from sync_assets.domain.ids import order_external_id  # noqa: E402
from sync_assets.flows import reference  # noqa: E402

GIVE_UP_SECONDS = 1800.0
PLACE_CHUNK = 500  # control API calls of this many orders, back to back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/burst.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="200 orders")
    parser.add_argument("--no-webhooks", action="store_true", help="polling sensor only")
    args = parser.parse_args(argv)
    count = 200 if args.quick else args.orders
    if count < 1:
        parser.error("--orders must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        run(count, Path(tmp), webhooks=not args.no_webhooks)
    return 0


def figures(ctx) -> list:
    """bench/run.py entry: one burst (2,000 orders; 200 with --quick), webhooks on."""
    from _harness import Figure

    r = run(ctx.size(2000, 200), ctx.workdir, webhooks=True)
    note = f"{r['drained']}/{r['orders']} orders"
    return [
        Figure("burst", "time to drain", "s", [r["drain_seconds"]], note=note),
        Figure("burst", "orders runs", "runs", [r["runs"]], "a handful, not one per order"),
        Figure("burst", "orders runs in flight at once", "runs", [r["peak_runs"]], "1"),
        Figure("burst", "failed runs + dead letters + undone", "count",
               [r["failed_runs"] + r["dead_letters"] + r["undone"]], "0"),  # fmt: skip
        Figure("burst", "NetSuite peak in flight", "requests", [r["netsuite_peak"] or 0], f"≤ {r['limit']}"),
        Figure("burst", "NetSuite throttled answers", "count", [r["netsuite_throttled"]], note="retried by the client"),
        Figure("burst", "Shopify throttled answers", "count", [r["shopify_throttled"]], note="retried by the client"),
    ]


def run(count: int, root: Path, *, webhooks: bool) -> dict:
    limit = int(settings.BY_NAME["NETSUITE_MAX_CONCURRENCY"].default)
    print(f"== burst of {count} orders, webhooks {'on' if webhooks else 'off'}, NETSUITE_MAX_CONCURRENCY={limit}")
    began = time.monotonic()
    with DevStack(root, webhooks=webhooks, realtime_sensors=("orders_sensor",)) as stack:
        print(f"   stack ready in {time.monotonic() - began:.1f} s ({stack.dagster_url})", flush=True)
        control, ledger = stack.control, stack.ledger()
        control.reset_counters()
        t0 = time.time()
        gids: list[str] = []
        while len(gids) < count:
            gids += [o["id"] for o in control.place_orders(min(PLACE_CHUNK, count - len(gids)))]
        placed = time.time() - t0
        print(f"   placed {len(gids)} orders in {placed:.1f} s", flush=True)
        done: dict[str, float] = {}
        deadline = time.monotonic() + GIVE_UP_SECONDS
        last_report = 0.0
        while len(done) < len(gids) and time.monotonic() < deadline:
            done.update(done_times(ledger, "orders", set(gids) - set(done)))
            dead = ledger.dead_letters("orders")
            if len(done) + len(dead) >= len(gids):
                break
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                print(f"   {time.time() - t0:6.1f} s: {len(done)} done, {len(dead)} dead-lettered", flush=True)
            time.sleep(0.5)
        drained_at = max(done.values(), default=t0)
        # Let in-flight runs finish before counting them.
        settle = time.monotonic() + 60
        while any(r.status in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED") for r in stack.runs({FLOW_TAG: "orders"})):
            if time.monotonic() > settle:
                break
            time.sleep(0.5)
        runs = [r for r in stack.runs({FLOW_TAG: "orders"}) if r.created >= t0]
        counters = control.counters()
        dead = ledger.dead_letters("orders")
        failed_entries = [e for e in ledger.entries("orders") if e.status not in ("done",)]
        netsuite = stack.netsuite_client(max_concurrency=2)
        eids = [order_external_id(g) for g in gids]
        in_netsuite = reference.sales_order_totals(netsuite, eids)
        duplicates = {k: v for k, v in reference.count_by_external_id(netsuite, "SalesOrd", eids).items() if v > 1}
        counters_after = control.counters()  # our own read-back adds SuiteQL calls; the peak is from before

    c = counters.get("counters", {})
    by_status: dict[str, int] = {}
    for r in runs:
        key = f"{r.tags.get(TRIGGER_TAG, '?')}/{r.status.lower()}"
        by_status[key] = by_status.get(key, 0) + 1
    drain = drained_at - t0
    print(f"\n-- drained {len(done)}/{count} orders in {drain:.1f} s after the burst began "
          f"({len(done) / drain if drain > 0 else float('nan'):.1f} orders/s; placing them took {placed:.1f} s)")
    print(f"   read back through SuiteQL: {len(in_netsuite)} sales orders, {len(duplicates)} duplicated external ids")
    print(f"   orders runs: {len(runs)} ({', '.join(f'{v} {k}' for k, v in sorted(by_status.items())) or 'none'}); "
          f"at most {peak_runs_in_flight(runs)} in flight at once")
    for r in sorted(runs, key=lambda r: r.created):
        took = (r.ended - r.started) if r.ended and r.started else float("nan")
        print(f"     {r.run_id[:8]} {r.tags.get(TRIGGER_TAG, '?'):8} {r.status:8} created +{r.created - t0:6.1f} s, ran {took:6.1f} s")
    print(f"   failed runs: {sum(r.status == 'FAILURE' for r in runs)}; dead letters: {len(dead)} "
          f"({sum('throttl' in d.reason.lower() for d in dead)} for throttling); ledger entries not done: "
          f"{len(failed_entries)}")  # fmt: skip
    print(f"   NetSuite: peak in flight {counters.get('netsuite_peak_admitted')} (limit {limit}; middleware peaks "
          f"{counters.get('peak_in_flight')}), throttled answers {c.get('netsuite.throttled', 0)}, "
          f"writes {c.get('netsuite.writes', 0)}, requests {c.get('requests.netsuite', 0)}")  # fmt: skip
    print(f"   Shopify: throttled answers {c.get('shopify.throttled', 0)}, cost used {c.get('shopify.cost', 0)}, "
          f"requests {c.get('requests.shopify', 0)}; webhooks delivered {c.get('webhooks.delivered', 0)}")
    if counters_after.get("netsuite_peak_admitted") != counters.get("netsuite_peak_admitted"):
        print(f"   (after our read-back: NetSuite peak {counters_after.get('netsuite_peak_admitted')})")
    return {
        "orders": count, "drained": len(done), "drain_seconds": drain, "runs": len(runs), "limit": limit,
        "failed_runs": sum(r.status == "FAILURE" for r in runs), "dead_letters": len(dead),
        "undone": len(failed_entries), "in_netsuite": len(in_netsuite), "duplicates": len(duplicates),
        "netsuite_peak": counters.get("netsuite_peak_admitted"), "netsuite_throttled": c.get("netsuite.throttled", 0),
        "shopify_throttled": c.get("shopify.throttled", 0), "peak_runs": peak_runs_in_flight(runs),
    }  # fmt: skip


def peak_runs_in_flight(runs: list[RunInfo]) -> int:
    """Most orders runs alive at one moment, from creation to end (the coalescing invariant says 1)."""
    edges = sorted([(r.created, 1) for r in runs] + [(r.ended or float("inf"), -1) for r in runs],
                   key=lambda edge: (edge[0], edge[1]))  # an end before a start at the same instant
    peak = alive = 0
    for _, step in edges:
        alive += step
        peak = max(peak, alive)
    return peak


if __name__ == "__main__":
    sys.exit(main())
