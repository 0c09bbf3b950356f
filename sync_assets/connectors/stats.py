"""Thread-safe per-client counters, the numbers the Dagster layer reports as materialization metadata.

Each connector declares its own fields (a subclass naming them); the locking, the validation of names
and the shape of ``snapshot()`` are this one mechanism.
"""

from __future__ import annotations

import threading


class CallStats:
    """Totals since the client was made. Subclasses name their fields in three groups, which decide how
    ``snapshot()`` reports them: ``COUNTS`` as ints, ``SECONDS`` rounded to the millisecond, ``AMOUNTS``
    as plain floats. ``snapshot()`` lists them in that order."""

    COUNTS: tuple[str, ...] = ()
    SECONDS: tuple[str, ...] = ()
    AMOUNTS: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = {name: 0 for name in self.COUNTS}
        self._values.update({name: 0.0 for name in self.SECONDS + self.AMOUNTS})

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name in amounts:
                if name not in self._values:
                    raise KeyError(f"unknown stat {name!r} for {type(self).__name__}")
            for name, amount in amounts.items():
                self._values[name] += amount

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            values = dict(self._values)
        out: dict[str, float] = {name: int(values[name]) for name in self.COUNTS}
        out.update({name: round(values[name], 3) for name in self.SECONDS})
        out.update({name: values[name] for name in self.AMOUNTS})
        return out
