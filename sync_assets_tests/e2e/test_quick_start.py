"""The README's first command, as a user runs it: ``sync-assets dev`` with no settings at all (the sandbox's
defaults), in a throw-away data folder. The living shop places orders; they must reach NetSuite through
warm-started runs, the UI must answer, and Ctrl-C must stop every process the command started.

Only the ports and the data folder differ from the quick start (so it runs beside a developer's own).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from sync_assets import settings
from sync_assets.devstack import child_env, free_port, tail
from sync_assets.process_tree import stat_fields
from sync_assets.sandbox.control_client import SandboxControl
from sync_assets.state.ledger import Ledger

pytestmark = pytest.mark.daemon

GIVE_UP_SECONDS = 180.0
_RUNS = '{ runsOrError(limit: 50) { ... on Runs { results { jobName status tags { key value } } } } }'


def _session_members(sid: int) -> list[str]:
    """``pid: command line`` of each live (not zombie) process in the session, from /proc. `dev` puts its
    helpers in process groups of their own, but they stay in its session."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is None or int(fields[3]) != sid or fields[0] == "Z":
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # it exited while we looked
        members.append(f"{entry.name}: {cmdline[:300]}")
    return members


def _runs(port: int) -> list[dict]:
    try:
        answer = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": _RUNS}, timeout=30).json()
    except (requests.RequestException, ValueError):
        return []  # the webserver is still starting
    return ((answer.get("data") or {}).get("runsOrError") or {}).get("results") or []


def _stored_runs(tmp_path: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home")) as instance:
        return list(instance.get_runs())


def _kill_session(sid: int) -> None:
    for member in _session_members(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(member.split(":")[0]), signal.SIGKILL)


def _in_flight(runs: list[dict], *, worker: str) -> list[dict]:
    return [r for r in runs if r["status"] in ("STARTING", "STARTED")
            and {"key": "sync_assets/run_worker", "value": worker} in r["tags"]]  # fmt: skip


def _worker_pids(log_path: Path) -> list[int]:
    return [int(m) for m in re.findall(r"run worker ready on .* \(pid (\d+)\)", log_path.read_text())]


def _orders_done(ledger_path: Path) -> int:
    if not ledger_path.exists():
        return 0
    ledger = Ledger(ledger_path)
    try:
        return len(ledger.entries("orders", status="done"))
    finally:
        ledger.close()


def test_sync_assets_dev_runs_the_product_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = child_env({
        "SYNC_ASSETS_DATA_DIR": str(tmp_path / "data"),
        "SANDBOX_PORT": str(sandbox_port),
        "WEBHOOKS_PORT": str(free_port()),
        "SANDBOX_ORDERS_PER_MINUTE": "30",
    })  # fmt: skip
    log_path = tmp_path / "dev.log"
    with open(log_path, "w") as log:
        dev = subprocess.Popen([sys.executable, "-m", "sync_assets.cli", "dev", "--port", str(port)],
                               cwd=settings.PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + GIVE_UP_SECONDS
        ledger_path = tmp_path / "data" / "state" / "ledger.sqlite"
        runs: list[dict] = []
        while _orders_done(ledger_path) < 2 or not any(
            r["jobName"] == "orders_sync" and r["status"] == "SUCCESS" for r in runs
        ):
            assert dev.poll() is None, f"sync-assets dev exited with {dev.returncode}:\n{tail(log_path, 6000)}"
            assert time.monotonic() < deadline, f"no orders synced in {GIVE_UP_SECONDS} s:\n{tail(log_path, 6000)}"
            time.sleep(0.5)
            runs = _runs(port)
        workers = {t["value"] for r in runs for t in r["tags"] if t["key"] == "sync_assets/run_worker"}
        assert "warm" in workers, runs
        assert "Sensor tick caught an error" not in log_path.read_text(), tail(log_path, 6000)
        # The quick start signs in as a Dev Dashboard app would: one granted token, shared by every run.
        assert len(list((tmp_path / "data" / "state").glob("shopify-token-*.json"))) == 1
        assert SandboxControl(sandbox_url).counters()["counters"].get("shopify.token_grants") == 1

        # A run worker that dies is brought back; runs meanwhile start the default way, in children of
        # Dagster's code server. NetSuite answering slowly keeps such a run in flight for Ctrl-C to find.
        SandboxControl(sandbox_url).set_faults("slow", service="netsuite", seconds=2.0)
        (first,) = _worker_pids(log_path)
        os.kill(first, signal.SIGKILL)
        while len(_worker_pids(log_path)) < 2 or not _in_flight(runs, worker="spawned"):
            assert time.monotonic() < deadline + 90, (
                f"no run started the default way, or the run worker was not restarted:\n{runs}\n{tail(log_path, 3000)}"
            )
            time.sleep(0.5)
            runs = _runs(port)
        assert "the run worker exited with code -9; restarting it" in log_path.read_text()
    finally:
        dev.send_signal(signal.SIGINT)  # what Ctrl-C delivers to the command
        time.sleep(0.3)
        dev.send_signal(signal.SIGINT)  # `uv run` may pass the same Ctrl-C on; or an impatient second one
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            pass
        stopped = dev.poll() is not None
        deadline = time.monotonic() + 3  # `dev` returns once its processes have gone; a moment for the kernel
        while _session_members(dev.pid) and time.monotonic() < deadline:
            time.sleep(0.25)
        leftovers = _session_members(dev.pid)
        if leftovers:
            _kill_session(dev.pid)
    assert stopped, f"sync-assets dev did not stop on SIGINT:\n{tail(log_path, 3000)}"
    assert not leftovers, "processes of sync-assets dev outlived it:\n" + "\n".join(leftovers) + f"\n\n{tail(log_path, 3000)}"
    # Interrupted, not abandoned: every run recorded its end, so none holds its flow "in flight" next time.
    stuck = [(r.job_name, r.status.value, r.tags.get("sync_assets/run_worker")) for r in _stored_runs(tmp_path)
             if r.status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)]  # fmt: skip
    assert not stuck, f"runs left in flight after Ctrl-C: {stuck}\n{tail(log_path, 3000)}"
