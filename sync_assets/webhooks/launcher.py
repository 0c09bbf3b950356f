"""Turn new inbox events into coalesced Dagster runs, launched through Dagster's GraphQL API.

A background thread of the receiver process. For each route with ``new`` events in the inbox: if a run of
that flow is in flight (whoever launched it: this thread, the polling sensor, an operator) it waits for it,
looking every ``poll_seconds``; otherwise it launches the route's job. The job drains the inbox itself, so
a burst of webhooks becomes a few runs, each taking everything that arrived (DESIGN.md "Bursts").

Nothing is lost while Dagster is unreachable or a launch fails: the events are durable in the inbox and
the launcher retries with backoff (a run that failed backs off too, so a broken job cannot become a run
storm). The polling sensor remains the safety net for webhooks that never come.

Between "nothing in flight" and Dagster listing the new run there is a moment in which the sensor could
decide the same; both take the ledger's launch lease for the flow first, so only one launches.

The Dagster side is the :class:`RunPort` interface, so the coalescing logic is tested without a
webserver; :class:`GraphQLRunPort` is the real one. Dagster itself is imported lazily, in this thread,
because the receiver must start answering webhooks before that import (seconds) would finish.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests

from sync_assets.webhooks.routes import ROUTES, Route

if TYPE_CHECKING:
    from sync_assets.state.ledger import Ledger

log = logging.getLogger(__name__)

# Terminal statuses after which pending events mean the run did not take them (or failed on them).
FAILED_STATUSES = frozenset({"FAILURE", "CANCELED"})
TRIGGER = "webhook"


class LaunchError(RuntimeError):
    """Dagster could not be asked, or refused: the launcher retries later; the events stay in the inbox."""


class RunPort(Protocol):
    """What the launcher needs from Dagster."""

    def in_flight(self, entity: str) -> list[str]:
        """Ids of this flow's runs that are queued or running (tag ``sync_assets/flow=<entity>``)."""

    def launch(self, route: Route) -> str:
        """Launch ``route.job_name`` tagged as a webhook-triggered run of ``route.entity``; its run id."""

    def status(self, run_id: str) -> str | None:
        """The run's status name (``SUCCESS``, ``FAILURE``, ...), None if Dagster does not know it."""


_IN_FLIGHT_QUERY = """
query SyncAssetsRunsInFlight($filter: RunsFilter!) {
  runsOrError(filter: $filter, limit: 5) {
    __typename
    ... on Runs { results { runId status } }
    ... on PythonError { message }
    ... on InvalidPipelineRunsFilterError { message }
  }
}
"""


class GraphQLRunPort:
    """Dagster's GraphQL API at ``url`` (the webserver of ``dagster dev``): runs are launched with the
    dagster-graphql client; the in-flight query, which that client lacks, is a plain POST."""

    def __init__(
        self,
        url: str,
        *,
        location_name: str = "sync_assets",
        repository_name: str = "__repository__",
        timeout: float = 30.0,  # launchRun starts the run before it answers: seconds on a busy machine
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"DAGSTER_WEBSERVER_URL must be an http(s) URL, got {url!r}")
        self._parts = parts
        self._graphql_url = f"{url.rstrip('/')}/graphql"
        self._location = location_name
        self._repository = repository_name
        self._timeout = timeout
        self._session = requests.Session()  # only the launcher thread uses it
        self._client: Any = None
        self._lanes: Any = None

    def _dagster(self) -> tuple[Any, Any]:
        if self._client is None:
            from dagster_graphql import DagsterGraphQLClient

            from sync_assets.defs import lanes

            self._lanes = lanes
            self._client = DagsterGraphQLClient(
                self._parts.hostname,
                port_number=self._parts.port,
                use_https=self._parts.scheme == "https",
                timeout=int(max(1, self._timeout)),
                path_prefix=self._parts.path.rstrip("/"),
            )
        return self._client, self._lanes

    def warm_up(self) -> None:
        """Import dagster now (seconds), so the first webhook's launch does not pay for it."""
        self._dagster()

    def in_flight(self, entity: str) -> list[str]:
        _, lanes = self._dagster()
        variables = {
            "filter": {
                "tags": [{"key": lanes.FLOW_TAG, "value": entity}],
                "statuses": [s.value for s in lanes.IN_FLIGHT_STATUSES],
            }
        }
        try:
            answer = self._session.post(
                self._graphql_url, json={"query": _IN_FLIGHT_QUERY, "variables": variables}, timeout=self._timeout
            )
            answer.raise_for_status()
            body = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise LaunchError(f"Dagster GraphQL at {self._graphql_url} unreachable: {error}") from error
        result = (body.get("data") or {}).get("runsOrError") or {}
        if result.get("__typename") != "Runs":
            reason = result.get("message") or body.get("errors") or body
            raise LaunchError(f"Dagster GraphQL runs query for {entity} failed: {reason}")
        return [run["runId"] for run in result["results"]]

    def launch(self, route: Route) -> str:
        client, lanes = self._dagster()
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return client.submit_job_execution(
                route.job_name,
                repository_location_name=self._location,
                repository_name=self._repository,
                tags=lanes.flow_tags(route.entity, TRIGGER),
            )
        except DagsterGraphQLClientError as error:
            # The client's message repeats the whole query; its cause says what went wrong.
            cause = error.__cause__ or error
            raise LaunchError(f"launching {route.job_name} failed: {type(cause).__name__}: {cause}") from error

    def status(self, run_id: str) -> str | None:
        client, _ = self._dagster()
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return client.get_run_status(run_id).value
        except DagsterGraphQLClientError as error:
            if "RunNotFoundError" in str(error) or "not found" in str(error).lower():
                return None
            raise LaunchError(f"status of run {run_id} unavailable: {error}") from error


