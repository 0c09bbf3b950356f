"""Every lane at a busy store's volume: steady order streams of 6, 20 and 60 orders a minute through the real
Dagster daemon (``dagster dev``, webhook receiver on, as ``sync-assets dev`` runs), while NetSuite inventory
receipts and item fulfillments flow and the catalog and reconciliation jobs are launched mid-stream.

Per stream it prints:

* API economy — Shopify cost points and NetSuite calls per synced order, from the sandbox's counters (every
  flow's spend; the benchmark itself watches through the free control API), beside the cost of reading one order once (the
  reference: the target is at most 2× that per synced order); and per flow from the runs' metadata;
* order placed (sandbox control API) → sales order done in the ledger: p50/p95;
* NetSuite inventory receipt → the storefront's ``available`` showing it (polled every {INVENTORY_POLL_S} s): p50/p95;
* each batch job's outcome and duration.

Targets at 20 orders a minute (issue 7): points per synced order ≤ 2× the reference, orders p95 ≤ 2 s,
inventory p95 ≤ 15 s, every batch job completes. Figures are printed, never asserted.

    uv run python bench/run.py streams             # bench/run.py table, 5 minutes per stream (1 with --quick)
    uv run python bench/streams.py --minutes 2     # 2 minutes per stream
    uv run python bench/streams.py --rates 20 --minutes 1
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for path in (ROOT, BENCH_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from latency import percentile  # noqa: E402

from sync_assets.defs import catalog as catalog_defs  # noqa: E402
from sync_assets.defs import reconciliation as reconciliation_defs  # noqa: E402
from sync_assets.defs.lanes import FLOW_TAG, flow_tags  # noqa: E402
from sync_assets.domain.policy import load_policy  # noqa: E402
from sync_assets.domain.shop_days import local_day  # noqa: E402
from sync_assets.devstack import LOCATION, REPOSITORY, DevStack, RunInfo, done_times, undiscounted_order_seeds  # noqa: E402

RATES = (6, 20, 60)
DEFAULT_MINUTES = 5.0
RECEIPT_EVERY_S = 10.0  # one NetSuite inventory receipt this often
RECEIPT_QUANTITY = 50
RECEIPT_SEEN_SLACK = 10  # orders may take a few units meanwhile: "seen" = available ≥ before + 50 − 10
FULFILL_EVERY_S = 15.0  # NetSuite fulfils sales orders older than this, this often
INVENTORY_POLL_S = 0.25
SETTLE_SECONDS = 120.0  # after a stream: for the last orders, receipts and batch runs
BATCH_GIVE_UP_SECONDS = 900.0
RECONCILE_GRACE_S = 15.0
RECONCILED = ("orders_checked", "orders_not_judged", "sales_orders_seen", "missing", "duplicated", "mismatched_totals",
              "open_findings")  # fmt: skip
BATCH_JOBS = ((0.25, catalog_defs.JOB_NAME, "catalog"), (0.5, reconciliation_defs.JOB_NAME, "reconciliation"))
REALTIME_FLOWS = ("orders", "inventory", "fulfillments")
TARGET_RATE = 20
TARGETS = {"points_ratio": 2.0, "orders_p95": 2.0, "inventory_p95": 15.0}
TERMINAL = ("SUCCESS", "FAILURE", "CANCELED")


@dataclass
class Receipt:
    sku: str
    location_key: str
    before: int
    at: float
    seen: float | None = None


@dataclass
class Stream:
    rate: float
    minutes: float
    placed: dict[str, float] = field(default_factory=dict)  # order gid → placed at
    done: dict[str, float] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    batch: list[tuple[str, str, float]] = field(default_factory=list)  # (entity, run id, launched at)
    fulfilled: int = 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/streams.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=DEFAULT_MINUTES, help="length of each stream")
    parser.add_argument("--rates", default=",".join(map(str, RATES)), help="orders per minute, comma-separated")
    parser.add_argument("--quick", action="store_true", help="1 minute per stream")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    minutes = 1.0 if args.quick else args.minutes
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates must be numbers separated by commas, got {args.rates!r}")
    if minutes <= 0 or not rates or any(r <= 0 for r in rates):
        parser.error("--minutes and every rate must be positive")
    with tempfile.TemporaryDirectory(prefix="bench-streams-") as tmp:
        results = run(rates, minutes, Path(tmp), random.Random(args.seed))
    print("\n== summary")
    for r in results:
        print(_summary_line(r))
    return 0


def figures(ctx) -> list:
    """bench/run.py entry: the three streams, 5 minutes each (1 with --quick)."""
    from _harness import Figure

    out = []
    for r in run(list(RATES), ctx.size(DEFAULT_MINUTES, 1.0), ctx.workdir, random.Random(7)):
        name = f"{r['rate']:g}/min"
        def target(text: str, r=r) -> str:
            return text if r["rate"] == TARGET_RATE else ""

        note = f"{r['synced']}/{r['placed']} orders, {r['minutes']:g} min"
        out += [
            Figure("streams", f"{name}: Shopify points per synced order", "points", [r["points_per_order"]],
                   target(f"≤ {2 * r['reference_points']:g} (2× one read)"), note),
            Figure("streams", f"{name}: NetSuite calls per synced order", "calls", [r["netsuite_per_order"]], note=note),
            Figure("streams", f"{name}: order → SO p50", "s", [r["orders_p50"]], note=note),
            Figure("streams", f"{name}: order → SO p95", "s", [r["orders_p95"]], target("≤ 2 s"), note),
            Figure("streams", f"{name}: inventory → storefront p50", "s", [r["inventory_p50"]],
                   note=f"{r['receipts_seen']}/{r['receipts']} receipts"),
            Figure("streams", f"{name}: inventory → storefront p95", "s", [r["inventory_p95"]],
                   target("≤ 15 s"), f"{r['receipts_seen']}/{r['receipts']} receipts"),
            Figure("streams", f"{name}: batch jobs completed", "jobs", [r["batch_ok"]],
                   f"{len(r['batch'])} launched", "; ".join(f"{e} {s} {d:.0f} s" for e, s, d in r["batch"])),
        ]  # fmt: skip
    return out


def run(rates: list[float], minutes: float, root: Path, rng: random.Random) -> list[dict]:
    print(f"== streams of {', '.join(f'{r:g}' for r in rates)} orders a minute, {minutes:g} min each; webhooks on")
    began = time.monotonic()
    with DevStack(root, webhooks=True, realtime_sensors=tuple(f"{f}_sensor" for f in REALTIME_FLOWS)) as stack:
        print(f"   stack ready in {time.monotonic() - began:.1f} s ({stack.dagster_url})", flush=True)
        seeds = undiscounted_order_seeds(stack.catalog)
        reference = reference_read_cost(stack, seeds)
        print(f"   reference: reading one order once costs {reference:g} Shopify points", flush=True)
        results = []
        for rate in rates:
            stream = Stream(rate, minutes)
            results.append(run_stream(stack, stream, seeds, rng, reference))
    return results


def reference_read_cost(stack: DevStack, seeds) -> float:
    """Shopify points of the orders flow's own full read of one order (``get_orders`` of one id)."""
    (order,) = stack.control.place_orders(1, seed=next(seeds))
    shop = stack.shopify_client()
    before = shop.stats.snapshot().get("cost", 0.0)
    shop.get_orders([order["id"]])
    return float(shop.stats.snapshot().get("cost", 0.0) - before)


