"""Ariadne bindings: the subset schema (schema.graphql) wired to the store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo
from urllib.parse import urlsplit

from ariadne import InterfaceType, ObjectType, make_executable_schema
from graphql import GraphQLEnumType, GraphQLError, GraphQLSchema, get_directive_values

from . import inventory, orders, paging, payouts, search
from .store import Store, UserError, gid, parse_gid

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")

query = ObjectType("QueryRoot")
mutation = ObjectType("Mutation")
node_iface = InterfaceType("Node")
order_t, line_t, item_t, level_t, loc_t = (ObjectType(n) for n in ("Order", "LineItem", "InventoryItem", "InventoryLevel", "Location"))
product_t, variant_t, fo_t, fulfillment_t = (ObjectType(n) for n in ("Product", "ProductVariant", "FulfillmentOrder", "Fulfillment"))
customer_t = ObjectType("Customer")
payments_account_t = ObjectType("ShopifyPaymentsAccount")


discount_app_iface = InterfaceType("DiscountApplication")


@node_iface.type_resolver
@discount_app_iface.type_resolver
def _node_type(obj, *_):
    return obj.get("__typename")


def _store(info) -> Store:
    return info.context["store"]


def _bulk(info):
    return info.context.get("bulk")


def _connection(info, items, args, key, *, presorted=False, root=False):
    bulk = _bulk(info)
    if bulk is not None and root:
        # bulk runs page the root connection internally so results stream to the file page by page
        args = {**args, "first": bulk["page_size"], "after": bulk.get("after"), "last": None, "before": None}
        conn = paging.connection(items, args, key, presorted=presorted)
        bulk["after"], bulk["has_more"] = conn["pageInfo"]["endCursor"], conn["pageInfo"]["hasNextPage"]
        return conn
    return paging.connection(items, args, key, bulk=bulk is not None, presorted=presorted)


def _search(info, args, fields: set[str], date_fields: set[str]) -> search.Search:
    s = search.parse(args.get("query"), fields, date_fields)
    if s.warnings:
        info.context["search"].append({"path": list(info.path.as_list()), "query": s.query,
                                       "parsed": s.parsed(), "warnings": s.warnings})
    return s


def _by_id(n_key="_n"):
    return lambda r: (r[n_key], r[n_key])


_ORDER_SORT = {
    "ID": lambda o: (o["_n"], o["_n"]),
    "CREATED_AT": lambda o: (int(o["_created"].timestamp()), o["_n"]),
    "UPDATED_AT": lambda o: (int(o["_updated"].timestamp()), o["_n"]),
    "PROCESSED_AT": lambda o: (o["processedAt"], o["_n"]),
}
_ORDER_FIELDS = {"updated_at": "_updated", "created_at": "_created", "processed_at": "processedAt",
                 "email": "email", "name": "name"}


def _filter(records, s: search.Search, getters: dict):
    if not s.terms:
        return records
    out = []
    for r in records:
        if s.accepts(lambda name, r=r: getters[name](r)):
            out.append(r)
    return out


@query.field("orders")
def resolve_orders(_, info, **args):
    sort = args.get("sortKey") or "PROCESSED_AT"
    if sort not in _ORDER_SORT:
        raise GraphQLError(f"The sandbox does not support sortKey {sort} for orders (supported: {', '.join(_ORDER_SORT)}).")
    s = _search(info, args, ORDER_SEARCH_FIELDS, ORDER_DATE_FIELDS)
    getters = ORDER_GETTERS
    bulk = _bulk(info)
    if bulk is not None and "records" in bulk:  # the bulk runner renders seeded history orders (history.py)
        records = bulk["records"]
        return {"edges": [{"cursor": "", "node": r} for r in records], "nodes": records,
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}
    records = _filter(list(_store(info).orders.values()), s, getters)
    return _connection(info, records, args, _ORDER_SORT[sort], presorted=sort == "ID", root=True)


ORDER_SEARCH_FIELDS, ORDER_DATE_FIELDS = set(_ORDER_FIELDS), {"updated_at", "created_at", "processed_at"}
ORDER_GETTERS = {
    "updated_at": lambda o: o["_updated"], "created_at": lambda o: o["_created"],
    "processed_at": lambda o: search.parse_datetime(o["processedAt"]),
    "email": lambda o: o["email"], "name": lambda o: o["name"],
}


def _simple_root(table_attr, fields: dict, root=True):
    def resolve(_, info, **args):
        s = _search(info, args, set(fields), set())
        records = _filter(list(getattr(_store(info), table_attr).values()), s, fields)
        sort = args.get("sortKey")
        if sort not in (None, "ID"):
            raise GraphQLError(f"The sandbox supports only sortKey ID here, not {sort}.")
        return _connection(info, records, args, _by_id(), presorted=True, root=root)
    return resolve


# The stored stamps (parsed once): a corrupt served updatedAt (fault injection) does not move a customer.
_CUSTOMER_SORT = {
    "ID": lambda c: (c["_n"], c["_n"]),
    "UPDATED_AT": lambda c: (int(c["_updated"].timestamp()), c["_n"]),
    "CREATED_AT": lambda c: (int(c["_created"].timestamp()), c["_n"]),
}


@query.field("customers")
def resolve_customers(_, info, **args):
    sort = args.get("sortKey") or "ID"
    if sort not in _CUSTOMER_SORT:
        raise GraphQLError(f"The sandbox does not support sortKey {sort} for customers "
                           f"(supported: {', '.join(_CUSTOMER_SORT)}).")
    getters = {"email": lambda c: c["email"], "id": lambda c: c["_n"],
               "updated_at": lambda c: c["_updated"], "created_at": lambda c: c["_created"]}
    s = _search(info, args, set(getters), {"updated_at", "created_at"})
    records = _filter(list(_store(info).customers.values()), s, getters)
    return _connection(info, records, args, _CUSTOMER_SORT[sort], presorted=sort == "ID", root=True)


query.set_field("products", _simple_root("products", {"title": lambda p: p["title"], "handle": lambda p: p["handle"]}))
query.set_field("productVariants", _simple_root("variants", {"sku": lambda v: v["sku"], "product_id": lambda v: v["_product"]}))
query.set_field("inventoryItems", _simple_root("items", {"sku": lambda i: i["sku"]}))
query.set_field("locations", _simple_root("locations", {"name": lambda l: l["name"]}))


@query.field("fulfillmentOrders")
def resolve_fulfillment_orders(_, info, **args):
    fields = {"status": lambda f: f["status"], "updated_at": lambda f: search.parse_datetime(f["updatedAt"])}
    s = _search(info, args, set(fields), {"updated_at"})
    records = [f for f in _store(info).fulfillment_orders.values()
               if args.get("includeClosed") or f["status"] not in ("CLOSED", "CANCELLED")]
    return _connection(info, _filter(records, s, fields), args, _by_id(), presorted=True, root=True)


def _get(kind: str):
    def resolve(_, info, id):
        return _store(info).node(id) if parse_gid(id, kind) is not None else None
    return resolve


for _field, _kind in (("order", "Order"), ("customer", "Customer"), ("product", "Product"),
                      ("productVariant", "ProductVariant"), ("location", "Location"),
                      ("inventoryItem", "InventoryItem"), ("fulfillmentOrder", "FulfillmentOrder"),
                      ("bulkOperation", "BulkOperation")):
    query.set_field(_field, _get(_kind))


@query.field("node")
def resolve_node(_, info, id):
    return _store(info).node(id)


@query.field("nodes")
def resolve_nodes(_, info, ids):
    if len(ids) > 250:
        raise GraphQLError("The maximum number of ids is 250.")
    return [_store(info).node(i) for i in ids]


@query.field("shopifyPaymentsAccount")
def resolve_payments_account(_, info):
    store = _store(info)
    return {"__typename": "ShopifyPaymentsAccount", "id": gid("ShopifyPaymentsAccount", 1), "activated": True,
            "defaultCurrency": store.currency, "country": "US"}


def _payments_list(records, fields, date_fields):
    def resolve(_account, info, **args):
        s = _search(info, args, set(fields), date_fields)
        if args.get("sortKey") not in (None, "ID", "PROCESSED_AT", "ISSUED_AT"):
            raise GraphQLError(f"The sandbox does not support sortKey {args['sortKey']} here.")
        return _connection(info, _filter(records(_store(info)), s, fields), args, _by_id(), presorted=True)
    return resolve


payments_account_t.set_field("balanceTransactions", _payments_list(
    payouts.balance_transactions, payouts.BALANCE_FIELDS, {"processed_at"}))
payments_account_t.set_field("payouts", _payments_list(payouts.payouts, payouts.PAYOUT_FIELDS, {"issued_at"}))


@query.field("currentBulkOperation")
def resolve_current_bulk(_, info, type="QUERY"):
    ops = [o for o in _store(info).bulk_operations.values() if o["type"] == type]
    return ops[-1] if ops else None


# ---- nested fields ---------------------------------------------------------------------------------
@order_t.field("lineItems")
def resolve_line_items(order, info, **args):
    return _connection(info, order["_lines"], args, _by_id(), presorted=True)


@order_t.field("discountApplications")
def resolve_discount_applications(order, info, **args):
    # applications have no id; their index is their stable position within the order
    return _connection(info, order.get("_discount_applications", []), args, _by_id("index"), presorted=True)


@order_t.field("shippingLines")
def resolve_shipping_lines(order, info, **args):
    return _connection(info, order["_shipping"], args, _by_id(), presorted=True)


@order_t.field("fulfillmentOrders")
def resolve_order_fos(order, info, **args):
    store = _store(info)
    return _connection(info, [store.fulfillment_orders[n] for n in order["_fulfillment_orders"]], args, _by_id(), presorted=True)


@order_t.field("fulfillments")
def resolve_order_fulfillments(order, info, first=None):
    store = _store(info)
    out = [store.fulfillments[n] for n in order["_fulfillments"]]
    return out[:first] if first is not None else out


@order_t.field("transactions")
def resolve_transactions(order, info, first=None):
    return order["transactions"][:first] if first is not None else order["transactions"]


@line_t.field("taxLines")
def resolve_line_tax(line, info, first=None):
    return line["taxLines"][:first] if first is not None else line["taxLines"]


@fo_t.field("lineItems")
def resolve_fo_lines(fo, info, **args):
    return _connection(info, fo["_lines"], args, _by_id(), presorted=True)


@fo_t.field("order")
def resolve_fo_order(fo, info):
    return _store(info).orders[fo["_order"]]


@fulfillment_t.field("order")
def resolve_fulfillment_order(f, info):
    return _store(info).orders[f["_order"]]


@fulfillment_t.field("trackingInfo")
def resolve_tracking(f, info, first=None):
    return f["trackingInfo"][:first] if first is not None else f["trackingInfo"]


@product_t.field("variants")
def resolve_product_variants(product, info, **args):
    store = _store(info)
    return _connection(info, [store.variants[n] for n in product["_variants"]], args,
                       lambda v: (v["position"], v["_n"]))


@variant_t.field("product")
def resolve_variant_product(variant, info):
    return _store(info).products.get(variant["_product"])


@variant_t.field("inventoryItem")
def resolve_variant_item(variant, info):
    return _store(info).items.get(variant["_item"])


@item_t.field("variant")
def resolve_item_variant(item, info):
    return _store(info).variants.get(item["_variant"])


@item_t.field("inventoryLevels")
def resolve_item_levels(item, info, **args):
    store = _store(info)
    levels = [store.level_node(store.levels[(item["_n"], lid)]) for lid in store.levels_by_item.get(item["_n"], [])]
    return _connection(info, levels, args, lambda lv: (lv["_level"].location_id, lv["_level"].location_id))


@item_t.field("inventoryLevel")
def resolve_item_level(item, info, locationId):
    store = _store(info)
    lv = store.levels.get((item["_n"], parse_gid(locationId, "Location")))
    return store.level_node(lv) if lv else None


@loc_t.field("inventoryLevels")
def resolve_location_levels(loc, info, **args):
    store = _store(info)
    levels = [store.level_node(lv) for (item, lid), lv in store.levels.items() if lid == loc["_n"]]
    return _connection(info, levels, args, lambda lv: (lv["_level"].item_id, lv["_level"].item_id))


@level_t.field("quantities")
def resolve_quantities(level, info, names):
    store, lv = _store(info), level["_level"]
    return [{"id": f"gid://shopify/InventoryQuantity/{lv.location_id}?inventory_item_id={lv.item_id}&name={n}",
             "name": n, "quantity": store.quantity(lv, n), "updatedAt": lv.updated_at} for n in names]


# ---- mutations -------------------------------------------------------------------------------------
def _run(info, fn, ok_key, *, errors_key="userErrors"):
    """Apply ``fn`` and shape its result or UserError into the payload; queue events for webhooks."""
    try:
        result, events = fn()
    except UserError as e:
        return {ok_key: None, errors_key: [e.as_dict()]}
    info.context["events"].extend(events)
    info.context["writes"] += 1
    # Per mutation, so a test can tell "productSet ran for exactly these products" from other writes.
    info.context["backend"].counters.incr(f"shopify.mutation.{info.field_name}")
    return {ok_key: result, errors_key: []}


@mutation.field("orderCreate")
def resolve_order_create(_, info, order, options=None):
    return _run(info, lambda: orders.create_order(_store(info), order, options), "order")


@mutation.field("orderUpdate")
def resolve_order_update(_, info, input):
    return _run(info, lambda: orders.update_order(_store(info), input), "order")


@mutation.field("orderCancel")
def resolve_order_cancel(_, info, orderId, reason, restock, **_ignored):
    return _run(info, lambda: orders.cancel_order(_store(info), orderId, reason, restock), "job",
                errors_key="orderCancelUserErrors")


@mutation.field("fulfillmentCreate")
def resolve_fulfillment_create(_, info, fulfillment, message=None):
    return _run(info, lambda: orders.create_fulfillment(_store(info), fulfillment), "fulfillment")


@mutation.field("fulfillmentTrackingInfoUpdate")
def resolve_fulfillment_tracking_update(_, info, fulfillmentId, trackingInfoInput, notifyCustomer=None):
    return _run(info, lambda: orders.update_tracking(_store(info), fulfillmentId, trackingInfoInput), "fulfillment")


@mutation.field("inventorySetQuantities")
def resolve_set_quantities(_, info, input):
    directive = info.schema.get_directive("idempotent")
    key = (get_directive_values(directive, info.field_nodes[0], info.variable_values) or {}).get("key")
    if key is None or not str(key).strip():
        # 2026-04+: the key is mandatory at runtime for this mutation although the schema cannot say so
        raise GraphQLError("The @idempotent directive with a non-empty key is required for inventorySetQuantities.",
                           extensions={"code": "BAD_REQUEST"})
    store = _store(info)
    return _run(info, lambda: inventory.idempotent(store, "inventorySetQuantities", key, input,
                                                   lambda: inventory.set_quantities(store, input)),
                "inventoryAdjustmentGroup")


@mutation.field("productSet")
def resolve_product_set(_, info, input, synchronous=True, identifier=None):
    if not synchronous:
        raise GraphQLError("The sandbox runs productSet synchronously only; pass synchronous: true.")
    return _run(info, lambda: (inventory.product_set(_store(info), input, identifier), []), "product")


@mutation.field("bulkOperationRunQuery")
def resolve_bulk_run(_, info, query, groupObjects=False):
    return _run(info, lambda: (info.context["backend"].bulk.start(query, info.context["base_url"]), []), "bulkOperation")


@query.field("shop")
def resolve_shop(_, info):
    store = _store(info)
    zone = ZoneInfo(store.timezone)
    offset = int(datetime.now(zone).utcoffset().total_seconds() // 60)
    return {"id": "gid://shopify/Shop/1", "name": "Sandbox Shop", "ianaTimezone": store.timezone,
            "timezoneAbbreviation": datetime.now(zone).tzname(), "timezoneOffsetMinutes": offset,
            "currencyCode": store.currency}


@query.field("currentAppInstallation")
def resolve_app_installation(_, info):
    scopes = info.context["backend"].access_scopes
    return {"id": "gid://shopify/AppInstallation/1", "accessScopes": [{"handle": h, "description": h} for h in scopes]}


# ---- webhook subscriptions: the sandbox's dispatcher delivers to what is registered here ------------
def _rest_topic(enum: str) -> str:
    """``ORDERS_CREATE`` → ``orders/create``; ``INVENTORY_LEVELS_UPDATE`` → ``inventory_levels/update``."""
    resource, _, action = enum.rpartition("_")
    return f"{resource.lower()}/{action.lower()}"


def _webhook_node(sub, n: int, topic: str | None = None) -> dict:
    topic = topic or (sub.topics[0] if sub.topics else None)
    # Shopify keeps one topic per subscription; the sandbox's control API registers several at once, shown
    # here as one node per topic (ids suffixed, so the Admin API cannot update them).
    sub_id = sub.id if len(sub.topics) <= 1 else f"{sub.id}-{topic.replace('/', '-')}"
    return {"__typename": "WebhookSubscription", "id": sub_id, "_n": n, "uri": sub.address, "format": "JSON",
            "topic": topic.replace("/", "_").upper() if topic else None, "filter": None,
            "includeFields": [], "createdAt": sub.created_at, "updatedAt": sub.updated_at}  # fmt: skip


def _webhooks(info):
    return info.context["backend"].webhooks


@query.field("webhookSubscriptions")
def resolve_webhook_subscriptions(_, info, topics=None, uri=None, **args):
    wanted = {_rest_topic(t) for t in topics or ()}
    pairs = [(sub, topic) for sub in _webhooks(info).subscriptions() for topic in sub.topics]
    nodes = [_webhook_node(sub, n, topic) for n, (sub, topic) in enumerate(pairs, start=1)
             if (not wanted or topic in wanted) and uri in (None, sub.address)]
    return _connection(info, nodes, args, _by_id(), presorted=True)


def _checked_uri(webhook_subscription: dict) -> str:
    # Shopify's wording (userErrors on field ["webhookSubscription", "callbackUrl"]). Plain http is allowed to
    # loopback only: the sandbox delivers to a receiver on this machine, Shopify to HTTPS endpoints only.
    uri = (webhook_subscription or {}).get("uri") or ""
    parts = urlsplit(uri)
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise UserError(["webhookSubscription", "callbackUrl"], "Address protocol http:// is not supported")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(["webhookSubscription", "callbackUrl"], "Address is invalid")
    return uri


@mutation.field("webhookSubscriptionCreate")
def resolve_webhook_create(_, info, topic, webhookSubscription):
    def create():
        uri, rest_topic = _checked_uri(webhookSubscription), _rest_topic(topic)
        registry = _webhooks(info)
        if any(s.topics == (rest_topic,) and s.address == uri for s in registry.subscriptions()):
            raise UserError(["webhookSubscription", "callbackUrl"], "Address for this topic has already been taken")
        sub = registry.subscribe(uri, [rest_topic])
        return _webhook_node(sub, len(registry.subscriptions())), []
    return _run(info, create, "webhookSubscription")


@mutation.field("webhookSubscriptionUpdate")
def resolve_webhook_update(_, info, id, webhookSubscription):
    def update():
        registry = _webhooks(info)
        sub = registry.update_address(id, _checked_uri(webhookSubscription))
        if sub is None:
            raise UserError(["id"], "Webhook subscription does not exist")
        return _webhook_node(sub, 0), []
    return _run(info, update, "webhookSubscription")


def build_schema() -> GraphQLSchema:
    schema = make_executable_schema(
        SCHEMA_PATH.read_text(encoding="utf-8"), query, mutation, node_iface, discount_app_iface, order_t, line_t, item_t, level_t,
        loc_t, product_t, variant_t, fo_t, fulfillment_t, customer_t, payments_account_t,
    )
    # ariadne 1.1.1 replaces each enum's parse_value with a one-argument function, but graphql-core
    # 3.2.14 passes two when coercing variables ("takes 1 positional argument but 2 were given").
    # Our enums map every name to itself, so graphql-core's own method is correct: restore it.
    for t in schema.type_map.values():
        if isinstance(t, GraphQLEnumType):
            t.__dict__.pop("parse_value", None)
    return schema
