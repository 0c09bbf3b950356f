"""Relay connections as Shopify serves them: opaque cursors, first/last/after/before, 250 per page."""

from __future__ import annotations

import base64
import json
from bisect import bisect_left, bisect_right
from typing import Any, Callable, Sequence

from graphql import GraphQLError

MAX_PAGE = 250


def encode_cursor(last_id: int, last_value: Any) -> str:
    # Shopify's cursors are base64 JSON of this shape; clients must treat them as opaque.
    return base64.urlsafe_b64encode(json.dumps({"last_id": last_id, "last_value": last_value}).encode()).decode()


def decode_cursor(cursor: str, arg: str) -> tuple[Any, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
        return raw["last_value"], int(raw["last_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {arg}={cursor!r}.") from exc


def page_size(args: dict, bulk: bool) -> tuple[int | None, int | None]:
    first, last = args.get("first"), args.get("last")
    if bulk:
        return None, None
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if first is not None and last is not None:
        raise GraphQLError("providing both first and last is not supported")
    for name, n in (("first", first), ("last", last)):
        if n is not None and (n < 0 or n > MAX_PAGE):
            raise GraphQLError(
                f"The value of the argument `{name}` must be between 0 and {MAX_PAGE}; got {n}."
                if n < 0 else f"Connection size ({name}: {n}) exceeds the maximum of {MAX_PAGE} items per page."
            )
    return first, last


def connection(
    items: Sequence[dict],
    args: dict,
    key: Callable[[dict], tuple[Any, int]],
    *,
    bulk: bool = False,
    presorted: bool = False,
) -> dict:
    """Page ``items`` (sorted by ``key`` = (sort value, numeric id)) and build the connection dict."""
    first, last = page_size(args, bulk)
    reverse = bool(args.get("reverse"))
    seq = list(items) if presorted else sorted(items, key=key)
    if reverse:
        seq.reverse()
    keys = [key(i) for i in seq] if (args.get("after") or args.get("before")) else None

    def position(cursor: str, arg: str, after: bool) -> int:
        value, last_id = decode_cursor(cursor, arg)
        probe = (value, last_id)
        # keys are ascending unless reversed; search on the matching order
        if not reverse:
            return bisect_right(keys, probe) if after else bisect_left(keys, probe)
        # descending order: the page after the cursor starts at the first key below it
        if after:
            return next((i for i, k in enumerate(keys) if k < probe), len(keys))
        return next((i for i, k in enumerate(keys) if k <= probe), len(keys))

    start, end = 0, len(seq)
    try:
        if args.get("after"):
            start = position(args["after"], "after", True)
        if args.get("before"):
            end = position(args["before"], "before", False)
    except TypeError as exc:  # cursor value of another sort key
        raise GraphQLError("Invalid cursor for current pagination sort.") from exc
    end = max(start, end)
    if first is not None:
        window = seq[start : min(end, start + first)]
        has_next, has_prev = start + first < end, start > 0
    elif last is not None:
        lo = max(start, end - last)
        window = seq[lo:end]
        has_next, has_prev = end < len(seq), lo > 0
    else:
        window = seq[start:end]
        has_next, has_prev = False, start > 0
    edges = []
    for node in window:
        value, nid = key(node)
        edges.append({"cursor": encode_cursor(nid, value), "node": node})
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }
