"""The run worker: a process that has imported dagster and the project, and forks one child per run.

Fork safety: the parent opens no database, starts no thread and makes no gRPC call before it forks; it
only imports modules and builds the (pure) repository definition, so a child starts from a clean copy.
Each child resets the signal handlers the parent changed and then runs ``dagster api execute_run``
in-process, exactly as a freshly spawned run worker would, minus the imports.

Edited code must not run stale: before every fork the parent compares the modification times of the
project files it loaded (and the sync policy) with those it started from. If anything changed it refuses
the run (the launcher starts it the default way) and re-executes itself to load the new code.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

from sync_assets import process_tree
from sync_assets.run_worker.protocol import (
    WorkerUnavailable,
    is_listening,
    process_alive,
    read_line,
    send_line,
    socket_path,
)

log = logging.getLogger("sync_assets.run_worker")

DEFINITIONS_MODULE = "sync_assets.definitions"
# What a run imports on its way to RUN_START and after it (instance storages, execution, the project):
# loading them once here is the point of the worker.
PRELOAD = (
    "dagster._cli.api",
    "dagster._core.execution.api",
    "dagster._core.execution.context_creation_job",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._utils.test",
    "dagster._core.run_coordinator.default_run_coordinator",
    "sync_assets.run_worker.launcher",
    DEFINITIONS_MODULE,
    "pandas",
    "dagster_duckdb_pandas",
)


class RunWorker:
    def __init__(self, path: Path, definitions_module: str = DEFINITIONS_MODULE):
        self.path = path
        self.definitions_module = definitions_module
        self._watched: dict[str, float] = {}
        self._children: set[int] = set()

    def preload(self) -> float:
        """Import everything a run needs and build the definitions once; the seconds it took.

        ``@dg.definitions`` rebuilds the Definitions on every reconstruction (0.2 s per run here). The
        worker pins the object it built in place of the module's ``defs``, so a child's reconstruction
        finds the repository already built, its jobs resolved. Edits are caught by :meth:`stale`.
        """
        from dagster import Definitions
        from dagster._core.definitions.reconstruct import ReconstructableRepository

        started = time.perf_counter()
        for name in PRELOAD:
            importlib.import_module(name)
        module = sys.modules[self.definitions_module]
        if not isinstance(module.defs, Definitions):
            module.defs = module.defs()
        repository = ReconstructableRepository.for_module(self.definitions_module, "defs", os.getcwd())
        for job in repository.get_definition().get_all_jobs():
            repository.get_reconstructable_job(job.name).get_definition()
        self._watched = self._mtimes()
        return time.perf_counter() - started

    def _mtimes(self) -> dict[str, float]:
        root = str(Path(sys.modules["sync_assets"].__file__).parent)
        files = {
            getattr(m, "__file__", None) for name, m in list(sys.modules.items()) if name.startswith("sync_assets")
        }
        files.add(os.environ.get("SYNC_POLICY_PATH") or str(Path(root) / "sync_policy.yaml"))
        mtimes = {}
        for f in sorted(f for f in files if f):
            try:
                mtimes[f] = os.stat(f).st_mtime
            except OSError:
                mtimes[f] = -1.0
        return mtimes

    def stale(self) -> list[str]:
        """Project files changed since preload (newly imported modules are not a change)."""
        now = self._mtimes()
        return [f for f, t in self._watched.items() if now.get(f, -1.0) != t]

    def serve_forever(self) -> None:
        # The kernel reaps finished children: no zombies to pass for live run workers in health checks.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        listener = _listen(self.path)
        log.info("run worker ready on %s (pid %s)", self.path, os.getpid())
        try:
            while True:
                conn, _ = listener.accept()
                with conn:
                    changed = self._handle(conn, listener)
                if changed:
                    return self._reload(changed)
        finally:
            listener.close()
            self.path.unlink(missing_ok=True)
            self._interrupt_runs()

    def _interrupt_runs(self, grace_seconds: float = 15.0) -> None:
        """On shutdown, interrupt the runs still going, as Ctrl-C in a terminal would.

        Without it a run outlives ``sync-assets dev`` (it is not in the code server's process tree) and
        retries against services that are gone; interrupted, Dagster marks it canceled or failed, and the
        next start's runs take its work (ledger claims expire, the watermark never moved past it).
        """
        running = [pid for pid in self._children if process_alive(pid)]
        for pid in running:
            log.warning("interrupting run process %s", pid)
        killed = process_tree.interrupt_then_kill(running, lambda: [p for p in running if process_alive(p)],
                                                  grace_seconds)  # fmt: skip
        for pid in killed:
            log.warning("run process %s ignored the interrupt for %.0f s: killed", pid, grace_seconds)

    def _reload(self, changed: list[str]) -> None:
        """Re-execute this process (same pid: its runs go on) to load the edited code; :meth:`_handle` has
        already stopped listening."""
        log.warning("project files changed (%s, ...): reloading the run worker", changed[0])
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])

    def _handle(self, conn: socket.socket, listener: socket.socket) -> list[str]:
        conn.settimeout(5.0)
        try:
            if not conn.recv(1, socket.MSG_PEEK):
                return []  # a liveness probe: connected and closed
            request = read_line(conn)
            serialized = request["execute_run"]
            if not isinstance(serialized, str):
                raise TypeError("execute_run must be a serialized ExecuteRunArgs string")
        except (OSError, ValueError, TypeError, KeyError, WorkerUnavailable) as exc:
            _answer(conn, {"refused": f"bad request: {exc}"})
            return []
        mismatch = self._foreign(serialized)
        if mismatch:
            _answer(conn, {"refused": mismatch})
            return []
        changed = self.stale()
        if changed:
            # Stop listening before answering, so whoever hears the refusal cannot reach this old process.
            listener.close()
            self.path.unlink(missing_ok=True)
            _answer(conn, {"refused": f"project code changed ({changed[0]}); the worker is reloading"})
            return changed
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                conn.close()
                listener.close()
            finally:  # even on an interrupt right after the fork: the child must never run the parent's loop
                _execute_run_in_child(serialized, parent)  # never returns
        self._children = {p for p in self._children if process_alive(p)} | {pid}
        _answer(conn, {"pid": pid})
        return []

    def _foreign(self, serialized: str) -> str | None:
        """Why this run is not one the preloaded code can execute, or None."""
        from dagster._grpc.types import ExecuteRunArgs
        from dagster._serdes import deserialize_value

        try:
            origin = deserialize_value(serialized, ExecuteRunArgs).job_origin.repository_origin
        except Exception as exc:  # noqa: BLE001 — any serdes error means: not ours; the launcher falls back
            return f"bad request: {exc}"
        module = getattr(origin.code_pointer, "module", None)
        if module != self.definitions_module:
            return f"the run's code ({origin.code_pointer.describe()}) is not the preloaded {self.definitions_module}"
        if os.path.realpath(origin.executable_path) != os.path.realpath(sys.executable):
            return f"the run's interpreter {origin.executable_path} is not this worker's {sys.executable}"
        return None


def _answer(conn: socket.socket, message: dict) -> None:
    try:
        send_line(conn, message)
    except OSError as exc:  # the launcher gave up waiting; it falls back by itself
        log.warning("could not answer the launcher: %s", exc)


def _interrupt_when_parent_dies(parent: int) -> None:
    """Linux: SIGINT this run if the worker dies (killed, OOM) rather than leave it orphaned.

    An orphan would outlive ``sync-assets dev`` (a new worker does not know it) and keep retrying against
    services that are gone; interrupted, Dagster records it as failed and run retries take it up. A worker
    that re-executes itself to load new code keeps its pid, so its runs go on. Elsewhere: a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    process_tree.prctl(process_tree.PR_SET_PDEATHSIG, signal.SIGINT)
    if os.getppid() != parent:  # the worker died between fork and prctl
        os.kill(os.getpid(), signal.SIGINT)


def _execute_run_in_child(serialized: str, parent: int) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _interrupt_when_parent_dies(parent)
        # The run prints through Dagster's console logger (the flows' loggers are handed to it by the
        # instance's python_logs); the worker's own root handler would print every such line a second time.
        for handler in list(logging.root.handlers):
            logging.root.removeHandler(handler)
        from dagster._cli.api import execute_run_command

        execute_run_command.main(args=[serialized], prog_name="dagster api execute_run", standalone_mode=False)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 — a forked child must reach os._exit, never the parent's loop
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _listen(path: Path) -> socket.socket:
    if is_listening(path):
        raise SystemExit(f"sync-assets run-worker: another run worker already listens on {path}")
    path.unlink(missing_ok=True)  # left by a worker that died
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # owner only: a request runs code as this user
    try:
        listener.bind(os.fspath(path))
    finally:
        os.umask(old_umask)
    listener.listen(64)
    return listener


def main(dagster_home: str | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Each run opens the instance's SQLite storage, and alembic says so twice at INFO: noise on the terminal.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    home = dagster_home or os.environ.get("DAGSTER_HOME")
    if not home:
        print("sync-assets run-worker: DAGSTER_HOME is not set (the worker serves that Dagster instance)", file=sys.stderr)
        return 2
    # A service manager's SIGTERM stops the worker like Ctrl-C: the socket file is removed on the way out.
    signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
    worker = RunWorker(socket_path(home))
    seconds = worker.preload()
    log.info("preloaded dagster and %s in %.2f s", worker.definitions_module, seconds)
    try:
        worker.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