def run_stream(stack: DevStack, stream: Stream, seeds, rng: random.Random, reference: float) -> dict:
    control, ledger = stack.control, stack.ledger()
    summary = control.catalog()
    skus = list(summary["skus_sample"])
    locations = [loc["key"] for loc in summary["locations"]]
    _settle(stack, ledger)
    control.reset_counters()
    print(f"\n-- {stream.rate:g} orders a minute for {stream.minutes:g} min", flush=True)
    t0 = time.time()
    end = t0 + stream.minutes * 60
    interval = 60.0 / stream.rate
    next_order, next_receipt, next_fulfil, next_poll = t0, t0 + 2, t0 + FULFILL_EVERY_S, t0
    launches = [(t0 + at * (end - t0), job, entity) for at, job, entity in BATCH_JOBS]
    last_report = t0
    while time.time() < end:
        now = time.time()
        if now >= next_order:
            placed = time.time()
            (order,) = control.place_orders(1, seed=next(seeds))
            stream.placed[order["id"]] = placed
            next_order += interval * rng.uniform(0.8, 1.2)
        if now >= next_receipt:
            _receive(control, stream, skus, locations, rng)
            next_receipt += RECEIPT_EVERY_S
        if now >= next_fulfil:
            stream.fulfilled += control.fulfill_sales_orders(older_than_seconds=FULFILL_EVERY_S)
            next_fulfil += FULFILL_EVERY_S
        while launches and now >= launches[0][0]:
            _, job, entity = launches.pop(0)
            stream.batch.append((entity, launch(stack, job, entity), time.time()))
        if now >= next_poll:
            _poll_receipts(control, stream)
            stream.done.update(done_times(ledger, "orders", set(stream.placed) - set(stream.done)))
            next_poll = now + INVENTORY_POLL_S
        if now - last_report >= 30:
            last_report = now
            print(f"   +{now - t0:5.0f} s: {len(stream.done)}/{len(stream.placed)} orders synced, "
                  f"{sum(r.seen is not None for r in stream.receipts)}/{len(stream.receipts)} receipts seen", flush=True)
        time.sleep(0.02)
    stream_seconds = time.time() - t0
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and (
        len(stream.done) < len(stream.placed) or any(r.seen is None for r in stream.receipts)
    ):
        _poll_receipts(control, stream)
        stream.done.update(done_times(ledger, "orders", set(stream.placed) - set(stream.done)))
        time.sleep(INVENTORY_POLL_S)
    batch_runs = _wait_batch(stack, stream)
    counters = control.counters()
    flows = flow_numbers(stack, t0)
    report = _report(stream, stream_seconds, counters, reference, batch_runs, flows)
    _explain_slowest(stack, stream, t0)
    return report


