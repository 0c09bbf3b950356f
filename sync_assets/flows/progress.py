"""How far a long run is, in the run's event log: a line at most every few seconds, and one at the end.

The flows log through ``logging.getLogger(__name__)``; the instance file (``python_logs``) hands the
``sync_assets`` loggers to Dagster, so these lines show in the Dagster UI beside the run's own events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Progress:
    def __init__(self, log: logging.Logger, what: str, *, total: int | None = None, every_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.total, self.every = log, what, total, every_seconds
        self._clock = clock
        self._started = self._last = clock()

    def update(self, done: int, detail: str = "") -> None:
        now = self._clock()
        if now - self._last >= self.every:
            self._last = now
            self._emit(done, detail, now)

    def finish(self, done: int, detail: str = "") -> None:
        self._emit(done, detail, self._clock(), final=True)

    def _emit(self, done: int, detail: str, now: float, final: bool = False) -> None:
        of = f" of {self.total:,}" if self.total is not None else ""
        elapsed = now - self._started
        rate = f", {done / elapsed:,.0f}/s" if elapsed > 0 and done else ""
        tail = f" ({detail})" if detail else ""
        self.log.info("%s: %s%s%s after %.0f s%s%s", self.what, f"{done:,}", of, " done" if final else "",
                      elapsed, rate, tail)
