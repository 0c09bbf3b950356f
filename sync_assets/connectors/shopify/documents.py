"""Every GraphQL document this project sends to Shopify, as module-level constants.

Keeping them here (and nowhere else) lets one test validate all of them against Shopify's published
2026-10 Admin schema: a misspelt field fails in CI, not in a merchant's shop. Fragments are private
building blocks; only complete operations are public names. The bulk query for orders is a template
because bulk queries take no variables: :func:`bulk_orders_query` fills it in safely.

Page sizes are variables because Shopify charges a query's *requested* cost up front (≈ first × node
cost for every connection), and one query may cost at most 1000: the callers pick sizes that fit.
"""

from __future__ import annotations

import json

_MONEY_BAG = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"

_ADDRESS = (
    "name firstName lastName company address1 address2 city province provinceCode zip country countryCodeV2 phone"
)

# Field lists shared by the paged fragments and the bulk query, so both reads return the same order shape.
_LINE_ITEM_FIELDS = f"""
  id name title variantTitle sku vendor quantity currentQuantity unfulfilledQuantity requiresShipping
  variant {{ id legacyResourceId sku inventoryItem {{ id }} }}
  product {{ id legacyResourceId }}
  originalUnitPriceSet {{ {_MONEY_BAG} }}
  discountedUnitPriceSet {{ {_MONEY_BAG} }}
  originalTotalSet {{ {_MONEY_BAG} }}
  taxLines(first: 10) {{ title rate ratePercentage priceSet {{ {_MONEY_BAG} }} }}
"""

_SHIPPING_LINE_FIELDS = f"""
  id title code source
  originalPriceSet {{ {_MONEY_BAG} }}
  discountedPriceSet {{ {_MONEY_BAG} }}
  taxLines {{ title rate ratePercentage priceSet {{ {_MONEY_BAG} }} }}
"""

_LINE_ITEM_FRAGMENT = f"""
fragment LineItemFields on LineItem {{{_LINE_ITEM_FIELDS}}}
"""

_SHIPPING_LINE_FRAGMENT = f"""
fragment ShippingLineFields on ShippingLine {{{_SHIPPING_LINE_FIELDS}}}
"""

_CONNECTION_PAGE = "pageInfo { hasNextPage endCursor }"

# An order with everything an ERP sales order needs. The nested connections carry pageInfo so the caller
# can see (and drain) what one page did not hold; lists (transactions, taxLines) are not paged. Discounts
# arrive as discountCodes, totalDiscountsSet and each line's discountedUnitPriceSet; a code discount
# leaves discountedUnitPriceSet alone (published schema) and shows only in totalDiscountsSet, which is all
# the NetSuite mapping needs, so discountApplications is not selected.
_ORDER_SCALARS = f"""
  id legacyResourceId name createdAt updatedAt processedAt closed closedAt cancelledAt cancelReason test
  displayFinancialStatus displayFulfillmentStatus currencyCode presentmentCurrencyCode
  email phone note tags discountCodes sourceName
  customer {{ id legacyResourceId firstName lastName defaultEmailAddress {{ emailAddress }} }}
  billingAddress {{ {_ADDRESS} }}
  shippingAddress {{ {_ADDRESS} }}
  subtotalPriceSet {{ {_MONEY_BAG} }}
  totalPriceSet {{ {_MONEY_BAG} }}
  totalTaxSet {{ {_MONEY_BAG} }}
  totalShippingPriceSet {{ {_MONEY_BAG} }}
  totalDiscountsSet {{ {_MONEY_BAG} }}
  currentTotalPriceSet {{ {_MONEY_BAG} }}
  taxLines {{ title rate ratePercentage priceSet {{ {_MONEY_BAG} }} }}
  transactions(first: 50) {{
    id kind status gateway test processedAt
    amountSet {{ {_MONEY_BAG} }}
    parentTransaction {{ id }}
  }}
"""

_ORDER_FRAGMENT = f"""
fragment OrderFields on Order {{{_ORDER_SCALARS}
  shippingLines(first: $nestedFirst) {{ {_CONNECTION_PAGE} nodes {{ ...ShippingLineFields }} }}
  lineItems(first: $nestedFirst) {{ {_CONNECTION_PAGE} nodes {{ ...LineItemFields }} }}
}}
{_LINE_ITEM_FRAGMENT}{_SHIPPING_LINE_FRAGMENT}
"""

# --- Shopify Payments (the finance flow) --------------------------------------------------------------------

_MONEY = "amount currencyCode"
_PAYOUT_FIELDS = f"""
  id legacyResourceId issuedAt status transactionType net {{ {_MONEY} }}
  summary {{ chargesGross {{ {_MONEY} }} chargesFee {{ {_MONEY} }} refundsFeeGross {{ {_MONEY} }}
    refundsFee {{ {_MONEY} }} adjustmentsGross {{ {_MONEY} }} adjustmentsFee {{ {_MONEY} }} }}
"""

