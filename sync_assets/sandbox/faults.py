"""Fault injection for both emulated services: the failures a sync must survive, on demand.

One WSGI middleware sits in front of the whole sandbox app. It tells the services apart by path
(``/services/rest`` is NetSuite, ``/admin/`` is Shopify), never touches the control API (``/_sandbox/``),
and answers with each service's own documented error shapes (``reference/netsuite-rest.md`` §5.1,
``reference/shopify-admin.md`` §2), so a client's error mapping is exercised exactly as in production.

Profiles (``FaultPlan.profile``):

- ``none``: pass everything through.
- ``throttle``: NetSuite 429 ``CONCURRENCY_LIMIT_EXCEEDED``; Shopify 429 + ``Retry-After`` (``retry_after``).
- ``server_errors``: 500/502/503 (``statuses``) with the service's body.
- ``timeouts``: hang ``seconds`` before handling the request normally (a slow server: the client times out,
  the request still runs afterwards, as it would on a real overloaded server).
- ``resets``: close the TCP connection without an answer (the client sees a connection error).
- ``slow``: add ``seconds`` of latency, then answer normally.
- ``down``: the service answers 503 for ``seconds`` from when the plan was set, then recovers.
- ``committed_then_failed``: writes (NetSuite POST/PUT/PATCH/DELETE, Shopify GraphQL mutations) are
  executed and committed, then the client gets a 500, a hang of ``seconds`` or a reset (``failure``)
  instead of the answer. Reads pass through.

``rate`` is the fraction of eligible requests hit (draws from a ``seed``-ed generator, so a run is
repeatable for the same request order); ``limit`` caps the number of faults injected.
"""

from __future__ import annotations

import io
import json
import random
import re
import socket
import string
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import graphql
from werkzeug.wsgi import ClosingIterator

from sync_assets.sandbox.model import Counters

PROFILES = (
    "none",
    "throttle",
    "server_errors",
    "timeouts",
    "resets",
    "slow",
    "down",
    "committed_then_failed",
)
SERVICES = ("netsuite", "shopify")
FAILURES = ("error", "timeout", "reset", "mixed")

# Per-profile default for ``seconds``: long enough to exceed a client's short test timeout, short enough
# that a forgotten plan does not hold server threads for long.
_DEFAULT_SECONDS = {"timeouts": 5.0, "slow": 0.2, "down": 30.0, "committed_then_failed": 5.0}

_REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

SANDBOX_PREFIX = "/_sandbox/"


class FaultConfigError(ValueError):
    """A fault plan that cannot be applied; the message names the offending field."""


def service_for_path(path: str) -> str | None:
    """Which emulated service a request path belongs to; None for the control API and anything else."""
    if path.startswith(SANDBOX_PREFIX) or path == SANDBOX_PREFIX.rstrip("/"):
        return None
    if path.startswith("/services/rest"):
        return "netsuite"
    if path.startswith("/admin/"):
        return "shopify"
    return None


