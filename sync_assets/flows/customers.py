"""NetSuite customers → the warehouse (``raw.netsuite_customers``), the CRM entity of the batch lane.

The orders flow matches and creates NetSuite customers inline; this flow lands what NetSuite holds for
them (and every other customer), so ``staging.customers`` reflects the ERP: customers modified since the
watermark, keyset-paged SuiteQL past the 100k cap, one landing file per page. Re-reading the same second
again (NetSuite stamps whole seconds) is harmless: the merge adds only versions whose content changed.
The watermark moves in the ledger transaction that queues the files.

Plain Python over the NetSuite client, the ledger and a landing area: no Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sync_assets.connectors.netsuite.suiteql import TS_FORMAT
from sync_assets.domain.windows import Watermark
from sync_assets.flows.catalog import suiteql_frame
from sync_assets.flows.metering import api_numbers, stats_delta
from sync_assets.flows.reference import chunks
from sync_assets.state.ledger import Ledger

if TYPE_CHECKING:
    from sync_assets.warehouse.landing_area import LandingArea

WATERMARK = "netsuite_customers"
TABLE = "raw.netsuite_customers"
CUSTOMERS_SQL = (
    "SELECT id, entityid, externalid, email, firstname, lastname, companyname, isperson, isinactive, "
    f"TO_CHAR(datecreated, '{TS_FORMAT}') AS datecreated, TO_CHAR(lastmodifieddate, '{TS_FORMAT}') AS lastmodifieddate "
    "FROM customer WHERE lastmodifieddate >= :since"
)


@dataclass
class CustomersRunResult:
    customers: int = 0
    pages: int = 0
    watermark_after: Watermark | None = None
    netsuite_stats: dict[str, float] = field(default_factory=dict)

    def numbers(self) -> dict[str, int | float]:
        return {"records": self.customers, "pages": self.pages, **api_numbers({}, self.netsuite_stats)}


def run_customers_flow(netsuite, ledger: Ledger, landing: LandingArea, *, run_id: str = "local",
                       page_size: int = 1000) -> CustomersRunResult:
    result = CustomersRunResult()
    before = netsuite.stats.snapshot()
    mark = ledger.get_watermark(WATERMARK)
    since = mark.updated_at.astimezone(timezone.utc).replace(tzinfo=None) if mark else datetime(1970, 1, 1)
    files, latest = [], None
    rows = netsuite.suiteql_keyset(CUSTOMERS_SQL, key="id", params={"since": since}, page_size=page_size)
    for page in chunks(rows, page_size):
        frame = suiteql_frame(page, {"customer_id": "id"})
        files += landing.write_all({TABLE: frame}, run_id)
        result.customers += len(page)
        result.pages += 1
        stamps = frame["source_updated_at"].dropna()
        if not stamps.empty and (latest is None or stamps.max() > latest):
            latest = stamps.max()
    watermark = Watermark(latest.to_pydatetime()) if latest is not None else None
    if watermark is not None and (mark is None or mark < watermark):
        ledger.advance_watermark(WATERMARK, watermark, landed=files)
    else:
        ledger.record_landed(files)
    result.watermark_after = ledger.get_watermark(WATERMARK)
    result.netsuite_stats = stats_delta(netsuite.stats.snapshot(), before)
    return result


__all__ = ["TABLE", "WATERMARK", "CustomersRunResult", "run_customers_flow"]
