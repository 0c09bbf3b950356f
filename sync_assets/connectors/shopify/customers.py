"""Reading customers for the warehouse (CRM): changed since a moment, paged or by one bulk operation.

Both reads return the same flat shape (the fields of ``documents._CUSTOMER_FIELDS``), oldest update
first, so a caller can switch from paging to bulk midway without telling the two apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterator

from . import documents as docs
from .bulk import run_bulk_query
from .orders import utc_z
from .paging import paginate

if TYPE_CHECKING:
    from .client import ShopifyClient

# A customer has no nested connections: a page's requested cost is about one point per customer.
DEFAULT_CUSTOMERS_PAGE = 250


def updated_since_query(since: datetime | str | None) -> str:
    """``updated_at >= since`` (inclusive: Shopify stamps whole seconds); everything when ``since`` is None."""
    return f"updated_at:>='{utc_z(since)}'" if since is not None else ""


def iter_customers_updated_since(
    client: ShopifyClient, since: datetime | str | None, *, page_size: int = DEFAULT_CUSTOMERS_PAGE
) -> Iterator[dict[str, Any]]:
    """Customers updated at or after ``since``, oldest update first, one page in memory at a time."""
    yield from paginate(client, docs.CUSTOMERS_PAGE, {"query": updated_since_query(since)}, ("customers",),
                        page_size=page_size)


def iter_bulk_customers_updated_since(
    client: ShopifyClient, since: datetime | str | None, **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """The same customers through one bulk operation (queues for the app's bulk slot as the client's lane
    says, see :mod:`.bulk`), streamed from its JSONL result in constant memory."""
    yield from run_bulk_query(client, docs.bulk_customers_query(updated_since_query(since)), **kwargs)
