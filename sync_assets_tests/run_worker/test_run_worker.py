"""The warm run worker, for real: a ``sync-assets run-worker`` process serving a throw-away Dagster
instance, runs launched through :class:`WarmRunLauncher` and read back from the instance's own storage."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.launcher import LaunchRunContext, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import serialize_value

from sync_assets import settings
from sync_assets.cli import install_instance_config, run_worker_command
from sync_assets.defs.operations import DEAD_LETTERS, REFRESH_JOB
from sync_assets.run_worker.launcher import PID_TAG, WORKER_TAG, WarmRunLauncher
from sync_assets.run_worker.protocol import (
    WorkerUnavailable,
    is_listening,
    process_alive,
    request_run,
    socket_path,
)

STARTUP_SECONDS = 120.0  # the worker imports dagster and the project: seconds, more on a loaded machine
RUN_SECONDS = 90.0


@dataclass
class Worker:
    home: Path
    policy: Path
    env: dict[str, str]
    process: subprocess.Popen
    log: Path

    @property
    def socket(self) -> Path:
        return socket_path(self.home)

    def wait_listening(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"run worker exited:\n{self.log.read_text()[-3000:]}"
            if is_listening(self.socket):
                return
            time.sleep(0.1)
        raise AssertionError(f"run worker not listening after {timeout} s:\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    home = install_instance_config(tmp_path / "home")
    policy = tmp_path / "sync_policy.yaml"
    shutil.copyfile(settings.PROJECT_ROOT / "sync_assets" / "sync_policy.yaml", policy)
    # Shopify and NetSuite for these runs: a port that queues connections and never answers them.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(16)
    silent = f"http://127.0.0.1:{blackhole.getsockname()[1]}"
    env = {"DAGSTER_HOME": str(home), "SYNC_ASSETS_DATA_DIR": str(tmp_path / "data"), "SYNC_POLICY_PATH": str(policy),
           "SHOPIFY_SHOP_URL": silent, "NETSUITE_BASE_URL": silent}  # fmt: skip
    for name, value in env.items():  # the launching side (this test) must see the same instance and settings
        monkeypatch.setenv(name, value)
    log = tmp_path / "run_worker.log"
    with open(log, "w") as out:
        process = subprocess.Popen(run_worker_command(), cwd=settings.PROJECT_ROOT, env={**os.environ, **env},
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    handle = Worker(home, policy, env, process, log)
    try:
        handle.wait_listening()
        yield handle
    finally:
        blackhole.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _recon_job(name: str, module: str = "sync_assets.definitions"):
    return ReconstructableRepository.for_module(module, "defs", str(settings.PROJECT_ROOT)).get_reconstructable_job(name)


def _create_run(instance: dg.DagsterInstance, job_name: str = REFRESH_JOB) -> dg.DagsterRun:
    recon = _recon_job(job_name)
    return instance.create_run_for_job(recon.get_definition(), job_code_origin=recon.get_python_origin())


def _wait_finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} not finished after {RUN_SECONDS} s")


def _engine_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.message or "" for entry in instance.all_logs(run_id)]


def test_a_run_executes_in_a_child_of_the_worker(worker: Worker) -> None:
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_launcher, WarmRunLauncher)
        run = _create_run(instance)
        instance.launch_run(run.run_id, workspace=None)  # the warm path needs no workspace
        finished = _wait_finished(instance, run.run_id)

        assert finished.status == dg.DagsterRunStatus.SUCCESS, _engine_messages(instance, run.run_id)
        assert finished.tags[WORKER_TAG] == "warm"
        pid = int(finished.tags[PID_TAG])
        assert pid not in (os.getpid(), worker.process.pid)
        assert f"Started process for run (pid: {pid})." in _engine_messages(instance, run.run_id)
        assert instance.get_latest_materialization_event(DEAD_LETTERS) is not None


def test_without_a_worker_the_default_launcher_takes_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(install_instance_config(tmp_path / "home")))
    with dg.DagsterInstance.get() as instance:
        run = _create_run(instance)
        # Dagster's own launcher needs the workspace's code server; its complaint proves it was handed the run.
        with pytest.raises(dg.DagsterInvariantViolationError, match="DefaultRunLauncher requires a workspace"):
            instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        assert instance.get_run_by_id(run.run_id).tags[WORKER_TAG] == "spawned"
        assert any("Starting a fresh run process: no run worker at" in m for m in _engine_messages(instance, run.run_id))


def test_health_check_fails_a_warm_run_whose_process_is_gone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(install_instance_config(tmp_path / "home")))
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    with dg.DagsterInstance.get() as instance:
        launcher = instance.run_launcher
        assert launcher.supports_check_run_worker_health
        run = _create_run(instance)
        instance.add_run_tags(run.run_id, {WORKER_TAG: "warm", PID_TAG: str(exited.pid)})
        assert launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.FAILED
        instance.add_run_tags(run.run_id, {PID_TAG: str(os.getpid())})
        assert launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.RUNNING
        # A retried run inherits its parent's tags; once the launcher re-tags it "spawned" the pid is ignored.
        instance.add_run_tags(run.run_id, {WORKER_TAG: "spawned", PID_TAG: str(exited.pid)})
        assert launcher.check_run_worker_health(instance.get_run_by_id(run.run_id)).status == WorkerStatus.RUNNING


def test_code_it_has_not_loaded_is_refused(worker: Worker) -> None:
    with dg.DagsterInstance.get() as instance:
        foreign = ExecuteRunArgs(
            job_origin=_recon_job("some_job", module="someone_elses.definitions").get_python_origin(),
            run_id="0" * 36,
            instance_ref=instance.get_ref(),
        )
    with pytest.raises(WorkerUnavailable, match="not the preloaded sync_assets.definitions"):
        request_run(worker.socket, serialize_value(foreign))
    with pytest.raises(WorkerUnavailable, match="bad request"):
        request_run(worker.socket, "not json at all")


def test_an_edited_policy_makes_the_worker_reload_before_the_next_run(worker: Worker) -> None:
    later = time.time() + 5
    os.utime(worker.policy, (later, later))
    with dg.DagsterInstance.get() as instance:
        run = _create_run(instance)
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=instance.get_ref())
        with pytest.raises(WorkerUnavailable, match="project code changed .*sync_policy.yaml"):
            request_run(worker.socket, serialize_value(args))
        worker.wait_listening()  # the same process, re-executed with the new files
        assert worker.process.poll() is None
        instance.launch_run(run.run_id, workspace=None)
        finished = _wait_finished(instance, run.run_id)
        assert finished.status == dg.DagsterRunStatus.SUCCESS
        assert finished.tags[WORKER_TAG] == "warm"


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_worker_that_stops_or_dies_interrupts_the_runs_it_started(worker: Worker, how: signal.Signals) -> None:
    """A run whose Shopify never answers is in flight when the worker goes: it must not outlive it.

    Stopped, the worker interrupts its runs itself; killed, the kernel signals them (parent-death signal).
    """
    with dg.DagsterInstance.get() as instance:
        run = _create_run(instance, "orders_sync")
        instance.launch_run(run.run_id, workspace=None)
        pid = int(instance.get_run_by_id(run.run_id).tags[PID_TAG])
        deadline = time.monotonic() + RUN_SECONDS
        while instance.get_run_by_id(run.run_id).status != dg.DagsterRunStatus.STARTED:
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)

        worker.process.send_signal(how)
        worker.process.wait(30)
        finished = _wait_finished(instance, run.run_id)
        assert finished.status in (dg.DagsterRunStatus.CANCELED, dg.DagsterRunStatus.FAILURE)
        exit_deadline = time.monotonic() + 15  # the run is recorded as ended just before its process exits
        while process_alive(pid) and time.monotonic() < exit_deadline:
            time.sleep(0.1)
        assert not process_alive(pid)
        if how == signal.SIGTERM:
            assert not worker.socket.exists()


def test_socket_path_fits_the_platform_limit(tmp_path: Path) -> None:
    assert socket_path(tmp_path) == tmp_path.resolve() / "run_worker.sock"
    deep = tmp_path / ("x" * 120)
    fallback = socket_path(deep)
    assert len(os.fsencode(fallback)) <= 100 and fallback != socket_path(tmp_path)
    assert socket_path(deep) == fallback  # both sides derive the same path