def _receive(control, stream: Stream, skus: list[str], locations: list[str], rng: random.Random) -> None:
    waiting = {(r.sku, r.location_key) for r in stream.receipts if r.seen is None}
    choices = [(s, key) for s in skus for key in locations if (s, key) not in waiting]
    if not choices:
        return
    sku, key = rng.choice(choices)
    (before,) = control.storefront_available([(sku, key)])
    at = time.time()
    control.receive_inventory(sku, key, RECEIPT_QUANTITY)
    stream.receipts.append(Receipt(sku, key, before, at))


def _poll_receipts(control, stream: Stream) -> None:
    """Watch the storefront through the sandbox's control API: free of API cost, so the flows' bucket and
    the counters are theirs alone."""
    pending = [r for r in stream.receipts if r.seen is None]
    if not pending:
        return
    now = time.time()
    levels = control.storefront_available([(r.sku, r.location_key) for r in pending])
    for r, available in zip(pending, levels):
        if available >= r.before + RECEIPT_QUANTITY - RECEIPT_SEEN_SLACK:
            r.seen = now


def launch(stack: DevStack, job: str, entity: str) -> str:
    """Launch a batch job through Dagster's GraphQL API, as an operator's "Launch run" does."""
    from urllib.parse import urlsplit

    from dagster_graphql import DagsterGraphQLClient

    parts = urlsplit(stack.dagster_url)
    client = DagsterGraphQLClient(parts.hostname, port_number=parts.port, timeout=60)
    tags, run_config = flow_tags(entity, "bench"), None
    if job == reconciliation_defs.JOB_NAME:
        # Daily partitions: today so far, on the shop's calendar; a grace above the real-time lane's p95 so
        # the stream's first orders are judged (the default 15 minutes would leave every one of them out).
        tags["dagster/partition"] = local_day(datetime.now(timezone.utc), load_policy().account.order_date_timezone).isoformat()
        run_config = {"ops": {"warehouse__reconciliation_findings": {"config": {"grace_seconds": RECONCILE_GRACE_S}}}}
    run_id = client.submit_job_execution(job, repository_location_name=LOCATION, repository_name=REPOSITORY,
                                         tags=tags, run_config=run_config)  # fmt: skip
    print(f"   launched {job} ({run_id[:8]})", flush=True)
    return run_id


