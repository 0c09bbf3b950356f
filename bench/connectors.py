"""Connector benchmarks against a sandbox subprocess this benchmark starts (real HTTP, real auth, real limits).

1. SuiteQL catalog read: rows/s of ``NetSuiteClient.suiteql_keyset`` over a 100,000-item catalog (the
   batch-lane target is the whole catalog into the warehouse in ≤ 60 s), then again with the sandbox's
   100k row cap lowered far below the catalog, to show keyset paging crosses it.
2. Shopify orders/s, paged (``iter_orders_updated_between``: cursor pages, nested line items drained) and
   via a bulk operation (``run_bulk_query`` + ``join_children``), the bulk/paged ratio, and API economy of
   the paged read: cost points spent ÷ points the bucket allowed in that time (level at start + restore
   rate × seconds). The paged read is cost-bound (≈ 60 points per order against a Standard-plan bucket
   of 100 points/s), so it reads a sample of the orders; points per order give the rate on any plan.
3. Peak RSS of order reads in a child process: the streamed bulk read at two sizes (flat), and for
   contrast the same read materialised into a list and the paged read's list.
4. NetSuite sales-order upserts/s at client ``max_concurrency`` 1 vs 5 against an account limit of 5,
   from more threads than either cap: the sandbox's 429 count, its peak in flight, and failures.

    uv run python bench/run.py [--quick] connectors
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _path in (ROOT, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _harness import Context, Figure, Stopwatch, own_peak_rss_mib, repeat  # noqa: E402

from sync_assets.connectors.http import Backoff  # noqa: E402
from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth  # noqa: E402
from sync_assets.connectors.netsuite import queries as Q  # noqa: E402
from sync_assets.connectors.shopify import ShopifyClient  # noqa: E402
from sync_assets.connectors.shopify import documents as shopify_docs  # noqa: E402
from sync_assets.connectors.shopify.bulk import iter_bulk_orders_updated_between  # noqa: E402
from sync_assets.connectors.shopify.orders import updated_between_query  # noqa: E402
from sync_assets.sandbox import credentials as C  # noqa: E402
from sync_assets.sandbox.control_client import SandboxControl  # noqa: E402
from sync_assets.sandbox.process import running_sandbox  # noqa: E402

BENCH = "connectors"
START_CATALOG = {"seed": 7, "products": 20, "variants_per_product": 3, "customers": 10, "locations": 3}
ITEMS_SQL = Q.CATALOG_ITEMS.sql  # the catalog flow's own item query, so the rows are as wide as in production
STANDARD_RESTORE_RATE = 100.0  # the sandbox's default bucket: a Standard-plan shop, 2,000 pts, 100 pts/s
PLACE_BATCH = 1000  # the control API takes at most 10,000 per call; smaller batches keep each call short
WRITER_THREADS = 8  # more than either client cap, so the cap (not the pool) bounds concurrency


@dataclass(frozen=True)
class Sizes:
    catalog_products: int  # × (variants + 1 matrix parent) item rows
    variants: int
    lowered_cap: int
    suiteql_page: int
    orders_small: int
    orders_big: int
    paged_sample: int
    upserts: int


FULL = Sizes(25_000, 3, 30_000, 1000, 2_000, 10_000, 150, 150)
QUICK = Sizes(100, 3, 150, 100, 10, 30, 4, 10)


def figures(ctx: Context) -> list[Figure]:
    sizes = ctx.size(FULL, QUICK)
    out: list[Figure] = []
    with Stopwatch() as startup, running_sandbox(ctx.workdir / "sandbox", START_CATALOG) as sandbox:
        ctx.log(f"sandbox up at {sandbox.url} in {startup.elapsed():.1f} s")
        for part in (suiteql_catalog, shopify_orders, netsuite_writes):
            with Stopwatch() as watch:
                out += part(ctx, sandbox.url, sandbox.control, sizes)
            ctx.log(f"[{part.__name__} took {watch.seconds:.1f} s]")
    return out


# --- clients ------------------------------------------------------------------------------------------------


def netsuite_client(url: str, max_concurrency: int = 5) -> NetSuiteClient:
    auth = TokenBasedAuth(
        C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET, C.NETSUITE_TOKEN_ID, C.NETSUITE_TOKEN_SECRET
    )
    # Short backoff: a 429 retry waiting seconds would measure the backoff policy, not the connector.
    backoff = Backoff(max_attempts=8, base_seconds=0.02, cap_seconds=0.5)
    return NetSuiteClient(url, C.NETSUITE_ACCOUNT_ID, auth, max_concurrency=max_concurrency, backoff=backoff)


def shopify_client(url: str) -> ShopifyClient:
    return ShopifyClient(url, C.SHOPIFY_ACCESS_TOKEN, api_version=C.SHOPIFY_API_VERSION)


# --- 1. SuiteQL -----------------------------------------------------------------------------------------------


def suiteql_catalog(ctx: Context, url: str, control: SandboxControl, sizes: Sizes) -> list[Figure]:
    with Stopwatch() as reset:
        control.reset(seed=11, products=sizes.catalog_products, variants_per_product=sizes.variants, customers=50, locations=3)
    # the catalog probe with its epoch sample counts every item the catalog query reads
    total = int(next(netsuite_client(url).suiteql(Q.CATALOG_CHANGES.sql, Q.CATALOG_CHANGES.sample))["n"])
    ctx.log(f"catalog of {total:,} item rows generated in {reset.seconds:.1f} s")

    def read_all(i: int) -> tuple[int, float, int]:
        ns = netsuite_client(url)
        with Stopwatch() as watch:
            rows = sum(1 for _ in ns.suiteql_keyset(ITEMS_SQL, page_size=sizes.suiteql_page))
        if rows != total:
            raise RuntimeError(f"keyset read returned {rows} rows of {total}")
        calls = ns.stats.snapshot()["calls"]
        ctx.log(f"  keyset read {i + 1}: {rows:,} rows in {watch.seconds:.2f} s, {calls} calls")
        return rows, watch.seconds, calls

    default_cap = repeat(ctx.repeats, read_all)
    control.configure(suiteql_row_cap=sizes.lowered_cap)
    ctx.log(f"row cap lowered to {sizes.lowered_cap:,}")
    lowered = repeat(ctx.repeats, read_all)
    control.configure(suiteql_row_cap=100_000)

    note = f"{total:,} item rows, {len(ITEMS_SQL.split(','))} columns, page {sizes.suiteql_page}"
    return [
        Figure(BENCH, "suiteql keyset rows/s", "rows/s", [r / s for r, s, _ in default_cap], note=note),
        Figure(
            BENCH,
            "suiteql keyset catalog read",
            "s",
            [s for _, s, _ in default_cap],
            target="whole catalog → warehouse ≤ 60 s",
            note=note,
        ),
        Figure(BENCH, "suiteql keyset API calls", "calls", [c for _, _, c in default_cap], note=note),
        Figure(
            BENCH,
            "suiteql keyset rows/s, cap lowered",
            "rows/s",
            [r / s for r, s, _ in lowered],
            note=f"row cap {sizes.lowered_cap:,} < {total:,} rows: every row read",
        ),
    ]


# --- 2 + 3. Shopify orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    start: str
    small_end: str  # [start, small_end) holds sizes.orders_small orders
    end: str  # [start, end) holds sizes.orders_big orders


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def place(control: SandboxControl, count: int) -> float:
    with Stopwatch() as watch:
        left = count
        while left:
            batch = min(PLACE_BATCH, left)
            control.place_orders(batch)
            left -= batch
    return watch.seconds


def shopify_orders(ctx: Context, url: str, control: SandboxControl, sizes: Sizes) -> list[Figure]:
    control.reset(seed=12, products=200, variants_per_product=3, customers=500, locations=3)
    start = datetime.now(timezone.utc) - timedelta(minutes=1)
    placing = place(control, sizes.orders_small)
    # Whole seconds between the two batches: windows are second-granular, so none straddles the boundary.
    time.sleep(1.1)
    boundary = datetime.now(timezone.utc)
    time.sleep(1.1)
    placing += place(control, sizes.orders_big - sizes.orders_small)
    windows = Windows(_utc(start), _utc(boundary), _utc(datetime.now(timezone.utc) + timedelta(minutes=10)))
    ctx.log(f"placed {sizes.orders_big:,} orders in {placing:.1f} s ({sizes.orders_big / placing:,.0f}/s)")

    poll = ctx.size(1.0, 0.2)  # the production default; toy runs need not wait a second per read

    def bulk(i: int) -> tuple[float, int]:
        client = shopify_client(url)
        with Stopwatch() as watch:
            orders = lines = 0
            for order in iter_bulk_orders_updated_between(client, windows.start, windows.end, poll_interval=poll):
                orders += 1
                lines += len(order["lineItems"])
        if orders != sizes.orders_big:
            raise RuntimeError(f"bulk read returned {orders} orders of {sizes.orders_big}")
        ctx.log(f"  bulk read {i + 1}: {orders:,} orders ({lines:,} lines) in {watch.seconds:.2f} s")
        return orders / watch.seconds, watch.seconds

    bulk_runs = repeat(ctx.repeats, bulk)

    paged_runs = repeat(ctx.repeats, lambda i: paged_read(ctx, url, windows, sizes.paged_sample, i))
    ratio = [b[0] / p["orders_per_s"] for b, p in zip(bulk_runs, paged_runs)]
    memory = memory_figures(ctx, url, windows, sizes)

    paged_note = f"{sizes.paged_sample:,} orders, Standard bucket 2,000 pts, 100 pts/s"
    return [
        Figure(BENCH, "shopify orders placed/s (control API)", "orders/s", [sizes.orders_big / placing],
               note=f"{sizes.orders_big:,} orders in batches of {PLACE_BATCH}; setup, not a connector figure"),
        Figure(BENCH, "shopify bulk read orders/s", "orders/s", [b[0] for b in bulk_runs],
               note=f"{sizes.orders_big:,} orders, line items joined, poll interval {poll:g} s"),
        Figure(BENCH, "shopify paged read orders/s", "orders/s", [p["orders_per_s"] for p in paged_runs], note=paged_note),
        Figure(BENCH, "shopify bulk / paged ratio", "x", ratio, note="same run, pairwise"),
        Figure(BENCH, "shopify paged cost per order", "points", [p["points_per_order"] for p in paged_runs],
               note="orders/s ≈ restore rate ÷ this (Plus: 1,000 pts/s)"),
        Figure(BENCH, "shopify paged API economy", "% allowed", [p["economy"] for p in paged_runs],
               target="≥ 90 % under backlog", note="cost ÷ (bucket at start + restore × s)"),
        Figure(BENCH, "shopify paged pacing waits", "s", [p["wait_s"] for p in paged_runs],
               note="waits before sending, from the client's bucket model"),
        Figure(BENCH, "shopify paged THROTTLED answers", "answers", [p["throttled"] for p in paged_runs],
               target="0 failures (THROTTLED is retried)"),
        *memory,
    ]


def paged_read(ctx: Context, url: str, windows: Windows, limit: int, i: int) -> dict[str, float]:
    level = bucket_level(url)
    client = shopify_client(url)
    with Stopwatch() as watch:
        orders = lines = 0
        for order in client.iter_orders_updated_between(windows.start, windows.end):
            orders += 1
            lines += len(order["lineItems"])
            if orders == limit:
                break
    stats = client.stats.snapshot()
    allowed = level + STANDARD_RESTORE_RATE * watch.seconds
    result = {
        "orders_per_s": orders / watch.seconds,
        "points_per_order": stats["cost"] / orders,
        "economy": 100.0 * stats["cost"] / allowed,
        "wait_s": stats["throttle_wait_s"],
        "throttled": stats["throttled"],
    }
    ctx.log(
        f"  paged read {i + 1}: {orders:,} orders ({lines:,} lines) in {watch.seconds:.2f} s, {stats['calls']} calls,"
        f" cost {stats['cost']:,.0f} of {allowed:,.0f} allowed (bucket at start {level:,.0f}),"
        f" paced {stats['paced']}×, throttled {stats['throttled']}"
    )
    return result


def bucket_level(url: str) -> float:
    """Points in the shop's bucket now, read from a one-node query's throttleStatus."""
    probe = shopify_client(url)
    search = updated_between_query("2000-01-01T00:00:00Z", "2000-01-02T00:00:00Z")
    probe.execute(shopify_docs.ORDER_KEYS_PAGE, {"first": 1, "after": None, "query": search})
    level = probe.bucket.available_now()
    if level is None:
        raise RuntimeError("the sandbox's answer carried no throttleStatus")
    return level


def memory_figures(ctx: Context, url: str, windows: Windows, sizes: Sizes) -> list[Figure]:
    runs = [
        ("bulk streamed", "bulk-stream", windows.small_end, sizes.orders_small),
        ("bulk streamed", "bulk-stream", windows.end, sizes.orders_big),
        ("bulk into a list", "bulk-list", windows.small_end, sizes.orders_small),
        ("bulk into a list", "bulk-list", windows.end, sizes.orders_big),
        ("paged into a list", "paged-list", windows.end, sizes.paged_sample),
    ]
    if ctx.quick:  # the flat-memory pair is the point; the contrast reads add nothing at toy sizes
        runs = runs[:2]
    out = []
    for label, mode, end, count in runs:
        result = read_in_child(url, mode, windows.start, end, count)
        ctx.log(
            f"  {label} {result['orders']:,} orders: peak RSS {result['peak_mib']:.0f} MiB"
            f" ({result['peak_mib'] - result['baseline_mib']:+.0f} MiB over the idle client)"
        )
        out.append(
            Figure(
                BENCH,
                f"peak RSS, {label}, {count:,} orders",
                "MiB",
                [result["peak_mib"]],
                target="flat (streamed)" if mode == "bulk-stream" else "",
                note=f"child process; idle client {result['baseline_mib']:.0f} MiB",
            )
        )
    return out


def read_in_child(url: str, mode: str, start: str, end: str, count: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--url", url, "--start", start, "--end", end, "--limit", str(count)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"child read {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["orders"] != count:
        raise RuntimeError(f"child read {mode} returned {result['orders']} orders, expected {count}")
    return result


def _peak_mib() -> float:
    return own_peak_rss_mib()  # not ru_maxrss, which would count this benchmark's peak at the spawn


def child_main(mode: str, url: str, start: str, end: str, limit: int) -> None:
    """One read, then one JSON line: orders read, peak RSS before reading and at the end."""
    client = shopify_client(url)
    baseline = _peak_mib()
    if mode == "paged-list":
        orders = []
        for order in client.iter_orders_updated_between(start, end):
            orders.append(order)
            if len(orders) == limit:
                break
        count = len(orders)
    else:
        stream = iter_bulk_orders_updated_between(client, start, end)
        if mode == "bulk-list":
            count = len(list(stream))
        else:
            count = sum(1 for _ in stream)
    print(json.dumps({"mode": mode, "orders": count, "baseline_mib": baseline, "peak_mib": _peak_mib()}))


# --- 4. NetSuite writes ----------------------------------------------------------------------------------------


def netsuite_writes(ctx: Context, url: str, control: SandboxControl, sizes: Sizes) -> list[Figure]:
    control.reset(seed=13, products=50, variants_per_product=3, customers=10, locations=3)  # account limit 5
    setup = netsuite_client(url)
    items = [row["id"] for row in setup.suiteql_keyset(ITEMS_SQL) if row.get("matrixtype") != "PARENT"]
    customer = setup.upsert_record("customer", "BENCH-BUYER", {"companyName": "Bench Buyer"})

    def body(n: int) -> dict[str, Any]:
        lines = [{"item": {"id": items[(n * 7 + k) % len(items)]}, "quantity": 1 + k} for k in range(1 + n % 3)]
        return {"entity": {"id": customer}, "memo": f"bench order {n}", "item": {"items": lines}}

    results: dict[int, list[dict[str, float]]] = {}
    for cap in (1, 5):
        def one(i: int, cap: int = cap) -> dict[str, float]:
            control.reset_counters()
            ns = netsuite_client(url, max_concurrency=cap)
            failures = 0

            def upsert(n: int) -> None:
                nonlocal failures
                try:
                    ns.upsert_record("salesOrder", f"BENCH-{cap}-{i}-{n}", body(n))
                except Exception as exc:  # counted and reported: the figure is "zero failures"
                    failures += 1
                    ctx.log(f"  upsert {n} failed: {type(exc).__name__}: {exc}")

            with Stopwatch() as watch, ThreadPoolExecutor(WRITER_THREADS) as pool:
                list(pool.map(upsert, range(sizes.upserts)))
            report = control.counters()
            run = {
                "per_s": sizes.upserts / watch.seconds,
                "throttled": report["counters"].get("netsuite.throttled", 0),
                "peak": report["netsuite_peak_admitted"],
                "failures": failures,
            }
            ctx.log(
                f"  max_concurrency {cap}, run {i + 1}: {sizes.upserts} upserts in {watch.seconds:.2f} s,"
                f" sandbox 429s {run['throttled']}, peak admitted {run['peak']}, failures {failures}"
            )
            return run

        results[cap] = repeat(ctx.repeats, one)

    note = f"{sizes.upserts} sales orders, {WRITER_THREADS} threads, account limit 5"
    out = []
    for cap, runs in results.items():
        out += [
            Figure(BENCH, f"netsuite upserts/s, max_concurrency {cap}", "upserts/s", [r["per_s"] for r in runs], note=note),
            Figure(BENCH, f"netsuite 429s, max_concurrency {cap}", "answers", [r["throttled"] for r in runs],
                   note="sandbox netsuite.throttled counter"),
            Figure(BENCH, f"netsuite peak in flight, max_concurrency {cap}", "requests", [r["peak"] for r in runs],
                   target="≤ account limit 5"),
            Figure(BENCH, f"netsuite failed upserts, max_concurrency {cap}", "upserts", [r["failures"] for r in runs],
                   target="0"),
        ]
    speedup = [five["per_s"] / one["per_s"] for one, five in zip(results[1], results[5])]
    out.append(Figure(BENCH, "netsuite upserts speed-up 5 vs 1", "x", speedup, note="same run, pairwise"))
    return out


def _child_cli(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="child process of the connectors benchmark (memory reads)")
    parser.add_argument("--child", choices=("bulk-stream", "bulk-list", "paged-list"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--end", required=True)
    parser.add_argument("--limit", type=int, required=True)
    args = parser.parse_args(argv)
    child_main(args.child, args.url, args.start, args.end, args.limit)


if __name__ == "__main__":
    if "--child" not in sys.argv:
        sys.exit("run the connector benchmarks with: uv run python bench/run.py [--quick] connectors")
    _child_cli(sys.argv[1:])
