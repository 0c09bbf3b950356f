"""One NetSuite concurrency budget per account, shared by every run and process on this machine.

NetSuite limits the requests in flight per *account*, not per client (reference §5.2). Each run's client
caps its own threads, but four flows running at once would still put four times the limit in flight. This
module is the account-wide cap: ``limit`` lock files in a folder (one folder per account), and a request
is in flight only while its process holds an exclusive ``flock`` on one of them.

Why file locks: the kernel releases them when a process dies, however it dies (a killed run never leaks a
slot), and they need no server. The folder must be on a local file system shared by every process that
calls the account (``NETSUITE_SLOTS_DIR``; one machine, as ``sync-assets dev`` runs; past one machine a
Dagster pool or a shared service takes this role — see README, "Scale-out").

Real-time first, in two rules:

* A batch-lane request never takes the last free slot (slot 0 is real-time's), so a real-time request
  never waits behind a batch backlog for more than one request's time.
* While a real-time request is waiting, batch requests take no slot at all: a real-time waiter holds a
  shared lock on ``realtime-waiting``, and a batch request may take a slot only if it could take that file
  exclusively at that moment.

Batch requests wait, never fail, while the real-time lane uses the budget: waiting is polling the lock
files with a short, capped backoff; the time spent shows in the client's ``queue_wait_s``.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REALTIME = "realtime"
BATCH = "batch"
LANES = (REALTIME, BATCH)
_WAITING = "realtime-waiting"
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05


class AccountSlots:
    """``limit`` request slots of one account, taken through :meth:`slot`. Thread- and process-safe."""

    def __init__(self, directory: str | os.PathLike, account_id: str, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"the NetSuite account limit must be at least 1, got {limit}")
        if not account_id or "/" in account_id or account_id.startswith("."):
            raise ValueError(f"not a NetSuite account id usable as a folder name: {account_id!r}")
        self.directory = Path(directory) / account_id
        self.limit = limit
        self.directory.mkdir(parents=True, exist_ok=True)
        self._paths = [str(self.directory / f"slot-{i}.lock") for i in range(limit)]
        self._waiting = str(self.directory / _WAITING)

    def __repr__(self) -> str:
        return f"AccountSlots({str(self.directory)!r}, limit={self.limit})"

    @contextmanager
    def slot(self, lane: str = REALTIME) -> Iterator[int]:
        """Hold one of the account's slots for the duration of one request; yields the slot's index."""
        if lane not in LANES:
            raise ValueError(f"lane must be one of {LANES}, got {lane!r}")
        realtime = lane == REALTIME
        # Real-time tries its own slot first; batch never touches it (unless the limit is 1: nothing to keep).
        order = range(self.limit) if realtime or self.limit == 1 else range(1, self.limit)
        waiting_fd: int | None = None
        pause = _FIRST_POLL_S
        try:
            while True:
                if realtime or not _realtime_waiting(self._waiting):
                    taken = _try_any(self._paths, order)
                    if taken is not None:
                        break
                if realtime and waiting_fd is None:
                    waiting_fd = _open(self._waiting)
                    fcntl.flock(waiting_fd, fcntl.LOCK_SH)  # shared: many real-time waiters at once
                time.sleep(pause)
                pause = min(_MAX_POLL_S, pause * 2)
        finally:
            if waiting_fd is not None:
                os.close(waiting_fd)  # closing releases the shared lock
        index, fd = taken
        try:
            yield index
        finally:
            os.close(fd)

    def realtime_waiting(self) -> bool:
        """Whether a real-time request is waiting for a slot now (a snapshot)."""
        return _realtime_waiting(self._waiting)

    def held(self) -> int:
        """How many slots some process holds now (a snapshot, for tests and operators)."""
        return sum(1 for i in range(self.limit) if _held(self._paths[i]))


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by child processes (PEP 446)


def _try_any(paths: list[str], order: range) -> tuple[int, int] | None:
    for i in order:
        fd = _open(paths[i])
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return i, fd
    return None


def _held(path: str) -> bool:
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _realtime_waiting(path: str) -> bool:
    """Whether a real-time request is waiting for a slot (it holds the waiting file shared)."""
    return _held(path)