BALANCE_TRANSACTIONS_PAGE = f"""
query BalanceTransactionsPage($first: Int!, $after: String, $query: String!) {{
  shopifyPaymentsAccount {{
    balanceTransactions(first: $first, after: $after, query: $query) {{
      {_CONNECTION_PAGE}
      nodes {{
        id type test transactionDate sourceId sourceType sourceOrderTransactionId
        amount {{ {_MONEY} }} fee {{ {_MONEY} }} net {{ {_MONEY} }}
        associatedOrder {{ id name }}
        associatedPayout {{ id status }}
      }}
    }}
  }}
}}
"""

PAYOUTS_BY_ID = f"""
query PayoutsById($ids: [ID!]!) {{
  nodes(ids: $ids) {{ __typename id ... on ShopifyPaymentsPayout {{{_PAYOUT_FIELDS}}} }}
}}
"""

# --- orders -----------------------------------------------------------------------------------------------

ORDERS_PAGE = f"""
query OrdersPage($first: Int!, $after: String, $query: String!, $nestedFirst: Int!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    {_CONNECTION_PAGE}
    nodes {{ ...OrderFields }}
  }}
}}
{_ORDER_FRAGMENT}
"""

ORDERS_BY_ID = f"""
query OrdersById($ids: [ID!]!, $nestedFirst: Int!) {{
  nodes(ids: $ids) {{ __typename id ... on Order {{ ...OrderFields }} }}
}}
{_ORDER_FRAGMENT}
"""

# Only the keys of orders in a window: what a sensor probe needs to tell "work pending" cheaply
# (requested cost ≈ first × 1 instead of first × nested pages).
ORDER_KEYS_PAGE = f"""
query OrderKeysPage($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    {_CONNECTION_PAGE}
    nodes {{ id updatedAt }}
  }}
}}
"""

# Follow-up pages of an order's nested connections, for orders larger than one nested page.
ORDER_LINE_ITEMS_PAGE = f"""
query OrderLineItemsPage($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{ id lineItems(first: $first, after: $after) {{ {_CONNECTION_PAGE} nodes {{ ...LineItemFields }} }} }}
}}
{_LINE_ITEM_FRAGMENT}
"""

ORDER_SHIPPING_LINES_PAGE = f"""
query OrderShippingLinesPage($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    id shippingLines(first: $first, after: $after) {{ {_CONNECTION_PAGE} nodes {{ ...ShippingLineFields }} }}
  }}
}}
{_SHIPPING_LINE_FRAGMENT}
"""

# orderCreate: used by tests and benchmarks to place orders. Not idempotent (see orders.create_order).
ORDER_CREATE = """
mutation OrderCreate($order: OrderCreateOrderInput!, $options: OrderCreateOptionsInput) {
  orderCreate(order: $order, options: $options) {
    order { id legacyResourceId name createdAt updatedAt }
    userErrors { field message code }
  }
}
"""

# --- locations and inventory ---------------------------------------------------------------------------

LOCATIONS_PAGE = """
query LocationsPage($first: Int!, $after: String) {
  locations(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { id legacyResourceId name isActive fulfillsOnlineOrders address { city countryCode } }
  }
}
"""

# --- webhook subscriptions ------------------------------------------------------------------------------

_WEBHOOK_SUBSCRIPTION_FIELDS = "id topic uri format"

WEBHOOK_SUBSCRIPTIONS_PAGE = f"""
query WebhookSubscriptionsPage($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {{
  webhookSubscriptions(first: $first, after: $after, topics: $topics) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {_WEBHOOK_SUBSCRIPTION_FIELDS} }}
  }}
}}
"""

