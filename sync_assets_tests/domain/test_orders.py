from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_assets.domain.errors import MappingError
from sync_assets.domain.orders import FIELD_LIMITS, map_order_to_sales_order
from sync_assets_tests.domain.factories import context, line, money, order


def _total(body: dict) -> Decimal:
    lines = sum(Decimal(str(l["amount"])) for l in body["item"]["items"] if not l.get("isClosed"))
    return lines + Decimal(str(body["shippingCost"]))


def test_maps_a_paid_order_to_a_sales_order_body():
    draft = map_order_to_sales_order(order(), context())
    body = draft.body
    assert draft.external_id == body["externalId"] == "shopify-order-5890295201886"
    assert body["entity"] == {"id": "107"}
    assert body["tranDate"] == "2025-09-20"
    assert body["currency"] == {"id": "1"}
    assert body["location"] == {"id": "1"}
    assert body["otherRefNum"] == "#1001"
    assert body["shippingCost"] == 5.0
    assert body["shipMethod"] == {"id": "900"}
    assert body["email"] == "Jane@Example.com"
    assert body["shippingAddress"]["country"] == {"id": "US"}
    items = body["item"]["items"]
    assert items[0] == {"item": {"id": "55"}, "quantity": 2, "rate": 30.0, "amount": 60.0, "description": "Product SKU-1"}
    assert items[-1]["item"] == {"id": "800"} and items[-1]["amount"] == 8.0  # tax line
    assert _total(body) == Decimal("108.00")
    assert len(draft.payload_hash) == 64 and not draft.is_cancellation


def test_discounts_go_to_the_discount_item_and_totals_still_match():
    o = order(
        lineItems={"nodes": [line("SKU-1", 2, "30.00", "25.00"), line("SKU-2", 1, "35.00")]},
        totalDiscountsSet=money("15.00"),  # 10 on the line + 5 order-level
        totalTaxSet=money("0.00"), taxLines=[],
    )
    body = map_order_to_sales_order(o, context()).body
    discount = [l for l in body["item"]["items"] if l["item"]["id"] == "700"]
    assert discount == [{"item": {"id": "700"}, "quantity": 1, "rate": -15.0, "amount": -15.0, "description": "Shopify discounts"}]
    assert _total(body) == Decimal("60") + Decimal("35") - Decimal("15") + Decimal("5")


def test_without_discount_item_line_discounts_fold_into_rates_and_order_discount_is_refused():
    o = order(lineItems={"nodes": [line("SKU-1", 2, "30.00", "25.00")]}, totalDiscountsSet=money("10.00"))
    body = map_order_to_sales_order(o, context(discount_item_id=None)).body
    assert body["item"]["items"][0]["rate"] == 25.0 and body["item"]["items"][0]["amount"] == 50.0
    o["totalDiscountsSet"] = money("12.00")
    with pytest.raises(MappingError, match="order-level discount 2.00 USD") as err:
        map_order_to_sales_order(o, context(discount_item_id=None))
    assert err.value.field_path == "totalDiscountsSet"


def test_unknown_sku_names_the_sku_and_the_line():
    o = order(lineItems={"nodes": [line("SKU-1", 1, "1.00"), line("NOPE-9", 1, "1.00")]})
    with pytest.raises(MappingError) as err:
        map_order_to_sales_order(o, context())
    assert "NOPE-9" in err.value.reason and "line 2" in err.value.reason
    assert err.value.field_path == "lineItems.nodes[1].sku"


def test_sku_whitespace_and_unambiguous_case_drift_are_tolerated():
    o = order(lineItems={"nodes": [line(" sku-1 ", 1, "1.00")]})
    assert map_order_to_sales_order(o, context()).body["item"]["items"][0]["item"] == {"id": "55"}
    ambiguous = context(sku_to_item={"Sku-1": "1", "SKU-1 ": "2"})
    with pytest.raises(MappingError, match="unknown SKU"):
        map_order_to_sales_order(order(lineItems={"nodes": [line("sku-1", 1, "1.00")]}), ambiguous)


