"""`sync-assets`: the one command of the product.

  sync-assets dev        sandbox (unless pointed at a real store/account) + Dagster UI and daemon
  sync-assets sandbox    the embedded Shopify + NetSuite stand-in on its own
  sync-assets webhooks   the Shopify webhook receiver (launches real-time runs through Dagster's GraphQL API)
  sync-assets webhooks register
                         subscribe WEBHOOKS_PUBLIC_URL to the topics the flows use (idempotent)
  sync-assets settings   every setting, its value and where it came from (secrets masked)
  sync-assets doctor     check the configured store and account (credentials, scopes, permissions, policy)

Every command reads a .env file in the project root first, as `dagster dev` does; the environment wins.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

from sync_assets import process_tree, settings

PACKAGE_DIR = Path(__file__).resolve().parent


# Concurrency pools whose limit the instance must hold (dagster.yaml has no per-pool setting, only a
# default for every pool, and `netsuite_api` must stay unlimited for the real-time lane).
POOL_LIMITS = {"warehouse_writer": 1}  # the DuckDB file's one writer (defs/warehouse_load.py)


def install_instance_config(home: Path) -> Path:
    """Create ``home``, (re)write its dagster.yaml from the packaged one and set the pool limits.
    Shared with ``devstack``."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PACKAGE_DIR / "dagster_instance.yaml", home / "dagster.yaml")
    set_pool_limits(home)
    return home


def set_pool_limits(home: Path) -> None:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        for pool, limit in POOL_LIMITS.items():
            instance.event_log_storage.set_concurrency_slots(pool, limit)


def _prepare_dagster_home() -> Path:
    home = install_instance_config(Path(settings.get("DAGSTER_HOME")))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def dagster_dev_command(host: str, port: int, workspace: Path | None = None) -> list[str]:
    """``dagster dev`` on the project's workspace (run it with cwd = PROJECT_ROOT).

    Its services log at WARNING: at INFO the daemon writes a line per sensor tick (several a second with
    1 s sensors), which buries what an operator needs; ticks and runs are in the UI."""
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    workspace = workspace or settings.PROJECT_ROOT / "workspace.yaml"
    return [dagster, "dev", "-w", str(workspace), "-h", host, "-p", str(port), "--log-level", "warning"]


def webhooks_command(host: str, port: int | str, dagster_url: str) -> list[str]:
    return [sys.executable, "-m", "sync_assets.cli", "webhooks", "--host", host, "--port", str(port),
            "--dagster-url", dagster_url]


def register_sandbox_webhooks(shop_url: str, receiver_url: str) -> None:
    """Subscribe the local receiver with the sandbox, through the same Admin API calls as for a real store."""
    from sync_assets.connectors.shopify import ShopifyClient
    from sync_assets.sandbox import credentials
    from sync_assets.webhooks.register import register

    with ShopifyClient(shop_url, credentials.SHOPIFY_ACCESS_TOKEN, timeout=10) as client:
        register(client, receiver_url)


def _uses_sandbox() -> bool:
    sandbox_url = settings.sandbox_url()
    return sandbox_url in (settings.get("SHOPIFY_SHOP_URL"), settings.get("NETSUITE_BASE_URL"))


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox exited with code {proc.returncode} before it was ready")
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the sandbox did not answer at {url}/_sandbox/health within {timeout:.0f} s")


def _start_sandbox() -> subprocess.Popen:
    data_dir = Path(settings.get("SYNC_ASSETS_DATA_DIR")) / "sandbox"
    port = settings.get("SANDBOX_PORT")
    cmd = [
        sys.executable, "-m", "sync_assets.sandbox",
        "--port", port,
        "--data-dir", str(data_dir),
        "--orders-per-minute", settings.get("SANDBOX_ORDERS_PER_MINUTE"),
    ]
    proc = process_tree.spawn(cmd)
    _wait_healthy(settings.sandbox_url(), proc)
    return proc


def _start_webhooks(dagster_url: str, *, register_with_sandbox: bool) -> subprocess.Popen:
    port = settings.get("WEBHOOKS_PORT")
    proc = process_tree.spawn(webhooks_command("127.0.0.1", port, dagster_url))
    if register_with_sandbox:
        register_sandbox_webhooks(settings.get("SHOPIFY_SHOP_URL"), f"http://127.0.0.1:{port}/webhooks/shopify")
    return proc


_stopping = False


def _interrupt(signum, frame):
    # Once: a second Ctrl-C (or `uv run` passing the first one on as well) must not cut the orderly stop
    # short; it is bounded (about a minute at worst) and says what it is doing.
    global _stopping
    if not _stopping:
        _stopping = True
        raise KeyboardInterrupt


