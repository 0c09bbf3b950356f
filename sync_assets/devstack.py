"""The whole product on one machine, in a throw-away folder: what the end-to-end tests and the latency and
burst benchmarks start. It is ``sync-assets dev`` made scriptable:

* the sandbox (quiet: no living shop, no faults) on a free port, via :mod:`sync_assets.sandbox.process`;
* ``dagster dev`` (webserver + daemon + code server) with ``DAGSTER_HOME`` under the folder and the
  packaged ``dagster_instance.yaml``, on a free port;
* optionally the webhook receiver (``sync-assets webhooks``), registered with the sandbox.

Every child gets an environment built from :mod:`sync_assets.settings` names only (the developer's own
``SHOPIFY_*``/``NETSUITE_*``/``SANDBOX_*`` variables are dropped), so nothing outside the folder is read or
written. ``dagster dev`` and the receiver run in their own process groups: :meth:`DevStack.stop` asks
them to stop, then kills whatever is left of each group (code server, run processes), so no orphan
outlives the stack.

Readiness is the real thing, not a sleep: the code location has loaded and the daemon has ticked every
real-time sensor at least once.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sync_assets import settings
from sync_assets.cli import (
    dagster_dev_command,
    install_instance_config,
    register_sandbox_webhooks,
    run_worker_command,
    webhooks_command,
)
from sync_assets.run_worker.protocol import is_listening
from sync_assets.run_worker.protocol import socket_path as run_worker_socket
from sync_assets.sandbox import credentials
from sync_assets.sandbox.control_client import SandboxControl
from sync_assets.sandbox.process import running_sandbox

LOCATION = "sync_assets"
REPOSITORY = "__repository__"
SMALL_CATALOG = {"seed": 42, "products": 20, "variants_per_product": 3, "customers": 10, "locations": 3}
STARTUP_SECONDS = 180.0
STOP_SECONDS = 10.0

_WORKSPACE_QUERY = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }
"""
_SENSORS_QUERY = """
query Sensors($selector: RepositorySelector!) {
  sensorsOrError(repositorySelector: $selector) { __typename
    ... on Sensors { results { id name sensorState { status ticks(limit: 1) { status timestamp } } } }
    ... on PythonError { message } } }
"""
_TICKS_QUERY = """
query Ticks($selector: SensorSelector!, $limit: Int) {
  sensorOrError(sensorSelector: $selector) { __typename
    ... on Sensor { sensorState { ticks(limit: $limit) { status timestamp endTimestamp } } }
    ... on PythonError { message } } }
"""
_RUNS_QUERY = """
query Runs($filter: RunsFilter!, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) { __typename
    ... on Runs { results { runId jobName status creationTime startTime endTime tags { key value } } }
    ... on PythonError { message } } }
"""
_STOP_SENSOR = """
mutation Stop($id: String!) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }
"""
_START_SENSOR = """
mutation Start($selector: SensorSelector!) { startSensor(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status } } ... on PythonError { message } } }
"""


class StackError(RuntimeError):
    """The stack did not come up (or a call to it failed); the message carries the logs' tail."""


@dataclass(frozen=True)
class RunInfo:
    """A Dagster run as the GraphQL API reports it (times in epoch seconds)."""

    run_id: str
    job_name: str
    status: str
    created: float
    started: float | None
    ended: float | None
    tags: Mapping[str, str]

    @classmethod
    def from_graphql(cls, row: Mapping[str, Any]) -> RunInfo:
        return cls(
            row["runId"], row["jobName"], row["status"], float(row["creationTime"]),
            row.get("startTime"), row.get("endTime"), {t["key"]: t["value"] for t in row.get("tags") or []},
        )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(overrides: Mapping[str, str]) -> dict[str, str]:
    ours = set(settings.BY_NAME)
    env = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("SANDBOX_")}
    env.pop("DAGSTER_IS_DEV_CLI", None)
    # Every Dagster run is a fresh interpreter that imports dagster, pandas and the project: without cached
    # bytecode that is compiling them from source each time (measured 8-10 CPU-s against 2.7 with .pyc).
    # uv installs without .pyc and some shells set this variable; let Python write its normal caches.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(overrides)
    return env


