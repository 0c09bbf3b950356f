"""Reference-data lookups in NetSuite shared by the flows: SKU → item, currency code → id, customers.

Each lookup asks only for what the batch at hand needs (values bound with ``:name`` placeholders, never
pasted, never the whole catalog) and returns plain dicts. NetSuite caps ``IN (...)`` lists at 1,000
values, so long key lists are chunked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.netsuite.suiteql import MAX_IN_LIST
from sync_assets.domain.customers import CustomerMatchKey, match_existing_customer

_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$")
T = TypeVar("T")


def chunks(values: Iterable[T], size: int = MAX_IN_LIST) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` values (the last one shorter), lazily."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def items_by_sku(netsuite, skus: Iterable[str]) -> dict[str, str]:
    """NetSuite ``itemid`` → internal id for the given SKUs, matched case-insensitively on the server.

    The keys are NetSuite's own spelling, so :func:`sync_assets.domain.orders.resolve_item_id` can tell an
    exact match from a case/whitespace drift (and refuse an ambiguous one). Inactive items and matrix
    parents (not sellable) are left out: an order for them is an unknown SKU, not a silent mis-post.
    """
    wanted = sorted({s.strip().upper() for s in skus if isinstance(s, str) and s.strip()})
    found: dict[str, str] = {}
    for batch in chunks(wanted):
        rows = netsuite.suiteql(Q.ITEMS_BY_SKU.sql, {"skus": batch})
        for row in rows:
            if row.get("itemid"):
                found.setdefault(row["itemid"], str(row["id"]))
    return found


def skus_by_item_id(netsuite, item_ids: Iterable[str]) -> dict[str, str]:
    """NetSuite item internal id → ``itemid`` (the storefront SKU) for the given ids (bound, chunked)."""
    wanted = sorted({str(i) for i in item_ids if str(i).strip()}, key=lambda v: (len(v), v))
    found: dict[str, str] = {}
    for batch in chunks(wanted):
        for row in netsuite.suiteql(Q.SKUS_BY_ITEM_ID.sql, {"ids": [int(i) for i in batch]}):
            if row.get("itemid"):
                found[str(row["id"])] = row["itemid"]
    return found


def currency_ids(netsuite) -> dict[str, str]:
    """ISO 4217 code → NetSuite currency internal id, from the SuiteQL ``currency`` table.

    A real account keeps the ISO code in ``symbol`` (``name`` is a label such as "US Dollar"); the sandbox
    keeps it in ``name`` (``symbol`` is "$"). Whichever column holds a three-letter upper-case code wins,
    ``symbol`` first. A handful of rows: read whole, once per run.
    """
    codes: dict[str, str] = {}
    for row in netsuite.suiteql(Q.CURRENCIES.sql):
        for column in ("symbol", "name"):
            value = (row.get(column) or "").strip()
            if _ISO_CURRENCY.match(value):
                codes.setdefault(value, str(row["id"]))
                break
    return codes


def find_customers(netsuite, keys: Iterable[CustomerMatchKey]) -> dict[CustomerMatchKey, str]:
    """Existing NetSuite customers for match keys: by external id first, then by lower-cased email.

    Two bound queries per 1,000 keys; inactive customers are not matched (orders must not land on them).
    """
    keys = list(dict.fromkeys(keys))
    rows: list[Mapping] = []
    for batch in chunks(sorted({k.external_id for k in keys})):
        rows += _customer_rows(netsuite, Q.CUSTOMERS_BY_EXTERNAL_ID, batch)
    for batch in chunks(sorted({k.email for k in keys if k.email})):
        rows += _customer_rows(netsuite, Q.CUSTOMERS_BY_EMAIL, batch)
    matched: dict[CustomerMatchKey, str] = {}
    for key in keys:
        customer_id = match_existing_customer(key, rows)
        if customer_id:
            matched[key] = customer_id
    return matched


def _customer_rows(netsuite, query: Q.Query, values: list[str]) -> list[Mapping]:
    """Customer rows in the shape :func:`match_existing_customer` reads (``id``, ``externalId``, ``email``)."""
    return [
        {"id": str(r["id"]), "externalId": r.get("externalid"), "email": r.get("email")}
        for r in netsuite.suiteql(query.sql, {"values": values})
    ]


def sales_order_totals(netsuite, external_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """externalId → ``{"id", "total", "status"}`` of sales orders, read back through SuiteQL."""
    found: dict[str, dict[str, str]] = {}
    for batch in chunks(sorted(set(external_ids))):
        for row in netsuite.suiteql(Q.SALES_ORDER_TOTALS.sql, {"eids": batch}):
            found[row["externalid"]] = {
                "id": str(row["id"]),
                "total": row.get("foreigntotal", "0"),
                "status": row.get("status", ""),
            }
    return found


def count_by_external_id(netsuite, record_type_code: str, external_ids: Iterable[str]) -> dict[str, int]:
    """How many transactions of a type (``SalesOrd``, ``CustDep``) carry each external id (duplicates > 1)."""
    counts: dict[str, int] = {}
    for batch in chunks(sorted(set(external_ids))):
        for row in netsuite.suiteql(Q.COUNT_BY_EXTERNAL_ID.sql, {"type": record_type_code, "eids": batch}):
            counts[row["externalid"]] = int(row["n"])
    return counts
