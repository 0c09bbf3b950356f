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
from collections.abc import Iterable

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


def _parents() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, state letter) of every process, from /proc."""
    table: dict[int, tuple[int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return table
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat_file:
                stat = stat_file.read()
        except OSError:
            continue  # it exited while we looked
        state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]  # the command name may hold spaces or ")"
        table[int(name)] = (int(ppid), state)
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


def stop_leftovers(*, spare: Iterable[int] = (), timeout: float = 15.0) -> list[int]:
    """Interrupt every process still below us (bar the subtrees of ``spare``), as Ctrl-C would; kill what
    remains after ``timeout``. Returns the pids that were found.

    Called once the processes we started, other than ``spare``, have been stopped and reaped, so what is
    left is theirs: code servers, runs started by them, log tailers.
    """
    me, spare = os.getpid(), set(spare)
    left = descendants(me, spare=spare)
    if not left:
        return []
    _signal_all([pid for pid in left if not _ends_with_its_run(pid)], signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap_adopted(spare)
        if not descendants(me, spare=spare):
            return left
        time.sleep(0.2)
    _signal_all(descendants(me, spare=spare), signal.SIGKILL)
    time.sleep(0.2)
    reap_adopted(spare)
    return left