@dataclass(frozen=True)
class FaultPlan:
    profile: str = "none"
    services: tuple[str, ...] = SERVICES
    rate: float = 1.0
    seconds: float | None = None
    retry_after: float = 2.0
    statuses: tuple[int, ...] = (500, 502, 503)
    failure: str = "mixed"
    seed: int = 0
    limit: int | None = None

    @property
    def effective_seconds(self) -> float:
        if self.seconds is not None:
            return self.seconds
        return _DEFAULT_SECONDS.get(self.profile, 0.0)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultPlan:
        """Validate a control-API body such as ``{"profile": "throttle", "service": "shopify", "rate": 0.5}``."""
        if not isinstance(body, dict):
            raise FaultConfigError("fault plan: expected a JSON object")
        known = {"profile", "service", "rate", "seconds", "retry_after", "statuses", "failure", "seed", "limit"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise FaultConfigError(f"fault plan: unknown field(s) {unknown}; known: {sorted(known)}")
        profile = body.get("profile", "none")
        if profile not in PROFILES:
            raise FaultConfigError(f"fault plan: profile {profile!r} is not one of {list(PROFILES)}")
        service = body.get("service", "both")
        if service == "both":
            services = SERVICES
        elif service in SERVICES:
            services = (service,)
        else:
            raise FaultConfigError(f"fault plan: service {service!r} is not one of netsuite, shopify, both")
        rate = _number(body, "rate", 1.0)
        if not 0.0 <= rate <= 1.0:
            raise FaultConfigError(f"fault plan: rate must be within 0..1, got {rate}")
        seconds = body.get("seconds")
        if seconds is not None:
            seconds = _number(body, "seconds", 0.0)
            if seconds < 0:
                raise FaultConfigError(f"fault plan: seconds must be >= 0, got {seconds}")
        retry_after = _number(body, "retry_after", 2.0)
        if retry_after < 0:
            raise FaultConfigError(f"fault plan: retry_after must be >= 0, got {retry_after}")
        statuses = body.get("statuses", [500, 502, 503])
        if not isinstance(statuses, list) or not statuses or any(s not in (500, 502, 503) for s in statuses):
            raise FaultConfigError(f"fault plan: statuses must be a non-empty list from [500, 502, 503], got {statuses!r}")
        failure = body.get("failure", "mixed")
        if failure not in FAILURES:
            raise FaultConfigError(f"fault plan: failure {failure!r} is not one of {list(FAILURES)}")
        seed = body.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise FaultConfigError(f"fault plan: seed must be an integer, got {seed!r}")
        limit = body.get("limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise FaultConfigError(f"fault plan: limit must be a non-negative integer, got {limit!r}")
        return cls(profile, services, rate, seconds, retry_after, tuple(statuses), failure, seed, limit)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "service": "both" if set(self.services) == set(SERVICES) else self.services[0],
            "rate": self.rate,
            "seconds": self.effective_seconds,
            "retry_after": self.retry_after,
            "statuses": list(self.statuses),
            "failure": self.failure,
            "seed": self.seed,
            "limit": self.limit,
        }


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultConfigError(f"fault plan: {name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Fault:
    """One decision: what to do to this request instead of (or after) answering it normally."""

    action: str  # "throttle", "error", "hang", "reset", "slow", "down"
    status: int = 0
    seconds: float = 0.0
    after_commit: bool = False


@dataclass
class _State:
    plan: FaultPlan = field(default_factory=FaultPlan)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    started: float = field(default_factory=time.monotonic)
    injected: int = 0


class FaultInjector:
    """The active fault plan and its random draws; thread-safe (the server is threaded)."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._lock = threading.Lock()
        self._state = _State()

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self._state = _State(plan=plan, rng=random.Random(plan.seed))

    def clear(self) -> None:
        self.set(FaultPlan())

    @property
    def plan(self) -> FaultPlan:
        with self._lock:
            return self._state.plan

    def describe(self) -> dict[str, Any]:
        with self._lock:
            state = self._state
            out = state.plan.to_json()
            out["injected"] = state.injected
            if state.plan.profile == "down":
                remaining = state.plan.effective_seconds - (time.monotonic() - state.started)
                out["down_remaining_seconds"] = round(max(0.0, remaining), 3)
            return out

    def decide(self, service: str, is_write: Callable[[], bool]) -> Fault | None:
        """The fault for one request to ``service``, or None to answer it normally."""
        # Telling a write may read the request body off the socket: never under the lock.
        planned = self.plan
        writes = planned.profile == "committed_then_failed" and service in planned.services and is_write()
        with self._lock:
            state = self._state
            plan = state.plan
            if plan.profile == "none" or service not in plan.services:
                return None
            if plan.limit is not None and state.injected >= plan.limit:
                return None
            if plan.profile == "down":
                if time.monotonic() - state.started >= plan.effective_seconds:
                    return None
                fault = Fault("down", status=503)
            else:
                if plan.profile == "committed_then_failed" and not (writes and plan is planned):
                    return None
                # Draw only for eligible requests so the sequence of hits depends on them alone.
                if state.rng.random() >= plan.rate:
                    return None
                fault = self._draw(plan, state.rng)
            state.injected += 1
        self._counters.incr(f"faults.{plan.profile}")
        self._counters.incr(f"faults.{plan.profile}.{service}")
        return fault

    @staticmethod
    def _draw(plan: FaultPlan, rng: random.Random) -> Fault:
        seconds = plan.effective_seconds
        match plan.profile:
            case "throttle":
                return Fault("throttle", status=429, seconds=plan.retry_after)
            case "server_errors":
                return Fault("error", status=rng.choice(plan.statuses))
            case "timeouts":
                return Fault("hang", seconds=seconds)
            case "resets":
                return Fault("reset")
            case "slow":
                return Fault("slow", seconds=seconds)
            case "committed_then_failed":
                failure = plan.failure if plan.failure != "mixed" else rng.choice(("error", "timeout", "reset"))
                action = {"error": "error", "timeout": "hang", "reset": "reset"}[failure]
                return Fault(action, status=500, seconds=seconds, after_commit=True)
        raise AssertionError(f"unhandled profile {plan.profile}")


# --- each service's error answers -------------------------------------------------------------------

Answer = tuple[int, list[tuple[str, str]], bytes]


def _error_id() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=20))


def netsuite_error(status: int) -> Answer:
    """NetSuite's nsError bodies as documented (netsuite-rest.md §5.1), including the 429's quirks."""
    if status == 429:
        body: dict[str, Any] = {
            "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
            "title": "Bad Request",
            "status": 429,
            "o:errorCode": "USER_ERROR",
            "o:errorDetails": [
                {"detail": "Concurrent request limit exceeded. Request blocked.", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}
            ],
        }
    else:
        # Only the 500 is documented; 502/503 reuse its shape with their own status and title.
        body = {
            "title": _REASONS[status],
            "status": status,
            "o:errorDetails": [
                {"detail": f"An unexpected error occurred. Error ID: {_error_id()}", "o:errorCode": "UNEXPECTED_ERROR"}
            ],
        }
    headers = [("Content-Type", "application/vnd.oracle.resource+json; type=error")]
    return status, headers, json.dumps(body).encode()


def shopify_error(status: int, retry_after: float = 2.0) -> Answer:
    """Shopify Admin error answers (shopify-admin.md §2.1, §2.3)."""
    request_id = str(uuid.uuid4())
    headers = [("Content-Type", "application/json; charset=utf-8"), ("X-Request-Id", request_id)]
    if status == 429:
        headers.append(("Retry-After", str(float(retry_after))))  # Shopify sends a float string: "2.0"
        body: Any = {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
            ]
        }
    elif status == 500:
        body = {
            "errors": [
                {
                    "message": f"Internal error. Looks like something went wrong on our end.\nRequest ID: {request_id}",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        }
    else:
        # Edge answers; the string form of ``errors`` is the one Shopify uses for its 401/404.
        body = {"errors": _REASONS[status]}
    return status, headers, json.dumps(body).encode()


def error_answer(service: str, status: int, retry_after: float = 2.0) -> Answer:
    return netsuite_error(status) if service == "netsuite" else shopify_error(status, retry_after)


# --- which requests write -------------------------------------------------------------------------

_NETSUITE_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def is_netsuite_write(environ: dict[str, Any]) -> bool:
    """Writes commit records. SuiteQL is a POST but only reads; the token endpoint mints, never commits data."""
    if environ.get("REQUEST_METHOD", "GET") not in _NETSUITE_WRITES:
        return False
    path = environ.get("PATH_INFO", "")
    return not (path.startswith("/services/rest/query/") or path.startswith("/services/rest/auth/"))


def graphql_is_mutation(body: bytes, content_type: str) -> bool:
    """Whether a Shopify GraphQL request body runs a mutation (the named operation, else the first one)."""
    try:
        if "application/graphql" in content_type:
            source, operation_name = body.decode("utf-8"), None
        else:
            payload = json.loads(body or b"{}")
            source, operation_name = payload.get("query") or "", payload.get("operationName")
        document = graphql.parse(source, no_location=True)
    except (ValueError, AttributeError, graphql.GraphQLError):
        return False  # the service itself will answer the malformed request
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if operation_name:
        operations = [op for op in operations if op.name is not None and op.name.value == operation_name]
    return bool(operations) and operations[0].operation == graphql.OperationType.MUTATION


# --- the middleware ---------------------------------------------------------------------------------

_ENDPOINT_ID = re.compile(r"/(?:eid:[^/]+|\d+)(?=/|$)")


def endpoint_name(method: str, path: str) -> str:
    """A request's endpoint with record ids folded, e.g. ``GET /services/rest/record/v1/salesOrder/{id}``."""
    return f"{method} {_ENDPOINT_ID.sub('/{id}', path)}"


class FaultMiddleware:
    """WSGI middleware: counts service requests and in-flight peaks, and applies the injector's faults."""

    def __init__(self, app: Callable[..., Iterable[bytes]], injector: FaultInjector, counters: Counters) -> None:
        self._app = app
        self._injector = injector
        self._counters = counters
        self._lock = threading.Lock()
        self._in_flight = {name: 0 for name in SERVICES}
        self._peak = {name: 0 for name in SERVICES}
        self._endpoints: dict[str, int] = {}

    # -- statistics the control API reports
    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests_by_endpoint": dict(sorted(self._endpoints.items())),
                "in_flight": dict(self._in_flight),
                "peak_in_flight": dict(self._peak),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._endpoints.clear()
            self._peak = dict(self._in_flight)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        service = service_for_path(path)
        if service is None:
            return self._app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        self._enter(service, endpoint_name(method, path))
        try:
            result = self._serve(service, environ, start_response)
        except BaseException:
            self._leave(service)
            raise
        return ClosingIterator(result, lambda: self._leave(service))

    def _enter(self, service: str, endpoint: str) -> None:
        with self._lock:
            self._endpoints[endpoint] = self._endpoints.get(endpoint, 0) + 1
            self._in_flight[service] += 1
            self._peak[service] = max(self._peak[service], self._in_flight[service])
        self._counters.incr(f"requests.{service}")

    def _leave(self, service: str) -> None:
        with self._lock:
            self._in_flight[service] -= 1

    def _serve(self, service: str, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        fault = self._injector.decide(service, lambda: self._is_write(service, environ))
        if fault is None:
            return self._app(environ, start_response)
        if fault.after_commit:
            self._run_to_completion(environ)
        match fault.action:
            case "throttle" | "error" | "down":
                return _answer(start_response, error_answer(service, fault.status, fault.seconds))
            case "reset":
                _drop_connection(environ)
            case "slow" | "hang":
                time.sleep(fault.seconds)
                if fault.after_commit:
                    return _answer(start_response, error_answer(service, 500))
                return self._app(environ, start_response)
        raise AssertionError(f"unhandled fault action {fault.action}")

    def _is_write(self, service: str, environ: dict[str, Any]) -> bool:
        if service == "netsuite":
            return is_netsuite_write(environ)
        if environ.get("REQUEST_METHOD") != "POST":
            return False
        body = _buffer_body(environ)
        return graphql_is_mutation(body, environ.get("CONTENT_TYPE", ""))

    def _run_to_completion(self, environ: dict[str, Any]) -> None:
        """Execute the request for its side effects and throw the answer away."""
        iterable = self._app(environ, lambda status, headers, exc_info=None: lambda data: None)
        try:
            for _ in iterable:
                pass
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()


def _buffer_body(environ: dict[str, Any]) -> bytes:
    """Read the request body once and put it back so the app downstream can read it again."""
    cached = environ.get("sync_assets.body")
    if cached is not None:
        return cached
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked upload: the server marks where the body ends
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["sync_assets.body"] = body
    return body


def _answer(start_response: Callable[..., Any], answer: Answer) -> list[bytes]:
    status, headers, body = answer
    start_response(f"{status} {_REASONS[status]}", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _drop_connection(environ: dict[str, Any]) -> None:
    """Abort the TCP connection without a byte of answer, as a crashed proxy or server would.

    SO_LINGER 0 turns the final close into a RST; shutting both directions down at once also ends
    werkzeug's keep-alive loop, which would otherwise wait for another request line on this socket.
    Raising a ConnectionError makes werkzeug treat the request as dropped and write nothing.
    """
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("the resets fault needs werkzeug's server (environ['werkzeug.socket'] is missing)")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client already went away: nothing left to drop
    raise ConnectionAbortedError("sandbox fault: connection dropped on purpose")


__all__ = [
    "PROFILES",
    "SERVICES",
    "Fault",
    "FaultConfigError",
    "FaultInjector",
    "FaultMiddleware",
    "FaultPlan",
    "endpoint_name",
    "error_answer",
    "graphql_is_mutation",
    "service_for_path",
]
