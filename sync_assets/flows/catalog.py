"""NetSuite items and prices → the warehouse, then only the changed products → the storefront.

One call of :func:`run_catalog_flow` is one batch-lane run:

1. **Extract + land** (:func:`extract_catalog`): ``item`` rows keyset-paged by id (past SuiteQL's 100k
   cap), and for each page of items its ``pricing`` rows (one ranged query per page, fetched on worker
   threads while the main thread loads the previous page). Every page goes to DuckDB with
   ``append_frame`` — one bulk insert per page, never row by row.
2. **Desired storefront state**: one product per matrix parent (or standalone item), its variants the
   children with the configured price level's price. Each product gets a content hash.
3. **Push** (:func:`push_changed_products`): a product whose hash differs from what the ledger says was
   last pushed goes out with ``productSet`` (set semantics: naming the existing variant ids keeps them).
   The very first run has no hashes yet, so it reads the storefront once (bulk query) and records the
   products that already match instead of re-pushing the whole catalog. At most ``max_pushes`` per run;
   the rest stay changed and go next run. The Shopify client paces every call by its cost bucket.

Plain Python over the clients, the ledger and a warehouse connection factory: no Dagster here.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_assets.connectors.errors import RequestRejected, ThrottledError, TransientError
from sync_assets.connectors.netsuite.suiteql import TS_FORMAT, parse_ts as parse_ns_ts
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.bulk import join_children, run_bulk_query
from sync_assets.domain.money import payload_hash
from sync_assets.domain.windows import Watermark
from sync_assets.flows.landing import ConnectionFactory
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import Ledger

log = logging.getLogger(__name__)

FLOW = "catalog"
WATERMARK = "catalog"

ITEMS_SQL = (
    "SELECT id, itemid, displayname, itemtype, matrixtype, parent, isinactive, externalid, upccode, description, "
    f"manufacturer, class, TO_CHAR(lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate FROM item "
    # The storefront catalog is what is stocked and sold; discount, tax and service items are not products.
    "WHERE itemtype = 'InvtPart'"
)
PRICES_SQL = (
    "SELECT p.item, p.pricelevel, BUILTIN.DF(p.pricelevel) AS pricelevelname, p.unitprice, p.currency, "
    # The currency's name is its ISO code (REST refName "USD"); the key column keeps the internal id.
    "BUILTIN.DF(p.currency) AS currencyname, "
    f"TO_CHAR(i.lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate "
    "FROM pricing p JOIN item i ON i.id = p.item WHERE p.item >= :first AND p.item <= :last "
    "ORDER BY p.item, p.pricelevel, p.currency"
)
PROBE_SQL = (
    f"SELECT COUNT(*) AS n, TO_CHAR(MAX(lastmodifieddate), '{TS_FORMAT}') AS latest FROM item "
    "WHERE itemtype = 'InvtPart' AND lastmodifieddate > :since"
)


@dataclass(frozen=True)
class CatalogConfig:
    page_size: int = 1000
    price_level: str = "Base Price"  # the NetSuite price level the storefront sells at
    max_pushes: int = 250  # productSet calls per run at most; the rest go next run
    bulk_poll_interval: float = 1.0
    bulk_timeout_s: float = 1800.0


@dataclass
class ExtractResult:
    items: int = 0
    prices: int = 0
    pages: int = 0
    latest_modified: datetime | None = None
    extract_seconds: float = 0.0
    load_seconds: float = 0.0  # time inside append_frame (the warehouse load alone)
    items_by_id: dict[str, dict] = field(default_factory=dict)
    prices_by_item: dict[str, list[dict]] = field(default_factory=dict)


@dataclass
class PushResult:
    desired: int = 0
    changed: int = 0
    pushed: int = 0
    already_in_sync: int = 0  # first run: matched the storefront, recorded without pushing
    dead_lettered: int = 0
    deferred: int = 0  # changed but over the per-run cap
    first_run: bool = False
    stopped: str | None = None  # why pushing stopped early (storefront unavailable)
    errors: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CatalogRunResult:
    extract: ExtractResult
    push: PushResult | None
    netsuite_stats: dict[str, float] = field(default_factory=dict)
    shopify_stats: dict[str, float] = field(default_factory=dict)

    def numbers(self) -> dict[str, int | float]:
        p = self.push or PushResult()
        return {
            "items_loaded": self.extract.items,
            "prices_loaded": self.extract.prices,
            "netsuite_pages": self.extract.pages,
            "extract_seconds": float(self.extract.extract_seconds),
            "warehouse_load_seconds": float(self.extract.load_seconds),
            "products_desired": p.desired,
            "products_changed": p.changed,
            "products_pushed": p.pushed,
            "products_already_in_sync": p.already_in_sync,
            "products_dead_lettered": p.dead_lettered,
            "products_deferred": p.deferred,
            **api_numbers(self.shopify_stats, self.netsuite_stats),
        }


# ------------------------------------------------------------------------------------------- extract


def _ts(text: str | None) -> datetime | None:
    # NetSuite renders in the integration user's zone; the sandbox user (and the recommended setup) is UTC.
    return parse_ns_ts(text).replace(tzinfo=timezone.utc) if text else None


def _frame(rows: list[dict], keys: Mapping[str, str]):
    """A raw-table frame: typed key columns, source_updated_at and the row itself as JSON text."""
    import pandas as pd

    data: dict[str, list] = {column: [str(r.get(src)) if r.get(src) is not None else None for r in rows]
                             for column, src in keys.items()}
    data["source_updated_at"] = [_ts(r.get("lastmodifieddate")) for r in rows]
    data["payload"] = [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in rows]
    frame = pd.DataFrame(data)
    frame["source_updated_at"] = pd.to_datetime(frame["source_updated_at"], utc=True)
    return frame


def _fetch_prices(netsuite, first: int, last: int) -> list[dict]:
    return list(netsuite.suiteql(PRICES_SQL, {"first": first, "last": last}))


def extract_catalog(netsuite, warehouse: ConnectionFactory, run_id: str, config: CatalogConfig = CatalogConfig(),
                    *, keep: bool = True) -> ExtractResult:
    """Land every item and price in ``raw.netsuite_items`` / ``raw.netsuite_item_prices``, a page at a time.

    ``keep`` holds the rows in memory for the push step (about 1 KiB per item)."""
    from sync_assets.warehouse import append_frame, ensure_schema

    result = ExtractResult()
    started = time.perf_counter()
    workers = max(1, min(4, getattr(netsuite, "max_concurrency", 2) - 1))
    with warehouse() as conn, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog-prices") as pool:
        ensure_schema(conn)
        pending: list[Future] = []

        def land_prices(future: Future) -> None:
            prices = future.result()
            if prices:
                t = time.perf_counter()
                append_frame(conn, "raw.netsuite_item_prices",
                             _frame(prices, {"item_id": "item", "price_level": "pricelevel", "currency": "currency"}),
                             run_id)
                result.load_seconds += time.perf_counter() - t
            result.prices += len(prices)
            if keep:
                for p in prices:
                    result.prices_by_item.setdefault(str(p["item"]), []).append(p)

        for page in chunks(netsuite.suiteql_keyset(ITEMS_SQL, key="id", page_size=config.page_size), config.page_size):
            ids = [int(r["id"]) for r in page]
            pending.append(pool.submit(_fetch_prices, netsuite, min(ids), max(ids)))
            t = time.perf_counter()
            append_frame(conn, "raw.netsuite_items", _frame(page, {"item_id": "id"}), run_id)
            result.load_seconds += time.perf_counter() - t
            result.items += len(page)
            result.pages += 1
            for row in page:
                modified = _ts(row.get("lastmodifieddate"))
                if modified and (result.latest_modified is None or modified > result.latest_modified):
                    result.latest_modified = modified
                if keep:
                    result.items_by_id[str(row["id"])] = row
            while len(pending) > workers:  # bounded look-ahead: memory stays flat on big catalogs
                land_prices(pending.pop(0))
        for future in pending:
            land_prices(future)
    result.extract_seconds = time.perf_counter() - started
    return result


# ------------------------------------------------------------------------------------ desired state

_SLUG = re.compile(r"[^a-z0-9]+")


def handle_for(itemid: str) -> str:
    """Storefront handle of a NetSuite item name (Shopify handles are lower-case words and hyphens)."""
    return _SLUG.sub("-", itemid.lower()).strip("-")


def _price(value: Any) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError):
        return None


def _option_title(child: Mapping, parent: Mapping) -> str:
    """"Tee - Large / Blue" → "Large / Blue": NetSuite names matrix children after their parent."""
    name, prefix = str(child.get("displayname") or child.get("itemid")), f"{parent.get('displayname')} - "
    return name[len(prefix):] if name.startswith(prefix) else name


def desired_products(items_by_id: Mapping[str, dict], prices_by_item: Mapping[str, list[dict]],
                     price_level: str) -> dict[str, dict]:
    """handle → the product as the storefront should show it (the hashed, comparable form)."""
    children: dict[str, list[dict]] = {}
    for row in items_by_id.values():
        if row.get("parent"):
            children.setdefault(str(row["parent"]), []).append(row)
    products: dict[str, dict] = {}
    for item_id, row in items_by_id.items():
        if row.get("parent"):
            continue
        kids = children.get(item_id) or ([] if row.get("matrixtype") == "PARENT" else [row])
        variants = []
        for kid in sorted(kids, key=lambda k: str(k.get("itemid"))):
            if kid.get("isinactive") == "T":
                continue
            price = next((_price(p.get("unitprice")) for p in prices_by_item.get(str(kid["id"]), [])
                          if p.get("pricelevelname") == price_level), None)
            variants.append({"sku": kid.get("itemid"), "price": price, "barcode": kid.get("upccode"),
                             "option": _option_title(kid, row) if kid is not row else "Default Title"})
        products[handle_for(str(row.get("itemid")))] = {
            "title": row.get("displayname") or row.get("itemid"),
            "vendor": row.get("manufacturer") or "",
            "productType": row.get("class") or "",
            "status": "ARCHIVED" if row.get("isinactive") == "T" else "ACTIVE",
            "variants": variants,
            "_item_id": item_id,
        }
    return products


def content_hash(product: Mapping) -> str:
    """What decides "changed": the fields we own on the storefront, not ids or timestamps."""
    return payload_hash({
        "title": product.get("title"), "vendor": product.get("vendor") or "",
        "productType": product.get("productType") or "", "status": product.get("status"),
        "variants": sorted(([v.get("sku"), _price(v.get("price")), v.get("barcode")] for v in product.get("variants") or []),
                           key=lambda v: str(v[0])),
    })  # fmt: skip


def storefront_form(node: Mapping) -> dict:
    """A storefront product in the form :func:`content_hash` compares."""
    variants = node.get("variants") or []
    if isinstance(variants, Mapping):
        variants = variants.get("nodes") or []
    return {"title": node.get("title"), "vendor": node.get("vendor"), "productType": node.get("productType"),
            "status": node.get("status"), "variants": [dict(v) for v in variants], "id": node.get("id")}


# -------------------------------------------------------------------------------------------- push


def _product_input(handle: str, product: Mapping, existing: Mapping | None) -> dict:
    ids = {v.get("sku"): v.get("id") for v in (existing or {}).get("variants") or [] if v.get("sku")}
    options = list(dict.fromkeys(v["option"] for v in product["variants"]))
    variants = []
    for v in product["variants"]:
        entry = {"sku": v["sku"], "optionValues": [{"optionName": "Title", "name": v["option"]}]}
        if v["price"] is not None:
            entry["price"] = v["price"]
        if v.get("barcode"):
            entry["barcode"] = v["barcode"]
        if ids.get(v["sku"]):
            entry["id"] = ids[v["sku"]]
        variants.append(entry)
    body = {"handle": handle, "title": product["title"], "vendor": product["vendor"],
            "productType": product["productType"], "status": product["status"], "variants": variants}
    if options:
        body["productOptions"] = [{"name": "Title", "values": [{"name": o} for o in options]}]
    return body


def _storefront_product(shopify, handle: str) -> dict | None:
    data = shopify.execute(docs.PRODUCT_BY_HANDLE, {"query": f"handle:{json.dumps(handle)}", "first": 250})
    nodes = ((data.get("products") or {}).get("nodes")) or []
    node = next((n for n in nodes if n.get("handle") == handle), None)
    return storefront_form(node) if node else None


def read_storefront(shopify, config: CatalogConfig) -> dict[str, dict]:
    """handle → storefront product (comparable form with ids), read once through a bulk query."""
    lines = run_bulk_query(shopify, docs.BULK_PRODUCTS, group_objects=True,
                           poll_interval=config.bulk_poll_interval, timeout_s=config.bulk_timeout_s)
    return {p["handle"]: storefront_form(p) for p in join_children(lines, {"ProductVariant": "variants"})}


def push_changed_products(shopify, ledger: Ledger, desired: Mapping[str, dict],
                          config: CatalogConfig = CatalogConfig()) -> PushResult:
    result = PushResult(desired=len(desired))
    hashes = {h: content_hash(p) for h, p in desired.items()}
    known = ledger.done_hashes(FLOW, list(desired))
    storefront: dict[str, dict] = {}
    if not known:
        result.first_run = True
        storefront = read_storefront(shopify, config)
        for handle, product in storefront.items():
            if handle in hashes and content_hash(product) == hashes[handle]:
                ledger.mark_done(FLOW, handle, product["id"], hashes[handle])
                known[handle] = hashes[handle]
                result.already_in_sync += 1
    dead = {d.source_id for d in ledger.dead_letters(FLOW)}
    changed = sorted(h for h in desired if known.get(h) != hashes[h] and h not in dead)
    result.changed = len(changed)
    result.deferred = max(0, len(changed) - config.max_pushes)
    for handle in changed[: config.max_pushes]:
        try:
            existing = storefront.get(handle) if result.first_run else _storefront_product(shopify, handle)
            body = _product_input(handle, desired[handle], existing)
            identifier = {"id": existing["id"]} if existing else {"handle": handle}
            pushed = shopify.product_set(body, identifier=identifier)
        except (TransientError, ThrottledError) as exc:
            result.stopped = f"storefront unavailable: {exc}"
            result.deferred += len(changed[: config.max_pushes]) - result.pushed - result.dead_lettered
            log.warning("catalog: %s; the remaining products go next run", result.stopped)
            break
        except RequestRejected as exc:
            path = getattr(exc, "field", None)
            ledger.dead_letter(FLOW, handle, f"storefront refused productSet: {exc}", desired[handle],
                               ".".join(map(str, path)) if isinstance(path, (list, tuple)) else path)
            result.dead_lettered += 1
            result.errors.append((handle, str(exc)))
            continue
        ledger.mark_done(FLOW, handle, pushed.get("id") or handle, hashes[handle])
        result.pushed += 1
    return result


# --------------------------------------------------------------------------------------------- run


def run_catalog_flow(netsuite, shopify, ledger: Ledger, *, warehouse: ConnectionFactory, run_id: str = "local",
                     config: CatalogConfig = CatalogConfig(), push: bool = True) -> CatalogRunResult:
    ns_before = netsuite.stats.snapshot()
    sh_before = shopify.stats.snapshot() if shopify is not None else {}
    extract = extract_catalog(netsuite, warehouse, run_id, config, keep=push)
    pushed = None
    if push and shopify is not None:
        desired = desired_products(extract.items_by_id, extract.prices_by_item, config.price_level)
        pushed = push_changed_products(shopify, ledger, desired, config)
    if extract.latest_modified is not None and pushed is not None and pushed.deferred == 0 and pushed.stopped is None:
        # The probe's "modified since" mark moves only once everything up to it reached the storefront.
        ledger.advance_watermark(WATERMARK, Watermark(extract.latest_modified))
    result = CatalogRunResult(extract, pushed)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), ns_before)
    if shopify is not None:
        result.shopify_stats = stats_delta(shopify.stats.snapshot(), sh_before)
    return result


@dataclass(frozen=True)
class CatalogPending:
    count: int
    latest: str

    @property
    def fingerprint(self) -> str:
        return f"{self.latest}:{self.count}"

    @property
    def summary(self) -> str:
        return f"{self.count} item(s) modified in NetSuite up to {self.latest}"


def probe_catalog(netsuite, ledger: Ledger) -> CatalogPending | None:
    """Items modified since the last complete run (used when the catalog is moved to the real-time lane)."""
    mark = ledger.get_watermark(WATERMARK)
    since = (mark.updated_at.astimezone(timezone.utc).replace(tzinfo=None) if mark
             else datetime(1970, 1, 1))
    rows = list(netsuite.suiteql(PROBE_SQL, {"since": since}))
    count = int((rows[0] if rows else {}).get("n") or 0)
    if not count:
        return None
    return CatalogPending(count, rows[0].get("latest") or "")


__all__ = [
    "FLOW", "CatalogConfig", "CatalogRunResult", "ExtractResult", "PushResult", "content_hash", "desired_products",
    "extract_catalog", "handle_for", "probe_catalog", "push_changed_products", "run_catalog_flow",
]
