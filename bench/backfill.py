"""Order history backfill: wall time and peak RSS of the process doing it, 100,000 vs 1,000,000 orders.

The sandbox is given an order history (``POST /_sandbox/shopify/history``: generated on demand, streamed to
the bulk result file) and a fresh process runs :func:`run_order_history_backfill` over the whole range, as
a Dagster run would: one bulk operation, its JSONL streamed, landed in Parquet chunks. That process reports
its own peak RSS (``VmHWM``, the kernel's high-water mark of its address space: nothing sampled, nothing
missed; not ``ru_maxrss``, which also counts this process's peak at the spawn, see
:func:`_harness.own_peak_rss_mib`) and the backfill's seconds; the merge of the landed files into ``raw``
(``warehouse_load``'s one statement per table) runs after it in a process of its own, which reports the same.

Target (DESIGN.md): a 1,000,000-order backfill within **1 GiB RSS, flat** (the same peak as 100,000).
The sandbox's bulk timing model is off (``bulk_seconds`` 0): the figures are our side's cost, not the
storefront's export time. Figures are printed, never asserted.

    uv run python bench/backfill.py            # 100,000 and 1,000,000 orders
    uv run python bench/backfill.py --quick    # 500 and 2,000 (a smoke run)
    uv run python bench/backfill.py --sizes 20000 200000   # other sizes
    uv run python bench/backfill.py --latency  # order → NetSuite through the daemon, alone vs beside a backfill
    uv run python bench/run.py backfill
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
for _p in (ROOT, BENCH_DIR):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _harness import Context, Figure, Stopwatch, own_peak_rss_mib  # noqa: E402

BENCH = "backfill"
FULL, QUICK = (100_000, 1_000_000), (500, 2_000)
START, END = "2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z"  # two years of history
CATALOG = {"seed": 5, "products": 200, "variants_per_product": 3, "customers": 500, "locations": 3}


def figures(ctx: Context, counts: list[int] | None = None) -> list[Figure]:
    from sync_assets.sandbox.process import running_sandbox

    out: list[Figure] = []
    with running_sandbox(ctx.workdir / "sandbox", CATALOG, startup_seconds=180) as sandbox:
        sandbox.control.configure(bulk_seconds=0, bulk_seconds_per_1000_objects=0)
        for count in counts or ctx.size(FULL, QUICK):
            runs = [one_run(ctx, sandbox, count, i) for i in range(ctx.repeats)]
            note = f"{count:,} orders over 2 years; one bulk operation; chunks of 10,000"
            out += [
                Figure(BENCH, f"{count:,} orders: backfill wall time", "s", [r["wall_seconds"] for r in runs],
                       note=note + "; fresh process incl. imports"),
                Figure(BENCH, f"{count:,} orders: orders/s", "orders/s",
                       [r["orders"] / r["backfill_seconds"] for r in runs], note="bulk wait + stream + landing"),
                Figure(BENCH, f"{count:,} orders: peak RSS", "MiB", [r["peak_rss_mib"] for r in runs],
                       target="≤ 1024 MiB, flat", note="the backfill's process, VmHWM"),
                Figure(BENCH, f"{count:,} orders: merge into raw", "s", [r["merge_seconds"] for r in runs],
                       note="warehouse_load's merge of the landed files"),
                Figure(BENCH, f"{count:,} orders: merge peak RSS", "MiB", [r["merge_peak_rss_mib"] for r in runs],
                       note="the merging process, VmHWM"),
            ]
    return out


def one_run(ctx: Context, sandbox, count: int, i: int) -> dict:
    work = ctx.workdir / f"backfill-{count}-{i}"
    work.mkdir(parents=True)
    sandbox.control.reset(**CATALOG)
    sandbox.control.configure(bulk_seconds=0, bulk_seconds_per_1000_objects=0)
    sandbox.control.seed_order_history(count, START, END, seed=i)
    with Stopwatch() as wall:
        report = _in_child("--child", sandbox.url, str(work))
    merged = _in_child("--merge-child", str(work))
    report.update(wall_seconds=wall.seconds, merge_seconds=merged["merge_seconds"], appended=merged["appended"],
                  merge_peak_rss_mib=merged["peak_rss_mib"])
    ctx.log(f"{count:,} orders: {report['orders']:,} landed in {report['files']} files, backfill "
            f"{report['backfill_seconds']:.1f} s (wall {wall.seconds:.1f} s), peak RSS {report['peak_rss_mib']:.0f} MiB "
            f"(ru_maxrss {report['ru_maxrss_mib']:.0f} MiB); merge {merged['merge_seconds']:.1f} s, peak RSS "
            f"{merged['peak_rss_mib']:.0f} MiB, {merged['appended']:,} rows appended")
    return report


def _in_child(*args: str) -> dict:
    """Run this file with ``args`` in a fresh process; the JSON line it prints last."""
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def merge_child(work: str) -> None:
    """``warehouse_load``'s merge of everything the backfill landed, in its own process (its memory is its own)."""
    from sync_assets.state.ledger import Ledger
    from sync_assets.warehouse.merge import merge_all_pending

    with Stopwatch() as merge:  # in batches of MAX_ROWS_PER_MERGE, as successive warehouse_load runs take them
        merged = merge_all_pending(str(Path(work) / "warehouse.duckdb"), Ledger(Path(work) / "ledger.sqlite"))
    print(json.dumps({"merge_seconds": merge.seconds, "appended": merged.appended_rows,
                      "peak_rss_mib": own_peak_rss_mib()}))


