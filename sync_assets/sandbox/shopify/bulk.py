"""Bulk query operations (reference §8): CREATED → RUNNING → COMPLETED on a background thread.

One running bulk query per app and shop: a second ``bulkOperationRunQuery`` meanwhile gets the userError
``OPERATION_IN_PROGRESS`` with Shopify's message (before 2026-01 that was the rule; since, a shop allows a
few at once, but one per app is what a cautious client must expect and what makes contention testable).
An operation takes ``seconds`` plus ``seconds_per_1000`` per thousand objects (control API ``config``).

The root connection is paged internally and each page is flattened straight into a JSONL temp file, so
a large result never sits in memory whole. Nested connection items become their own lines with
``__parentId``, after their parent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time

from graphql import GraphQLSchema, execute, parse, validate, GraphQLError

from . import search
from .resolvers import ORDER_DATE_FIELDS, ORDER_SEARCH_FIELDS
from .store import Store, UserError, gid, iso, now_dt

log = logging.getLogger(__name__)

IN_PROGRESS = "A bulk query operation for this app and shop is already in progress: {id}."
PAGE = 250


def _flatten(node: dict, parent_id: str | None, out) -> int:
    """Write ``node`` then its nested connection items; returns the number of lines written."""
    line, children = {}, []
    for k, v in node.items():
        if isinstance(v, dict) and ("edges" in v or "nodes" in v):
            items = v.get("nodes") if "nodes" in v else [e["node"] for e in v.get("edges") or []]
            children.append(items or [])
        else:
            line[k] = v
    if parent_id is not None:
        line["__parentId"] = parent_id
    out.write(json.dumps(line, separators=(",", ":")) + "\n")
    count = 1
    for items in children:
        if items and "id" not in line:
            raise GraphQLError("The parent of a nested connection must select the 'id' field.")
        for child in items:
            count += _flatten(child, line["id"], out)
    return count


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def doc_root(doc):
    """The one top-level field of a validated bulk query document."""
    (op,) = [d for d in doc.definitions if d.kind == "operation_definition"]
    return op.selection_set.selections[0]


def root_search(doc) -> search.Search:
    """The root ``orders`` field's ``query:`` argument, parsed as the resolver parses it (bulk queries take no
    variables, so it is a literal)."""
    text = next((a.value.value for a in doc_root(doc).arguments if a.name.value == "query"), None)
    return search.parse(text, ORDER_SEARCH_FIELDS, ORDER_DATE_FIELDS)


class BulkRunner:
    def __init__(self, store: Store, schema_getter, seconds: float, seconds_per_1000: float = 0.0) -> None:
        self.store, self._schema, self.seconds, self.seconds_per_1000 = store, schema_getter, seconds, seconds_per_1000
        self.dir = tempfile.mkdtemp(prefix="shopify-bulk-")

    def reset(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = tempfile.mkdtemp(prefix="shopify-bulk-")

    def path(self, n: int) -> str:
        return os.path.join(self.dir, f"bulk-{n}.jsonl")

    def start(self, query: str, base_url: str) -> dict:
        schema: GraphQLSchema = self._schema()
        try:
            doc = parse(query)
        except GraphQLError as e:
            raise UserError(["query"], f"Invalid bulk query: {e.message}", "INVALID") from e
        errors = validate(schema, doc)
        if errors:
            raise UserError(["query"], f"Invalid bulk query: {errors[0].message}", "INVALID")
        ops = [d for d in doc.definitions if d.kind == "operation_definition"]
        if len(ops) != 1 or ops[0].operation.value != "query":
            raise UserError(["query"], "Invalid bulk query: the document must hold exactly one query.", "INVALID")
        roots = ops[0].selection_set.selections
        root_field = schema.query_type.fields.get(roots[0].name.value) if len(roots) == 1 and roots[0].kind == "field" else None
        if root_field is None or not str(root_field.type).rstrip("!").endswith("Connection"):
            raise UserError(["query"], "Bulk queries must contain exactly one top-level connection field.", "INVALID")
        with self.store.lock:
            running = [o for o in self.store.bulk_operations.values()
                       if o["type"] == "QUERY" and o["status"] in ("CREATED", "RUNNING")]
            if running:
                raise UserError(None, IN_PROGRESS.format(id=running[0]["id"]), "OPERATION_IN_PROGRESS")
            n = self.store.next_id("BulkOperation")
            op = {
                "__typename": "BulkOperation", "id": gid("BulkOperation", n), "_n": n, "status": "CREATED",
                "errorCode": None, "createdAt": iso(now_dt()), "completedAt": None, "objectCount": "0",
                "rootObjectCount": "0", "fileSize": None, "url": None, "partialDataUrl": None,
                "query": query, "type": "QUERY",
            }
            self.store.bulk_operations[n] = op
            snapshot = dict(op)  # the answer shows the status at creation, whatever the thread does next
        threading.Thread(target=self._run, args=(op, doc, schema, base_url), daemon=True,
                         name=f"shopify-bulk-{n}").start()
        return snapshot

    def _render(self, doc, schema: GraphQLSchema, record: dict) -> list[str]:
        """The JSONL lines the document makes of one order (a seeded history order, not in the store)."""
        ctx = {"store": self.store, "bulk": {"records": [record], "page_size": PAGE}, "search": [], "events": [],
               "writes": 0}
        result = execute(schema, doc, context_value=ctx)
        if result.errors:
            raise result.errors[0]
        (conn,) = result.data.values()
        out = _Lines()
        for item in conn.get("nodes") if "nodes" in conn else [e["node"] for e in conn.get("edges") or []]:
            _flatten(item, None, out)
        return out.lines

    def _update(self, op: dict, **changes) -> None:
        with self.store.lock:
            current = self.store.bulk_operations.get(op["_n"])
            if current is not None:
                current.update(changes)

    def _run(self, op: dict, doc, schema: GraphQLSchema, base_url: str) -> None:
        started = time.monotonic()
        self._update(op, status="RUNNING")
        path = self.path(op["_n"])
        count = roots = 0
        try:
            with open(path, "w", encoding="utf-8") as out:
                history = self.store.history
                if history is not None and doc_root(doc).name.value == "orders":
                    lines, orders = history.write_bulk(root_search(doc), lambda r: self._render(doc, schema, r), out)
                    count, roots = count + lines, roots + orders
                ctx = {"store": self.store, "bulk": {"page_size": PAGE, "after": None, "has_more": True},
                       "search": [], "events": [], "writes": 0}
                while ctx["bulk"]["has_more"]:
                    result = execute(schema, doc, context_value=ctx)
                    if result.errors:
                        raise result.errors[0]
                    (conn,) = result.data.values()
                    items = conn.get("nodes") if "nodes" in conn else [e["node"] for e in conn.get("edges") or []]
                    for item in items:
                        count += _flatten(item, None, out)
                        roots += 1
            size = os.path.getsize(path)
            took = self.seconds + count / 1000 * self.seconds_per_1000
            time.sleep(max(0.0, took - (time.monotonic() - started)))
            self._update(op, status="COMPLETED", completedAt=iso(now_dt()), objectCount=str(count),
                         rootObjectCount=str(roots), fileSize=str(size) if count else None,
                         url=f"{base_url}shopify-bulk-results/bulk-{op['_n']}.jsonl" if count else None)
        except Exception:  # noqa: BLE001 - any failure of the job is reported the way Shopify does
            log.exception("sandbox bulk operation %s failed", op.get("id", op["_n"]))
            self._update(op, status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=iso(now_dt()))
