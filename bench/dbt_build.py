"""The dbt marts built through Dagster, as every product build and many tests do it.

    uv run python bench/run.py dbt_build
    uv run python bench/dbt_build.py [--runs 3]   # standalone report

Each build materialises the ``warehouse_models`` asset (``dbt build``: views + their tests, then Dagster's
row counts and column schema) on a fresh warehouse file, as each test, each deployment and the snapshot's
docs use their own file. dbt reuses its parse (``target/partial_parse.msgpack``) only while the profile
hashes the same; the first figure is the build right after ``dbt parse``, the others the builds after it.
Also reports the seconds of ``dbt parse`` itself (full, without a saved parse, and partial).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _harness import Context, Figure  # noqa: E402

_BUILD_CHILD = """
import sys, time
import dagster as dg
from dagster_duckdb import DuckDBResource
from sync_assets.defs.warehouse_models import build_dbt_assets, definitions, prepare
models = build_dbt_assets(prepare())
dbt = definitions(models).resources["dbt"]
for path in sys.argv[1:]:
    start = time.perf_counter()
    result = dg.materialize([models], resources={"dbt": dbt, "warehouse": DuckDBResource(database=path)})
    assert result.success
    print("build", time.perf_counter() - start, flush=True)
"""


def _parse_seconds(project_dir: Path, warehouse: Path) -> float:
    import os

    from sync_assets.defs.warehouse_models import model_env

    env = {**os.environ, **model_env(), "SYNC_ASSETS_DBT_WAREHOUSE": str(warehouse), "DBT_PROFILES_DIR": str(project_dir)}
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", str(project_dir)],
                   env=env, check=True, capture_output=True, cwd=str(project_dir))
    return time.perf_counter() - start


def measure(workdir: Path, builds: int) -> dict[str, list[float]]:
    from sync_assets.defs.warehouse_models import PROJECT_DIR

    target = PROJECT_DIR / "target"
    shutil.rmtree(target, ignore_errors=True)  # no saved parse: the first parse is a full one
    full = _parse_seconds(PROJECT_DIR, workdir / "parse-a.duckdb")
    partial = _parse_seconds(PROJECT_DIR, workdir / "parse-b.duckdb")  # another file, as the next test's
    files = [str(workdir / f"build-{i}.duckdb") for i in range(builds)]
    out = subprocess.run([sys.executable, "-c", _BUILD_CHILD, *files], capture_output=True, text=True,
                         check=True, cwd=str(BENCH_DIR.parent))
    seconds = [float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("build ")]
    return {"parse_full": [full], "parse_other_file": [partial], "builds": seconds}


def figures(ctx: Context) -> list[Figure]:
    got = measure(ctx.workdir, max(2, ctx.repeats + 1))
    first, rest = got["builds"][0], got["builds"][1:]
    note = "dg.materialize(warehouse_models) on a fresh file each, one process"
    return [
        Figure("dbt_build", "dbt parse, no saved parse", "s", got["parse_full"], note="subprocess, incl. dbt's import"),
        Figure("dbt_build", "dbt parse, saved parse, another file", "s", got["parse_other_file"],
               note="partial parse unless the profile changed"),
        Figure("dbt_build", "first build after dbt parse", "s", [first], note=note),
        Figure("dbt_build", "later builds (other files)", "s", rest, note=note),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dbt_") as d:
        got = measure(Path(d), args.runs + 1)
    print(f"dbt parse: {got['parse_full'][0]:.2f}s without a saved parse, "
          f"{got['parse_other_file'][0]:.2f}s with it on another file")
    builds = got["builds"]
    print(f"warehouse_models build: first {builds[0]:.2f}s, then median {statistics.median(builds[1:]):.2f}s "
          f"over {len(builds) - 1} ({', '.join(f'{s:.2f}' for s in builds[1:])})")


if __name__ == "__main__":
    main()
