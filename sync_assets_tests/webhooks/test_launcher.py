"""The launcher's coalescing against a fake of the Dagster port: one run in flight per flow, whatever
launched it; a burst becomes a few runs; Dagster down or runs failing never lose an event."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.launcher import Launcher, LaunchError
from sync_assets.webhooks.routes import ROUTES, Route

ORDERS = ROUTES[0]


class FakeDagster:
    """Runs are (entity, status); ``finish`` plays the job: drain the inbox, ack, end."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.runs: dict[str, tuple[str, str]] = {}
        self.launched: list[str] = []
        self.down = False
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def in_flight(self, entity: str) -> list[str]:
        if self.down:
            raise LaunchError("connection refused")
        with self._lock:
            return [r for r, (e, s) in self.runs.items() if e == entity and s in ("QUEUED", "STARTED")]

    def launch(self, route: Route) -> str:
        if self.down:
            raise LaunchError("connection refused")
        with self._lock:
            run_id = f"run-{next(self._ids)}"
            self.runs[run_id] = (route.entity, "STARTED")
            self.launched.append(run_id)
        return run_id

    def status(self, run_id: str) -> str | None:
        return self.runs[run_id][1] if run_id in self.runs else None

    def start_foreign_run(self, entity: str) -> str:  # e.g. the polling sensor's
        with self._lock:
            run_id = f"sensor-{next(self._ids)}"
            self.runs[run_id] = (entity, "STARTED")
        return run_id

    def finish(self, run_id: str, status: str = "SUCCESS") -> int:
        taken = []
        if status == "SUCCESS":
            taken = [e for topic in ORDERS.topics for e in self.ledger.inbox_take(topic, 10_000)]
            self.ledger.inbox_ack([e.event_id for e in taken])
        with self._lock:
            self.runs[run_id] = (self.runs[run_id][0], status)
        return len(taken)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dagster(ledger: Ledger) -> FakeDagster:
    return FakeDagster(ledger)


def put(ledger: Ledger, n: int, start: int = 0, topic: str = "orders/create") -> None:
    for i in range(start, start + n):
        assert ledger.inbox_put(f"evt-{topic}-{i}", topic, {"id": i})


def test_nothing_pending_launches_nothing(ledger: Ledger, dagster: FakeDagster) -> None:
    launcher = Launcher(ledger, dagster, idle_seconds=5)
    assert launcher.run_once() == 5
    put(ledger, 1, topic="inventory_levels/update")  # a topic no route drains
    launcher.run_once()
    assert dagster.launched == []


def test_burst_coalesces_into_few_runs(ledger: Ledger, dagster: FakeDagster) -> None:
    launcher = Launcher(ledger, dagster, poll_seconds=0.25)
    put(ledger, 50)
    assert launcher.run_once() == 0.25
    assert len(dagster.launched) == 1
    # More arrive while the run is in flight: they wait, however often the launcher looks.
    put(ledger, 50, start=50, topic="orders/updated")
    for _ in range(5):
        assert launcher.run_once() == 0.25
    assert len(dagster.launched) == 1
    assert dagster.finish(dagster.launched[0]) == 100  # the run took everything that had arrived
    # These arrive after it drained: when it has ended, one more run takes them.
    put(ledger, 25, start=100, topic="orders/paid")
    launcher.run_once()
    assert len(dagster.launched) == 2
    assert dagster.finish(dagster.launched[1]) == 25
    launcher.run_once()
    assert len(dagster.launched) == 2
    assert ledger.inbox_counts() == {"acked": 125}
    assert launcher.stats()["launches"] == 2


def test_waits_for_a_run_someone_else_launched(ledger: Ledger, dagster: FakeDagster) -> None:
    sensor_run = dagster.start_foreign_run("orders")
    launcher = Launcher(ledger, dagster)
    put(ledger, 3)
    launcher.run_once()
    assert dagster.launched == []
    dagster.finish(sensor_run)  # it took them
    launcher.run_once()
    assert dagster.launched == []
    assert ledger.inbox_counts() == {"acked": 3}


