"""Cursor paging over Shopify connections, including the nested ones that silently truncate.

A nested connection (an order's ``lineItems(first: 20)``) returns at most one page inside its parent; the
rest must be fetched with a follow-up query on the parent (``order(id) { lineItems(after:) }``). Clients
that skip this lose line items on large orders without any error, so every nested connection we read is
drained here, and the result is a plain list.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from .errors import ShopifyIncompleteError, ShopifyMaxCostExceeded

if TYPE_CHECKING:
    from .client import ShopifyClient

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 250  # Shopify's per-connection cap


def check_page_size(page_size: int, what: str = "page_size") -> int:
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"{what} must be an integer from 1 to {MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


def _path(path: str | Sequence[str]) -> tuple[str, ...]:
    return tuple(path.split(".")) if isinstance(path, str) else tuple(path)


def dig(data: Any, path: str | Sequence[str], document_name: str = "query") -> Any:
    """``data[a][b]...``, with an error that names the missing step instead of a bare KeyError/TypeError."""
    current = data
    for step in _path(path):
        if not isinstance(current, Mapping) or current.get(step) is None:
            raise ShopifyIncompleteError(f"Shopify answer to {document_name} has no {'.'.join(_path(path))} (missing {step!r})")
        current = current[step]
    return current


def connection_nodes(connection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Nodes of a connection selected either as ``nodes`` or as ``edges { node }``."""
    if connection.get("nodes") is not None:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection.get("edges") or []]


def _next_cursor(connection: Mapping[str, Any], where: str) -> str | None:
    page = connection.get("pageInfo")
    if not isinstance(page, Mapping) or "hasNextPage" not in page:
        raise ShopifyIncompleteError(f"{where}: connection without pageInfo.hasNextPage; select it to page safely")
    if not page["hasNextPage"]:
        return None
    cursor = page.get("endCursor")
    if not cursor:
        raise ShopifyIncompleteError(f"{where}: hasNextPage is true but endCursor is empty")
    return cursor


def paginate(
    client: ShopifyClient,
    document: str,
    variables: Mapping[str, Any] | None,
    connection_path: str | Sequence[str],
    *,
    page_size: int = 50,
) -> Iterator[dict[str, Any]]:
    """Yield every node of the top-level connection at ``connection_path``, page after page.

    The document must declare ``$first: Int!`` and ``$after: String``. If Shopify rejects a page as too
    expensive (MAX_COST_EXCEEDED) the page size is halved and the same cursor retried, down to 1.
    """
    first = check_page_size(page_size)
    after: str | None = None
    where = ".".join(_path(connection_path))
    while True:
        try:
            data = client.execute(document, {**(variables or {}), "first": first, "after": after})
        except ShopifyMaxCostExceeded:
            if first == 1:
                raise
            first = max(1, first // 2)
            log.warning("Shopify page of %s too expensive; retrying with first=%d", where, first)
            continue
        connection = dig(data, connection_path, where)
        yield from connection_nodes(connection)
        after = _next_cursor(connection, where)
        if after is None:
            return


def drain_connection(
    client: ShopifyClient,
    connection: Mapping[str, Any],
    *,
    follow_up: str,
    parent_id: str,
    follow_up_path: str | Sequence[str],
    page_size: int = 100,
) -> list[dict[str, Any]]:
    """All nodes of a nested connection: the page already in hand plus follow-up pages on the parent.

    ``follow_up`` is a query with ``$id: ID!, $first: Int!, $after: String`` whose connection sits at
    ``follow_up_path`` (e.g. ``("order", "lineItems")``).
    """
    nodes = connection_nodes(connection)
    where = f"{'.'.join(_path(follow_up_path))} of {parent_id}"
    after = _next_cursor(connection, where)
    first = check_page_size(page_size)
    while after is not None:
        try:
            data = client.execute(follow_up, {"id": parent_id, "first": first, "after": after})
        except ShopifyMaxCostExceeded:
            if first == 1:
                raise
            first = max(1, first // 2)
            continue
        page = dig(data, follow_up_path, where)
        nodes.extend(connection_nodes(page))
        after = _next_cursor(page, where)
    return nodes


def flatten_nested(
    client: ShopifyClient,
    node: dict[str, Any],
    follow_ups: Mapping[str, tuple[str, Sequence[str]]],
    *,
    page_size: int = 100,
) -> dict[str, Any]:
    """Replace each nested connection field of ``node`` by the complete list of its nodes (in place).

    ``follow_ups`` maps field name → (follow-up document, path to the connection in its answer).
    """
    for field, (document, path) in follow_ups.items():
        connection = node.get(field)
        if connection is None:
            continue
        node[field] = drain_connection(
            client, connection, follow_up=document, parent_id=node["id"], follow_up_path=path, page_size=page_size
        )
    return node
