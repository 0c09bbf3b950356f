"""Bulk operations: run a query server-side, then stream its JSONL result in constant memory.

Large reads (backfills, nightly reconciliation) go through ``bulkOperationRunQuery``: not subject to the
per-query cost limit, and the answer is a file of one JSON object per line. Nested connection items are
their own lines carrying ``__parentId``.

Ordering assumption of :func:`join_children`: Shopify documents that a child line always comes *after* its
parent, but with ``groupObjects: false`` (the default since 2026-01) not necessarily right after it. The
join keeps only the current root object and its descendants in memory, so it needs the grouped layout
(``groupObjects: true``: each root followed by all of its descendants). If a line ever names a parent that
is not in the current root's subtree the join raises :class:`ShopifyBulkOrderingError` instead of
attaching it wrongly or dropping it.

The slot: a shop runs one bulk query per app at a time (a second ``bulkOperationRunQuery`` gets the
userError ``OPERATION_IN_PROGRESS``, "A bulk query operation for this app and shop is already in
progress"). Users of the slot coordinate instead of failing. A client of the batch lane queues: first on a
file lock beside the shared bucket state (so our own processes take turns without hammering Shopify), then
by resubmitting while someone else's operation runs, until its deadline. A client of the real-time lane
does not queue behind a long batch export: it gets :class:`ShopifyBulkSlotBusy` at once and reads another
way (the orders flow pages instead).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import requests
from filelock import FileLock, Timeout

from . import documents as docs
from .errors import (
    ShopifyBulkOperationError,
    ShopifyBulkOrderingError,
    ShopifyBulkSlotBusy,
    ShopifyTransientError,
    raise_for_user_errors,
)
from .orders import created_between_query, updated_between_query
from .throttle import shared_state_file

if TYPE_CHECKING:
    from .client import ShopifyClient

log = logging.getLogger(__name__)

TERMINAL_FAILURES = {"FAILED", "CANCELED", "CANCELLED", "EXPIRED"}
_IN_PROGRESS = "already in progress"


def start_bulk_query(
    client: ShopifyClient,
    query: str,
    *,
    group_objects: bool,
    deadline: float,
    in_progress_wait: float,
    sleep: Callable[[float], None],
    wait_for_slot: bool = True,
) -> str:
    """Submit the bulk query; while another bulk query of this app is running, wait and resubmit (or, with
    ``wait_for_slot`` false, raise :class:`ShopifyBulkSlotBusy`)."""
    while True:
        data = client.execute(
            docs.BULK_OPERATION_RUN_QUERY, {"query": query, "groupObjects": group_objects}, idempotent=True
        )
        payload = data.get("bulkOperationRunQuery") or {}
        errors = payload.get("userErrors") or []
        busy = [e for e in errors if e.get("code") == "OPERATION_IN_PROGRESS" or _IN_PROGRESS in (e.get("message") or "")]
        if busy:
            if not wait_for_slot:
                message = busy[0].get("message") or "a bulk query is already in progress"
                raise ShopifyBulkSlotBusy(message, running_id=_running_id(message))
            client.stats.add(bulk_slot_waits=1)
            if time.monotonic() + in_progress_wait > deadline:
                raise ShopifyBulkOperationError(
                    "another bulk query kept running past our deadline", operation_id=None, status="TIMEOUT"
                )
            log.info("Shopify bulk query already in progress; waiting %.1fs", in_progress_wait)
            sleep(in_progress_wait)
            continue
        raise_for_user_errors("bulkOperationRunQuery", errors)
        operation = payload.get("bulkOperation") or {}
        if not operation.get("id"):
            raise ShopifyBulkOperationError("bulkOperationRunQuery returned no operation", operation_id=None, status=None)
        return operation["id"]


def _running_id(message: str) -> str | None:
    marker = "gid://shopify/BulkOperation/"
    at = message.find(marker)
    return message[at:].rstrip(".").split()[0] if at >= 0 else None


@contextlib.contextmanager
def slot_queue(client: ShopifyClient, deadline: float, sleep: Callable[[float], None]):
    """Our own processes' turn at the bulk slot (a file lock beside the shared bucket state); a no-op for a
    client without shared state or one that does not wait for the slot."""
    if not client.shared_state_dir:
        yield
        return
    lock = FileLock(str(shared_state_file(client.shared_state_dir, client.shop_url, "bulk.lock")))
    waited = False
    while True:
        try:
            lock.acquire(timeout=0 if not waited else min(5.0, max(0.0, deadline - time.monotonic())))
            break
        except Timeout:
            if waited and time.monotonic() >= deadline:
                raise ShopifyBulkOperationError(
                    "another of our bulk queries held the slot past our deadline", operation_id=None, status="TIMEOUT"
                ) from None
            client.stats.add(bulk_slot_waits=1)  # another of our processes has it: queue behind it
            waited = True
    try:
        yield
    finally:
        lock.release()


def wait_for_bulk_operation(
    client: ShopifyClient,
    operation_id: str,
    *,
    deadline: float,
    poll_interval: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """Poll until the operation is COMPLETED (returned) or failed / past the deadline (raised)."""
    interval = poll_interval
    while True:
        data = client.execute(docs.BULK_OPERATION_STATUS, {"id": operation_id})
        operation = data.get("bulkOperation")
        if operation is None:
            raise ShopifyBulkOperationError(f"bulk operation {operation_id} not found", operation_id=operation_id, status=None)
        status = operation.get("status")
        if status == "COMPLETED":
            return operation
        if status in TERMINAL_FAILURES:
            raise ShopifyBulkOperationError(
                f"bulk operation {operation_id} ended {status} (errorCode {operation.get('errorCode')})",
                operation_id=operation_id,
                status=status,
                error_code=operation.get("errorCode"),
                partial_data_url=operation.get("partialDataUrl"),
            )
        if time.monotonic() > deadline:
            # Not cancelled here (bulkOperationCancel is outside the emulated subset): the caller may resume
            # polling this id later, as tap-shopify does, or let it expire.
            raise ShopifyBulkOperationError(
                f"bulk operation {operation_id} still {status} at the deadline",
                operation_id=operation_id,
                status="TIMEOUT",
                error_code="TIMEOUT",
            )
        sleep(interval)
        interval = min(interval * 1.5, 10.0)  # short jobs answer fast; long ones need not be hammered


def stream_jsonl(url: str, *, client: ShopifyClient, sleep: Callable[[float], None] = time.sleep) -> Iterator[dict]:
    """Objects of a JSONL file, read with ``stream=True`` so memory stays flat whatever the file size.

    The URL is a signed storage URL on another host: the access token is deliberately *not* sent. The file
    is immutable, so a connection lost midway is resumed by re-reading and skipping the lines already yielded.
    """
    yielded = 0
    failures = 0
    while True:
        skip = yielded
        try:
            with requests.get(url, stream=True, timeout=client.timeout) as response:
                response.raise_for_status()
                for raw in response.iter_lines(chunk_size=64 * 1024):
                    if not raw.strip():
                        continue
                    if skip:
                        skip -= 1
                        continue
                    obj = json.loads(raw)
                    yielded += 1
                    yield obj
            return
        except (requests.ConnectionError, requests.Timeout, requests.HTTPError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status is not None and status < 500:
                raise ShopifyBulkOperationError(
                    f"bulk result download refused (HTTP {status}); the URL may have expired",
                    operation_id=None,
                    status="COMPLETED",
                ) from None  # the chained error would print the signed URL, which grants read access
            failures += 1
            if failures >= client.backoff.max_attempts:
                raise ShopifyTransientError(
                    f"bulk result download kept failing: {_without_signature(str(exc), url)}"
                ) from None
            client.stats.add(retries=1)
            sleep(client.backoff.delay(failures - 1))


def _without_signature(text: str, url: str) -> str:
    """``text`` with the URL's query (the storage signature, a read credential) cut out."""
    query = urlsplit(url).query
    return text.replace(query, "<signature hidden>") if query else text