def test_dagster_down_keeps_events_and_retries_with_backoff(ledger: Ledger, dagster: FakeDagster) -> None:
    clock = Clock()
    launcher = Launcher(ledger, dagster, clock=clock, idle_seconds=60, backoff_base_seconds=1, backoff_cap_seconds=8)
    put(ledger, 4)
    dagster.down = True
    waits = []
    for _ in range(5):
        waits.append(launcher.run_once())
        clock.now += waits[-1]
    assert waits == [1, 2, 4, 8, 8]
    assert launcher.run_once() == 8  # before the backoff expires it does not even ask
    assert ledger.inbox_counts() == {"new": 4}
    assert "connection refused" in launcher.stats()["last_error"]
    dagster.down = False
    clock.now += 8
    launcher.run_once()
    assert len(dagster.launched) == 1
    dagster.finish(dagster.launched[0])
    put(ledger, 1, start=4)
    launcher.run_once()  # the run ended well: the flow is healthy again, the next launch is immediate
    assert len(dagster.launched) == 2
    assert launcher.stats()["flows"]["orders"]["consecutive_failures"] == 0


def test_failed_run_backs_off_before_relaunching(ledger: Ledger, dagster: FakeDagster) -> None:
    clock = Clock()
    launcher = Launcher(ledger, dagster, clock=clock, backoff_base_seconds=1)
    put(ledger, 2)
    launcher.run_once()
    dagster.finish(dagster.launched[0], status="FAILURE")  # the events stay new (released)
    assert launcher.run_once() == 1  # no immediate relaunch: a broken job must not become a run storm
    assert len(dagster.launched) == 1
    clock.now += 1
    launcher.run_once()
    assert len(dagster.launched) == 2
    dagster.finish(dagster.launched[1], status="FAILURE")
    assert launcher.run_once() == 2
    assert launcher.stats()["failed_runs"] == 2
    clock.now += 2
    launcher.run_once()
    dagster.finish(dagster.launched[2])
    launcher.run_once()
    assert len(dagster.launched) == 3 and ledger.inbox_counts() == {"acked": 2}


def test_unexpected_errors_do_not_kill_the_loop(ledger: Ledger, dagster: FakeDagster) -> None:
    class Exploding(FakeDagster):
        def in_flight(self, entity):
            raise RuntimeError("boom")

    launcher = Launcher(ledger, Exploding(ledger), backoff_base_seconds=0.5)
    put(ledger, 1)
    assert launcher.run_once() == 0.5
    assert "boom" in launcher.stats()["last_error"]


def _wait_for(condition, timeout: float = 5.0) -> float:
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)
    return time.monotonic() - began


def test_thread_wakes_on_notify_and_polls_the_run_in_flight(ledger: Ledger, dagster: FakeDagster) -> None:
    launcher = Launcher(ledger, dagster, poll_seconds=0.05, idle_seconds=60)
    launcher.start()
    try:
        time.sleep(0.1)  # the first look found nothing; now it sleeps up to 60 s unless woken
        put(ledger, 1)
        launcher.notify()
        assert _wait_for(lambda: len(dagster.launched) == 1) < 1.0
        put(ledger, 1, start=1)  # arrives while the run is in flight: no notify needed after this
        time.sleep(0.2)
        assert len(dagster.launched) == 1
        dagster.finish(dagster.launched[0])
        put(ledger, 1, start=2)
        # The run ended with an event pending: the poll (not a wake-up) launches the next one.
        assert _wait_for(lambda: len(dagster.launched) == 2) < 1.0
    finally:
        launcher.stop()


def test_events_waiting_from_before_a_restart_are_launched_at_start(ledger: Ledger, dagster: FakeDagster) -> None:
    put(ledger, 3)
    launcher = Launcher(ledger, dagster, idle_seconds=60)
    launcher.start()
    try:
        _wait_for(lambda: len(dagster.launched) == 1)
    finally:
        launcher.stop()


def test_waits_while_the_sensor_is_launching_then_releases_its_own_lease(ledger: Ledger, dagster: FakeDagster) -> None:
    # The sensor saw nothing in flight and is asking Dagster for a run that Dagster does not list yet.
    assert ledger.take_launch_lease("orders", "sensor")
    launcher = Launcher(ledger, dagster)
    put(ledger, 3)
    launcher.run_once()
    assert dagster.launched == []
    ledger.release_launch_lease("orders")  # that run started (and is done: nothing in flight)
    launcher.run_once()
    assert len(dagster.launched) == 1
    assert ledger.launch_lease_holder("orders") is None  # released once Dagster had the run
    dagster.finish(dagster.launched[0])

    def refuse(route: Route) -> str:
        raise LaunchError("launchRun refused")

    dagster.launch = refuse  # type: ignore[method-assign]
    put(ledger, 1, start=3)
    launcher.run_once()  # a failed launch must not keep the lease either
    assert launcher.stats()["launches"] == 1
    assert ledger.launch_lease_holder("orders") is None
