"""CRM flow benchmark: every customer of both systems → warehouse, then the hourly run that finds nothing new.

Against a sandbox subprocess (real HTTP, real auth, the Standard-plan cost bucket) with N customers in both
Shopify and NetSuite, per repeat with a fresh ledger and warehouse file:

1. **First run**: NetSuite customers keyset-paged (``run_customers_flow``) and Shopify customers
   (``run_shopify_customers_flow``: paged up to ``bulk_above``, the rest by one bulk operation), landed and
   merged into raw. Printed: seconds per system, customers/s, Shopify cost points and bucket waits.
2. **Re-run** (nothing changed): both again from their watermarks, merged; rows appended to raw (must be 0).

    uv run python bench/run.py [--quick] crm
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _path in (ROOT, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _harness import Context, Figure, Stopwatch, repeat  # noqa: E402
from connectors import netsuite_client, shopify_client  # noqa: E402

from sync_assets.flows.customers import CrmConfig, run_customers_flow, run_shopify_customers_flow  # noqa: E402
from sync_assets.sandbox.process import running_sandbox  # noqa: E402
from sync_assets.state.ledger import Ledger  # noqa: E402
from sync_assets.warehouse.landing_area import LandingArea  # noqa: E402
from sync_assets.warehouse.merge import merge_all_pending  # noqa: E402

BENCH = "crm"
START = {"seed": 7, "products": 5, "variants_per_product": 1, "customers": 10, "locations": 1}


def figures(ctx: Context) -> list[Figure]:
    customers = ctx.size(50_000, 500)
    with running_sandbox(ctx.workdir / "sandbox", START) as sandbox:
        with Stopwatch() as reset:
            sandbox.control.reset(seed=11, products=5, variants_per_product=1, customers=customers, locations=1)
        ctx.log(f"{customers:,} customers in both systems generated in {reset.seconds:.1f} s")
        runs = repeat(ctx.repeats, lambda i: one_repeat(ctx, sandbox, i))
    note = f"{customers:,} customers in each system; bulk past {CrmConfig().bulk_above:,} Shopify customers"
    return [
        Figure(BENCH, "first run: NetSuite customers → landing", "s", [r["ns_s"] for r in runs], note=note),
        Figure(BENCH, "first run: Shopify customers → landing", "s", [r["sh_s"] for r in runs], note=note),
        Figure(BENCH, "first run: Shopify customers/s", "rows/s", [customers / r["sh_s"] for r in runs]),
        Figure(BENCH, "first run: Shopify cost points", "points", [r["points"] for r in runs],
               note="the paged part (≈ 1 point per customer) + the bulk operation's few points"),
        Figure(BENCH, "first run: merge into raw", "s", [r["merge_s"] for r in runs]),
        Figure(BENCH, "re-run (nothing changed): both systems", "s", [r["again_s"] for r in runs]),
        Figure(BENCH, "re-run: rows appended to raw", "rows", [r["appended"] for r in runs], target="0"),
    ]


def one_repeat(ctx: Context, sandbox, i: int) -> dict[str, float]:
    workdir = ctx.workdir / f"repeat-{i}"
    workdir.mkdir(parents=True, exist_ok=True)
    ledger, warehouse = Ledger(workdir / "ledger.sqlite"), workdir / "warehouse.duckdb"
    landing = LandingArea(workdir / "landing", ledger)
    netsuite, shopify = netsuite_client(sandbox.url), shopify_client(sandbox.url)
    with Stopwatch() as ns:
        run_customers_flow(netsuite, ledger, landing, run_id=f"ns-{i}")
    with Stopwatch() as sh:
        result = run_shopify_customers_flow(shopify, ledger, landing, run_id=f"sh-{i}",
                                            config=CrmConfig(bulk_poll_interval=0.2))
    with Stopwatch() as merge:
        merge_all_pending(str(warehouse), ledger)
    with Stopwatch() as again:
        run_customers_flow(netsuite, ledger, landing, run_id=f"ns2-{i}")
        run_shopify_customers_flow(shopify, ledger, landing, run_id=f"sh2-{i}")
    second = merge_all_pending(str(warehouse), ledger)
    ledger.close()
    points = result.shopify_stats.get("cost", 0.0)
    ctx.log(f"  repeat {i + 1}: NetSuite {ns.seconds:.1f} s, Shopify {sh.seconds:.1f} s "
            f"({result.customers:,} customers, bulk: {result.read_via_bulk}, {points:.0f} points), merge "
            f"{merge.seconds:.1f} s; re-run {again.seconds:.1f} s appended {second.appended_rows} rows")
    return {"ns_s": ns.seconds, "sh_s": sh.seconds, "points": points, "merge_s": merge.seconds,
            "again_s": again.seconds, "appended": second.appended_rows}
