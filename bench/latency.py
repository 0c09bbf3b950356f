"""Real-time lane latency: storefront order placed → sales order written in NetSuite, through the real
Dagster daemon (``dagster dev``) on this machine, in two modes: polling only (no webhook receiver) and
webhooks on (receiver + polling sensor, as ``sync-assets dev`` runs).

Each order is timed from just before the sandbox's control API places it (same code path as
``orderCreate``) to the ledger's ``done`` stamp, which the run writes right after NetSuite confirmed the
sales order. The run that wrote it is the orders run whose [start, end] holds that stamp, which splits
the time in three:

  trigger wait   placement → run created (sensor tick or webhook launch)
  run start      run created → RUN_START (process spawn + imports of dagster and the project)
  execution      RUN_START → sales order written (resources, Shopify read, NetSuite writes)

Orders come from seeds whose order has no discount code (the shipped policy names no NetSuite discount
item, so discounted orders are dead-lettered by design). The first order of each mode is a warm-up (the first run pays cold caches) and is not counted.
Figures are printed, never asserted. Targets (DESIGN.md): polling p95 ≤ 8 s, p50 ≤ 5.5 s;
webhooks p95 ≤ 4 s, p50 ≤ 2.5 s.

    uv run python bench/latency.py            # 30 orders per mode
    uv run python bench/latency.py --quick    # 5 orders per mode
    uv run python bench/latency.py --mode webhooks --orders 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sync_assets.defs.lanes import FLOW_TAG, TRIGGER_TAG  # noqa: E402
from sync_assets.devstack import DevStack, RunInfo, done_times, undiscounted_order_seeds  # noqa: E402
from sync_assets.domain.ids import order_external_id  # noqa: E402
from sync_assets.flows import reference  # noqa: E402

TARGETS = {"polling": {"p50": 5.5, "p95": 8.0}, "webhooks": {"p50": 2.5, "p95": 4.0}}
GIVE_UP_SECONDS = 120.0


@dataclass
class OrderTiming:
    gid: str
    placed: float
    done: float | None = None
    run: RunInfo | None = None

    @property
    def total(self) -> float | None:
        return None if self.done is None else self.done - self.placed

    def parts(self) -> tuple[float, float, float] | None:
        """(trigger wait, run start, execution); a run created before the order counts 0 trigger wait."""
        if self.done is None or self.run is None or self.run.started is None:
            return None
        created = max(self.run.created, self.placed)
        return created - self.placed, max(0.0, self.run.started - created), self.done - max(self.run.started, self.placed)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (f"p50 {percentile(values, 50):6.2f}  p95 {percentile(values, 95):6.2f}  max {max(values):6.2f}"
            f"  min {min(values):6.2f}  mean {statistics.fmean(values):6.2f}")  # fmt: skip


def _wait_done(stack: DevStack, ledger, timings: list[OrderTiming], give_up: float) -> None:
    """Poll the ledger every 100 ms; keep the first done stamp seen for each order."""
    deadline = time.monotonic() + give_up
    pending = {t.gid: t for t in timings if t.done is None}
    while pending and time.monotonic() < deadline:
        for gid, stamp in done_times(ledger, "orders", pending).items():
            pending.pop(gid).done = stamp
        if pending:
            time.sleep(0.1)


def _attribute_runs(stack: DevStack, timings: list[OrderTiming]) -> None:
    runs = [r for r in stack.runs({FLOW_TAG: "orders"}) if r.started is not None]
    for t in timings:
        if t.done is None:
            continue
        holders = [r for r in runs if r.started <= t.done <= (r.ended or float("inf"))]
        t.run = max(holders, key=lambda r: r.started, default=None)


def run_mode(mode: str, orders: int, root: Path, rng: random.Random, verbose: bool) -> dict:
    webhooks = mode == "webhooks"
    print(f"\n== {mode}: starting the stack (sandbox, dagster dev{', webhook receiver' if webhooks else ''}) ...",
          flush=True)  # fmt: skip
    began = time.monotonic()
    with DevStack(root / mode, webhooks=webhooks, realtime_sensors=("orders_sensor",)) as stack:
        print(f"   ready in {time.monotonic() - began:.1f} s ({stack.dagster_url})", flush=True)
        ledger = stack.ledger()
        control = stack.control
        seeds = undiscounted_order_seeds(stack.catalog)
        warm = OrderTiming(control.place_orders(1, seed=next(seeds))[0]["id"], time.time())
        _wait_done(stack, ledger, [warm], GIVE_UP_SECONDS)
        print(f"   warm-up order: {warm.total:.2f} s" if warm.total else "   warm-up order never synced", flush=True)
        timings: list[OrderTiming] = []
        for i in range(orders):
            time.sleep(rng.uniform(0.5, 2.0))
            placed = time.time()
            (order,) = control.place_orders(1, seed=next(seeds))
            timings.append(OrderTiming(order["id"], placed))
            _wait_done(stack, ledger, timings, 0)  # non-blocking sweep
        _wait_done(stack, ledger, timings, GIVE_UP_SECONDS)
        _attribute_runs(stack, timings)
        netsuite = stack.netsuite_client()
        in_netsuite = reference.sales_order_totals(netsuite, [order_external_id(t.gid) for t in timings])
        ticks = stack.sensor_ticks("orders_sensor", limit=200)
        runs = [r for r in stack.runs({FLOW_TAG: "orders"}) if r.created >= timings[0].placed] if timings else []
    return _report(mode, timings, in_netsuite, ticks, runs, verbose)


def _report(mode, timings, in_netsuite, ticks, runs, verbose) -> dict:
    done = [t for t in timings if t.total is not None]
    parts = [p for p in (t.parts() for t in done) if p is not None]
    totals = [t.total for t in done]
    target = TARGETS[mode]
    print(f"\n-- {mode}: {len(done)}/{len(timings)} orders synced, {len(in_netsuite)} sales orders read back "
          f"through SuiteQL; {len(runs)} orders runs ({_triggers(runs)})")  # fmt: skip
    if verbose:
        print(f"   {'order':>14} {'total':>7} {'trigger':>8} {'start':>7} {'exec':>7}  run")
        for t in timings:
            p = t.parts()
            cells = "".join(f"{x:8.2f}" for x in p) if p else "     n/a"
            total = f"{t.total:7.2f}" if t.total is not None else "    n/a"
            print(f"   {t.gid.rsplit('/', 1)[-1]:>14} {total}{cells}  {t.run.run_id[:8] if t.run else '-'}")
    print(f"   placement → SO   {summary(totals)}   (target p50 ≤ {target['p50']} s, p95 ≤ {target['p95']} s)")
    print(f"   trigger wait     {summary([p[0] for p in parts])}")
    print(f"   run start        {summary([p[1] for p in parts])}")
    print(f"   execution        {summary([p[2] for p in parts])}")
    durations = [t["endTimestamp"] - t["timestamp"] for t in ticks if t.get("endTimestamp")]
    starts = sorted(t["timestamp"] for t in ticks)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    print(f"   sensor tick dur. {summary(durations)}")
    print(f"   sensor tick gap  {summary(gaps)}")
    met = bool(totals) and percentile(totals, 50) <= target["p50"] and percentile(totals, 95) <= target["p95"]
    print(f"   targets {'met' if met else 'MISSED'}")
    return {
        "mode": mode, "orders": len(timings), "synced": len(done), "in_netsuite": len(in_netsuite), "runs": len(runs),
        "p50": percentile(totals, 50), "p95": percentile(totals, 95), "max": max(totals, default=float("nan")),
        "trigger_p50": percentile([p[0] for p in parts], 50), "start_p50": percentile([p[1] for p in parts], 50),
        "exec_p50": percentile([p[2] for p in parts], 50), "targets_met": met,
    }  # fmt: skip


def _triggers(runs: list[RunInfo]) -> str:
    counts: dict[str, int] = {}
    for r in runs:
        key = f"{r.tags.get(TRIGGER_TAG, '?')}/{r.status.lower()}"
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"


def import_seconds(repeats: int = 3) -> float:
    """Fresh-interpreter wall time of ``import sync_assets.definitions`` (what every run process pays)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sync_assets.definitions"], check=True, cwd=ROOT)
        best = min(best, time.perf_counter() - began)
    return best


