"""Shopify Admin GraphQL connector: a plain ``requests`` client, nothing Dagster inside.

Start with :class:`ShopifyClient`; the typed errors are in :mod:`.errors`, every GraphQL document in
:mod:`.documents`.
"""

from .bulk import join_children, run_bulk_query, stream_jsonl
from .client import DEFAULT_API_VERSION, ShopifyClient
from .errors import (
    ShopifyAuthError,
    ShopifyBulkOperationError,
    ShopifyBulkOrderingError,
    ShopifyBulkSlotBusy,
    ShopifyError,
    ShopifyGraphQLError,
    ShopifyHTTPError,
    ShopifyIncompleteError,
    ShopifyMaxCostExceeded,
    ShopifyStaleQuantity,
    ShopifyThrottledError,
    ShopifyTransientError,
    ShopifyUserError,
    UserErrorDetail,
)
from .paging import paginate

__all__ = [
    "DEFAULT_API_VERSION",
    "ShopifyAuthError",
    "ShopifyBulkOperationError",
    "ShopifyBulkOrderingError",
    "ShopifyBulkSlotBusy",
    "ShopifyClient",
    "ShopifyError",
    "ShopifyGraphQLError",
    "ShopifyHTTPError",
    "ShopifyIncompleteError",
    "ShopifyMaxCostExceeded",
    "ShopifyStaleQuantity",
    "ShopifyThrottledError",
    "ShopifyTransientError",
    "ShopifyUserError",
    "UserErrorDetail",
    "join_children",
    "paginate",
    "run_bulk_query",
    "stream_jsonl",
]
