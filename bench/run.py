"""The one benchmark command.

    uv run python bench/run.py [--quick] [--repeats N] [names...]

Runs the named benchmarks (all of them if none is named), prints one table of figures (median, min,
max over repeats) and writes them as JSON to ``bench/results/<names>-<timestamp>.json``.

A benchmark is a module ``bench/<name>.py``. If it exposes ``figures(ctx) -> list[Figure]`` (see
``bench/_harness.py``) it runs in this process and its figures join the table. Otherwise it must have a
``main(argv)`` script entry that accepts ``--quick``: it runs as a subprocess, its own report is shown as
it prints, and the table records its exit status and wall time. Figures are reported, never asserted;
the command fails only if a benchmark could not run.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for path in (ROOT, BENCH_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from _harness import Context, Figure, table, write_json  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
_NOT_BENCHMARKS = {"run"}


def available() -> dict[str, str]:
    """name -> "figures" | "script", read from the source (importing every benchmark would be slow)."""
    found: dict[str, str] = {}
    for path in sorted(BENCH_DIR.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name in _NOT_BENCHMARKS:
            continue
        functions = {
            node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)
        }
        if "figures" in functions:
            found[name] = "figures"
        elif "main" in functions:
            found[name] = "script"
    return found


def run_script(name: str, quick: bool) -> Figure:
    command = [sys.executable, str(BENCH_DIR / f"{name}.py"), *(["--quick"] if quick else [])]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.call(command, cwd=ROOT)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"bench/{name}.py exited with status {code}")
    return Figure(name, "script wall time", "s", [seconds], note="its figures are in its own output above")


def main(argv: list[str] | None = None) -> int:
    known = available()
    parser = argparse.ArgumentParser(description="Run sync_assets benchmarks and print their figures.")
    parser.add_argument("names", nargs="*", metavar="name", help=f"benchmarks to run (default: all of {sorted(known)})")
    parser.add_argument("--quick", action="store_true", help="toy sizes: proves the benchmark runs, not its speed")
    parser.add_argument("--repeats", type=int, help="samples per measurement (default 3; 2 with --quick)")
    parser.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args(argv)
    names = args.names or sorted(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; available: {sorted(known)}")
    repeats = args.repeats or (2 if args.quick else 3)
    if repeats < 1:
        parser.error("--repeats must be at least 1")

    figures: list[Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sync_assets_bench_") as scratch:
        for name in names:
            try:
                if known[name] == "script":
                    figures.append(run_script(name, args.quick))
                    continue
                print(f"\n=== {name}{' (quick)' if args.quick else ''}", flush=True)
                workdir = Path(scratch) / name
                workdir.mkdir()
                ctx = Context(quick=args.quick, repeats=repeats, workdir=workdir, log=lambda s: print(s, flush=True))
                figures.extend(importlib.import_module(name).figures(ctx))
            except Exception:  # one broken benchmark must not hide the others' figures
                traceback.print_exc()
                failed.append(name)

    print()
    print(table(figures))
    if not args.no_json and figures:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"{'-'.join(names)}-{stamp}.json"
        command = "uv run python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_json(path, command.strip(), figures, {"quick": args.quick, "repeats": repeats, "failed": failed})
        print(f"\nfigures written to {path.relative_to(ROOT)}")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
