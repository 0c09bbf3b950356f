"""The processes under ``sync-assets dev``, so that Ctrl-C stops all of them (Linux; elsewhere a no-op).

Each helper ``sync-assets dev`` starts runs in a process group of its own (``spawn``): a terminal's Ctrl-C
then reaches ``dev`` alone, which stops the helpers one stage at a time, rather than every process at once
and then each again. In exchange, a helper gets SIGTERM if ``dev`` itself dies (``PR_SET_PDEATHSIG``).

Dagster's default launcher (used while the run worker is down) runs each run as a child of the code
server, and ``dagster dev`` stops without waiting for the code server, which in turn waits for its runs.
Left alone, those processes would be re-parented to init and outlive the command, still retrying against
a sandbox that is gone. ``sync-assets dev`` therefore makes itself a child subreaper (orphaned
descendants are re-parented to it instead) and, on the way out, interrupts whatever is left below it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Iterable

_LINUX = sys.platform.startswith("linux")


PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    """Linux ``prctl(2)`` with one argument (callers check the platform)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _terminate_with_parent() -> None:  # runs in the child, between fork and exec
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(cmd: list[str], **kwargs) -> subprocess.Popen:
    """Start a helper in its own process group, with no terminal input, terminated if we die."""
    # preexec_fn is unsafe only with other threads running; `dev` starts its helpers from its only thread.
    return subprocess.Popen(cmd, process_group=0, stdin=subprocess.DEVNULL,
                            preexec_fn=_terminate_with_parent if _LINUX else None,  # noqa: PLW1509
                            **kwargs)  # fmt: skip


def become_subreaper() -> None:
    """Adopt orphaned descendants (``PR_SET_CHILD_SUBREAPER``); not inherited by children."""
    if _LINUX:
        prctl(PR_SET_CHILD_SUBREAPER, 1)


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp, session, ...), or None
    when there is no such process (or no /proc). The name is skipped whole: it may hold spaces or ")"."""
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _parents() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state letter) of every process, from /proc."""
    table: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        fields = stat_fields(int(name)) if name.isdigit() else None
        if fields is not None:  # else not a process, or it exited while we looked
            table[int(name)] = (int(fields[1]), fields[0])
    return table


def descendants(root: int, *, spare: Iterable[int] = ()) -> list[int]:
    """Live processes below ``root``, except the subtrees rooted at ``spare``."""
    if not _LINUX:
        return []
    children: dict[int, list[int]] = {}
    for pid, (ppid, state) in _parents().items():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    spared, found, todo = set(spare), [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in spared:
                found.append(child)
                todo.append(child)
    return found


def reap_adopted(started: Iterable[int]) -> None:
    """Collect the exit status of adopted orphans that ended (else they stay zombies).

    Only pids we did not start ourselves: the others belong to their ``Popen`` objects.
    """
    if not _LINUX:
        return
    me, ours = os.getpid(), set(started)
    for pid, (ppid, state) in _parents().items():
        if ppid == me and state == "Z" and pid not in ours:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)


class OrphanReaper:
    """:func:`reap_adopted` for a supervisor's loop, scanning /proc only after a SIGCHLD said some child
    ended: on a host with thousands of processes a scan every second would cost a good part of a core."""

    def __init__(self) -> None:
        self._child_ended = True
        if _LINUX:
            signal.signal(signal.SIGCHLD, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self._child_ended = True

    def reap(self, started: Iterable[int]) -> None:
        if self._child_ended:
            self._child_ended = False  # before the scan: a child ending during it is noted again
            reap_adopted(started)


def _ends_with_its_run(pid: int) -> bool:
    """Dagster's compute-log helpers (``tail -F`` and the script watching it) stop by themselves once their
    run process has gone; interrupted, each would print a traceback."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().split(b"\0")
    except OSError:
        return False
    return argv[0] == b"tail" or any(arg.endswith(b"/watch_orphans.py") for arg in argv[:2])


def _signal_all(pids: Iterable[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def interrupt_then_kill(interrupt: Iterable[int], remaining: Callable[[], Collection[int]],
                        grace_seconds: float) -> list[int]:  # fmt: skip
    """SIGINT ``interrupt`` (as Ctrl-C would), wait until ``remaining()`` lists nothing or ``grace_seconds``
    have passed, then SIGKILL whatever it still lists. Returns the pids that had to be killed."""
    _signal_all(interrupt, signal.SIGINT)
    deadline = time.monotonic() + grace_seconds
    left = remaining()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = remaining()
    _signal_all(left, signal.SIGKILL)
    return list(left)


def stop_leftovers(*, spare: Iterable[int] = (), timeout: float = 15.0) -> list[int]:
    """Interrupt every process still below us (bar the subtrees of ``spare``); kill what remains after
    ``timeout``. Returns the pids that were found.

    Called once the processes we started, other than ``spare``, have been stopped and reaped, so what is
    left is theirs: code servers, runs started by them, log tailers.
    """
    me, spare = os.getpid(), set(spare)
    left = descendants(me, spare=spare)
    if not left:
        return []

    def remaining() -> list[int]:
        reap_adopted(spare)
        return descendants(me, spare=spare)

    if interrupt_then_kill([pid for pid in left if not _ends_with_its_run(pid)], remaining, timeout):
        time.sleep(0.2)  # for the kernel to deliver the kills, then collect the zombies
        reap_adopted(spare)
    return left