class _Restartable:
    """A helper process ``sync-assets dev`` keeps up: restarted when it dies, at most once per ``pause`` s."""

    def __init__(self, name: str, start: Callable[[], subprocess.Popen], pause: float = 10.0) -> None:
        self.name, self._start, self._pause = name, start, pause
        self.proc = start()
        self._started = time.monotonic()

    def revive_if_dead(self) -> None:
        if self.proc.poll() is None or time.monotonic() - self._started < self._pause:
            return
        print(f"sync-assets: the {self.name} exited with code {self.proc.returncode}; restarting it",
              file=sys.stderr, flush=True)  # fmt: skip
        self.proc = self._start()
        self._started = time.monotonic()


def cmd_dev(args: argparse.Namespace) -> int:
    # Ctrl-C and a service manager's SIGTERM both stop every child cleanly. Installing the handler also
    # undoes an inherited "ignore SIGINT" (a shell's background job), which children would inherit too.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    process_tree.become_subreaper()
    reaper = process_tree.OrphanReaper()
    home = _prepare_dagster_home()
    dagster_url = f"http://{args.host}:{args.port}"
    sandbox: subprocess.Popen | None = None
    dagster: subprocess.Popen | None = None
    # Runs fall back to a fresh process without the run worker, and polling covers for the receiver, so
    # neither is fatal; but the lane is slower without them: bring them back.
    worker: _Restartable | None = None
    receiver: _Restartable | None = None
    try:
        with_sandbox = _uses_sandbox() and not args.no_sandbox
        if with_sandbox:
            sandbox = _start_sandbox()
        worker = _Restartable("run worker", lambda: process_tree.spawn(run_worker_command(), cwd=settings.PROJECT_ROOT))
        dagster = process_tree.spawn(dagster_dev_command(args.host, args.port), cwd=settings.PROJECT_ROOT)
        if not args.no_webhooks:
            registered = [False]

            def start_receiver() -> subprocess.Popen:  # registered with the sandbox once, not per restart
                proc = _start_webhooks(dagster_url, register_with_sandbox=with_sandbox and not registered[0])
                registered[0] = True
                return proc

            receiver = _Restartable("webhook receiver", start_receiver)
        print(f"sync-assets: Dagster UI on {dagster_url} (DAGSTER_HOME={home})", flush=True)
        while dagster.poll() is None:
            for helper in (worker, receiver):
                if helper is not None:
                    helper.revive_if_dead()
            started = (sandbox, dagster, worker.proc, receiver and receiver.proc)
            reaper.reap(p.pid for p in started if p is not None)
            time.sleep(1.0)
        return dagster.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        print("sync-assets: stopping the webhook receiver, Dagster and the run worker, then the sandbox",
              file=sys.stderr, flush=True)  # fmt: skip
        # The sandbox goes last, so no run in flight retries against a NetSuite already gone. First the
        # triggers (receiver, Dagster); then the run worker, which interrupts its runs (not sooner: sensor
        # ticks still finishing while Dagster stops launch runs on it); then whatever they left behind:
        # Dagster's code server and the runs it started while the worker was down (see process_tree).
        _stop([receiver and receiver.proc, dagster])
        _stop([worker and worker.proc])
        left = process_tree.stop_leftovers(spare=[sandbox.pid] if sandbox else [])
        if left:
            print(f"sync-assets: stopped {len(left)} process(es) Dagster left running", file=sys.stderr, flush=True)
        fail_runs_left_in_flight(home)
        _stop([sandbox])


def fail_runs_left_in_flight(home: Path) -> None:
    """Record the end of runs whose process was stopped before it could (one still importing when Ctrl-C
    came, on a loaded machine). Every process of this instance is gone by now, so a run still STARTING or
    STARTED will never finish: left so, it would count as its flow's run in flight after the next start
    until run monitoring's start timeout. Failed, as run monitoring would, so run retries take it up."""
    try:
        from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

        with DagsterInstance.from_config(str(home)) as instance:
            stuck = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]))
            for run in stuck:
                instance.report_run_failed(run, "sync-assets dev stopped; this run's process was stopped before it recorded its end")
        if stuck:
            print(f"sync-assets: marked {len(stuck)} run(s) stopped mid-way as failed", file=sys.stderr, flush=True)
    except Exception as exc:  # the stop goes on: run monitoring fails such runs at the next start
        print(f"sync-assets: could not check for runs left in flight: {exc}", file=sys.stderr, flush=True)


STOP_SECONDS = 20.0


def _stop(procs: list[subprocess.Popen | None], timeout: float = STOP_SECONDS) -> None:
    """Interrupt the live ones, wait for all of them together, kill what is left at the deadline."""
    live = [p for p in procs if p is not None and p.poll() is None]
    process_tree.interrupt_then_kill([p.pid for p in live], lambda: [p.pid for p in live if p.poll() is None], timeout)
    for proc in live:
        proc.wait()


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sync_assets.sandbox.server import main as sandbox_main

    return sandbox_main(args.rest) or 0


