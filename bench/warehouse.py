"""Warehouse benchmarks: the write path against DuckDB's own bulk insert, and the analysts' export.

    uv run python bench/run.py [--quick] warehouse
    uv run python bench/warehouse.py [--rows 1000000] [--items 100000] [--runs 3]   # standalone report
    uv run python bench/warehouse.py --export-only [--rows 1000000]                # the export alone

Loads: each run loads into a fresh file (and closes it, so the checkpoint is in the time): DuckDB's
``CREATE TABLE AS`` of the frame (the baseline), ``append_frame``, and the write path the flows use —
landing (frame → durable Parquet with content hashes, in memory, no lock) + merge (``read_parquet`` anti-join
into raw). Reports medians and ratios (target ≤ 1.5×).
Export: a warehouse holding ``--rows`` orders exported as a snapshot version (in a child process, so
its peak RSS is the export's own — ``VmHWM``, see :func:`_harness.own_peak_rss_mib`): total time, time
holding the live file's lock, peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import psutil

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _harness import Context, Figure  # noqa: E402

from sync_assets.state.ledger import Ledger  # noqa: E402
from sync_assets.warehouse import append_frame, ensure_schema, upsert_frame  # noqa: E402
from sync_assets.warehouse.landing_area import LandingArea  # noqa: E402
from sync_assets.warehouse.merge import merge_files  # noqa: E402


def orders_frame(n: int, offset: int = 0) -> pd.DataFrame:
    ids = np.arange(offset, offset + n)
    return pd.DataFrame(
        {
            "order_id": [f"gid://shopify/Order/{i}" for i in ids],
            "source_updated_at": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(ids, unit="s"),
            "payload": [
                f'{{"id":"gid://shopify/Order/{i}","name":"#{i}","currencyCode":"USD",'
                f'"totalPriceSet":{{"shopMoney":{{"amount":"{i % 500}.50"}}}},"note":"Zoë ☕ café"}}'
                for i in ids
            ],
        }
    )


def items_frame(n: int) -> pd.DataFrame:
    ids = np.arange(n)
    return pd.DataFrame(
        {
            "item_id": ids.astype(str),
            "source_updated_at": pd.Timestamp("2025-01-01", tz="UTC"),
            "payload": [
                f'{{"id":"{i}","itemid":"SKU-{i:07d}","displayname":"Item {i} — Größe M","itemtype":"InvtPart",'
                f'"isinactive":"F","description":"{"lorem ipsum " * 8}"}}'
                for i in ids
            ],
        }
    )


def timed(fn: Callable[[], None], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        out.append(fn())
    return out


def one_load(tmp: Path, df: pd.DataFrame, table: str, how: str) -> float:
    path = tmp / f"{how}-{time.monotonic_ns()}.duckdb"
    conn = duckdb.connect(str(path))
    if how != "ctas":
        ensure_schema(conn)
    landing = LandingArea(tmp / f"landing-{time.monotonic_ns()}", Ledger(tmp / "bench-ledger.sqlite"))
    start = time.perf_counter()
    if how == "append_frame":
        append_frame(conn, table, df, "bench")
    elif how == "land_merge":
        merge_files(conn, [landing.write(table, df, "bench")])
    else:
        conn.register("bench_df", df)
        conn.execute("CREATE TABLE bench AS SELECT * FROM bench_df")
    conn.close()
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def one_upsert(tmp: Path, df: pd.DataFrame, method: str) -> float:
    """Second load of the same catalog over a table already holding it: every key is replaced."""
    path = tmp / f"upsert-{method}-{time.monotonic_ns()}.duckdb"
    conn = duckdb.connect(str(path))
    pk = ", PRIMARY KEY (item_id)" if method == "insert_or_replace" else ""
    conn.execute(f"CREATE TABLE main.items (item_id VARCHAR NOT NULL, source_updated_at TIMESTAMPTZ, payload JSON{pk})")
    upsert_frame(conn, "main.items", df, ["item_id"], method=method)
    start = time.perf_counter()
    upsert_frame(conn, "main.items", df, ["item_id"], method=method)
    conn.close()
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def report(label: str, rows: int, ours: list[float], baseline: list[float], name: str = "append_frame") -> float:
    o, b = statistics.median(ours), statistics.median(baseline)
    print(
        f"{label:<28} rows={rows:>9,}  {name} median {o:6.3f}s ({rows / o:>11,.0f} rows/s)  "
        f"CTAS median {b:6.3f}s ({rows / b:>11,.0f} rows/s)  ratio {o / b:4.2f}x  (target <= 1.50x)"
    )
    return o / b


def figures(ctx: Context) -> list[Figure]:
    """The same measurements as :func:`main`, as figures for ``bench/run.py``."""
    rows, items = ctx.size((1_000_000, 100_000), (20_000, 5_000))
    out: list[Figure] = []
    tmp = ctx.workdir
    for label, df, table in (
        ("orders", orders_frame(rows), "raw.shopify_orders"),
        ("catalog", items_frame(items), "raw.netsuite_items"),
    ):
        ours, base, landed = [], [], []
        for _ in range(ctx.repeats):  # interleaved so drift in the machine hits all alike
            base.append(one_load(tmp, df, table, "ctas"))
            ours.append(one_load(tmp, df, table, "append_frame"))
            landed.append(one_load(tmp, df, table, "land_merge"))
        note = f"{len(df):,} rows into {table}"
        out += [
            Figure("warehouse", f"{label} append_frame rows/s", "rows/s", [len(df) / s for s in ours], note=note),
            Figure("warehouse", f"{label} landing + merge rows/s", "rows/s", [len(df) / s for s in landed], note=note),
            Figure("warehouse", f"{label} DuckDB CTAS rows/s", "rows/s", [len(df) / s for s in base], note=note),
            Figure("warehouse", f"{label} append_frame / CTAS time", "x", [o / b for o, b in zip(ours, base)],
                   target="≤ 1.5x", note="same run, pairwise"),
            Figure("warehouse", f"{label} landing + merge / CTAS time", "x", [o / b for o, b in zip(landed, base)],
                   target="≤ 1.5x", note="same run, pairwise"),
        ]
    catalog = items_frame(items)
    for method in ("delete_insert", "insert_or_replace"):
        times = timed(lambda m=method: one_upsert(tmp, catalog, m), ctx.repeats)
        out.append(Figure("warehouse", f"catalog re-upsert {method}", "s", times, note=f"{len(catalog):,} rows, every key replaced"))
    export = export_figures(tmp, rows)
    out += [
        Figure("warehouse", "export: total time", "s", [export["seconds"]], note=f"{rows:,} orders in the live file"),
        Figure("warehouse", "export: live file's lock held", "s", [export["lock_held_seconds"]],
               note="ATTACH READ_ONLY + COPY FROM DATABASE; marts and Parquet are built from the copy"),
        Figure("warehouse", "export: peak RSS", "MiB", [export["peak_rss_mib"]], note="the exporting process alone"),
    ]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out.append(Figure("warehouse", "peak RSS of the bench process", "MiB", [peak], note="includes the other benchmarks run before it"))
    return out


_EXPORT_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[3])
from _harness import own_peak_rss_mib
from sync_assets.warehouse import export_snapshot
start = time.perf_counter()
r = export_snapshot(sys.argv[1], sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - start, "lock_held_seconds": r.lock_held_seconds,
                  "orders": r.row_counts["analytics.orders"], "peak_rss_mib": own_peak_rss_mib()}))
"""


