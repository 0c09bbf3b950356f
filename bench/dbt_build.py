"""The dbt marts built through Dagster, as every product build and many tests do it.

    uv run python bench/run.py dbt_build
    uv run python bench/dbt_build.py [--runs 3]   # standalone report

Each build materialises the ``warehouse_models`` asset (``dbt build``: views + their tests, then Dagster's
row counts and column schema) on a fresh warehouse file, as each test, each deployment and the snapshot's
docs use their own file. dbt reuses its saved parse (``target/partial_parse.msgpack``) only while the
profile hashes the same. Builds alternate between the project's profile (the file attached by the plugin,
``sync_assets/warehouse/dbt_plugin.py``) and the profile as it was before (``path:`` naming the file), so
the two are compared pairwise in one run; each build's dbt log says whether it re-parsed the project.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
for _path in (BENCH_DIR.parent, BENCH_DIR):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from _harness import Context, Figure  # noqa: E402

# The profile before the plugin: the file's path in the profile, so its hash changed with every file.
PATH_PROFILE = """sync_assets:
  target: live
  outputs:
    live:
      type: duckdb
      path: "{{ env_var('SYNC_ASSETS_DBT_WAREHOUSE') }}"
      schema: main
      threads: 2
"""

_BUILD_CHILD = """
import json, sys, time
from datetime import datetime
import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_dbt import DbtCliResource
from sync_assets.defs.warehouse_models import PROJECT_DIR, build_dbt_assets, prepare, project
models = build_dbt_assets(prepare())
path_profiles, files = sys.argv[1], sys.argv[2:]
for i, path in enumerate(files):
    mode = "plugin" if i % 2 == 0 else "path"
    dbt = DbtCliResource(project_dir=project, profiles_dir=str(PROJECT_DIR) if mode == "plugin" else path_profiles)
    before = set((PROJECT_DIR / "target").iterdir())
    start = time.perf_counter()
    result = dg.materialize([models], resources={"dbt": dbt, "warehouse": DuckDBResource(database=path)})
    seconds = time.perf_counter() - start
    assert result.success
    log = next(p / "dbt.log" for p in set((PROJECT_DIR / "target").iterdir()) - before if (p / "dbt.log").exists())
    events = [json.loads(line)["info"] for line in log.read_text().splitlines() if line.startswith("{")]
    at = lambda e: datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
    parsed = next(at(e) for e in events if e["msg"].startswith("Found "))  # the project is loaded
    print(json.dumps({"mode": mode, "seconds": seconds, "parse": (parsed - at(events[0])).total_seconds(),
                      "dbt": (at(events[-1]) - at(events[0])).total_seconds(),
                      "full_parse": any("Unable to do partial parsing" in e["msg"] for e in events)}), flush=True)
"""


def measure(workdir: Path, pairs: int) -> list[dict]:
    import json

    profiles = workdir / "path_profile"
    profiles.mkdir(exist_ok=True)
    (profiles / "profiles.yml").write_text(PATH_PROFILE)
    files = [str(workdir / f"build-{i}.duckdb") for i in range(2 * pairs + 1)]  # the first warms imports
    out = subprocess.run([sys.executable, "-c", _BUILD_CHILD, str(profiles), *files], capture_output=True,
                         text=True, check=True, cwd=str(BENCH_DIR.parent))
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return rows[1:]


def figures(ctx: Context) -> list[Figure]:
    rows = measure(ctx.workdir, ctx.repeats)
    out = []
    for mode, label in (("plugin", "profile attaches the file (now)"), ("path", "profile names the file (before)")):
        mine = [r for r in rows if r["mode"] == mode]
        note = f"{sum(r['full_parse'] for r in mine)} of {len(mine)} re-parsed the project; fresh file each"
        out += [
            Figure("dbt_build", f"warehouse_models build, {label}", "s", [r["seconds"] for r in mine], note=note),
            Figure("dbt_build", f"  of which dbt itself, {label}", "s", [r["dbt"] for r in mine], note="dbt's log"),
            Figure("dbt_build", f"  of which dbt's parse, {label}", "s", [r["parse"] for r in mine],
                   note="dbt's log: start → 'Found 44 models'"),
        ]
    plugin = [r["seconds"] for r in rows if r["mode"] == "plugin"]
    path = [r["seconds"] for r in rows if r["mode"] == "path"]
    out.append(Figure("dbt_build", "build time now / before", "x", [a / b for a, b in zip(plugin, path)],
                      note="pairwise, same run"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="pairs of builds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dbt_") as d:
        rows = measure(Path(d), args.runs)
    for mode in ("plugin", "path"):
        mine = [r for r in rows if r["mode"] == mode]
        seconds = [r["seconds"] for r in mine]
        listed = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"profile {mode:<6}: build median {statistics.median(seconds):6.2f}s ({listed}); dbt itself "
              f"{statistics.median(r['dbt'] for r in mine):.2f}s, its parse {statistics.median(r['parse'] for r in mine):.2f}s; "
              f"{sum(r['full_parse'] for r in mine)} of {len(seconds)} builds re-parsed the project")
    plugin = [r["seconds"] for r in rows if r["mode"] == "plugin"]
    path = [r["seconds"] for r in rows if r["mode"] == "path"]
    ratios = [a / b for a, b in zip(plugin, path)]
    print(f"now / before, pairwise: median {statistics.median(ratios):.2f}x ({', '.join(f'{r:.2f}' for r in ratios)})")


if __name__ == "__main__":
    main()
