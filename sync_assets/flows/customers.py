"""Customers of both systems → the warehouse: the CRM entity of the batch lane (policy entity ``crm``).

The orders flow matches and creates NetSuite customers inline; this flow lands what each system holds,
so the CRM mart (dbt model ``analytics__crm_customers``) can merge them into one row per person:

* **NetSuite** → ``raw.netsuite_customers``: customers modified since the watermark, keyset-paged SuiteQL
  past the 100k cap (query ``CRM_CUSTOMERS`` in the registry, so ``sync-assets doctor`` checks it), one
  landing file per page. SuiteQL compares and renders in the integration user's time zone (policy
  ``account.netsuite_timezone``): the watermark is converted both ways, or a zone east of UTC re-reads
  every customer and one west of UTC misses changes.
* **Shopify** → ``raw.shopify_customers``: customers updated since the watermark (minus an overlap: the
  search index lags writes), paged by ``updatedAt``; past ``bulk_above`` changed customers the rest is read
  with one bulk operation (a few cost points whatever the size, queued for the app's bulk slot as the
  batch lane does). A customer that cannot be keyed or stamped is dead-lettered with the reason; the rest
  lands.

Re-reading the same second again (both systems stamp whole seconds) is harmless: the merge adds only
versions whose content changed. Each watermark moves in the ledger transaction that queues its files.

Plain Python over the clients, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterator

from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.netsuite.suiteql import to_user_time
from sync_assets.connectors.shopify.customers import iter_bulk_customers_updated_since, iter_customers_updated_since
from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import legacy_id
from sync_assets.domain.windows import Watermark
from sync_assets.flows.catalog import suiteql_frame
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import LandedFile, Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

FLOW = "crm"  # dead letters of this flow
WATERMARK = "netsuite_customers"
TABLE = "raw.netsuite_customers"
SHOPIFY_WATERMARK = "shopify_customers"
SHOPIFY_TABLE = "raw.shopify_customers"


@dataclass(frozen=True)
class CrmConfig:
    netsuite_timezone: str = "UTC"  # the integration user's zone (policy account.netsuite_timezone)
    netsuite_page_size: int = 1000
    shopify_page_size: int = 250
    # More changed Shopify customers than this in one run: the rest through one bulk operation (None: never).
    bulk_above: int | None = 1000
    # Shopify's search index lags writes by seconds: each run re-reads this much before its watermark.
    overlap_seconds: float = 300.0
    land_rows: int = 10_000  # Shopify rows per landing file
    bulk_poll_interval: float = 1.0
    bulk_timeout_s: float = 1800.0


@dataclass
class CustomersRunResult:
    customers: int = 0  # rows landed
    pages: int = 0  # NetSuite pages / Shopify landing files
    dead_lettered: int = 0
    read_via_bulk: bool = False
    watermark_after: Watermark | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (source id, reason)
    netsuite_stats: dict[str, float] = field(default_factory=dict)
    shopify_stats: dict[str, float] = field(default_factory=dict)

    def numbers(self) -> dict[str, int | float]:
        return {"records": self.customers, "pages": self.pages, "records_dead_lettered": self.dead_lettered,
                "read_via_bulk": int(self.read_via_bulk),
                **api_numbers(self.shopify_stats, self.netsuite_stats, examined=self.customers + self.dead_lettered,
                              synced=self.customers)}


def _queue(ledger: Ledger, entity: str, mark: Watermark | None, latest: datetime | None,
           files: list[LandedFile]) -> Watermark | None:
    """Queue the run's files, moving the watermark in the same transaction when the run saw something newer."""
    watermark = Watermark(latest) if latest is not None else None
    if watermark is not None and (mark is None or mark < watermark):
        ledger.advance_watermark(entity, watermark, landed=files)
    else:
        ledger.record_landed(files)
    return ledger.get_watermark(entity)


# ------------------------------------------------------------------------------------------- NetSuite


def run_customers_flow(netsuite, ledger: Ledger, landing: LandingArea, *, run_id: str = "local",
                       config: CrmConfig = CrmConfig()) -> CustomersRunResult:
    """NetSuite customers modified since the watermark → ``raw.netsuite_customers``."""
    result = CustomersRunResult()
    before = netsuite.stats.snapshot()
    tz = config.netsuite_timezone
    mark = ledger.get_watermark(WATERMARK)
    since = to_user_time(mark.updated_at, tz) if mark else datetime(1970, 1, 1)
    files, latest = [], None
    page_size = config.netsuite_page_size
    rows = netsuite.suiteql_keyset(Q.CRM_CUSTOMERS.sql, key="id", params={"since": since}, page_size=page_size)
    for page in chunks(rows, page_size):
        frame = suiteql_frame(page, {"customer_id": "id"}, tz_name=tz)
        files += landing.write_all({TABLE: frame}, run_id)
        result.customers += len(page)
        result.pages += 1
        stamps = frame["source_updated_at"].dropna()
        if not stamps.empty and (latest is None or stamps.max() > latest):
            latest = stamps.max()
    result.watermark_after = _queue(ledger, WATERMARK, mark, latest.to_pydatetime() if latest is not None else None,
                                    files)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), before)
    return result


