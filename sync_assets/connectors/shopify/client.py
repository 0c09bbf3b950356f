"""The Shopify Admin GraphQL transport: auth, cost-bucket pacing, retries and error mapping.

One method, :meth:`ShopifyClient.execute`, sends any document and returns ``data``; everything that makes
that reliable lives here so that the helpers (orders, inventory, bulk...) stay plain query-and-reshape code.

Retry policy, and why:

* THROTTLED (HTTP 200) and 429 mean Shopify did not run the request: always safe to resend, after waiting
  for the bucket to refill (``(cost - available) / restoreRate``) or for ``Retry-After``.
* 5xx, resets and timeouts are ambiguous for a mutation: the server may have committed before failing.
  Queries and idempotent mutations (``@idempotent`` key resent unchanged, or set-semantics like productSet)
  are retried with backoff + jitter; other mutations are retried only when the request provably never
  left (connection refused / connect timeout), else :class:`ShopifyTransientError` with
  ``maybe_applied=True`` tells the caller to check before writing again.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from typing import Any, Callable, Iterable, Iterator

import requests
from graphql import OperationType, parse

from sync_assets.connectors.http import Backoff, never_sent, parse_retry_after

from . import bulk, catalog, fulfillment, inventory, orders, paging, payments
from .auth import TokenProvider, as_token_provider
from .errors import (
    SHOP_URL_SETTING,
    TOKEN_SETTING,
    ShopifyAuthError,
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyMaxCostExceeded,
    ShopifyThrottledError,
    ShopifyTransientError,
    raise_for_user_errors,
)
from .throttle import REALTIME, ClientStats, CostBucket, LanePacing, SharedLevel, shared_state_file

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "2026-10"


class ShopifyClient:
    """A thin ``requests`` client for one shop's Admin GraphQL API.

    ``shop_url`` is the shop's base URL (``https://example.myshopify.com``, or the sandbox's
    ``http://127.0.0.1:8765``). ``min_available`` is a reserve of cost points this client leaves in the
    bucket for other processes using the same app on the same shop (Dagster runs in parallel share it).

    ``shared_state_dir``: where every process of this app keeps the shop's last bucket report (and the bulk
    slot's queue), so that concurrent runs pace against one budget; None keeps both to this client.
    ``lane``: how this client spends that budget (:class:`.throttle.LanePacing`; batch keeps a reserve for
    the real-time lane and waits through throttling up to its deadline).
    """

    def __init__(
        self,
        shop_url: str,
        access_token: str | TokenProvider,
        *,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 30,
        backoff: Backoff = Backoff(),
        min_available: float = 0.0,
        max_throttle_retries: int = 50,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        shared_state_dir: str | None = None,
        lane: LanePacing = REALTIME,
    ) -> None:
        if not shop_url or not shop_url.strip():
            raise ValueError(f"Shopify shop URL is empty: set {SHOP_URL_SETTING} (e.g. https://example.myshopify.com)")
        shop_url = shop_url.strip().rstrip("/")
        if "://" not in shop_url:
            shop_url = "https://" + shop_url
        if not shop_url.startswith(("http://", "https://")):
            raise ValueError(f"{SHOP_URL_SETTING} must be an http(s) URL, got {shop_url!r}")
        if isinstance(access_token, str) and not access_token.strip():
            raise ValueError(f"Shopify access token is empty: set {TOKEN_SETTING} for {shop_url}")
        self.shop_url = shop_url
        self.api_version = api_version
        self.endpoint = f"{shop_url}/admin/api/{api_version}/graphql.json"
        self.timeout = timeout
        self.backoff = backoff
        self.min_available = min_available
        self.max_throttle_retries = max_throttle_retries
        self.stats = ClientStats()
        self.lane = lane
        self.shared_state_dir = shared_state_dir
        self.bucket = CostBucket(level=SharedLevel(shared_state_file(shared_state_dir, shop_url, "bucket.json"))
                                 if shared_state_dir else None)
        self.served_version: str | None = None
        self._sleep = sleep
        self._token = as_token_provider(access_token)  # fixed, or renewed by the client credentials grant
        self._session = session or requests.Session()
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "sync-assets/0.1 (+requests)",
        }

    def __repr__(self) -> str:  # the token must never show up in a log line or traceback
        return f"ShopifyClient({self.shop_url!r}, api_version={self.api_version!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the one transport method -------------------------------------------------------------------------

    def execute(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Send ``document`` and return its ``data``.

        ``idempotent`` says whether resending after an ambiguous failure is harmless; it defaults to True
        for queries and False for mutations.
        """
        if idempotent is None:
            idempotent = _operation_type(document) is not OperationType.MUTATION
        body: dict[str, Any] = {"query": document}
        if variables:
            body["variables"] = variables
        if operation_name:
            body["operationName"] = operation_name

        failures = 0  # transient failures so far (5xx, resets, timeouts)
        throttles = 0
        started = time.monotonic()
        renewed = False  # a 401 renews an expiring token once; a second 401 is a real refusal
        while True:
            self._pace(document, started)
            self.stats.add(calls=1)
            token = self._token.token()
            headers = {**self._headers, "X-Shopify-Access-Token": token}
            try:
                response = self._session.post(self.endpoint, json=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                retry_ok = idempotent or never_sent(exc)
                failures = self._after_transient(f"{type(exc).__name__}: {exc}", None, failures, retry_ok)
                continue
            self._note_version(response)
            status = response.status_code
            if status == 401 and not renewed and self._token.invalidate(token):
                renewed = True  # Shopify never ran a request it answered 401: safe to resend
                continue
            if status in (401, 403):
                raise _auth_error(status, self.shop_url, response)
            if status == 429:
                cost = _json_cost(response)
                if _never_fits(cost):
                    raise _bucket_too_small(cost)
                throttles = self._after_throttle(throttles, parse_retry_after(response.headers.get("Retry-After")), started)
                continue
            if status >= 500:
                failures = self._after_transient(f"HTTP {status}", status, failures, idempotent)
                continue
            if status >= 400:
                raise ShopifyHTTPError(
                    f"Shopify answered HTTP {status} for {self.endpoint}: {_short_body(response)}. "
                    f"Check {SHOP_URL_SETTING} and the API version {self.api_version!r}.",
                    status=status,
                )
            try:
                payload = response.json()
            except ValueError:
                # A cut-off body: the server may or may not have run it.
                failures = self._after_transient("unparseable JSON body", status, failures, idempotent)
                continue
            cost = (payload.get("extensions") or {}).get("cost")
            self.bucket.observe(document, cost)
            if isinstance(cost, dict) and isinstance(cost.get("actualQueryCost"), (int, float)):
                self.stats.add(cost=float(cost["actualQueryCost"]))
            errors = payload.get("errors")
            if not errors:
                return payload.get("data") or {}
            codes = _error_codes(errors)
            if "THROTTLED" in codes:
                if _never_fits(cost):
                    raise _bucket_too_small(cost)
                throttles = self._after_throttle(throttles, _throttle_wait(cost), started)
                continue
            if "MAX_COST_EXCEEDED" in codes:
                raise _max_cost_error(errors)
            if "INTERNAL_SERVER_ERROR" in codes:
                failures = self._after_transient(_messages(errors), status, failures, idempotent)
                continue
            raise ShopifyGraphQLError(
                f"Shopify GraphQL errors: {_messages(errors)}", errors=_as_list(errors), code=next(iter(codes), None)
            )

    def mutate(
        self,
        document: str,
        variables: dict[str, Any],
        payload_field: str,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Run a mutation and return its payload object, raising the typed error for any ``userErrors``."""
        data = self.execute(document, variables, idempotent=idempotent)
        payload = data.get(payload_field)
        if payload is None:
            raise ShopifyGraphQLError(f"Shopify returned no {payload_field} payload", errors=[])
        raise_for_user_errors(payload_field, payload.get("userErrors"))
        return payload

    # --- thin helpers (the work is in the modules named; see their docstrings) -----------------------------

    def paginate(
        self, document: str, variables: dict[str, Any] | None, connection_path: str | tuple[str, ...], *, page_size: int = 50
    ) -> Iterator[dict[str, Any]]:
        return paging.paginate(self, document, variables, connection_path, page_size=page_size)

    def iter_orders_updated_between(
        self, start: Any, end: Any, *, page_size: int = orders.DEFAULT_ORDERS_PAGE, nested_page_size: int = orders.DEFAULT_NESTED_PAGE
    ) -> Iterator[dict[str, Any]]:
        return orders.iter_orders_updated_between(self, start, end, page_size=page_size, nested_page_size=nested_page_size)

    def iter_orders_created_between(self, start: Any, end: Any) -> Iterator[dict[str, Any]]:
        return orders.iter_orders_created_between(self, start, end)

    def iter_balance_transactions(self, start: Any, end: Any) -> Iterator[dict[str, Any]]:
        return payments.iter_balance_transactions(self, start, end)

    def get_payouts(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        return payments.get_payouts(self, ids)

    def get_orders(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        return orders.get_orders(self, ids)

    def create_order(self, order: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        return orders.create_order(self, order, options)

    def iter_locations(self) -> Iterator[dict[str, Any]]:
        return inventory.iter_locations(self)

    def inventory_by_sku(self, skus: Iterable[str]) -> dict[str, dict[str, Any]]:
        return inventory.inventory_by_sku(self, skus)

    def set_inventory_quantities(self, quantities: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any] | None:
        return inventory.set_inventory_quantities(self, quantities, **kwargs)

    def product_set(self, product: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return catalog.product_set(self, product, **kwargs)

    def fulfillment_orders(self, order_id: str) -> list[dict[str, Any]]:
        return fulfillment.fulfillment_orders(self, order_id)

    def create_fulfillment(self, line_items_by_fulfillment_order: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return fulfillment.create_fulfillment(self, line_items_by_fulfillment_order, **kwargs)

    def run_bulk_query(self, document: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return bulk.run_bulk_query(self, document, **kwargs)

    def iter_bulk_orders_updated_between(self, start: Any, end: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return bulk.iter_bulk_orders_updated_between(self, start, end, **kwargs)

    # --- pacing and retry bookkeeping ---------------------------------------------------------------------

    def _pace(self, document: str, started: float) -> None:
        """Wait until the (shared) bucket holds this document's cost plus this lane's reserve. The batch lane
        looks again after each wait, since the other lane may have spent what refilled meanwhile."""
        while True:
            wait = self.bucket.wait_before(document, self.min_available, self.lane.reserve_fraction)
            if wait <= 0:
                break
            if self.lane.reserve_fraction:
                wait = min(wait, 1.0) + random.uniform(0, 0.05)  # short looks: the other lane moves the level
                self._check_deadline(started)
            self.stats.add(throttle_wait_s=wait, paced=1)
            self._sleep(wait)
            if not self.lane.reserve_fraction:
                break
        self.bucket.spend(document)

    def _check_deadline(self, started: float) -> None:
        deadline = self.lane.throttle_deadline_s
        if deadline is not None and time.monotonic() - started > deadline:
            raise ShopifyThrottledError(
                f"Shopify's cost budget for {self.shop_url} stayed spent for over {deadline:.0f} s, the "
                f"{self.lane.name} lane's deadline for one request (SHOPIFY_BATCH_THROTTLE_DEADLINE_SECONDS)",
                status=429, code="THROTTLED",
            )  # fmt: skip

    def _after_throttle(self, throttles: int, wait: float | None, started: float) -> int:
        if self.lane.throttle_deadline_s is not None:
            self._check_deadline(started)  # this lane waits by the clock, not by a count of answers
        elif throttles >= self.max_throttle_retries:
            raise ShopifyThrottledError(
                f"Shopify kept throttling {self.shop_url} after {throttles} retries", status=429, code="THROTTLED"
            )
        if wait is None:
            wait = self.backoff.delay(min(throttles, 6))
        # Jitter so that several clients sharing one bucket don't all come back at the same instant.
        wait += random.uniform(0, 0.05 + 0.1 * wait)
        if self.lane.throttle_deadline_s is not None:  # never sleep past the deadline we will report
            wait = min(wait, max(0.05, started + self.lane.throttle_deadline_s - time.monotonic() + 0.05))
        self.stats.add(throttled=1, retries=1, throttle_wait_s=wait)
        self._sleep(wait)
        return throttles + 1

    def _after_transient(self, what: str, status: int | None, failures: int, retry_ok: bool) -> int:
        if not retry_ok:
            raise ShopifyTransientError(
                f"Shopify mutation failed ambiguously ({what}); it may have been applied, so it was not resent",
                status=status,
                maybe_applied=True,
            )
        if failures + 1 >= self.backoff.max_attempts:
            raise ShopifyTransientError(
                f"Shopify still failing after {failures + 1} attempts: {what}", status=status
            )
        delay = self.backoff.delay(failures)
        log.info("Shopify transient failure (%s); retry %d in %.2fs", what, failures + 1, delay)
        self.stats.add(retries=1)
        self._sleep(delay)
        return failures + 1

    def _note_version(self, response: requests.Response) -> None:
        if self.served_version is not None:
            return
        served = response.headers.get("X-Shopify-API-Version")
        if not served:
            return
        self.served_version = served
        if served != self.api_version:
            # Retired versions "fall forward" silently: the only sign is this header.
            log.warning(
                "Shopify served API version %s but %s was requested (retired versions fall forward); "
                "update the pinned version",
                served,
                self.api_version,
            )
        else:
            log.debug("Shopify API version %s for %s", served, self.shop_url)


# --- helpers ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _operation_type(document: str) -> OperationType:
    for definition in parse(document).definitions:
        operation = getattr(definition, "operation", None)
        if operation is not None:
            return operation
    raise ValueError("GraphQL document has no operation")


def _as_list(errors: Any) -> list[dict[str, Any]]:
    if isinstance(errors, list):
        return [e if isinstance(e, dict) else {"message": str(e)} for e in errors]
    return [{"message": str(errors)}]


def _error_codes(errors: Any) -> list[str]:
    return [
        code
        for e in _as_list(errors)
        if (code := (e.get("extensions") or {}).get("code"))
    ]


def _messages(errors: Any) -> str:
    return "; ".join(str(e.get("message", "")).split("\n")[0] for e in _as_list(errors))


def _throttle_wait(cost: Any) -> float | None:
    """``(requested - available) / restoreRate`` from a THROTTLED answer; None when cost data is missing."""
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus") or {}
    try:
        requested = float(cost["requestedQueryCost"])
        available = float(status["currentlyAvailable"])
        restore = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if restore <= 0:
        return None
    return max(0.0, (requested - available) / restore)


def _never_fits(cost: Any) -> bool:
    try:
        return float(cost["requestedQueryCost"]) > float(cost["throttleStatus"]["maximumAvailable"])
    except (KeyError, TypeError, ValueError):
        return False


def _json_cost(response: requests.Response) -> Any:
    """``extensions.cost`` of an answer whose body may not be JSON (a 429 usually is not; the sandbox's is)."""
    try:
        payload = response.json()
    except ValueError:
        return None
    return (payload.get("extensions") or {}).get("cost") if isinstance(payload, dict) else None


def _bucket_too_small(cost: dict) -> ShopifyMaxCostExceeded:
    # Waiting cannot help a query that costs more than the whole bucket: the caller must ask for less.
    return _max_cost_error(
        [{"message": "query cost exceeds the bucket size", "extensions": {
            "code": "MAX_COST_EXCEEDED", "cost": cost["requestedQueryCost"],
            "maxCost": cost["throttleStatus"]["maximumAvailable"]}}]
    )


def _max_cost_error(errors: Any) -> ShopifyMaxCostExceeded:
    items = _as_list(errors)
    ext = next(((e.get("extensions") or {}) for e in items if (e.get("extensions") or {}).get("code") == "MAX_COST_EXCEEDED"), {})
    return ShopifyMaxCostExceeded(
        f"Shopify query too expensive (cost {ext.get('cost')}, limit {ext.get('maxCost')}): ask for fewer "
        "objects per page or use a bulk operation",
        errors=items,
        cost=ext.get("cost"),
        max_cost=ext.get("maxCost"),
    )


def _short_body(response: requests.Response) -> str:
    text = response.text or ""
    return text[:200].replace("\n", " ")


def _auth_error(status: int, shop_url: str, response: requests.Response) -> ShopifyAuthError:
    if status == 401:
        return ShopifyAuthError(
            f"Shopify refused the access token for {shop_url} (HTTP 401: {_short_body(response)}). "
            f"Check the app's SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET (a legacy app's {TOKEN_SETTING}) and that "
            f"{SHOP_URL_SETTING} points at the shop the app is installed on.",
            status=401,
        )
    return ShopifyAuthError(
        f"Shopify denied access for {shop_url} (HTTP 403: {_short_body(response)}). The app behind "
        f"{TOKEN_SETTING} lacks a required access scope or the shop is unavailable.",
        status=403,
    )
