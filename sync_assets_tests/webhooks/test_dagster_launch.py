"""The whole webhook path against a real Dagster: a ``dagster-webserver`` on a free port with a tiny code
location, the receiver with its launcher on GraphQLRunPort. Webhooks in → runs launched through the
GraphQL API with the flow's tags → the job drains the inbox; a burst becomes a few runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.launcher import GraphQLRunPort, Launcher
from sync_assets.webhooks.receiver import create_app
from sync_assets_tests.webhooks.conftest import SECRET, signed

HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 90.0

RUNS_QUERY = """
query { runsOrError(filter: {tags: [{key: "sync_assets/flow", value: "orders"}]}) {
  ... on Runs { results { runId status tags { key value } } } } }
"""
LOCATION_QUERY = """
query { workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(url: str, query: str) -> dict:
    answer = requests.post(f"{url}/graphql", json={"query": query}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]


def _location_loaded(url: str) -> bool:
    try:
        entries = _graphql(url, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
    except (requests.RequestException, KeyError, TypeError):
        return False
    for entry in entries:
        location = entry["locationOrLoadError"] or {}
        if location.get("__typename") == "PythonError":
            raise RuntimeError(f"test code location failed to load: {location}")
        if entry["name"] == "sync_assets" and location.get("__typename") == "RepositoryLocation":
            return any(j["name"] == "orders_sync" for r in location["repositories"] for j in r["jobs"])
    return False


@pytest.fixture
def dagster_webserver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n"
    )
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {HERE / 'dagster_app.py'}\n"
        f"      working_directory: {HERE.parent.parent}\n"
        "      location_name: sync_assets\n"
    )
    ledger_path = tmp_path / "ledger.sqlite"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent)) or "dagster-webserver"
    env = dict(os.environ, DAGSTER_HOME=str(home), SYNC_ASSETS_TEST_LEDGER=str(ledger_path))
    log = open(tmp_path / "webserver.log", "w")
    process = subprocess.Popen(
        [webserver, "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _location_loaded(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dagster-webserver not ready:\n{(tmp_path / 'webserver.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield url, ledger_path
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.mark.daemon  # real Dagster processes (webserver, code server, run): slow; deselect with -m "not daemon"
def test_webhooks_launch_coalesced_runs_through_dagster_graphql(dagster_webserver, serve_app) -> None:
    url, ledger_path = dagster_webserver
    ledger = Ledger(ledger_path)
    port = GraphQLRunPort(url)
    port.warm_up()
    launcher = Launcher(ledger, port, poll_seconds=0.25)
    receiver = serve_app(create_app(ledger, secret=SECRET, launcher=launcher))
    launcher.start()
    try:
        for i in range(30):  # a burst
            body, headers = signed({"id": i}, ("orders/create", "orders/paid", "orders/updated")[i % 3])
            assert requests.post(receiver.url, data=body, headers=headers, timeout=5).status_code == 200
        deadline = time.monotonic() + 60
        while ledger.inbox_counts() != {"acked": 30}:
            if time.monotonic() > deadline:
                pytest.fail(f"inbox not drained: {ledger.inbox_counts()}, launcher {launcher.stats()}")
            time.sleep(0.2)
        runs = _graphql(url, RUNS_QUERY)["runsOrError"]["results"]
    finally:
        launcher.stop()
    assert 1 <= len(runs) <= 3, runs  # coalesced: a few runs, not thirty
    assert launcher.stats()["launches"] == len(runs) and launcher.stats()["launch_errors"] == 0
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        assert tags["sync_assets/flow"] == "orders" and tags["sync_assets/trigger"] == "webhook"
    # No run in flight any more, as the launcher's own query sees it.
    deadline = time.monotonic() + 20
    while port.in_flight("orders"):
        assert time.monotonic() < deadline, "runs never finished"
        time.sleep(0.2)