# -------------------------------------------------------------------------------------------- Shopify


def shopify_customer_row(node: dict[str, Any]) -> dict[str, Any]:
    """The raw row of one Shopify customer; MappingError (naming the field) when it cannot be keyed or stamped."""
    legacy_id(node.get("id"), "id", "Customer")
    stamp = node.get("updatedAt")
    try:
        updated = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None
    except ValueError:
        updated = None
    if updated is None or updated.tzinfo is None:
        raise MappingError(f"updatedAt {stamp!r} is not an ISO-8601 timestamp with a zone", "updatedAt")
    email = (node.get("defaultEmailAddress") or {}).get("emailAddress")
    if email is not None and not isinstance(email, str):
        raise MappingError(f"email {email!r} is not text", "defaultEmailAddress.emailAddress")
    return {"customer_id": node["id"], "source_updated_at": updated.astimezone(timezone.utc), "payload": node}


def _read_shopify(shopify, since: datetime | None, config: CrmConfig, result: CustomersRunResult) -> Iterator[dict]:
    """Paged by updatedAt; past ``bulk_above`` customers, the rest (from the last stamp seen) by one bulk query."""
    seen, last = set(), since  # at most bulk_above keys
    for node in iter_customers_updated_since(shopify, since, page_size=config.shopify_page_size):
        yield node
        seen.add((node.get("id"), node.get("updatedAt")))
        stamp = node.get("updatedAt")
        if isinstance(stamp, str):
            try:
                last = max(filter(None, [last, datetime.fromisoformat(stamp.replace("Z", "+00:00"))]))
            except (ValueError, TypeError):
                pass  # a malformed stamp: dead-lettered by the caller, not a resume point
        if config.bulk_above is not None and len(seen) >= config.bulk_above:
            break
    else:
        return
    result.read_via_bulk = True
    # ">=" from the last stamp: that second comes again; what paging already yielded is skipped (a landing
    # file holds each version once).
    for node in iter_bulk_customers_updated_since(shopify, last, poll_interval=config.bulk_poll_interval,
                                                  timeout_s=config.bulk_timeout_s):
        if (node.get("id"), node.get("updatedAt")) not in seen:
            yield node


def run_shopify_customers_flow(shopify, ledger: Ledger, landing: LandingArea, *, run_id: str = "local",
                               config: CrmConfig = CrmConfig()) -> CustomersRunResult:
    """Shopify customers updated since the watermark → ``raw.shopify_customers``; malformed ones dead-lettered."""
    import pandas as pd

    result = CustomersRunResult()
    before = shopify.stats.snapshot()
    mark = ledger.get_watermark(SHOPIFY_WATERMARK)
    since = mark.updated_at - timedelta(seconds=config.overlap_seconds) if mark else None
    open_letters = {d.source_id: d.id for d in ledger.dead_letters(FLOW)}
    files: list[LandedFile] = []
    buffer: list[dict] = []
    latest: datetime | None = None
    fixed: set[str] = set()

    def flush() -> None:
        if buffer:
            files.extend(landing.write_all({SHOPIFY_TABLE: pd.DataFrame(buffer)}, run_id))
            result.pages += 1
            buffer.clear()

    for node in _read_shopify(shopify, since, config, result):
        source_id = str(node.get("id") or node.get("legacyResourceId") or "?")
        try:
            row = shopify_customer_row(node)
        except MappingError as exc:
            reason = f"Shopify customer {source_id}: {exc.reason}"
            ledger.dead_letter(FLOW, source_id, reason, node, exc.field_path)
            result.dead_lettered += 1
            result.errors.append((source_id, reason))
            continue
        buffer.append(row)
        result.customers += 1
        if source_id in open_letters:
            fixed.add(source_id)
        latest = row["source_updated_at"] if latest is None else max(latest, row["source_updated_at"])
        if len(buffer) >= config.land_rows:
            flush()
    flush()
    result.watermark_after = _queue(ledger, SHOPIFY_WATERMARK, mark, latest, files)
    for source_id in fixed:  # fixed at the source since it was parked: it is queued for raw now
        ledger.resolve(open_letters[source_id])
    result.shopify_stats = stats_delta(shopify.stats.snapshot(), before)
    return result


__all__ = ["FLOW", "SHOPIFY_TABLE", "SHOPIFY_WATERMARK", "TABLE", "WATERMARK", "CrmConfig", "CustomersRunResult",
           "run_customers_flow", "run_shopify_customers_flow", "shopify_customer_row"]
