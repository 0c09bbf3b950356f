"""The Admin API access scopes the flows need, each with what it is for (the doctor names the missing ones).

An app created in the Dev Dashboard gets exactly the scopes its configuration lists; a query outside them
answers ``ACCESS_DENIED`` (shopify-admin.md §2.3), so a missing scope would otherwise surface only in the
first run that needs it.
"""

from __future__ import annotations

REQUIRED_SCOPES: dict[str, str] = {
    "read_orders": "orders flow: read new and updated orders (also the webhooks' orders/* topics)",
    "read_customers": "orders flow: the order's customer, matched or created in NetSuite",
    "read_products": "catalog flow: compare products before pushing",
    "write_products": "catalog flow: productSet pushes NetSuite items and prices",
    "read_inventory": "inventory flow: read inventory levels",
    "write_inventory": "inventory flow: inventorySetQuantities",
    "read_locations": "inventory flow: map storefront locations to NetSuite locations",
    "read_merchant_managed_fulfillment_orders": "fulfillments flow: the order's fulfillment orders",
    "write_merchant_managed_fulfillment_orders": "fulfillments flow: fulfillmentCreate with tracking",
}


def missing_scopes(granted: set[str]) -> dict[str, str]:
    """Required scopes not granted. A ``write_x`` scope implies ``read_x`` (Shopify grants both)."""
    implied = granted | {"read_" + s.removeprefix("write_") for s in granted if s.startswith("write_")}
    return {scope: why for scope, why in REQUIRED_SCOPES.items() if scope not in implied}
