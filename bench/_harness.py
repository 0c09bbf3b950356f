"""What every benchmark module shares: a measured figure, the run context, repeats, the table and JSON.

A benchmark is ``bench/<name>.py`` exposing ``figures(ctx: Context) -> list[Figure]``. Modules that only
have a ``main(argv)`` script entry (accepting ``--quick``) are run by ``bench/run.py`` as a subprocess
instead, their own output shown as it comes.

The machine is noisy, so a figure is a set of repeated samples: the table shows their median with the
min and max beside it, and ratios are computed from samples taken in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Figure:
    bench: str  # module name, e.g. "connectors"
    name: str  # what was measured, e.g. "suiteql keyset rows/s"
    unit: str
    samples: list[float]  # one per repeat
    target: str = ""  # the DESIGN.md target it answers, if any
    note: str = ""  # sizes and context a reader needs to trust the number

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median, "min": self.low, "max": self.high}


@dataclass
class Context:
    quick: bool
    repeats: int
    workdir: Path  # scratch space for this run (sandbox data, temporary files)
    log: Callable[[str], None] = field(default=print)

    def size(self, full: T, quick: T) -> T:
        return quick if self.quick else full


def repeat(times: int, measure: Callable[[int], T]) -> list[T]:
    """``measure(i)`` for i in range(times); one place to keep repeats sequential and ordered."""
    return [measure(i) for i in range(times)]


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = self.elapsed()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def own_peak_rss_mib() -> float:
    """This process's own peak RSS in MiB, for a benchmark's child to report about itself at its end.

    On Linux it is ``VmHWM`` of ``/proc/self/status``, the high-water mark of the process's address space,
    which ``execve`` replaces. Not ``getrusage(RUSAGE_SELF).ru_maxrss``: the kernel carries the old address
    space's high-water mark across ``execve`` into it, and ``subprocess`` starts children with ``vfork``
    (the parent's address space), so a child of a benchmark process that had grown to 1.2 GiB reports
    1.2 GiB whatever it did itself. Elsewhere, ``ru_maxrss`` is all there is.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass  # not Linux: the platform string is all we report
    return info


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.01:
        return f"{value:.3g}" if magnitude < 1 else f"{value:.2f}"
    return f"{value:.2e}"


def table(figures: Sequence[Figure]) -> str:
    headers = ("bench", "measure", "median", "min", "max", "unit", "n", "target / note")
    rows = [
        (
            f.bench,
            f.name,
            _fmt(f.median),
            _fmt(f.low),
            _fmt(f.high),
            f.unit,
            str(len(f.samples)),
            " | ".join(part for part in (f.target, f.note) if part),
        )
        for f in figures
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    right = {2, 3, 4, 6}

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def write_json(path: Path, command: str, figures: Sequence[Figure], extra: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "command": command,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **extra,
        "figures": [f.as_json() for f in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
