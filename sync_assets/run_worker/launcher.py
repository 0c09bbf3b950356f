"""``WarmRunLauncher``: hand runs to the warm run worker, fall back to Dagster's default launcher.

Loaded by every Dagster process that launches or watches runs (daemon, webserver), so it imports only
what Dagster already has loaded there.
"""

from __future__ import annotations

import os
import signal

from dagster._core.launcher import (
    CheckRunHealthResult,
    DefaultRunLauncher,
    LaunchRunContext,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import serialize_value

from sync_assets.run_worker.protocol import (
    WorkerUnavailable,
    process_alive,
    request_run,
    socket_path,
)

WORKER_TAG = "sync_assets/run_worker"
PID_TAG = "sync_assets/run_worker_pid"


class WarmRunLauncher(DefaultRunLauncher):
    """Runs start in a child forked from the preloaded ``sync-assets run-worker`` when it is running.

    Without the worker (or when it refuses, e.g. while reloading edited code) a run starts exactly as
    Dagster's default launcher would start it, and an engine event on the run says why. The tag
    ``sync_assets/run_worker`` says which way each run started (``warm`` or ``spawned``).
    """

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        args = ExecuteRunArgs(
            job_origin=run.job_code_origin,  # type: ignore[arg-type]
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
            set_exit_code_on_failure=True,
        )
        try:
            pid = request_run(self._socket_path(), serialize_value(args))
        except WorkerUnavailable as exc:
            self._instance.add_run_tags(run.run_id, {WORKER_TAG: "spawned"})
            self._instance.report_engine_event(f"Starting a fresh run process: {exc}", run, cls=self.__class__)
            super().launch_run(context)
            return
        self._instance.add_run_tags(run.run_id, {WORKER_TAG: "warm", PID_TAG: str(pid)})

    def _socket_path(self):
        return socket_path(self._instance.root_directory)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished or not _warm(run):
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        try:
            # `dagster api execute_run` turns SIGTERM into an interrupt: the run is marked canceled.
            os.kill(int(run.tags[PID_TAG]), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """A warm run whose process is gone failed (run monitoring then fails it and run retries take over).

        Runs the code server started have no check, as under the default launcher: reported as running.
        """
        if not _warm(run):
            return CheckRunHealthResult(WorkerStatus.RUNNING, "started by the code server; not checked")
        pid = run.tags[PID_TAG]
        if process_alive(int(pid)):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker process {pid} has exited")


def _warm(run: DagsterRun) -> bool:
    # A retried run inherits its parent's tags; the launcher overwrites WORKER_TAG on every launch.
    return run.tags.get(WORKER_TAG) == "warm" and run.tags.get(PID_TAG, "").isdigit()
