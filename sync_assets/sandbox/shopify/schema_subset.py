"""Derive the sandbox's GraphQL schema as a strict subset of Shopify's published Admin schema.

The sandbox must never accept a document the real API would reject for its shape, so its SDL is not
hand-written: this tool copies the types, fields and arguments listed in :data:`SUBSET` out of the
published SDL (same names, same types, same defaults) and prints the result. Enums and scalars are copied
whole. Arguments and input fields may only be left out when they are nullable or have a default, since a
real client may omit those. Run ``python -m sync_assets.sandbox.shopify.schema_subset`` to rewrite
``schema.graphql`` after changing :data:`SUBSET`.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_ast_schema,
    parse,
    print_schema,
    specified_directives,
)

HERE = Path(__file__).resolve().parent
SUBSET_SDL_PATH = HERE / "schema.graphql"
PUBLISHED_SDL_GZ = HERE.parents[2] / "sync_assets_tests" / "fixtures" / "shopify-admin-2026-10.graphql.gz"

_PAGE = "first after last before reverse"

# Per type, the fields kept; "field(a b)" keeps arguments a and b (any other argument must be optional).
SUBSET: dict[str, list[str]] = {
    "QueryRoot": [
        f"orders({_PAGE} query sortKey)",
        "order(id)",
        f"customers({_PAGE} query sortKey)",
        "customer(id)",
        f"products({_PAGE} query sortKey)",
        "product(id)",
        f"productVariants({_PAGE} query sortKey)",
        "productVariant(id)",
        f"locations({_PAGE} query)",
        "location(id)",
        f"inventoryItems({_PAGE} query)",
        "inventoryItem(id)",
        f"fulfillmentOrders({_PAGE} query includeClosed)",
        "fulfillmentOrder(id)",
        "node(id)",
        "nodes(ids)",
        "bulkOperation(id)",
        "currentBulkOperation(type)",
        "currentAppInstallation",
        f"webhookSubscriptions({_PAGE} topics uri)",
        "shopifyPaymentsAccount",
        "shop",
    ],
    "Mutation": [
        "orderCreate(order options)",
        "orderUpdate(input)",
        "orderCancel(orderId reason restock refund notifyCustomer staffNote)",
        "inventorySetQuantities(input)",
        "productSet(input synchronous identifier)",
        "fulfillmentCreate(fulfillment message)",
        "fulfillmentTrackingInfoUpdate(fulfillmentId trackingInfoInput notifyCustomer)",
        "bulkOperationRunQuery(query groupObjects)",
        "webhookSubscriptionCreate(topic webhookSubscription)",
        "webhookSubscriptionUpdate(id webhookSubscription)",
    ],
    "Node": ["id"],
    "AppInstallation": ["id", "accessScopes"],
    # The shop's calendar: the order-history backfill partitions by month in the shop's zone.
    "Shop": ["id", "name", "ianaTimezone", "timezoneAbbreviation", "timezoneOffsetMinutes", "currencyCode"],
    "AccessScope": ["handle", "description"],
    "PageInfo": ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"],
    "MoneyBag": ["shopMoney", "presentmentMoney"],
    "MoneyV2": ["amount", "currencyCode"],
    "UserError": ["field", "message"],
    "Order": [
        "id", "legacyResourceId", "name", "createdAt", "updatedAt", "processedAt", "cancelledAt",
        "cancelReason", "closed", "closedAt", "displayFinancialStatus", "displayFulfillmentStatus",
        "currencyCode", "presentmentCurrencyCode", "email", "phone", "customer", "shippingAddress",
        "billingAddress", "totalPriceSet", "subtotalPriceSet", "totalTaxSet", "totalDiscountsSet",
        "totalShippingPriceSet", "currentTotalPriceSet", f"shippingLines({_PAGE})", "taxLines",
        "discountCodes", f"discountApplications({_PAGE})", "transactions(first)", f"lineItems({_PAGE})", "tags", "note", "test",
        f"fulfillmentOrders({_PAGE})", "fulfillments(first)", "sourceName",
    ],
    "OrderConnection": ["edges", "nodes", "pageInfo"],
    "OrderEdge": ["cursor", "node"],
    "LineItem": [
        "id", "sku", "name", "title", "variantTitle", "vendor", "quantity", "currentQuantity",
        "fulfillableQuantity", "unfulfilledQuantity", "requiresShipping", "originalUnitPriceSet",
        "discountedUnitPriceSet", "discountedUnitPriceAfterAllDiscountsSet", "discountAllocations",
        "originalTotalSet", "taxLines(first)", "variant", "product",
    ],
    "DiscountAllocation": ["allocatedAmountSet", "discountApplication"],
    # DiscountApplication.value is a union (MoneyV2 | PricingPercentageValue), which the subset tool does not
    # support: it is left out, and the amount shows in the allocations and totalDiscountsSet instead.
    "DiscountApplication": ["allocationMethod", "index", "targetSelection", "targetType"],
    "DiscountCodeApplication": ["allocationMethod", "index", "targetSelection", "targetType", "code"],
    "DiscountApplicationConnection": ["edges", "nodes", "pageInfo"],
    "DiscountApplicationEdge": ["cursor", "node"],
    "LineItemConnection": ["edges", "nodes", "pageInfo"],
    "LineItemEdge": ["cursor", "node"],
    "ShippingLine": [
        "id", "title", "code", "source", "originalPriceSet", "discountedPriceSet", "discountAllocations", "taxLines",
    ],
    "ShippingLineConnection": ["edges", "nodes", "pageInfo"],
    "ShippingLineEdge": ["cursor", "node"],
    "TaxLine": ["title", "rate", "ratePercentage", "priceSet"],
    "OrderTransaction": [
        "id", "kind", "status", "gateway", "amountSet", "createdAt", "processedAt", "test", "parentTransaction",
    ],
    "MailingAddress": [
        "address1", "address2", "city", "company", "country", "countryCodeV2", "firstName", "lastName",
        "name", "phone", "province", "provinceCode", "zip",
    ],
    "Customer": [
        "id", "legacyResourceId", "email", "firstName", "lastName", "displayName", "defaultEmailAddress",
        "createdAt", "updatedAt", "tags", "state",
    ],
    "CustomerEmailAddress": ["emailAddress", "marketingState"],
    "CustomerConnection": ["edges", "nodes", "pageInfo"],
    "CustomerEdge": ["cursor", "node"],
    "Product": [
        "id", "legacyResourceId", "title", "handle", "vendor", "productType", "status", "descriptionHtml",
        "tags", "createdAt", "updatedAt", f"variants({_PAGE})",
    ],
    "ProductConnection": ["edges", "nodes", "pageInfo"],
    "ProductEdge": ["cursor", "node"],
    "ProductVariant": [
        "id", "legacyResourceId", "sku", "title", "displayName", "price", "compareAtPrice", "barcode",
        "position", "createdAt", "updatedAt", "product", "inventoryItem",
    ],
    "ProductVariantConnection": ["edges", "nodes", "pageInfo"],
    "ProductVariantEdge": ["cursor", "node"],
    "InventoryItem": [
        "id", "legacyResourceId", "sku", "tracked", "createdAt", "updatedAt", "unitCost", "variant",
        f"inventoryLevels({_PAGE})", "inventoryLevel(locationId)",
    ],
    "InventoryItemConnection": ["edges", "nodes", "pageInfo"],
    "InventoryItemEdge": ["cursor", "node"],
    "InventoryLevel": ["id", "createdAt", "updatedAt", "isActive", "item", "location", "quantities(names)"],
    "InventoryLevelConnection": ["edges", "nodes", "pageInfo"],
    "InventoryLevelEdge": ["cursor", "node"],
    "InventoryQuantity": ["id", "name", "quantity", "updatedAt"],
    "Location": [
        "id", "legacyResourceId", "name", "isActive", "fulfillsOnlineOrders", "createdAt", "updatedAt",
        "address", f"inventoryLevels({_PAGE})",
    ],
    "LocationAddress": ["address1", "address2", "city", "country", "countryCode", "province", "provinceCode", "zip"],
    "LocationConnection": ["edges", "nodes", "pageInfo"],
    "LocationEdge": ["cursor", "node"],
    "FulfillmentOrder": [
        "id", "status", "requestStatus", "createdAt", "updatedAt", "orderId", "orderName", "order",
        "assignedLocation", f"lineItems({_PAGE})",
    ],
    "FulfillmentOrderConnection": ["edges", "nodes", "pageInfo"],
    "FulfillmentOrderEdge": ["cursor", "node"],
    "FulfillmentOrderAssignedLocation": ["name", "city", "countryCode", "location"],
    "FulfillmentOrderLineItem": [
        "id", "sku", "remainingQuantity", "totalQuantity", "inventoryItemId", "lineItem", "variant",
    ],
    "FulfillmentOrderLineItemConnection": ["edges", "nodes", "pageInfo"],
    "FulfillmentOrderLineItemEdge": ["cursor", "node"],
    "Fulfillment": ["id", "legacyResourceId", "name", "status", "createdAt", "updatedAt", "order", "trackingInfo(first)"],
    "FulfillmentTrackingInfo": ["company", "number", "url"],
    # Shopify Payments (sandbox/shopify/payouts.py): what the finance flow lands.
    "ShopifyPaymentsAccount": ["id", "activated", "defaultCurrency", f"payouts({_PAGE} query sortKey)",
                               f"balanceTransactions({_PAGE} query sortKey)"],
    "ShopifyPaymentsPayout": ["id", "legacyResourceId", "issuedAt", "status", "net", "summary", "transactionType"],
    "ShopifyPaymentsPayoutSummary": ["chargesGross", "chargesFee", "refundsFeeGross", "refundsFee",
                                     "adjustmentsGross", "adjustmentsFee"],
    "ShopifyPaymentsPayoutConnection": ["edges", "nodes", "pageInfo"],
    "ShopifyPaymentsPayoutEdge": ["cursor", "node"],
    "ShopifyPaymentsBalanceTransaction": [
        "id", "type", "test", "transactionDate", "amount", "fee", "net", "sourceId", "sourceType",
        "sourceOrderTransactionId", "associatedOrder", "associatedPayout",
    ],
    "ShopifyPaymentsBalanceTransactionConnection": ["edges", "nodes", "pageInfo"],
    "ShopifyPaymentsBalanceTransactionEdge": ["cursor", "node"],
    "ShopifyPaymentsAssociatedOrder": ["id", "name"],
    "ShopifyPaymentsBalanceTransactionAssociatedPayout": ["id", "status"],
    "BulkOperation": [
        "id", "status", "errorCode", "createdAt", "completedAt", "objectCount", "rootObjectCount", "fileSize",
        "url", "partialDataUrl", "query", "type",
    ],
    "InventoryAdjustmentGroup": ["id", "createdAt", "reason", "referenceDocumentUri", "changes"],
    "InventoryChange": ["name", "delta", "quantityAfterChange", "item", "location"],
    "Job": ["id", "done"],
    "WebhookSubscription": ["id", "topic", "uri", "format", "filter", "includeFields", "createdAt", "updatedAt"],
    "WebhookSubscriptionConnection": ["edges", "nodes", "pageInfo"],
    "WebhookSubscriptionEdge": ["cursor", "node"],
    # payloads and their error types
    "WebhookSubscriptionCreatePayload": ["webhookSubscription", "userErrors"],
    "WebhookSubscriptionUpdatePayload": ["webhookSubscription", "userErrors"],
    "OrderCreatePayload": ["order", "userErrors"],
    "OrderCreateUserError": ["code", "field", "message"],
    "OrderUpdatePayload": ["order", "userErrors"],
    "OrderCancelPayload": ["job", "orderCancelUserErrors"],
    "OrderCancelUserError": ["code", "field", "message"],
    "InventorySetQuantitiesPayload": ["inventoryAdjustmentGroup", "userErrors"],
    "InventorySetQuantitiesUserError": ["code", "field", "message"],
    "ProductSetPayload": ["product", "userErrors"],
    "ProductSetUserError": ["code", "field", "message"],
    "FulfillmentCreatePayload": ["fulfillment", "userErrors"],
    "FulfillmentTrackingInfoUpdatePayload": ["fulfillment", "userErrors"],
    "BulkOperationRunQueryPayload": ["bulkOperation", "userErrors"],
    "BulkOperationUserError": ["code", "field", "message"],
    # inputs
    "WebhookSubscriptionInput": ["uri", "format", "filter", "includeFields"],
    "OrderCreateOrderInput": [
        "name", "email", "phone", "currency", "presentmentCurrency", "processedAt", "note", "tags", "test",
        "financialStatus", "customer", "billingAddress", "shippingAddress", "lineItems", "shippingLines",
        "taxLines", "transactions", "sourceIdentifier", "discountCode", "sourceName",
    ],
    "OrderCreateDiscountCodeInput": ["itemFixedDiscountCode", "itemPercentageDiscountCode", "freeShippingDiscountCode"],
    "OrderCreateFixedDiscountCodeAttributesInput": ["amountSet", "code"],
    "OrderCreatePercentageDiscountCodeAttributesInput": ["code", "percentage"],
    "OrderCreateFreeShippingDiscountCodeAttributesInput": ["code"],
    "OrderCreateOptionsInput": ["inventoryBehaviour", "sendReceipt", "sendFulfillmentReceipt"],
    "OrderCreateLineItemInput": [
        "variantId", "sku", "title", "variantTitle", "vendor", "quantity", "priceSet", "taxLines", "requiresShipping",
    ],
    "OrderCreateShippingLineInput": ["title", "code", "source", "priceSet", "taxLines"],
    "OrderCreateTaxLineInput": ["title", "rate", "priceSet"],
    "OrderCreateOrderTransactionInput": ["kind", "status", "gateway", "amountSet", "processedAt", "test"],
    "OrderCreateCustomerInput": ["toAssociate", "toUpsert"],
    "OrderCreateAssociateCustomerAttributesInput": ["id", "email"],
    "OrderCreateUpsertCustomerAttributesInput": ["email", "firstName", "lastName", "phone"],
    "MoneyBagInput": ["shopMoney", "presentmentMoney"],
    "MoneyInput": ["amount", "currencyCode"],
    "MailingAddressInput": [
        "address1", "address2", "city", "company", "countryCode", "firstName", "lastName", "phone",
        "provinceCode", "zip",
    ],
    "OrderInput": ["id", "email", "note", "tags"],
    "InventorySetQuantitiesInput": ["name", "reason", "referenceDocumentUri", "quantities"],
    "InventoryQuantityInput": ["inventoryItemId", "locationId", "quantity", "changeFromQuantity"],
    "ProductSetInput": [
        "title", "handle", "vendor", "productType", "descriptionHtml", "status", "tags", "productOptions", "variants",
    ],
    "ProductSetIdentifiers": ["id", "handle"],
    "OptionSetInput": ["name", "values"],
    "OptionValueSetInput": ["name"],
    "ProductVariantSetInput": [
        "id", "sku", "price", "compareAtPrice", "barcode", "position", "optionValues", "inventoryItem",
        "inventoryQuantities",
    ],
    "VariantOptionValueInput": ["name", "optionName"],
    "InventoryItemInput": ["sku", "cost", "tracked"],
    "ProductSetInventoryInput": ["locationId", "name", "quantity"],
    "FulfillmentInput": ["lineItemsByFulfillmentOrder", "notifyCustomer", "trackingInfo"],
    "FulfillmentOrderLineItemsInput": ["fulfillmentOrderId", "fulfillmentOrderLineItems"],
    "FulfillmentOrderLineItemInput": ["id", "quantity"],
    "FulfillmentTrackingInput": ["company", "number", "url", "numbers", "urls"],
}

_SPEC_RE = re.compile(r"^(\w+)(?:\(([\w ]*)\))?$")


class SubsetError(ValueError):
    """The declared subset is not a strict subset of the published schema (names the type and field)."""


def _parse_spec(type_name: str, spec: str) -> tuple[str, list[str]]:
    m = _SPEC_RE.match(spec)
    if not m:
        raise SubsetError(f"{type_name}: bad field spec {spec!r} (want 'field' or 'field(arg1 arg2)')")
    return m.group(1), (m.group(2) or "").split()


def _optional(arg) -> bool:
    return not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not None and repr(arg.default_value) != "Undefined"


def derive(published: GraphQLSchema, subset: dict[str, list[str]] = SUBSET) -> GraphQLSchema:
    """Return a schema holding only the listed parts of ``published``; raise SubsetError on any mismatch."""
    made: dict[str, GraphQLNamedType] = {}

    def named(name: str, used_by: str) -> GraphQLNamedType:
        if name in made:
            return made[name]
        src = published.type_map.get(name)
        if src is None:
            raise SubsetError(f"type {name} (used by {used_by}) is not in the published schema")
        if isinstance(src, (GraphQLEnumType, GraphQLScalarType)):
            made[name] = src  # copied whole: values and serialization are part of the type
            return src
        if isinstance(src, GraphQLUnionType):
            raise SubsetError(f"union {name} (used by {used_by}) is not supported by the subset tool")
        if name not in subset:
            raise SubsetError(f"type {name} is used by {used_by} but SUBSET declares no fields for it")
        specs = [_parse_spec(name, s) for s in subset[name]]
        for fname, _ in specs:
            if fname not in src.fields:
                raise SubsetError(f"{name}.{fname} is not in the published schema")
        if isinstance(src, GraphQLInputObjectType):
            kept = {f for f, _ in specs}
            for fname, field in src.fields.items():
                if fname not in kept and not _optional(field):
                    raise SubsetError(f"{name}.{fname} is required in the published schema; it must be kept")
            made[name] = GraphQLInputObjectType(
                name,
                lambda: {
                    f: GraphQLInputField(
                        wrap(src.fields[f].type, f"{name}.{f}"),
                        default_value=src.fields[f].default_value,
                        deprecation_reason=src.fields[f].deprecation_reason,
                    )
                    for f, _ in specs
                },
            )
            return made[name]

        def fields():
            out = {}
            for fname, args in specs:
                field = src.fields[fname]
                for aname in args:
                    if aname not in field.args:
                        raise SubsetError(f"{name}.{fname}({aname}) is not in the published schema")
                for aname, arg in field.args.items():
                    if aname not in args and not _optional(arg):
                        raise SubsetError(f"{name}.{fname}({aname}) is required in the published schema")
                out[fname] = GraphQLField(
                    wrap(field.type, f"{name}.{fname}"),
                    args={
                        a: GraphQLArgument(
                            wrap(field.args[a].type, f"{name}.{fname}({a})"),
                            default_value=field.args[a].default_value,
                            deprecation_reason=field.args[a].deprecation_reason,
                        )
                        for a in args
                    },
                    deprecation_reason=field.deprecation_reason,
                )
            return out

        field_names = {f for f, _ in specs}

        def interfaces():
            # Keep an interface only when it is itself in the subset and this type keeps all its fields.
            return [
                named(i.name, name)
                for i in src.interfaces
                if i.name in subset and {_parse_spec(i.name, s)[0] for s in subset[i.name]} <= field_names
            ]

        if isinstance(src, GraphQLInterfaceType):
            made[name] = GraphQLInterfaceType(name, fields, interfaces)
        elif isinstance(src, GraphQLObjectType):
            made[name] = GraphQLObjectType(name, fields, interfaces)
        else:
            raise SubsetError(f"type {name} has an unsupported kind {type(src).__name__}")
        return made[name]

    def wrap(t, used_by: str):
        if isinstance(t, GraphQLNonNull):
            return GraphQLNonNull(wrap(t.of_type, used_by))
        if isinstance(t, GraphQLList):
            return GraphQLList(wrap(t.of_type, used_by))
        return named(t.name, used_by)

    query = named(published.query_type.name, "schema")
    mutation = named(published.mutation_type.name, "schema")
    # Every declared type is part of the subset even when only reachable through an interface (node(id)).
    extra = [named(n, "SUBSET") for n in subset]
    idempotent = published.get_directive("idempotent")
    schema = GraphQLSchema(query=query, mutation=mutation, types=extra, directives=[*specified_directives, idempotent])
    for t in list(schema.type_map.values()):  # force every thunk so errors surface here
        if hasattr(t, "fields"):
            _ = t.fields
        if hasattr(t, "interfaces"):
            _ = t.interfaces
    return schema


def load_published() -> GraphQLSchema:
    # no locations and no SDL re-validation: the published file is large (3.7 MB) and known to build
    sdl = gzip.decompress(PUBLISHED_SDL_GZ.read_bytes()).decode("utf-8")
    return build_ast_schema(parse(sdl, no_location=True), assume_valid_sdl=True)


def subset_sdl(published: GraphQLSchema | None = None) -> str:
    header = (
        "# Generated by sync_assets/sandbox/shopify/schema_subset.py from Shopify's published Admin API\n"
        "# schema 2026-10. Do not edit by hand: change SUBSET there and re-run the module.\n\n"
    )
    return header + print_schema(derive(published or load_published())) + "\n"


def main() -> int:
    SUBSET_SDL_PATH.write_text(subset_sdl(), encoding="utf-8")
    print(f"wrote {SUBSET_SDL_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