def child(url: str, work: str) -> None:
    """The backfill's own process: run it, print one JSON line with what it measured of itself."""
    from sync_assets.connectors.shopify import ShopifyClient
    from sync_assets.flows.order_history import run_order_history_backfill
    from sync_assets.sandbox import credentials as C
    from sync_assets.state.ledger import Ledger
    from sync_assets.warehouse.landing_area import LandingArea

    ledger = Ledger(Path(work) / "ledger.sqlite")
    shopify = ShopifyClient(url, C.SHOPIFY_ACCESS_TOKEN, api_version=C.SHOPIFY_API_VERSION, timeout=120)
    started = time.perf_counter()
    result = run_order_history_backfill(
        shopify, ledger, LandingArea(Path(work) / "landing", ledger), run_id="bench",
        start=datetime.fromisoformat(START), end=datetime.fromisoformat(END), timezone="UTC",
    )  # fmt: skip
    seconds = time.perf_counter() - started
    # ru_maxrss too, for comparison with the figures taken before: it counts the parent's peak at the spawn.
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"orders": result.orders_landed, "files": result.files, "backfill_seconds": seconds,
                      "peak_rss_mib": own_peak_rss_mib(), "ru_maxrss_mib": inherited,
                      "dead_lettered": result.dead_lettered}))


# -- order placed → NetSuite while a backfill and the catalog run, vs without --------------------------

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""
BACKFILL_STATUS = """
query Status($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""
HISTORY_MONTHS = [f"2025-{m:02d}-01" for m in range(1, 13)]


def latency(orders_per_phase: int, history: int, workdir: Path) -> dict:
    """Two phases of ``orders_per_phase`` orders through the real daemon (webhooks on): alone, then while
    a backfill of ``history`` orders (launched as the UI launches one) and the catalog job run."""
    from latency import percentile
    from streams import launch

    from sync_assets.defs import catalog as catalog_defs
    from sync_assets.devstack import DevStack, done_times, undiscounted_order_seeds

    with DevStack(workdir / "stack", webhooks=True) as stack:
        seeds = undiscounted_order_seeds(stack.catalog)
        stack.control.configure(bulk_seconds=2, bulk_seconds_per_1000_objects=0)
        stack.control.seed_order_history(history, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z", seed=1)
        alone = _phase(stack, seeds, orders_per_phase, done_times)
        answer = stack.graphql(LAUNCH_BACKFILL, {"params": {
            "partitionNames": HISTORY_MONTHS, "fromFailure": False,
            "assetSelection": [{"path": ["warehouse", "shopify_order_history"]}]}})["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill: {answer}")
        backfill_id = answer["backfillId"]
        print(f"   launched backfill {backfill_id} of {len(HISTORY_MONTHS)} months ({history:,} orders)", flush=True)
        launch(stack, catalog_defs.JOB_NAME, "catalog")
        busy = _phase(stack, seeds, orders_per_phase, done_times)
        status, began = None, time.monotonic()
        while time.monotonic() - began < 900:
            status = stack.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"].get("status")
            if status not in ("REQUESTED", "CANCELING", None):
                break
            time.sleep(2)
        history_runs = [r for r in stack.runs() if "dagster/backfill" in r.tags]
        print(f"   backfill {status}; its runs: {[(r.job_name, r.status) for r in history_runs]}", flush=True)
    stats = {}
    for name, values in (("alone", alone), ("busy", busy)):
        stats[name] = {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": len(values)}
    stats["backfill_status"] = status
    return stats


def _phase(stack, seeds, count: int, done_times, interval: float = 3.0, give_up: float = 120.0) -> list[float]:
    ledger = stack.ledger()
    placed: dict[str, float] = {}
    for _ in range(count):
        at = time.time()
        (order,) = stack.control.place_orders(1, seed=next(seeds))
        placed[order["id"]] = at
        time.sleep(interval)
    deadline = time.monotonic() + give_up
    done: dict[str, float] = {}
    while time.monotonic() < deadline and len(done) < len(placed):
        done.update(done_times(ledger, "orders", set(placed) - set(done)))
        time.sleep(0.25)
    return [done[g] - placed[g] for g in done]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("URL", "WORKDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--merge-child", metavar="WORKDIR", help=argparse.SUPPRESS)
    parser.add_argument("--latency", action="store_true",
                        help="order placed → NetSuite through the daemon, alone vs beside a backfill + catalog run")
    parser.add_argument("--orders", type=int, default=20, help="orders per latency phase")
    parser.add_argument("--history", type=int, default=100_000, help="orders the latency run's backfill reads")
    parser.add_argument("--sizes", type=int, nargs="+", metavar="N",
                        help="backfill these order counts instead of 100,000 and 1,000,000")
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.merge_child:
        merge_child(args.merge_child)
        return 0
    import tempfile

    if args.latency:
        with tempfile.TemporaryDirectory(prefix="bench-backfill-latency-") as tmp:
            stats = latency(5 if args.quick else args.orders, 2_000 if args.quick else args.history, Path(tmp))
        for name in ("alone", "busy"):
            s = stats[name]
            label = "without batch work" if name == "alone" else "beside backfill + catalog"
            print(f"order placed → NetSuite sales order, {label}: p50 {s['p50']:.2f} s  p95 {s['p95']:.2f} s  "
                  f"({s['n']} orders)")
        print(f"backfill status: {stats['backfill_status']}")
        return 0

    from _harness import table

    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        figs = figures(Context(quick=args.quick, repeats=1, workdir=Path(tmp)), args.sizes)
    print(table(figs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