def _wait_batch(stack: DevStack, stream: Stream) -> dict[str, RunInfo]:
    wanted = {run_id for _, run_id, _ in stream.batch}
    deadline = time.monotonic() + BATCH_GIVE_UP_SECONDS
    while True:
        runs = {r.run_id: r for r in stack.runs() if r.run_id in wanted}
        if all(r.status in TERMINAL for r in runs.values()) and len(runs) == len(wanted):
            return runs
        if time.monotonic() > deadline:
            return runs
        time.sleep(1)


def _settle(stack: DevStack, ledger, give_up: float = SETTLE_SECONDS) -> None:
    """Let the previous stream's runs end, so one stream's spend is not counted in the next."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        if not any(r.status not in TERMINAL for r in stack.runs(limit=50)):
            return
        time.sleep(1)


def flow_numbers(stack: DevStack, since: float) -> dict[str, dict[str, float]]:
    """Per flow, the runs created since ``since`` and the sums of their materializations' numeric metadata."""
    import dagster as dg

    out: dict[str, dict[str, float]] = {}
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        for run in stack.runs():
            flow = run.tags.get(FLOW_TAG)
            if not flow or run.created < since:
                continue
            sums = out.setdefault(flow, {"runs": 0.0})
            sums["runs"] += 1
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
                metadata = record.dagster_event.event_specific_data.materialization.metadata
                for key, value in metadata.items():
                    number = getattr(value, "value", None)
                    if isinstance(number, (int, float)) and not isinstance(number, bool) and "seconds" not in key:
                        sums[key] = sums.get(key, 0.0) + number
    return out


def _report(stream, seconds, counters, reference, batch_runs, flows) -> dict:
    c = counters.get("counters", {})
    synced = len(stream.done)
    order_lat = [stream.done[g] - stream.placed[g] for g in stream.done]
    inv_lat = [r.seen - r.at for r in stream.receipts if r.seen is not None]
    shopify_points = float(c.get("shopify.cost", 0))
    netsuite_calls = int(c.get("requests.netsuite", 0))
    per_order = shopify_points / synced if synced else float("nan")
    ns_per_order = netsuite_calls / synced if synced else float("nan")
    orders_flow = flows.get("orders", {})
    batch = []
    for entity, run_id, _ in stream.batch:
        r = batch_runs.get(run_id)
        took = (r.ended - r.started) if r and r.ended and r.started else float("nan")
        batch.append((entity, r.status if r else "UNKNOWN", took))
    r = {
        "rate": stream.rate, "minutes": stream.minutes, "placed": len(stream.placed), "synced": synced,
        "reference_points": reference, "shopify_points": shopify_points, "points_per_order": per_order,
        "points_ratio": per_order / reference if reference else float("nan"),
        "netsuite_calls": netsuite_calls, "netsuite_per_order": ns_per_order,
        "orders_p50": percentile(order_lat, 50), "orders_p95": percentile(order_lat, 95),
        "inventory_p50": percentile(inv_lat, 50), "inventory_p95": percentile(inv_lat, 95),
        "receipts": len(stream.receipts), "receipts_seen": len(inv_lat), "batch": batch,
        "batch_ok": sum(s == "SUCCESS" for _, s, _ in batch),
        "netsuite_peak": counters.get("netsuite_peak_admitted"), "netsuite_throttled": c.get("netsuite.throttled", 0),
        "shopify_throttled": c.get("shopify.throttled", 0), "flows": flows,
    }  # fmt: skip
    print(f"   {synced}/{len(stream.placed)} orders synced over {seconds:.0f} s; {stream.fulfilled} sales orders "
          f"fulfilled in NetSuite; {len(inv_lat)}/{len(stream.receipts)} inventory receipts seen on the storefront")
    print(f"   Shopify points, every flow: {shopify_points:g} = "
          f"{per_order:.2f} per synced order = {r['points_ratio']:.2f}× one read of an order ({reference:g})")
    print(f"   NetSuite calls, every flow: {netsuite_calls} = {ns_per_order:.2f} per synced order; orders flow alone "
          f"{orders_flow.get('netsuite_api_calls', 0):g} ({_per(orders_flow.get('netsuite_api_calls'), synced)} per order)")
    print(f"   NetSuite peak admitted in flight {r['netsuite_peak']}, throttled {r['netsuite_throttled']}; "
          f"Shopify throttled {r['shopify_throttled']}")
    print(f"   order placed → sales order      p50 {r['orders_p50']:6.2f} s  p95 {r['orders_p95']:6.2f} s")
    print(f"   inventory receipt → storefront  p50 {r['inventory_p50']:6.2f} s  p95 {r['inventory_p95']:6.2f} s"
          f"  (polled every {INVENTORY_POLL_S} s)")
    for entity, status, took in batch:
        print(f"   batch {entity:15} {status:8} {took:6.1f} s")
    print("   Shopify points per operation (sandbox counters; calls):")
    for label, points in sorted(((k[len("shopify.cost."):], v) for k, v in c.items() if k.startswith("shopify.cost.")),
                                key=lambda kv: -kv[1]):
        print(f"     {label:32} {points:8g}  ({c.get(f'shopify.calls.{label}', 0):g} calls)")
    print("   per flow (runs; sums of the runs' metadata):")
    for flow, sums in sorted(flows.items()):
        shown = {k: v for k, v in sums.items() if k in ("runs", "records", "records_synced", *RECONCILED) or "api" in k
                 or "cost" in k}
        print(f"     {flow:16} " + ", ".join(f"{k} {v:g}" for k, v in shown.items()))
    if stream.rate == TARGET_RATE:
        print(f"   targets at {TARGET_RATE}/min: {_targets(r)}")
    return r