def _stop_group(process: subprocess.Popen, first: signal.Signals, timeout: float = STOP_SECONDS) -> None:
    """Signal the child, wait, then SIGKILL its whole process group (grandchildren included)."""
    if process.poll() is None:
        try:
            process.send_signal(first)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the group id is the child's pid (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout)


def tail(path: Path, chars: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"({path}: {error})"
    return text[-chars:]


class DevStack:
    """``with DevStack(tmp_path) as stack: ...`` — sandbox + ``dagster dev`` (+ webhook receiver).

    ``webhooks``: start the receiver and register it with the sandbox. ``realtime_sensors``: sensors to
    wait for (their first tick) before the stack counts as ready. ``env``: extra settings for every child
    (e.g. ``SYNC_POLICY_PATH``, ``NETSUITE_MAX_CONCURRENCY``). ``sandbox_args``: extra sandbox options.
    """

    def __init__(
        self,
        root: Path,
        *,
        catalog: Mapping[str, int] = SMALL_CATALOG,
        webhooks: bool = True,
        realtime_sensors: Iterable[str] = ("orders_sensor",),
        env: Mapping[str, str] | None = None,
        sandbox_args: Iterable[str] = (),
        startup_seconds: float = STARTUP_SECONDS,
        workspace: Path | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.catalog = dict(catalog)
        self.with_webhooks = webhooks
        self.realtime_sensors = tuple(realtime_sensors)
        self.extra_env = dict(env or {})
        self.sandbox_args = tuple(sandbox_args)
        self.startup_seconds = startup_seconds
        self.workspace = workspace  # None: the project's workspace.yaml (the product as shipped)
        self.data_dir = self.root / "data"
        self.home = self.root / "dagster_home"
        self.ledger_path = self.data_dir / "state" / "ledger.sqlite"
        self.dagster_log = self.root / "dagster.log"
        self.webhooks_log = self.root / "webhooks.log"
        self.run_worker_log = self.root / "run_worker.log"
        self.sandbox_url = ""
        self.dagster_url = ""
        self.webhooks_url = ""
        self.env: dict[str, str] = {}
        self._exit = ExitStack()
        self._session = requests.Session()

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> DevStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> DevStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        sandbox = self._exit.enter_context(running_sandbox(self.root / "sandbox", self.catalog, extra_args=self.sandbox_args))
        self.sandbox_url = sandbox.url
        self.sandbox_log = sandbox.log_path
        dagster_port = free_port()
        self.dagster_url = f"http://127.0.0.1:{dagster_port}"
        webhooks_port = free_port()
        self.webhooks_url = f"http://127.0.0.1:{webhooks_port}/webhooks/shopify"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        install_instance_config(self.home)
        self.env = child_env({
            "SYNC_ASSETS_DATA_DIR": str(self.data_dir),
            "DAGSTER_HOME": str(self.home),
            "SHOPIFY_SHOP_URL": self.sandbox_url,
            "NETSUITE_BASE_URL": self.sandbox_url,
            "LEDGER_PATH": str(self.ledger_path),
            "WEBHOOKS_PORT": str(webhooks_port),
            "DAGSTER_WEBSERVER_URL": self.dagster_url,
            **self.extra_env,
        })  # fmt: skip
        self._run_worker = self._spawn(run_worker_command(), self.run_worker_log, signal.SIGTERM)
        self._dagster = self._spawn(dagster_dev_command("127.0.0.1", dagster_port, self.workspace), self.dagster_log, signal.SIGINT)
        if self.with_webhooks:
            self._receiver = self._spawn(
                webhooks_command("127.0.0.1", webhooks_port, self.dagster_url), self.webhooks_log, signal.SIGTERM
            )
        self._wait(deadline, "the code location to load", self._location_loaded)
        self._wait(deadline, "the run worker to preload the project", self._run_worker_listening)
        self._wait(deadline, f"the daemon's first tick of {', '.join(self.realtime_sensors)}", self._sensors_ticked)
        if self.with_webhooks:
            self._wait(deadline, "the webhook receiver", self._receiver_healthy)
            self.register_webhooks()

    def _spawn(self, cmd: list[str], log_path: Path, stop_signal: signal.Signals) -> subprocess.Popen:
        log = self._exit.enter_context(open(log_path, "w"))
        process = subprocess.Popen(
            cmd, cwd=settings.PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        # Registered after the log file, so it is stopped before the file closes (ExitStack is LIFO).
        self._exit.callback(_stop_group, process, stop_signal)
        return process

    def stop(self) -> None:
        self._exit.close()
        self._session.close()

    def _wait(self, deadline: float, what: str, ready) -> None:
        while True:
            for name in ("_run_worker", "_dagster", "_receiver"):
                process = getattr(self, name, None)
                if process is not None and process.poll() is not None:
                    raise StackError(f"{name[1:]} exited with {process.returncode} while waiting for {what}\n{self.logs()}")
            try:
                if ready():
                    return
            except (requests.RequestException, KeyError, TypeError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise StackError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.25)

    def _run_worker_listening(self) -> bool:
        return is_listening(run_worker_socket(self.home))

    def _location_loaded(self) -> bool:
        entries = self.graphql(_WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        for entry in entries:
            location = entry.get("locationOrLoadError") or {}
            if location.get("__typename") == "PythonError":
                raise StackError(f"code location failed to load: {location.get('message')}\n{self.logs()}")
            if entry["name"] == LOCATION and location.get("__typename") == "RepositoryLocation":
                return True
        return False

    def _sensors_ticked(self) -> bool:
        by_name = {s["name"]: s for s in self.sensors()}
        missing = [n for n in self.realtime_sensors if n not in by_name]
        if missing:
            raise StackError(f"no sensor named {missing} in the code location (has {sorted(by_name)})")
        return all(by_name[n]["sensorState"]["ticks"] for n in self.realtime_sensors)

    def _receiver_healthy(self) -> bool:
        health = self.webhooks_url.rsplit("/", 1)[0] + "/health"
        return self._session.get(health, timeout=2).ok

    # -- what callers use ----------------------------------------------------------------------------

    @property
    def control(self) -> SandboxControl:
        return SandboxControl(self.sandbox_url)

    def register_webhooks(self) -> None:
        """Have the sandbox deliver the routed topics to the receiver (done at start when ``webhooks``)."""
        if not self.with_webhooks:
            raise StackError("this stack runs no webhook receiver")
        register_sandbox_webhooks(self.sandbox_url, self.webhooks_url)

    def unregister_webhooks(self) -> None:
        """No more deliveries: only the polling sensors see new orders (the receiver keeps running)."""
        self.control.clear_webhooks()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        answer = self._session.post(
            f"{self.dagster_url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=30
        )
        answer.raise_for_status()
        body = answer.json()
        if body.get("errors"):
            raise StackError(f"Dagster GraphQL errors: {body['errors']}")
        return body["data"]

    def sensors(self) -> list[dict[str, Any]]:
        selector = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
        result = self.graphql(_SENSORS_QUERY, {"selector": selector})["sensorsOrError"]
        if result["__typename"] != "Sensors":
            raise StackError(f"sensors query failed: {result}")
        return result["results"]

    def jobs(self) -> set[str]:
        entries = self.graphql(_WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
        return {
            job["name"]
            for e in entries if e["name"] == LOCATION
            for repo in (e.get("locationOrLoadError") or {}).get("repositories") or []
            for job in repo["jobs"]
        }  # fmt: skip

    def set_sensor(self, name: str, running: bool) -> None:
        """Start or stop a sensor through the GraphQL API (as an operator would in the UI)."""
        if running:
            selector = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION, "sensorName": name}
            result = self.graphql(_START_SENSOR, {"selector": selector})["startSensor"]
            ok = result["__typename"] == "Sensor"
        else:
            sensor = next((s for s in self.sensors() if s["name"] == name), None)
            if sensor is None:
                raise StackError(f"no sensor named {name!r}")
            result = self.graphql(_STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]
            ok = result["__typename"] == "StopSensorMutationResult"
        if not ok:
            raise StackError(f"{'starting' if running else 'stopping'} sensor {name} failed: {result}")

    def sensor_ticks(self, name: str, limit: int = 200) -> list[dict[str, Any]]:
        """The sensor's latest ticks, newest first: ``{status, timestamp, endTimestamp}`` (epoch seconds)."""
        selector = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION, "sensorName": name}
        result = self.graphql(_TICKS_QUERY, {"selector": selector, "limit": limit})["sensorOrError"]
        if result["__typename"] != "Sensor":
            raise StackError(f"ticks of sensor {name} unavailable: {result}")
        return result["sensorState"]["ticks"]

    def runs(self, tags: Mapping[str, str] | None = None, limit: int = 1000) -> list[RunInfo]:
        """Runs, newest first, optionally filtered by tags (e.g. ``{"sync_assets/flow": "orders"}``)."""
        run_filter = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        result = self.graphql(_RUNS_QUERY, {"filter": run_filter, "limit": limit})["runsOrError"]
        if result["__typename"] != "Runs":
            raise StackError(f"runs query failed: {result}")
        return [RunInfo.from_graphql(r) for r in result["results"]]

    def netsuite_client(self, max_concurrency: int = 2):
        """A NetSuite client on the sandbox account (TBA), for reading back what the runs wrote."""
        from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth

        c = credentials
        auth = TokenBasedAuth(c.NETSUITE_ACCOUNT_ID, c.NETSUITE_CONSUMER_KEY, c.NETSUITE_CONSUMER_SECRET,
                              c.NETSUITE_TOKEN_ID, c.NETSUITE_TOKEN_SECRET)  # fmt: skip
        return NetSuiteClient(self.sandbox_url, c.NETSUITE_ACCOUNT_ID, auth, max_concurrency=max_concurrency)

    def shopify_client(self):
        from sync_assets.connectors.shopify import ShopifyClient

        return ShopifyClient(self.sandbox_url, credentials.SHOPIFY_ACCESS_TOKEN, api_version=credentials.SHOPIFY_API_VERSION)

    def ledger(self):
        from sync_assets.state.ledger import Ledger

        return Ledger(self.ledger_path)

    def logs(self, chars: int = 4000) -> str:
        parts = [f"--- dagster dev ({self.dagster_log}) ---\n{tail(self.dagster_log, chars)}",
                 f"--- run worker ({self.run_worker_log}) ---\n{tail(self.run_worker_log, chars // 4)}"]
        if self.with_webhooks:
            parts.append(f"--- webhook receiver ({self.webhooks_log}) ---\n{tail(self.webhooks_log, chars // 2)}")
        if getattr(self, "sandbox_log", None):
            parts.append(f"--- sandbox ({self.sandbox_log}) ---\n{tail(self.sandbox_log, chars // 4)}")
        return "\n".join(parts)


def ledger_time(stamp: str) -> float:
    """Epoch seconds of a ledger ``updated_at`` (UTC, ``...Z``)."""
    from datetime import datetime, timezone

    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def done_times(ledger, flow: str, source_ids: Iterable[str]) -> dict[str, float]:
    """When the ledger recorded each source as durably written (``done``), for those that are."""
    wanted = set(source_ids)
    return {e.source_id: ledger_time(e.updated_at) for e in ledger.entries(flow, "done") if e.source_id in wanted}


def undiscounted_order_seeds(catalog: Mapping[str, int] = SMALL_CATALOG) -> Iterator[int]:
    """Seeds for ``SandboxControl.place_orders(1, seed=...)`` whose order carries no discount code.

    The shipped policy names no NetSuite discount item, so the orders flow dead-letters discounted orders
    (a quarter of the generator's) by design; latency measurements and outcome tests want orders that
    can sync. The order a seed makes depends only on the catalog spec, so this is decided offline.
    """
    from sync_assets.sandbox.generator import OrderMaker, make_catalog

    built = make_catalog(**catalog)
    for seed in itertools.count(1):
        if "discountCode" not in OrderMaker(built, seed).make():
            yield seed