WEBHOOK_SUBSCRIPTION_CREATE = f"""
mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {{
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {{
    webhookSubscription {{ {_WEBHOOK_SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

WEBHOOK_SUBSCRIPTION_UPDATE = f"""
mutation WebhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {{
  webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {{
    webhookSubscription {{ {_WEBHOOK_SUBSCRIPTION_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""

# Only ``available``: the one quantity the inventory flow compares and sets. Each quantity named is a point
# per level, and each level a point more, on every read of every SKU the flow looks at.
_INVENTORY_LEVEL_FIELDS = """
id
location { id }
quantities(names: ["available"]) { name quantity updatedAt }
"""

INVENTORY_ITEMS_PAGE = f"""
query InventoryItemsPage($first: Int!, $after: String, $query: String!, $nestedFirst: Int!) {{
  inventoryItems(first: $first, after: $after, query: $query) {{
    {_CONNECTION_PAGE}
    nodes {{
      id legacyResourceId sku tracked updatedAt
      inventoryLevels(first: $nestedFirst) {{ {_CONNECTION_PAGE} nodes {{ {_INVENTORY_LEVEL_FIELDS} }} }}
    }}
  }}
}}
"""

INVENTORY_ITEM_LEVELS_PAGE = f"""
query InventoryItemLevelsPage($id: ID!, $first: Int!, $after: String) {{
  inventoryItem(id: $id) {{
    id inventoryLevels(first: $first, after: $after) {{ {_CONNECTION_PAGE} nodes {{ {_INVENTORY_LEVEL_FIELDS} }} }}
  }}
}}
"""

# 2026-04+ shape: changeFromQuantity on every quantity (null = no compare-and-set) and a mandatory
# idempotency key. The key is a variable so that a network retry resends exactly the same key.
INVENTORY_SET_QUANTITIES = """
mutation InventorySetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      id createdAt reason referenceDocumentUri
      changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { field message code }
  }
}
"""

# --- catalog --------------------------------------------------------------------------------------------

PRODUCT_SET = """
mutation ProductSet($input: ProductSetInput!, $identifier: ProductSetIdentifiers, $synchronous: Boolean!) {
  productSet(input: $input, identifier: $identifier, synchronous: $synchronous) {
    product {
      id handle title status updatedAt
      variants(first: 250) {
        pageInfo { hasNextPage endCursor }
        nodes { id sku price inventoryItem { id } }
      }
    }
    userErrors { field message code }
  }
}
"""

# The storefront's product (catalog sync: find the variant ids a productSet must name; the variants past
# the first page come from PRODUCT_VARIANTS_PAGE). By id when the ledger knows it, else by handle.
_CATALOG_VARIANT_FIELDS = "id sku title price barcode inventoryItem { id }"
_CATALOG_PRODUCT_FIELDS = f"""
  id handle title vendor productType status descriptionHtml updatedAt
  variants(first: $first) {{ {_CONNECTION_PAGE} nodes {{ {_CATALOG_VARIANT_FIELDS} }} }}
"""

PRODUCT_BY_HANDLE = f"""
query ProductByHandle($query: String!, $first: Int!) {{
  products(first: 1, query: $query) {{ nodes {{{_CATALOG_PRODUCT_FIELDS}}} }}
}}
"""

PRODUCT_BY_ID = f"""
query ProductById($id: ID!, $first: Int!) {{
  product(id: $id) {{{_CATALOG_PRODUCT_FIELDS}}}
}}
"""

# Every product with its variants, as a bulk query (catalog sync's first run compares against this).
BULK_PRODUCTS = """
{
  products {
    edges {
      node {
        __typename id handle title vendor productType status descriptionHtml
        variants { edges { node { __typename id sku title price barcode inventoryItem { id } } } }
      }
    }
  }
}
"""

PRODUCT_VARIANTS_PAGE = """
query ProductVariantsPage($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    id
    variants(first: $first, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { id sku title price barcode inventoryItem { id } }
    }
  }
}
"""  # the same variant fields as _CATALOG_VARIANT_FIELDS (productSet's answer is followed up with it too)

# --- fulfillments ---------------------------------------------------------------------------------------

# ``sku`` is the line's own field: a ``lineItem { sku }`` object cost a point per line on every read.
_FULFILLMENT_ORDER_LINE_FIELDS = "id totalQuantity remainingQuantity sku inventoryItemId"

ORDER_FULFILLMENT_ORDERS = f"""
query OrderFulfillmentOrders($id: ID!, $first: Int!, $nestedFirst: Int!) {{
  order(id: $id) {{
    id
    fulfillmentOrders(first: $first) {{
      {_CONNECTION_PAGE}
      nodes {{
        id status requestStatus updatedAt
        assignedLocation {{ location {{ id }} }}
        lineItems(first: $nestedFirst) {{ {_CONNECTION_PAGE} nodes {{ {_FULFILLMENT_ORDER_LINE_FIELDS} }} }}
      }}
    }}
  }}
}}
"""

FULFILLMENT_ORDER_LINE_ITEMS_PAGE = f"""
query FulfillmentOrderLineItemsPage($id: ID!, $first: Int!, $after: String) {{
  fulfillmentOrder(id: $id) {{
    id lineItems(first: $first, after: $after) {{ {_CONNECTION_PAGE} nodes {{ {_FULFILLMENT_ORDER_LINE_FIELDS} }} }}
  }}
}}
"""

# The fulfillments an order already has, with their tracking numbers: how the fulfillment flow tells
# whether a fulfillmentCreate whose answer was lost did land (fulfillmentCreate has no idempotency key).
ORDER_FULFILLMENTS = """
query OrderFulfillments($id: ID!, $first: Int!) {
  order(id: $id) {
    id
    fulfillments(first: $first) { id name status createdAt trackingInfo(first: 10) { company number url } }
  }
}
"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!, $message: String) {
  fulfillmentCreate(fulfillment: $fulfillment, message: $message) {
    fulfillment { id status createdAt trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

# Replaces a fulfillment's tracking (all numbers, company, urls) with the input's; the fulfillment flow sends
# it when NetSuite's tracking changed after the Shopify fulfillment was created.
FULFILLMENT_TRACKING_INFO_UPDATE = """
mutation FulfillmentTrackingInfoUpdate($fulfillmentId: ID!, $trackingInfoInput: FulfillmentTrackingInput!,
    $notifyCustomer: Boolean) {
  fulfillmentTrackingInfoUpdate(fulfillmentId: $fulfillmentId, trackingInfoInput: $trackingInfoInput,
      notifyCustomer: $notifyCustomer) {
    fulfillment { id status updatedAt trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""

# --- bulk operations ------------------------------------------------------------------------------------

BULK_OPERATION_RUN_QUERY = """
mutation BulkOperationRunQuery($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation { id status createdAt }
    userErrors { field message code }
  }
}
"""

BULK_OPERATION_STATUS = """
query BulkOperationStatus($id: ID!) {
  bulkOperation(id: $id) {
    id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl
  }
}
"""

# Bulk queries take no variables and no `first:`; __typename tells child lines apart in the JSONL.
# The search string is spliced in by bulk_orders_query() as a JSON-escaped GraphQL string literal.
BULK_ORDERS_TEMPLATE = f"""
{{
  orders(query: __SEARCH__, sortKey: UPDATED_AT) {{
    edges {{
      node {{
        __typename{_ORDER_SCALARS}
        shippingLines {{ edges {{ node {{ __typename{_SHIPPING_LINE_FIELDS} }} }} }}
        lineItems {{ edges {{ node {{ __typename{_LINE_ITEM_FIELDS} }} }} }}
      }}
    }}
  }}
}}
"""


# --- customers (CRM) -----------------------------------------------------------------------------------------

# What a marketing tool needs of a customer: who, how to reach them and whether they may be mailed.
# (``email``/``phone`` are deprecated for ``defaultEmailAddress``/``defaultPhoneNumber``.)
_CUSTOMER_FIELDS = """
  id legacyResourceId firstName lastName displayName state tags createdAt updatedAt
  defaultEmailAddress { emailAddress marketingState }
"""

CUSTOMERS_PAGE = f"""
query CustomersPage($first: Int!, $after: String, $query: String!) {{
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    {_CONNECTION_PAGE}
    nodes {{{_CUSTOMER_FIELDS}}}
  }}
}}
"""

BULK_CUSTOMERS_TEMPLATE = f"""
{{
  customers(query: __SEARCH__, sortKey: UPDATED_AT) {{
    edges {{ node {{{_CUSTOMER_FIELDS}}} }}
  }}
}}
"""


def bulk_customers_query(search: str) -> str:
    """The bulk customers query for a search string (bulk queries take no variables)."""
    return BULK_CUSTOMERS_TEMPLATE.replace("__SEARCH__", json.dumps(search))


def bulk_orders_query(search: str) -> str:
    """The bulk orders query for a search string; JSON string escaping is valid GraphQL string escaping."""
    return BULK_ORDERS_TEMPLATE.replace("__SEARCH__", json.dumps(search))


def all_documents() -> dict[str, str]:
    """Every operation this module can send, by constant name (the bulk template rendered with a sample)."""
    docs = {
        name: value
        for name, value in globals().items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str) and not name.endswith("_TEMPLATE")
    }
    docs["BULK_CUSTOMERS_TEMPLATE"] = bulk_customers_query("updated_at:>='2026-10-01T00:00:00Z'")
    docs["BULK_ORDERS_TEMPLATE"] = bulk_orders_query(
        "updated_at:>='2026-10-01T00:00:00Z' AND updated_at:<'2026-10-02T00:00:00Z'"
    )
    return docs


# The preflight (``sync-assets doctor``): which scopes the merchant granted this app.
ACCESS_SCOPES = """
query AccessScopes {
  currentAppInstallation { accessScopes { handle } }
}
"""

# The preflight: where the store delivers each topic (``uri``; ``callbackUrl``/``endpoint`` are deprecated).
WEBHOOK_SUBSCRIPTIONS = """
query WebhookSubscriptions($first: Int!) {
  webhookSubscriptions(first: $first) { nodes { id topic uri } }
}
"""

# The shop's calendar (the order-history backfill's months are the shop's: Settings > General > Time zone).
SHOP_TIMEZONE = """
query ShopTimezone {
  shop { ianaTimezone }
}
"""
