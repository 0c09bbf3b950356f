"""One run of a flow executing at a time, whoever launched it: an exclusive ``flock`` per flow.

The triggers (polling sensor, webhook launcher) coalesce through the ledger's launch lease, but Dagster's
run-retry daemon launches retries on its own: a retry and a sensor-launched run once started within a
second of each other. So the run itself takes its flow's lock before it does any work and holds it to the
end; a second run of the flow waits for it (logging who holds it) and then takes what is still pending —
the ledger is the cursor, so waiting loses nothing and repeats nothing.

The kernel drops the lock when the holding process dies, so a killed run never blocks its flow. The lock
file keeps the holder's description (its run id) for the waiting run's log line.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

_FIRST_POLL_S = 0.05
_MAX_POLL_S = 1.0


class FlowLock:
    """``FlowLock(directory, flow).acquire(holder)`` ... ``release()``; not re-entrant."""

    def __init__(self, directory: str | os.PathLike, flow: str) -> None:
        if not flow or "/" in flow or flow.startswith("."):
            raise ValueError(f"not a flow name usable as a file name: {flow!r}")
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.flow = flow
        self.path = Path(directory) / f"{flow}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        """The description the current holder wrote (may be stale if nobody holds the lock)."""
        try:
            return self.path.read_text().strip() or "another run"
        except OSError:
            return "another run"

    def try_acquire(self, holder: str) -> bool:
        if self._fd is not None:
            raise RuntimeError(f"flow lock {self.flow} is already held by this object")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, holder.encode())
        self._fd = fd
        return True

    def acquire(
        self,
        holder: str,
        *,
        on_wait: Callable[[str, float], None] | None = None,
        report_every_s: float = 30.0,
    ) -> float:
        """Take the lock, waiting as long as another process holds it; returns the seconds waited.

        ``on_wait(holder, waited_s)`` is called when the wait begins and every ``report_every_s`` after.
        """
        began = time.monotonic()
        next_report = began
        pause = _FIRST_POLL_S
        while not self.try_acquire(holder):
            now = time.monotonic()
            if on_wait is not None and now >= next_report:
                on_wait(self.holder(), now - began)
                next_report = now + report_every_s
            time.sleep(pause)
            pause = min(_MAX_POLL_S, pause * 2)
        return time.monotonic() - began

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