@pytest.mark.parametrize("qty", [0, -1, 1.5, "2", None, True])
def test_bad_quantities_are_refused(qty):
    o = order(lineItems={"nodes": [line("SKU-1", 1, "1.00")]})
    o["lineItems"]["nodes"][0]["quantity"] = qty
    with pytest.raises(MappingError) as err:
        map_order_to_sales_order(o, context())
    assert err.value.field_path == "lineItems.nodes[0].quantity"


@pytest.mark.parametrize("amount", ["abc", "1,00", "", None, 1.5, "1e3", "-1.00"])
def test_malformed_money_is_refused_with_its_path(amount):
    o = order()
    o["lineItems"]["nodes"][1]["originalUnitPriceSet"]["shopMoney"]["amount"] = amount
    with pytest.raises(MappingError) as err:
        map_order_to_sales_order(o, context())
    assert err.value.field_path == "lineItems.nodes[1].originalUnitPriceSet.shopMoney.amount"


def test_unsupported_currency_and_mismatched_money_currency():
    with pytest.raises(MappingError, match="currency GBP is not supported") as err:
        map_order_to_sales_order(order(currencyCode="GBP"), context())
    assert err.value.field_path == "currencyCode"
    o = order()
    o["shippingLines"]["nodes"][0]["originalPriceSet"] = money("5.00", "EUR")
    with pytest.raises(MappingError, match="in EUR but the order is in USD"):
        map_order_to_sales_order(o, context())


def test_missing_customer_and_email():
    with pytest.raises(MappingError, match="no NetSuite customer was resolved for Jane@Example.com"):
        map_order_to_sales_order(order(), context(customer_id=None))
    with pytest.raises(MappingError, match="no customer and no email") as err:
        map_order_to_sales_order(order(email=None, customer=None), context(customer_id=None))
    assert err.value.field_path == "customer"


def test_malformed_order_id():
    with pytest.raises(MappingError, match="malformed Shopify id"):
        map_order_to_sales_order(order(id="gid://shopify/Order/abc"), context())
    with pytest.raises(MappingError, match="expected a Order id"):
        map_order_to_sales_order(order(id="gid://shopify/Customer/1"), context())


def test_huge_fields_are_truncated_with_a_note_and_non_ascii_is_kept():
    name = "Ünïcødé ☃ " * 200
    o = order(name="#" + "9" * 100, lineItems={"nodes": [line("SKU-1", 1, "1.00", name=name)]})
    draft = map_order_to_sales_order(o, context())
    assert len(draft.body["otherRefNum"]) == FIELD_LIMITS["otherRefNum"]
    description = draft.body["item"]["items"][0]["description"]
    assert len(description) == FIELD_LIMITS["description"] and description.startswith("Ünïcødé ☃")
    assert any("otherRefNum truncated" in n for n in draft.notes)
    assert any("line 1 description truncated" in n for n in draft.notes)


def test_cancelled_order_closes_every_line_and_changes_the_hash():
    active = map_order_to_sales_order(order(), context())
    cancelled = map_order_to_sales_order(order(cancelledAt="2025-09-25T00:00:00Z"), context())
    assert cancelled.is_cancellation and cancelled.external_id == active.external_id
    assert all(l["isClosed"] is True for l in cancelled.body["item"]["items"])
    assert cancelled.payload_hash != active.payload_hash


def test_edited_order_keeps_external_id_gets_new_hash_and_drops_removed_lines():
    before = map_order_to_sales_order(order(), context())
    edited = order(updatedAt="2025-09-26T00:00:00Z")
    edited["lineItems"]["nodes"][0]["currentQuantity"] = 1
    edited["lineItems"]["nodes"][1]["currentQuantity"] = 0
    after = map_order_to_sales_order(edited, context())
    assert after.external_id == before.external_id and after.payload_hash != before.payload_hash
    items = [l for l in after.body["item"]["items"] if l["item"]["id"] in ("55", "56")]
    assert items == [{"item": {"id": "55"}, "quantity": 1, "rate": 30.0, "amount": 30.0, "description": "Product SKU-1"}]
    assert any("removed by an order edit" in n for n in after.notes)