def _explain_slowest(stack: DevStack, stream: Stream, t0: float, count: int = 6) -> None:
    """The slowest orders and the orders runs around each: where a tail comes from (waiting behind a run in
    flight, a slow launch, a polling run rather than the webhook's)."""
    runs = [r for r in stack.runs(tags={FLOW_TAG: "orders"}) if r.created >= t0 - 5]
    slowest = sorted(stream.done, key=lambda g: stream.done[g] - stream.placed[g], reverse=True)[:count]
    if not slowest:
        return
    print("   slowest orders (s from stream start) and the orders runs overlapping them "
          "(trigger: created/started/ended):")
    for gid in slowest:
        placed, done = stream.placed[gid] - t0, stream.done[gid] - t0
        around = sorted((r for r in runs if r.created - t0 <= done and (r.ended is None or r.ended - t0 >= placed - 1)),
                        key=lambda r: r.created)
        shown = "; ".join(f"{r.tags.get('sync_assets/trigger', '?')}: {r.created - t0:.1f}/"
                          f"{(r.started or 0) - t0:.1f}/{(r.ended or 0) - t0:.1f}" for r in around)
        print(f"     {gid.rsplit('/', 1)[-1]:>8} placed {placed:6.1f} done {done:6.1f} ({done - placed:5.2f} s)  {shown}")


def _per(value, count) -> str:
    return f"{value / count:.2f}" if value is not None and count else "n/a"


def _targets(r: dict) -> str:
    checks = [
        (f"points ≤ {TARGETS['points_ratio']:g}× one read", r["points_ratio"] <= TARGETS["points_ratio"]),
        (f"orders p95 ≤ {TARGETS['orders_p95']:g} s", r["orders_p95"] <= TARGETS["orders_p95"]),
        (f"inventory p95 ≤ {TARGETS['inventory_p95']:g} s", r["inventory_p95"] <= TARGETS["inventory_p95"]),
        ("every batch job completes", r["batch_ok"] == len(r["batch"])),
    ]
    return "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in checks)


def _summary_line(r: dict) -> str:
    return (f"   {r['rate']:4g}/min {r['synced']:4}/{r['placed']:<4} synced  points/order {r['points_per_order']:6.2f} "
            f"({r['points_ratio']:.2f}× a read)  NetSuite calls/order {r['netsuite_per_order']:5.2f}  "
            f"orders p50/p95 {r['orders_p50']:.2f}/{r['orders_p95']:.2f} s  inventory p50/p95 "
            f"{r['inventory_p50']:.2f}/{r['inventory_p95']:.2f} s  batch {r['batch_ok']}/{len(r['batch'])} ok")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
