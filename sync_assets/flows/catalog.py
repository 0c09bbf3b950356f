"""NetSuite items and prices → the warehouse, then only the changed products → the storefront.

One call of :func:`run_catalog_flow` is one batch-lane run:

1. **Extract + land** (:func:`extract_catalog`): ``item`` rows keyset-paged by id (past SuiteQL's 100k
   cap), and for each page of items its ``pricing`` rows, every price level and currency (one ranged
   query per page, fetched on worker threads while the main thread lands the previous page); then the
   locations and NetSuite's ``deletedrecord`` trace of deleted items. Rows are buffered and written as
   durable Parquet files in the landing area (one bulk write per ``land_rows`` rows, never row by row);
   the ``warehouse_load`` job merges them into raw, adding only rows whose content changed, so an
   unchanged nightly catalog adds nothing.
2. **Desired storefront state**: one product per matrix parent (or standalone item), its variants the
   children with the configured price level's price. Each product gets a content hash.
3. **Push** (:func:`push_changed_products`): a product whose hash differs from what the ledger says was
   last pushed goes out with ``productSet``. productSet's variant list *replaces* the product's variants
   (those left out are deleted, reference shopify-admin.md), so the input never loses one: existing
   variants are named by id (looked up past 250 with cursor paging), an inactive child is kept with its
   stock zeroed, a variant only the storefront has is kept as it is (zeroed if NetSuite deleted that SKU),
   and a product whose NetSuite item is gone is ARCHIVED with all its variants.
   The very first run has no hashes yet, so it reads the storefront once (bulk query) and records the
   products that already match instead of re-pushing the whole catalog (more than ``bulk_read_above``
   pushes read it by bulk query too). A read the run can foresee — a first run, or more items modified
   than ``bulk_read_above`` — is submitted before the extract, so Shopify runs it while NetSuite is read.
   At most ``max_pushes`` per run;
   the rest stay changed and go next run. The Shopify client paces every call by its cost bucket.

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sync_assets.connectors.errors import RequestRejected, ThrottledError, TransientError
from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.netsuite.suiteql import PY_TS_FORMAT, from_user_time, to_user_time
from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.bulk import PendingBulkQuery, join_children, submit_bulk_query
from sync_assets.connectors.shopify.catalog import product_by_handle, product_by_id, stocked_location_ids
from sync_assets.domain.money import payload_hash
from sync_assets.domain.windows import Watermark
from sync_assets.flows.progress import Progress
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

log = logging.getLogger(__name__)

FLOW = "catalog"
WATERMARK = "catalog"

ITEMS_SQL, PRICES_SQL, PROBE_SQL = Q.CATALOG_ITEMS.sql, Q.CATALOG_PRICES.sql, Q.CATALOG_CHANGES.sql
LOCATIONS_SQL, DELETED_SQL, PROBE_DELETED_SQL = Q.CATALOG_LOCATIONS.sql, Q.CATALOG_DELETED.sql, Q.CATALOG_DELETIONS.sql


@dataclass(frozen=True)
class CatalogConfig:
    page_size: int = 1000
    price_level: str = "Base Price"  # the NetSuite price level the storefront sells at (policy account.price_level)
    currency: str = "USD"  # ... and the currency (every level and currency still lands in the warehouse)
    netsuite_timezone: str = "UTC"  # the integration user's zone, which SuiteQL renders timestamps in
    max_pushes: int = 250  # productSet calls per run at most; the rest go next run
    land_rows: int = 25_000  # rows buffered per raw table before one append (one DuckDB commit)
    bulk_read_above: int = 100  # more pushes than this in a run: read the storefront by one bulk query
    bulk_poll_interval: float = 1.0
    bulk_timeout_s: float = 1800.0


@dataclass
class _Latest:
    """The latest stamp a run saw in one source and how many rows carried exactly it.

    NetSuite stamps whole seconds, so the probe cannot tell "changed after this run" from "seen by it" by
    time alone when both share the run's latest second; the count at that second tells them apart.
    """

    text: str = ""  # TS_FORMAT text sorts as time does: one comparison per page, no parse per row
    count: int = 0

    def see(self, rows: list[dict], field: str) -> None:
        stamps = [r[field] for r in rows if r.get(field)]
        latest = max(stamps, default="")
        if latest > self.text:
            self.text, self.count = latest, 0
        if latest and latest == self.text:
            self.count += stamps.count(latest)

    def at(self, text: str) -> int:
        return self.count if text and self.text == text else 0


@dataclass
class ExtractResult:
    items: int = 0
    prices: int = 0
    pages: int = 0
    locations: int = 0
    deleted: int = 0  # deletedrecord rows (items) landed
    latest_modified: datetime | None = None
    modified: _Latest = field(default_factory=_Latest)
    deletions: _Latest = field(default_factory=_Latest)
    extract_seconds: float = 0.0
    load_seconds: float = 0.0  # time writing landing files (the warehouse load's share of the run)
    items_by_id: dict[str, dict] = field(default_factory=dict)
    prices_by_item: dict[str, list[dict]] = field(default_factory=dict)
    deleted_skus: set[str] = field(default_factory=set)  # item names NetSuite's deletedrecord lists


@dataclass
class PushResult:
    desired: int = 0
    changed: int = 0
    pushed: int = 0
    archived: int = 0  # products whose NetSuite item is gone, archived on the storefront
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
            "products_archived": p.archived,
            "locations_loaded": self.extract.locations,
            "products_already_in_sync": p.already_in_sync,
            "products_dead_lettered": p.dead_lettered,
            "products_deferred": p.deferred,
            # Examined: NetSuite items read; synced: storefront products written (the warehouse load is its own figure).
            **api_numbers(self.shopify_stats, self.netsuite_stats, examined=self.extract.items, synced=p.pushed),
        }


# ------------------------------------------------------------------------------------------- extract


def _ts(text: str | None, tz_name: str) -> datetime | None:
    # NetSuite renders in the integration user's zone (policy account.netsuite_timezone).
    return from_user_time(text, tz_name) if text else None


def suiteql_frame(rows: list[dict], keys: Mapping[str, str], updated: str = "lastmodifieddate", tz_name: str = "UTC"):
    """A raw-table frame: typed key columns, source_updated_at and the row itself as JSON text."""
    import pandas as pd

    data: dict[str, list] = {column: [str(r.get(src)) if r.get(src) is not None else None for r in rows]
                             for column, src in keys.items()}
    data["payload"] = [json.dumps(r, separators=(",", ":"), ensure_ascii=False) for r in rows]
    frame = pd.DataFrame(data)
    stamps = [r.get(updated) for r in rows]
    if tz_name == "UTC":  # vectorised: strptime per row was a quarter of a 100k-item run
        frame["source_updated_at"] = pd.to_datetime(stamps, format=PY_TS_FORMAT, utc=True)
    else:  # the integration user's zone, DST rules and all, row by row
        frame["source_updated_at"] = pd.to_datetime([_ts(t, tz_name) for t in stamps], utc=True)
    return frame


def _fetch_prices(netsuite, first: int, last: int) -> list[dict]:
    return list(netsuite.suiteql(PRICES_SQL, {"first": first, "last": last}))


# raw table → (its key columns from the SuiteQL row, the row field that is its source_updated_at)
_RAW_SHAPES: dict[str, tuple[dict[str, str], str]] = {
    "raw.netsuite_items": ({"item_id": "id"}, "lastmodifieddate"),
    "raw.netsuite_item_prices": ({"item_id": "item", "price_level": "pricelevel", "currency": "currency"},
                                 "lastmodifieddate"),
    "raw.netsuite_locations": ({"location_id": "id"}, "lastmodifieddate"),
    "raw.netsuite_deleted_items": ({"item_id": "recordid"}, "deleteddate"),
}
# What the push step needs of an item; the rest of the row is landed and then dropped, so the run holds
# a few hundred bytes per item, not the whole SuiteQL row.
_KEPT_FIELDS = ("id", "itemid", "displayname", "matrixtype", "parent", "isinactive", "upccode", "description",
                "manufacturer", "class")


def extract_catalog(netsuite, landing: LandingArea, run_id: str, config: CatalogConfig = CatalogConfig(),
                    *, keep: bool = True) -> ExtractResult:
    """Land every item, price (every level and currency), location and deleted item for
    ``raw.netsuite_items`` / ``_item_prices`` / ``_locations`` / ``_deleted_items``, streamed page by page
    and written ``land_rows`` rows at a time as durable files in the landing area (the warehouse is never
    opened here: the ``warehouse_load`` job merges them).

    ``keep`` holds what the push step needs: the kept fields of each item and its price at the configured
    price level (in the base currency)."""
    result = ExtractResult()
    started = time.perf_counter()
    workers = max(1, min(4, getattr(netsuite, "max_concurrency", 2) - 1))
    tz = config.netsuite_timezone

    buffers: dict[str, list[dict]] = {}

    def flush(table: str) -> None:
        rows = buffers.pop(table, [])
        if rows:
            keys, updated = _RAW_SHAPES[table]
            t = time.perf_counter()
            landing.land({table: suiteql_frame(rows, keys, updated, tz)}, run_id)
            result.load_seconds += time.perf_counter() - t

    def land(table: str, rows: list[dict]) -> None:
        # Each landed file is a write + fsync + ledger row: a few large files, not one per SuiteQL page.
        # The buffer bounds memory at land_rows rows per table.
        buffers.setdefault(table, []).extend(rows)
        if len(buffers[table]) >= config.land_rows:
            flush(table)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="catalog-prices") as pool:
        pending: list[Future] = []

        def land_prices(future: Future) -> None:
            prices = future.result()
            land("raw.netsuite_item_prices", prices)
            result.prices += len(prices)
            if keep:
                for p in prices:
                    if p.get("pricelevelname") == config.price_level and p.get("currencyname") in (None, config.currency):
                        result.prices_by_item[str(p["item"])] = [{"pricelevelname": config.price_level,
                                                                  "unitprice": p.get("unitprice")}]

        progress = Progress(log, "catalog: NetSuite items landed")
        for page in chunks(netsuite.suiteql_keyset(ITEMS_SQL, key="id", page_size=config.page_size), config.page_size):
            ids = [int(r["id"]) for r in page]
            pending.append(pool.submit(_fetch_prices, netsuite, min(ids), max(ids)))
            land("raw.netsuite_items", page)
            result.items += len(page)
            result.pages += 1
            result.modified.see(page, "lastmodifieddate")
            if keep:
                for row in page:
                    result.items_by_id[str(row["id"])] = {k: row[k] for k in _KEPT_FIELDS if row.get(k) is not None}
            while len(pending) > workers:  # bounded look-ahead: memory stays flat on big catalogs
                land_prices(pending.pop(0))
            progress.update(result.items, f"{result.pages} pages, {result.prices:,} prices")
        for future in pending:
            land_prices(future)
        locations = list(netsuite.suiteql_keyset(LOCATIONS_SQL, key="id", page_size=config.page_size))
        land("raw.netsuite_locations", locations)
        result.locations = len(locations)
        deleted = list(netsuite.suiteql_keyset(DELETED_SQL, key="recordid", page_size=config.page_size))
        land("raw.netsuite_deleted_items", deleted)
        for table in list(buffers):
            flush(table)
        result.deleted = len(deleted)
        # a deletion is a change the probe must see as done, like a modification
        result.deletions.see(deleted, "deleteddate")
        result.latest_modified = _ts(max(result.modified.text, result.deletions.text) or None, tz)
        result.deleted_skus = {str(r["name"]) for r in deleted if r.get("name")}
        progress.finish(result.items, f"{result.pages} pages, {result.prices:,} prices")
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


def description_html(text: str | None) -> str | None:
    """NetSuite's plain-text sales description as the storefront's HTML body (one escaped paragraph)."""
    return None if text is None else f"<p>{html.escape(text, quote=False)}</p>"


def desired_products(items_by_id: Mapping[str, dict], prices_by_item: Mapping[str, list[dict]],
                     price_level: str) -> dict[str, dict]:
    """handle → the product as the storefront should show it (the hashed, comparable form).

    An inactive child stays in the variant list marked ``retired`` (productSet would delete a variant left
    out of the list, and with it its sales history): the push keeps it and zeroes its stock. A product
    whose parent, or every child, is inactive is ARCHIVED."""
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
            price = next((_price(p.get("unitprice")) for p in prices_by_item.get(str(kid["id"]), [])
                          if p.get("pricelevelname") == price_level), None)
            variants.append({"sku": kid.get("itemid"), "price": price, "barcode": kid.get("upccode"),
                             "option": _option_title(kid, row) if kid is not row else "Default Title",
                             "retired": kid.get("isinactive") == "T"})
        inactive = row.get("isinactive") == "T" or (variants and all(v["retired"] for v in variants))
        products[handle_for(str(row.get("itemid")))] = {
            "title": row.get("displayname") or row.get("itemid"),
            "descriptionHtml": description_html(row.get("description")),
            "vendor": row.get("manufacturer") or "",
            "productType": row.get("class") or "",
            "status": "ARCHIVED" if inactive else "ACTIVE",
            "variants": variants,
            "_item_id": item_id,
        }
    return products


def content_hash(product: Mapping) -> str:
    """What decides "changed": the fields we own on the storefront, not ids or timestamps."""
    return payload_hash({
        "title": product.get("title"), "vendor": product.get("vendor") or "",
        "descriptionHtml": product.get("descriptionHtml") or "",
        "productType": product.get("productType") or "", "status": product.get("status"),
        "variants": sorted(([v.get("sku"), _price(v.get("price")), v.get("barcode"), bool(v.get("retired"))]
                            for v in product.get("variants") or []), key=lambda v: str(v[0])),
    })  # fmt: skip


def storefront_form(node: Mapping) -> dict:
    """A storefront product in the form :func:`content_hash` compares (variants as a plain list)."""
    variants = node.get("variants") or []
    if isinstance(variants, Mapping):
        variants = variants.get("nodes") or []
    return {"title": node.get("title"), "vendor": node.get("vendor"), "productType": node.get("productType"),
            "descriptionHtml": node.get("descriptionHtml"), "status": node.get("status"),
            "variants": [dict(v) for v in variants], "id": node.get("id")}


def matches_storefront(product: Mapping, storefront: Mapping) -> bool:
    """The storefront already shows ``product``: variants only the storefront has do not count (they are
    kept, never deleted), and a retired variant always needs a push (its stock is zeroed by the push)."""
    skus = {v.get("sku") for v in product.get("variants") or []}
    if any(v.get("retired") for v in product.get("variants") or []):
        return False
    ours = {**storefront, "variants": [v for v in storefront.get("variants") or [] if v.get("sku") in skus]}
    return content_hash(ours) == content_hash(product)


# -------------------------------------------------------------------------------------------- push


def _zeroed(shopify, variant: Mapping) -> list[dict]:
    item = (variant.get("inventoryItem") or {}).get("id")
    return [{"locationId": loc, "name": "available", "quantity": 0}
            for loc in (stocked_location_ids(shopify, item) if item else [])]


def product_input(shopify, handle: str, product: Mapping, existing: Mapping | None,
                  deleted_skus: frozenset[str] | set[str] = frozenset()) -> dict:
    """The productSet input for ``product``, never losing a storefront variant (the list replaces them all):

    * NetSuite's variants, naming the storefront's variant id where the SKU exists;
    * a retired (inactive) child: kept by id with its stock set to 0 wherever it is stocked; not created
      if the storefront never had it;
    * a storefront variant NetSuite does not list: kept as it is, or zeroed if NetSuite deleted that SKU.
    """
    on_storefront = list((existing or {}).get("variants") or [])
    by_sku = {v.get("sku"): v for v in on_storefront if v.get("sku")}
    variants = []
    for v in product["variants"]:
        current = by_sku.get(v["sku"])
        if v.get("retired") and current is None:
            continue
        entry: dict[str, Any] = {"sku": v["sku"], "optionValues": [{"optionName": "Title", "name": v["option"]}]}
        if v["price"] is not None:
            entry["price"] = v["price"]
        if v.get("barcode"):
            entry["barcode"] = v["barcode"]
        if current is not None:
            entry["id"] = current["id"]
            if v.get("retired"):
                entry["inventoryQuantities"] = _zeroed(shopify, current)
        variants.append(entry)
    ours = {v["sku"] for v in product["variants"]}
    for v in on_storefront:
        if v.get("sku") in ours:
            continue
        entry = {"id": v["id"], "optionValues": [{"optionName": "Title", "name": v.get("title") or "Default Title"}]}
        if v.get("sku") in deleted_skus:
            entry["inventoryQuantities"] = _zeroed(shopify, v)
        variants.append(entry)
    options = list(dict.fromkeys(e["optionValues"][0]["name"] for e in variants))
    body = {"handle": handle, "title": product["title"], "vendor": product["vendor"],
            "productType": product["productType"], "status": product["status"], "variants": variants}
    if product.get("descriptionHtml") is not None:
        body["descriptionHtml"] = product["descriptionHtml"]
    if options:
        body["productOptions"] = [{"name": "Title", "values": [{"name": o} for o in options]}]
    return body


def archive_input(existing: Mapping) -> dict:
    """A product whose NetSuite item is gone: ARCHIVED, every variant kept by id (the list replaces them)."""
    variants = [{"id": v["id"], "optionValues": [{"optionName": "Title", "name": v.get("title") or "Default Title"}]}
                for v in existing.get("variants") or []]
    body: dict[str, Any] = {"status": "ARCHIVED", "variants": variants}
    options = list(dict.fromkeys(v["optionValues"][0]["name"] for v in variants))
    if options:
        body["productOptions"] = [{"name": "Title", "values": [{"name": o} for o in options]}]
    return body


def _storefront_product(shopify, handle: str, product_id: str | None = None) -> dict | None:
    # By id when the ledger has it (a lookup, where a handle is a search); by handle if that product is
    # gone or was re-created under another id.
    node = product_by_id(shopify, product_id) if product_id and product_id.startswith("gid://") else None
    if node is None or node.get("handle") != handle:
        node = product_by_handle(shopify, handle)
    return storefront_form(node) if node else None


def submit_storefront_read(shopify, config: CatalogConfig) -> PendingBulkQuery:
    return submit_bulk_query(shopify, docs.BULK_PRODUCTS, group_objects=True,
                             poll_interval=config.bulk_poll_interval, timeout_s=config.bulk_timeout_s)


def read_storefront(shopify, config: CatalogConfig, submitted: PendingBulkQuery | None = None) -> dict[str, dict]:
    """handle → storefront product (comparable form with ids), read once through a bulk query (the one
    ``submitted`` earlier, if given)."""
    lines = (submitted or submit_storefront_read(shopify, config)).results()
    return {p["handle"]: storefront_form(p) for p in join_children(lines, {"ProductVariant": "variants"})}


ARCHIVED_HASH = "archived:not-in-netsuite"  # ledger hash of a product archived because its item is gone


def push_changed_products(shopify, ledger: Ledger, desired: Mapping[str, dict],
                          config: CatalogConfig = CatalogConfig(),
                          deleted_skus: frozenset[str] | set[str] = frozenset(),
                          storefront_read: PendingBulkQuery | None = None) -> PushResult:
    """``storefront_read``: the storefront's bulk read, already submitted by a caller that foresaw it (a first
    run, or many items modified: :func:`run_catalog_flow`), so Shopify ran it while NetSuite was read; if
    given, it is used whenever anything is pushed."""
    result = PushResult(desired=len(desired))
    hashes = {h: content_hash(p) for h, p in desired.items()}
    pushed_before = {e.source_id: e for e in ledger.entries(FLOW, "done")}
    known = {h: pushed_before[h].payload_hash for h in desired if h in pushed_before}
    storefront: dict[str, dict] | None = None  # a bulk snapshot of the storefront, when one was read
    if not known:
        result.first_run = True
        storefront = read_storefront(shopify, config, storefront_read)
        in_sync = [(handle, product["id"], hashes[handle]) for handle, product in storefront.items()
                   if handle in hashes and matches_storefront(desired[handle], product)]
        result.already_in_sync = ledger.mark_done_many(FLOW, in_sync)
        known.update((handle, digest) for handle, _, digest in in_sync)
    dead = {d.source_id for d in ledger.dead_letters(FLOW)}
    changed = sorted(h for h in desired if known.get(h) != hashes[h] and h not in dead)
    # Products this flow put on the storefront whose NetSuite item is gone (deleted, or no longer sold).
    gone = sorted(h for h, e in pushed_before.items()
                  if h not in desired and e.payload_hash != ARCHIVED_HASH and h not in dead)
    result.changed = len(changed)
    work = [(h, False) for h in changed] + [(h, True) for h in gone]
    result.deferred = max(0, len(work) - config.max_pushes)
    if storefront is None and work and (storefront_read is not None or min(len(work), config.max_pushes) > config.bulk_read_above):
        # Many pushes: one bulk read of the storefront costs ~10 points of the shared cost budget, one
        # read per product ~10 each, points the real-time lane needs.
        storefront = read_storefront(shopify, config, storefront_read)
    progress = Progress(log, "catalog: products pushed to the storefront", total=min(len(work), config.max_pushes))
    for handle, archive in work[: config.max_pushes]:
        progress.update(result.pushed + result.archived, f"{result.dead_lettered} dead-lettered")
        try:
            before = pushed_before.get(handle)
            existing = (storefront.get(handle) if storefront is not None
                        else _storefront_product(shopify, handle, before.target_id if before else None))
            if archive:
                if existing is None:  # already removed from the storefront by hand: nothing left to archive
                    ledger.mark_done(FLOW, handle, pushed_before[handle].target_id or handle, ARCHIVED_HASH)
                    continue
                body, identifier = archive_input(existing), {"id": existing["id"]}
            else:
                body = product_input(shopify, handle, desired[handle], existing, deleted_skus)
                identifier = {"id": existing["id"]} if existing else {"handle": handle}
            pushed = shopify.product_set(body, identifier=identifier)
        except (TransientError, ThrottledError) as exc:
            result.stopped = f"storefront unavailable: {exc}"
            result.deferred += min(len(work), config.max_pushes) - result.pushed - result.archived - result.dead_lettered
            log.warning("catalog: %s; the remaining products go next run", result.stopped)
            break
        except RequestRejected as exc:
            path = getattr(exc, "field", None)
            ledger.dead_letter(FLOW, handle, f"storefront refused productSet: {exc}",
                               body if archive else desired[handle],
                               ".".join(map(str, path)) if isinstance(path, (list, tuple)) else path)
            result.dead_lettered += 1
            result.errors.append((handle, str(exc)))
            continue
        ledger.mark_done(FLOW, handle, pushed.get("id") or handle, ARCHIVED_HASH if archive else hashes[handle])
        if archive:
            result.archived += 1
        else:
            result.pushed += 1
    progress.finish(result.pushed + result.archived,
                    f"{result.dead_lettered} dead-lettered, {result.deferred} deferred to the next run")
    return result


# --------------------------------------------------------------------------------------------- run


def _storefront_read_foreseen(netsuite, ledger: Ledger, config: CatalogConfig) -> bool:
    """Whether this run will read the whole storefront (a bulk query, which takes Shopify seconds to minutes
    on a large store), so that it can be submitted before the NetSuite extract and run meanwhile: a first
    run compares every product; a run with more items modified than ``bulk_read_above`` will likely push
    more products than that (a product changes when any of its items does, so it may be fewer; an unused
    read costs a few points)."""
    if not ledger.has_entries(FLOW, "done"):
        return True
    pending = probe_catalog(netsuite, ledger, config.netsuite_timezone)
    return pending is not None and pending.count > config.bulk_read_above


def run_catalog_flow(netsuite, shopify, ledger: Ledger, *, landing: LandingArea, run_id: str = "local",
                     config: CatalogConfig = CatalogConfig(), push: bool = True) -> CatalogRunResult:
    ns_before = netsuite.stats.snapshot()
    sh_before = shopify.stats.snapshot() if shopify is not None else {}
    push = push and shopify is not None
    storefront_read = submit_storefront_read(shopify, config) if push and _storefront_read_foreseen(netsuite, ledger, config) else None
    try:
        extract = extract_catalog(netsuite, landing, run_id, config, keep=push)
        pushed = None
        if push:
            desired = desired_products(extract.items_by_id, extract.prices_by_item, config.price_level)
            extract.items_by_id, extract.prices_by_item = {}, {}  # the desired state is all the push needs
            pushed = push_changed_products(shopify, ledger, desired, config, extract.deleted_skus, storefront_read)
    finally:
        if storefront_read is not None:
            storefront_read.close()  # a no-op once collected; frees our bulk slot if the run failed before
    if extract.latest_modified is not None and pushed is not None and pushed.deferred == 0 and pushed.stopped is None:
        # The probe's "modified since" mark moves only once everything up to it reached the storefront.
        ledger.advance_watermark(WATERMARK, Watermark(extract.latest_modified, _boundary_id(extract)))
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


def probe_catalog(netsuite, ledger: Ledger, netsuite_timezone: str = "UTC") -> CatalogPending | None:
    """Items modified or deleted since the last complete run (used when the catalog is moved to the
    real-time lane)."""
    mark = ledger.get_watermark(WATERMARK)
    since = (to_user_time(mark.updated_at, netsuite_timezone) if mark
             else datetime(1970, 1, 1))
    seen = _seen_at_boundary(mark)
    count, latest = 0, ""
    for sql, seen_at_since in zip((PROBE_SQL, PROBE_DELETED_SQL), seen):
        row = next(iter(netsuite.suiteql(sql, {"since": since})), {})
        at_since = int(row.get("at_since") or 0)
        # rows after the mark, plus any at the mark's second beyond those the run saw there
        count += int(row.get("n") or 0) - at_since + max(0, at_since - seen_at_since)
        latest = max(latest, row.get("latest") or "")
    return CatalogPending(count, latest) if count else None


_BOUNDARY_BASE = 1_000_000_000  # more items than any catalog has modified in one second


def _boundary_id(extract: ExtractResult) -> str:
    """The watermark's tie-break within its second: deletions and items the run saw stamped exactly at it.

    One number, deletions first, so that it only grows within a second as the forward-only watermark
    requires: deletedrecord is append-only, and an item leaves the second's count only by a deletion (which
    adds one there) or by a later change (which moves the mark itself)."""
    mark = max(extract.modified.text, extract.deletions.text)
    return str(extract.deletions.at(mark) * _BOUNDARY_BASE + extract.modified.at(mark))


def _seen_at_boundary(mark: Watermark | None) -> tuple[int, int]:
    """(items, deletions) the last complete run saw at its watermark's second."""
    if mark is None or not mark.last_id.isdigit():  # no mark yet, or one from before the counts: trust the time
        return (1 << 62, 1 << 62)
    deleted, items = divmod(int(mark.last_id), _BOUNDARY_BASE)
    return items, deleted


__all__ = [
    "FLOW", "CatalogConfig", "CatalogRunResult", "ExtractResult", "PushResult", "content_hash", "desired_products",
    "extract_catalog", "handle_for", "probe_catalog", "push_changed_products", "run_catalog_flow",
]