def cmd_webhooks(args: argparse.Namespace) -> int:
    from sync_assets.webhooks.receiver import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Checked before anything starts, so a bad value stops the receiver with one clear line (see main).
    secrets = settings.get_secret_list("SHOPIFY_WEBHOOK_SECRET")
    hours = settings.get_int("WEBHOOKS_MAX_AGE_HOURS", minimum=1)
    serve(args.host, args.port, ledger_path=settings.get("LEDGER_PATH"), secret=secrets,
          dagster_url=args.dagster_url, max_age_seconds=hours * 3600)
    return 0


def cmd_run_worker(args: argparse.Namespace) -> int:
    from sync_assets.run_worker.server import main as run_worker_main

    return run_worker_main(os.environ.get("DAGSTER_HOME") or str(_prepare_dagster_home()))


def run_worker_command() -> list[str]:
    return [sys.executable, "-m", "sync_assets.cli", "run-worker"]


def cmd_settings(args: argparse.Namespace) -> int:
    env_file = settings.env_file()
    print(f"# .env: {env_file}{'' if env_file.is_file() else ' (none)'}; the environment wins over it")
    for s in settings.SETTINGS:
        value = s.value()
        shown = ("********" if value else "(empty)") if s.secret else (value or "(empty)")
        print(f"{s.name:28} {shown}  ({s.origin()})\n{'':28} {s.help}")
    for problem in settings.sandbox_credentials_for_real_services():
        print(f"REFUSED: {problem}")
    return 0


def cmd_data_dictionary(args: argparse.Namespace) -> int:
    from sync_assets.warehouse.dictionary import write

    print(f"wrote {write()}")
    return 0


def cmd_webhooks_register(argv: list[str]) -> int:
    from sync_assets.webhooks.register import main as register_main

    settings.refuse_sandbox_credentials_for_real_services()
    return register_main(argv)


# Commands that talk to the store or NetSuite, or start what does: refused up front while a sandbox
# credential is set for a real service (`settings` still runs, to show what is wrong; `sandbox` is local).
_REFUSING = ("dev", "webhooks", "run-worker")


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else argv
        if argv[:1] and argv[0] in _REFUSING:
            settings.refuse_sandbox_credentials_for_real_services()
        return _main(argv)
    except settings.SettingError as error:  # names the variable and what it should be; no traceback
        print(f"sync-assets: {error}", file=sys.stderr, flush=True)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="sync-assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the product: sandbox + Dagster UI and daemon")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--no-sandbox", action="store_true", help="do not start the embedded sandbox")
    dev.add_argument("--no-webhooks", action="store_true", help="do not start the webhook receiver")
    dev.set_defaults(func=cmd_dev)

    sb = sub.add_parser("sandbox", help="run the embedded Shopify + NetSuite sandbox", add_help=False)
    sb.add_argument("rest", nargs=argparse.REMAINDER)
    sb.set_defaults(func=cmd_sandbox)

    wh = sub.add_parser("webhooks", help="receive Shopify webhooks; launch real-time runs through Dagster's GraphQL API "
                        "(`webhooks register`: subscribe WEBHOOKS_PUBLIC_URL with the store)")
    wh.add_argument("--host", default="127.0.0.1",
                    help="bind address (a real store reaches it through your HTTPS reverse proxy or tunnel)")
    wh.add_argument("--port", type=int, default=settings.get_int("WEBHOOKS_PORT", minimum=1))
    wh.add_argument("--dagster-url", default=settings.get("DAGSTER_WEBSERVER_URL"),
                    help="the Dagster webserver whose GraphQL API launches runs")
    wh.set_defaults(func=cmd_webhooks)

    rw = sub.add_parser("run-worker", help="preload the project and fork a process per Dagster run (faster run start)")
    rw.set_defaults(func=cmd_run_worker)

    st = sub.add_parser("settings", help="show every setting and where its value came from")
    st.set_defaults(func=cmd_settings)

    dd = sub.add_parser("data-dictionary", help="regenerate docs/data_dictionary.md from the dbt project's YAML")
    dd.set_defaults(func=cmd_data_dictionary)

    from sync_assets import doctor

    doctor.add_parser(sub)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sandbox"]:
        # The sandbox has its own parser (flags, --help); hand it everything after the subcommand.
        return cmd_sandbox(argparse.Namespace(rest=argv[1:]))
    if argv[:2] == ["webhooks", "register"]:
        return cmd_webhooks_register(argv[2:])
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
