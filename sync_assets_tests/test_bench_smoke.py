"""The benchmark command still runs end to end (toy sizes), so the benchmarks never rot.

It checks that every connector figure is printed with a number, never how fast anything was.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

EXPECTED = (
    "suiteql keyset rows/s",
    "suiteql keyset rows/s, cap lowered",
    "shopify bulk read orders/s",
    "shopify paged read orders/s",
    "shopify paged API economy",
    "peak RSS, bulk streamed",
    "netsuite upserts/s, max_concurrency 1",
    "netsuite upserts/s, max_concurrency 5",
    "netsuite failed upserts, max_concurrency 5",
)


def test_quick_connector_benchmark_prints_its_figures():
    command = [sys.executable, "bench/run.py", "--quick", "--repeats", "1", "--no-json", "connectors"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bench/run.py failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    # table columns are separated by two or more spaces: bench, measure, median, min, max, unit, n, note
    rows = [re.split(r"\s{2,}", line) for line in done.stdout.splitlines() if line.startswith("connectors  ")]
    for name in EXPECTED:
        matching = [row for row in rows if row[1].startswith(name)]
        assert matching, f"no table row for {name!r} in:\n{done.stdout}"
        median_min_max = matching[0][2:5]
        assert all(re.fullmatch(r"-?[\d,]+(\.\d+)?(e[+-]\d+)?", c) for c in median_min_max), matching[0]


def test_run_lists_and_refuses_unknown_benchmarks():
    done = subprocess.run(
        [sys.executable, "bench/run.py", "no-such-bench"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "unknown benchmark(s) ['no-such-bench']" in done.stderr and "connectors" in done.stderr


def test_quick_catalog_benchmark_pushes_only_the_changed_products():
    command = [sys.executable, "bench/run.py", "--quick", "--repeats", "1", "--no-json", "catalog"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"bench/run.py failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    rows = {re.split(r"\s{2,}", line)[1]: re.split(r"\s{2,}", line) for line in done.stdout.splitlines()
            if line.startswith("catalog  ")}
    assert rows["first run: items read"][2] == "400.0" and rows["first run: products pushed"][2] == "0"
    # quick size: 2 of 100 products edited in NetSuite; the second run pushes exactly those
    assert rows["1% changed: products pushed"][2] == "2.00"
    assert "productSet calls counted by the sandbox: 2" in rows["1% changed: products pushed"][-1]


def test_a_short_stream_runs_through_the_daemon_and_prints_every_figure(tmp_path):
    """bench/streams.py end to end at toy size: one 20-a-minute stream of 20 s, the batch jobs launched."""
    command = [sys.executable, "bench/streams.py", "--rates", "20", "--minutes", "0.34"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = done.stdout
    assert done.returncode == 0, f"bench/streams.py failed ({done.returncode}):\n{out[-4000:]}\n{done.stderr[-4000:]}"
    assert re.search(r"reading one order once costs \d+(\.\d+)? Shopify points", out), out
    synced = re.search(r"(\d+)/(\d+) orders synced over", out)
    assert synced and int(synced.group(2)) >= 5 and synced.group(1) == synced.group(2), out  # none lost
    for label in ("Shopify points, every flow", "NetSuite calls, every flow", "order placed → sales order",
                  "inventory receipt → storefront", "NetSuite peak admitted in flight", "targets at 20/min"):  # fmt: skip
        assert label in out, f"no {label!r} in:\n{out}"
    assert re.search(r"batch catalog\s+\w+", out) and re.search(r"batch reconciliation\s+\w+", out), out


def test_quick_backfill_benchmark_lands_every_order_and_prints_its_figures():
    command = [sys.executable, "bench/run.py", "--quick", "--repeats", "1", "--no-json", "backfill"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"bench/run.py failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "500 orders: 500 landed" in done.stdout and "2,000 orders: 2,000 landed" in done.stdout, done.stdout
    assert "2,000 rows appended" in done.stdout, done.stdout
    rows = {re.split(r"\s{2,}", line)[1]: re.split(r"\s{2,}", line) for line in done.stdout.splitlines()
            if line.startswith("backfill  ")}
    for name in ("500 orders: peak RSS", "2,000 orders: peak RSS", "2,000 orders: backfill wall time"):
        assert re.fullmatch(r"[\d,]+(\.\d+)?", rows[name][2]), rows.get(name)