def export_figures(tmp: Path, rows: int) -> dict:
    """Build a live warehouse of ``rows`` orders through the write path, then export it in a child process."""
    import json
    import subprocess

    live = tmp / f"live-{time.monotonic_ns()}.duckdb"
    landing = LandingArea(tmp / "export-landing", Ledger(tmp / "bench-ledger.sqlite"))
    with duckdb.connect(str(live)) as conn:
        ensure_schema(conn)
        for start in range(0, rows, 250_000):
            df = orders_frame(min(250_000, rows - start), offset=start)
            merge_files(conn, [landing.write("raw.shopify_orders", df, f"bench-{start}")])
    from sync_assets.defs.warehouse_models import run_dbt

    run_dbt(live, "run")  # the marts as views, as the export job's dbt step leaves them; the export materialises them
    out = subprocess.run([sys.executable, "-c", _EXPORT_CHILD, str(live), str(tmp / "snapshot"), str(BENCH_DIR)],
                         capture_output=True, text=True, check=True, cwd=str(BENCH_DIR.parent))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["orders"] == rows, result
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--export-only", action="store_true", help="only the export of a --rows warehouse")
    args = parser.parse_args()
    proc = psutil.Process()
    with tempfile.TemporaryDirectory(prefix="bench_wh_") as d:
        tmp = Path(d)
        for label, df, table in () if args.export_only else (
            ("orders (raw.shopify_orders)", orders_frame(args.rows), "raw.shopify_orders"),
            ("catalog (raw.netsuite_items)", items_frame(args.items), "raw.netsuite_items"),
        ):
            ours, base, landed = [], [], []
            for _ in range(args.runs):  # interleaved so drift in the machine hits all alike
                base.append(one_load(tmp, df, table, "ctas"))
                ours.append(one_load(tmp, df, table, "append_frame"))
                landed.append(one_load(tmp, df, table, "land_merge"))
            report(label, len(df), ours, base)
            report(label, len(df), landed, base, name="landing+merge")
        catalog = items_frame(args.items)
        for method in () if args.export_only else ("delete_insert", "insert_or_replace"):
            times = timed(lambda m=method: one_upsert(tmp, catalog, m), args.runs)
            print(f"upsert_frame {method:<18} rows={len(catalog):>9,}  median {statistics.median(times):6.3f}s")
        export = export_figures(tmp, args.rows)
        print(f"export of {args.rows:,} orders: {export['seconds']:.2f}s total, live file's lock held "
              f"{export['lock_held_seconds']:.2f}s, export process peak RSS {export['peak_rss_mib']:,.0f} MiB")
    peak = getattr(proc.memory_info(), "peak_wset", None) or _peak_rss_linux()
    print(f"peak RSS {peak / 2**20:,.0f} MiB")


def _peak_rss_linux() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


if __name__ == "__main__":
    main()