def test_same_order_same_hash_and_unchanged_updated_at_only_does_not_matter():
    assert map_order_to_sales_order(order(), context()).payload_hash == map_order_to_sales_order(
        order(updatedAt="2030-01-01T00:00:00Z"), context()).payload_hash


def test_tran_date_follows_the_configured_timezone():
    o = order(createdAt="2025-09-21T02:00:00Z")
    assert map_order_to_sales_order(o, context()).body["tranDate"] == "2025-09-21"
    assert map_order_to_sales_order(o, context(tran_date_timezone="America/Chicago")).body["tranDate"] == "2025-09-20"


def test_retail_location_is_mapped():
    o = order(retailLocation={"id": "gid://shopify/Location/9", "name": "Store"})
    ctx = context(location_map={"gid://shopify/Location/9": "3"})
    assert map_order_to_sales_order(o, ctx).body["location"] == {"id": "3"}


# --- property tests ---------------------------------------------------------------------------------

prices = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("9999.99"), places=2)
lines_strategy = st.lists(
    st.tuples(st.sampled_from(["SKU-1", "SKU-2", "SKU-3"]), st.integers(1, 50), prices, prices),
    min_size=1, max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(lines=lines_strategy, shipping=prices, tax=prices, extra_discount=prices)
def test_sales_order_total_equals_shopify_total(lines, shipping, tax, extra_discount):
    nodes, subtotal, line_discount = [], Decimal(0), Decimal(0)
    for sku, qty, a, b in lines:
        original, discounted = max(a, b), min(a, b)
        nodes.append(line(sku, qty, str(original), str(discounted)))
        subtotal += original * qty
        line_discount += (original - discounted) * qty
    total_discount = line_discount + extra_discount
    o = order(
        lineItems={"nodes": nodes},
        shippingLines={"nodes": [{"title": "Standard", "originalPriceSet": money(str(shipping))}]},
        totalTaxSet=money(str(tax)),
        totalDiscountsSet=money(str(total_discount)),
    )
    snapshot = copy.deepcopy(o)
    draft = map_order_to_sales_order(o, context())
    assert o == snapshot  # the input is never mutated
    assert _total(draft.body) == subtotal - total_discount + shipping + tax
    assert draft == map_order_to_sales_order(o, context())  # deterministic


@settings(max_examples=60, deadline=None)
@given(good=lines_strategy, bad_index=st.integers(0, 3))
def test_one_bad_order_never_affects_another(good, bad_index):
    ctx = context()
    good_order = order(lineItems={"nodes": [line(s, q, str(p), str(p)) for s, q, p, _ in good]}, totalDiscountsSet=None)
    bad_order = order(id="gid://shopify/Order/2", lineItems={"nodes": [line("UNKNOWN", 1, "1.00")]})
    alone = map_order_to_sales_order(good_order, ctx)
    results = []
    for candidate in ([bad_order] * bad_index) + [good_order] + [bad_order]:
        try:
            results.append(map_order_to_sales_order(candidate, ctx))
        except MappingError:
            results.append(None)
    assert results[bad_index] == alone
    assert results.count(None) == bad_index + 1


@settings(max_examples=100, deadline=None)
@given(text=st.text(min_size=0, max_size=3000))
def test_any_text_in_names_maps_or_truncates_never_crashes(text):
    o = order(name=text or None, lineItems={"nodes": [line("SKU-1", 1, "1.00", name=text)]})
    draft = map_order_to_sales_order(o, context())
    assert len(draft.body["otherRefNum"]) <= FIELD_LIMITS["otherRefNum"]
    assert len(draft.body["item"]["items"][0]["description"]) <= FIELD_LIMITS["description"]