def figures(ctx) -> list:
    """bench/run.py entry: both modes once (an order is a sample; the stack is too slow to start per repeat)."""
    from _harness import Figure

    orders = ctx.size(30, 5)
    out = [Figure("latency", "import sync_assets.definitions", "s", [import_seconds()],
                  note="fresh interpreter, best of 3: paid by every run process")]  # fmt: skip
    rng = random.Random(7)
    for mode in ("polling", "webhooks"):
        r = run_mode(mode, orders, ctx.workdir, rng, verbose=not ctx.quick)
        target = TARGETS[mode]
        note = f"{r['synced']}/{r['orders']} orders synced in {r['runs']} runs"
        out += [
            Figure("latency", f"{mode}: placement → SO p50", "s", [r["p50"]], f"≤ {target['p50']} s", note),
            Figure("latency", f"{mode}: placement → SO p95", "s", [r["p95"]], f"≤ {target['p95']} s", note),
            Figure("latency", f"{mode}: placement → SO max", "s", [r["max"]]),
            Figure("latency", f"{mode}: trigger wait p50", "s", [r["trigger_p50"]], note="placement → run created"),
            Figure("latency", f"{mode}: run start p50", "s", [r["start_p50"]], note="created → RUN_START"),
            Figure("latency", f"{mode}: execution p50", "s", [r["exec_p50"]], note="RUN_START → SO written"),
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/latency.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a handful of orders per mode")
    parser.add_argument("--orders", type=int, default=30)
    parser.add_argument("--mode", choices=("polling", "webhooks", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quiet", action="store_true", help="no per-order table")
    args = parser.parse_args(argv)
    orders = 5 if args.quick else args.orders
    if orders < 1:
        parser.error("--orders must be at least 1")
    rng = random.Random(args.seed)
    print(f"import sync_assets.definitions in a fresh interpreter: {import_seconds():.2f} s (best of 3)")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for mode in ("polling", "webhooks") if args.mode == "both" else (args.mode,):
            results.append(run_mode(mode, orders, Path(tmp), rng, verbose=not args.quiet))
    print("\n== summary")
    for r in results:
        print(f"   {r['mode']:9} p50 {r['p50']:.2f} s  p95 {r['p95']:.2f} s  max {r['max']:.2f} s  "
              f"(trigger {r['trigger_p50']:.2f} + start {r['start_p50']:.2f} + exec {r['exec_p50']:.2f}, p50s)  "
              f"{r['synced']}/{r['orders']} synced in {r['runs']} runs  targets {'met' if r['targets_met'] else 'MISSED'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