@dataclass
class _FlowState:
    last_run: str | None = None  # the run this launcher started and has not yet seen finish
    failures: int = 0  # failed launches and runs since the last run that ended well
    not_before: float = 0.0  # monotonic time before which no launch is attempted (backoff)


class Launcher:
    """The launch loop. ``notify()`` wakes it at once; ``run_once()`` is one pass (tests drive it directly)."""

    def __init__(
        self,
        ledger: Ledger,
        port: RunPort,
        routes: Sequence[Route] = ROUTES,
        *,
        poll_seconds: float = 0.25,
        idle_seconds: float = 5.0,
        backoff_base_seconds: float = 1.0,
        backoff_cap_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ledger = ledger
        self._port = port
        self._routes = tuple(routes)
        self._poll = poll_seconds
        self._idle = idle_seconds  # re-read the inbox this often even without a wake-up
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._clock = clock
        self._state = {route.entity: _FlowState() for route in self._routes}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._counts = {"launches": 0, "launch_errors": 0, "failed_runs": 0, "waits_for_in_flight": 0}
        self._last_error: str | None = None

    # -- control -------------------------------------------------------------------------------------

    def notify(self) -> None:
        """A new event is in the inbox: look now rather than at the next poll."""
        self._wake.set()

    def start(self, warm_up: Callable[[], None] | None = None) -> None:
        def run() -> None:
            if warm_up is not None:
                try:
                    warm_up()
                except Exception:  # noqa: BLE001 - the loop reports launch problems itself
                    log.exception("webhook launcher: warm-up failed")
            self._loop()

        self._thread = threading.Thread(target=run, name="webhook-launcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
            out["last_error"] = self._last_error
        out["flows"] = {
            entity: {"last_run": s.last_run, "consecutive_failures": s.failures} for entity, s in self._state.items()
        }
        return out

    # -- the loop ------------------------------------------------------------------------------------

    def _loop(self) -> None:
        delay = 0.0  # look at once: events may have waited in the inbox while the receiver was down
        while not self._stopping.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopping.is_set():
                return
            delay = self.run_once()

    def run_once(self) -> float:
        """Look at every route once; launch where due. Returns the seconds until the next look."""
        delay = self._idle
        for route in self._routes:
            try:
                wait = self._step(route)
            except Exception as error:  # noqa: BLE001 - e.g. the inbox locked; the loop must live on
                log.exception("webhook launcher: %s step failed", route.entity)
                wait = self._fail(route, f"{route.entity}: {type(error).__name__}: {error}")
            if wait is not None:
                delay = min(delay, wait)
        return max(0.0, delay)

    def _pending(self, route: Route) -> int:
        return sum(self._ledger.inbox_counts(topic).get("new", 0) for topic in route.topics)

    def _step(self, route: Route) -> float | None:
        if not route.wakes or not self._pending(route):
            return None
        state = self._state[route.entity]
        now = self._clock()
        if now < state.not_before:
            return state.not_before - now
        try:
            if self._port.in_flight(route.entity):
                # It, or the run after it, takes what arrived: a burst becomes a few runs.
                with self._lock:
                    self._counts["waits_for_in_flight"] += 1
                return self._poll
            if state.last_run is not None:
                finished, status = state.last_run, self._port.status(state.last_run)
                state.last_run = None
                if status in FAILED_STATUSES:
                    with self._lock:
                        self._counts["failed_runs"] += 1
                    return self._fail(route, f"run {finished} of {route.job_name} ended {status}", count=False)
                state.failures = 0  # only a run that ended well proves the flow healthy again
            if not self._ledger.take_launch_lease(route.entity, TRIGGER):
                # The polling sensor is asking Dagster for a run this moment: that run takes these events.
                with self._lock:
                    self._counts["waits_for_in_flight"] += 1
                return self._poll
            try:
                run_id = self._port.launch(route)
            finally:  # launched (Dagster lists the run in flight now) or not launched at all
                self._ledger.release_launch_lease(route.entity, TRIGGER)
        except LaunchError as error:
            return self._fail(route, str(error))
        state.last_run = run_id
        with self._lock:
            self._counts["launches"] += 1
        log.info("webhook launcher: launched %s for %s (run %s)", route.job_name, route.entity, run_id)
        return self._poll

    def _fail(self, route: Route, reason: str, *, count: bool = True) -> float:
        state = self._state[route.entity]
        state.failures += 1
        wait = min(self._backoff_cap, self._backoff_base * 2 ** (state.failures - 1))
        state.not_before = self._clock() + wait
        with self._lock:
            if count:
                self._counts["launch_errors"] += 1
            self._last_error = reason
        log.warning("webhook launcher: %s; events stay in the inbox, next try in %.1f s", reason, wait)
        return wait