def join_children(
    lines: Iterable[dict[str, Any]], child_keys: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Re-nest bulk JSONL lines: yield each root object with its descendants attached as lists.

    A child goes under ``child_keys[child["__typename"]]`` (default: its ``__typename``, or ``"children"``)
    of the object named by its ``__parentId``. Requires grouped output; see the module docstring.
    """
    child_keys = child_keys or {}
    root: dict[str, Any] | None = None
    subtree: dict[str, dict[str, Any]] = {}
    for line in lines:
        parent_id = line.pop("__parentId", None)
        if parent_id is None:
            if root is not None:
                yield root
            root = line
            subtree = {line["id"]: line} if "id" in line else {}
            continue
        parent = subtree.get(parent_id)
        if parent is None:
            raise ShopifyBulkOrderingError(
                f"bulk line {line.get('id', '?')} names parent {parent_id}, which is not the current root "
                f"({root.get('id') if root else None}) or one of its descendants: run the bulk query with "
                "groupObjects: true to stream-join it"
            )
        key = child_keys.get(line.get("__typename", ""), line.get("__typename") or "children")
        parent.setdefault(key, []).append(line)
        if "id" in line:
            subtree[line["id"]] = line
    if root is not None:
        yield root


class PendingBulkQuery:
    """A bulk query submitted to Shopify, collected later: while Shopify runs it (seconds to minutes on a
    large store), the caller does its own work. Close it if it is never collected (our slot is freed;
    Shopify's operation finishes or expires on its own)."""

    def __init__(self, client: ShopifyClient, operation_id: str, slot: contextlib.ExitStack, *,
                 deadline: float, poll_interval: float, sleep: Callable[[float], None]) -> None:  # fmt: skip
        self.client, self.operation_id, self._slot = client, operation_id, slot
        self._deadline, self._poll_interval, self._sleep = deadline, poll_interval, sleep

    def results(self) -> Iterator[dict[str, Any]]:
        """Wait for the operation and stream its JSONL objects (none if the query matched nothing)."""
        began = time.monotonic()
        try:
            operation = wait_for_bulk_operation(self.client, self.operation_id, deadline=self._deadline,
                                                poll_interval=self._poll_interval, sleep=self._sleep)  # fmt: skip
        finally:
            self.close()
            self.client.stats.add(bulk_wait_s=time.monotonic() - began)
        url = operation.get("url")  # Shopify leaves url null when the query matched nothing
        return stream_jsonl(url, client=self.client, sleep=self._sleep) if url else iter(())

    def close(self) -> None:
        self._slot.close()


def submit_bulk_query(
    client: ShopifyClient,
    query: str,
    *,
    group_objects: bool = False,
    poll_interval: float = 1.0,
    timeout_s: float = 3600.0,
    in_progress_wait: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    wait_for_slot: bool | None = None,
) -> PendingBulkQuery:
    """Submit ``query`` as a bulk operation now (taking the slot, see the module docstring) and return it
    pending. ``timeout_s`` counts from now."""
    deadline = time.monotonic() + timeout_s
    wait = client.lane.wait_for_bulk_slot if wait_for_slot is None else wait_for_slot
    slot = contextlib.ExitStack()
    if wait:
        slot.enter_context(slot_queue(client, deadline, sleep))
    try:
        operation_id = start_bulk_query(client, query, group_objects=group_objects, deadline=deadline,
                                        in_progress_wait=in_progress_wait, sleep=sleep, wait_for_slot=wait)
    except BaseException:
        slot.close()
        raise
    return PendingBulkQuery(client, operation_id, slot, deadline=deadline, poll_interval=poll_interval, sleep=sleep)


def run_bulk_query(client: ShopifyClient, query: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Run ``query`` as a bulk operation and yield its JSONL objects as they stream in (none if empty).

    Options as :func:`submit_bulk_query`; ``wait_for_slot`` (default: the client's lane decides) — see the
    module docstring. A busy slot is only ever raised before the first object is yielded."""
    yield from submit_bulk_query(client, query, **kwargs).results()


_ORDER_CHILDREN = {"LineItem": "lineItems", "ShippingLine": "shippingLines"}


def iter_bulk_orders_updated_between(
    client: ShopifyClient, start: datetime | str, end: datetime | str, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Orders with ``start <= updatedAt < end`` via a bulk operation, oldest update first.

    Each order has the shape :func:`.orders.iter_orders_updated_between` gives (same fields; ``lineItems``
    and ``shippingLines`` as complete lists), so the mapping cannot tell which read produced it.
    """
    yield from _bulk_orders(client, updated_between_query(start, end), **kwargs)


def iter_bulk_orders_created_between(
    client: ShopifyClient, start: datetime | str, end: datetime | str, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Orders with ``start <= createdAt < end`` (a day's orders, whenever last edited) via a bulk operation;
    same shape as :func:`iter_bulk_orders_updated_between`."""
    yield from _bulk_orders(client, created_between_query(start, end), **kwargs)


def _bulk_orders(client: ShopifyClient, search: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    lines = run_bulk_query(client, docs.bulk_orders_query(search), group_objects=True, **kwargs)
    for order in join_children(lines, _ORDER_CHILDREN):
        yield _as_paged_order(order)


def _as_paged_order(order: dict[str, Any]) -> dict[str, Any]:
    """Drop the bulk-only ``__typename`` tags and give childless connections their empty list."""
    order.pop("__typename", None)
    for key in _ORDER_CHILDREN.values():
        children = order.setdefault(key, [])  # no child lines in the file means an empty connection
        for child in children:
            child.pop("__typename", None)
    return order
