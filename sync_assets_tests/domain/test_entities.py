"""customers, payments, inventory, fulfillments."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_assets.domain.customers import customer_body_from_order, customer_match_key, match_existing_customer
from sync_assets.domain.errors import MappingError
from sync_assets.domain.fulfillments import FulfillmentContext, is_shipped, map_fulfillment
from sync_assets.domain.inventory import (
    NetSuiteLevel, SafetyStock, available_to_sell, compute_available, diff_against_storefront,
)
from sync_assets.domain.payments import DepositNotInNetSuite, PaymentContext, deposits_for_order, refunds_for_order
from sync_assets_tests.domain.factories import money, order


def test_customer_match_key_prefers_external_id_then_email():
    key = customer_match_key(order())
    assert key.external_id == "shopify-customer-42" and key.email == "jane@example.com"
    guest = customer_match_key(order(customer=None, email=" Guest@Example.COM "))
    assert guest.external_id.startswith("shopify-guest-") and guest.email == "guest@example.com"
    assert guest == customer_match_key(order(customer=None, email="guest@example.com"))
    with pytest.raises(MappingError, match="no customer and no email"):
        customer_match_key(order(customer=None, email=None))


def test_match_existing_customer():
    key = customer_match_key(order())
    rows = [{"id": "9", "email": "JANE@example.com"}, {"id": "3", "email": "jane@example.com"}]
    assert match_existing_customer(key, rows) == "3"
    assert match_existing_customer(key, rows + [{"id": "20", "externalId": "shopify-customer-42"}]) == "20"
    assert match_existing_customer(key, [{"id": "1", "email": "x@y.z"}]) is None


def test_customer_body():
    draft = customer_body_from_order(order(), subsidiary_id="1")
    assert draft.body == {"externalId": "shopify-customer-42", "isPerson": True, "firstName": "Jane", "lastName": "Doe",
                          "email": "jane@example.com", "subsidiary": {"id": "1"}}
    nameless = customer_body_from_order(order(customer=None, shippingAddress=None, email="solo@x.io"))
    assert nameless.body["lastName"] == "solo"


def test_deposit_per_successful_sale_or_capture():
    o = order(transactions=[
        {"id": "gid://shopify/OrderTransaction/1", "kind": "AUTHORIZATION", "status": "SUCCESS", "amountSet": money("9.00")},
        {"id": "gid://shopify/OrderTransaction/2", "kind": "CAPTURE", "status": "SUCCESS", "gateway": "stripe",
         "processedAt": "2025-09-21T10:00:00Z", "amountSet": money("9.00")},
        {"id": "gid://shopify/OrderTransaction/3", "kind": "SALE", "status": "FAILURE", "amountSet": money("9.00")},
    ])
    [deposit] = deposits_for_order(o, PaymentContext(customer_id="107", currency_ids={"USD": "1"}, sales_order_id="9318"))
    assert deposit.external_id == "shopify-payment-2"
    assert deposit.body == {"externalId": "shopify-payment-2", "customer": {"id": "107"}, "payment": 9.0,
                            "currency": {"id": "1"}, "tranDate": "2025-09-21", "memo": "Shopify #1001 via stripe",
                            "salesOrder": {"id": "9318"}, "undepFunds": True}
    no_id = order(transactions=[{"kind": "SALE", "status": "SUCCESS", "amountSet": money("1.00")}])
    assert deposits_for_order(no_id, PaymentContext("107", {"USD": "1"}))[0].external_id == "shopify-payment-5890295201886"
    with pytest.raises(MappingError, match="malformed money"):
        deposits_for_order(order(transactions=[{"id": "7", "kind": "SALE", "status": "SUCCESS", "amountSet": money("x")}]),
                           PaymentContext("107", {"USD": "1"}))


def _txn(n: int, kind: str, amount: str, parent: int | None = None, currency: str = "USD", **extra) -> dict:
    return {"id": f"gid://shopify/OrderTransaction/{n}", "kind": kind, "status": "SUCCESS", "gateway": "stripe",
            "processedAt": "2025-09-22T10:00:00Z", "amountSet": money(amount, currency),
            "parentTransaction": {"id": f"gid://shopify/OrderTransaction/{parent}"} if parent else None, **extra}


_DEPOSITS = {"shopify-payment-1": "501", "shopify-payment-2": "502"}


def test_refund_against_the_parent_deposit_then_any_deposit_with_enough_left():
    o = order(transactions=[_txn(1, "SALE", "10.00"), _txn(2, "SALE", "20.00"), _txn(3, "REFUND", "4.00", parent=2),
                            _txn(4, "REFUND", "8.00"), {**_txn(5, "REFUND", "1.00"), "status": "FAILURE"}])
    drafts, rejected = refunds_for_order(o, PaymentContext("107", {"USD": "1"}), _DEPOSITS)
    assert rejected == []
    first, second = drafts
    assert first.external_id == "shopify-refund-3" and first.deposit_external_id == "shopify-payment-2"
    assert first.body == {"externalId": "shopify-refund-3", "customer": {"id": "107"}, "currency": {"id": "1"},
                          "tranDate": "2025-09-22", "memo": "Shopify #1001 refund via stripe",
                          "deposit": {"items": [{"doc": {"id": "502"}, "apply": True, "amount": 4.0}]}}
    assert second.deposit_external_id == "shopify-payment-1"  # no parent: the first deposit with 8.00 left


def test_bad_refunds_are_rejected_alone_with_the_field_named():
    o = order(transactions=[_txn(1, "SALE", "10.00"), _txn(2, "SALE", "20.00"), _txn(3, "REFUND", "6.00", parent=1),
                            _txn(4, "REFUND", "5.00", parent=1), _txn(5, "REFUND", "x"),
                            _txn(6, "REFUND", "1.00", currency="JPY"), _txn(7, "REFUND", "25.00"),
                            _txn(8, "REFUND", "4.00", parent=1)])
    drafts, rejected = refunds_for_order(o, PaymentContext("107", {"USD": "1"}), _DEPOSITS)
    assert [d.external_id for d in drafts] == ["shopify-refund-3", "shopify-refund-8"]  # 6 + 4 = the whole 10.00
    reasons = {r.source_id.rsplit("/", 1)[-1]: (r.error.field_path, r.error.reason) for r in rejected}
    assert reasons["4"] == ("transactions[3].amountSet.shopMoney.amount",
                            "refund of 5.00 USD is more than the 4.00 left on deposit shopify-payment-1")
    assert reasons["5"][0] == "transactions[4].amountSet.shopMoney.amount" and "malformed money" in reasons["5"][1]
    assert reasons["6"] == ("transactions[5].amountSet.shopMoney.currencyCode", "currency JPY is not supported")
    assert reasons["7"][1] == "refund of 25.00 USD is more than the 24.00 left on the order's deposits"


def test_a_refund_whose_deposit_has_no_netsuite_id_waits():
    o = order(transactions=[_txn(1, "SALE", "10.00"), _txn(3, "REFUND", "6.00", parent=1)])
    with pytest.raises(DepositNotInNetSuite, match="shopify-refund-3 waits for deposit shopify-payment-1"):
        refunds_for_order(o, PaymentContext("107", {"USD": "1"}), {})
    unpaid = order(transactions=[_txn(3, "REFUND", "6.00")])
    _, [rejected] = refunds_for_order(unpaid, PaymentContext("107", {"USD": "1"}), {})
    assert rejected.error.reason == "refund of 6.00 USD is more than the 0.00 left on the order's deposits"


def test_available_to_sell_never_negative():
    assert available_to_sell(10, 3, 2) == 5
    assert available_to_sell(1, 3, 2) == 0
    assert available_to_sell(-4, 0, 0) == 0
    with pytest.raises(ValueError):
        available_to_sell(5, -1, 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(-1000, 10**6), st.integers(0, 10**6), st.integers(0, 1000))
def test_available_to_sell_properties(ns, unsynced, safety):
    result = available_to_sell(ns, unsynced, safety)
    assert result >= 0 and result <= max(ns, 0)
    assert available_to_sell(ns + 1, unsynced, safety) >= result


def test_compute_available_maps_locations_and_applies_buffers():
    levels = [NetSuiteLevel("A", "1", 10), NetSuiteLevel("A", "2", 4), {"sku": "B", "location_id": "1", "available": 3},
              NetSuiteLevel("A", "99", 1000)]  # unmapped NetSuite location: ignored
    loc_map = {"gid://shopify/Location/1": "1", "gid://shopify/Location/2": "2"}
    result = compute_available(levels, loc_map, {("A", "gid://shopify/Location/1"): 3}, SafetyStock(1, {"B": 5}))
    assert result == {("A", "gid://shopify/Location/1"): 6, ("A", "gid://shopify/Location/2"): 3,
                      ("B", "gid://shopify/Location/1"): 0, ("B", "gid://shopify/Location/2"): 0}
    with pytest.raises(ValueError, match="duplicate"):
        compute_available([NetSuiteLevel("A", "1", 1)] * 2, loc_map, {}, SafetyStock())


def test_diff_only_changes_with_compare_from_current():
    computed = {("A", "L1"): 5, ("A", "L2"): 3, ("B", "L1"): 0}
    current = {("A", "L1"): 5, ("A", "L2"): 7}
    changes = diff_against_storefront(computed, current)
    assert [(c.sku, c.location_id, c.quantity, c.change_from_quantity) for c in changes] == [
        ("A", "L2", 3, 7), ("B", "L1", 0, None)]


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from("ABC"), st.sampled_from(["L1", "L2"])), st.integers(0, 50)),
       st.dictionaries(st.tuples(st.sampled_from("ABC"), st.sampled_from(["L1", "L2"])), st.integers(0, 50)))
def test_applying_the_diff_makes_the_storefront_equal(computed, current):
    after = dict(current)
    for change in diff_against_storefront(computed, current):
        assert current.get((change.sku, change.location_id)) == change.change_from_quantity
        after[(change.sku, change.location_id)] = change.quantity
    assert all(after[k] == v for k, v in computed.items())
    assert diff_against_storefront(computed, after) == []


FO = [
    {"id": "gid://shopify/FulfillmentOrder/1", "status": "CLOSED", "lineItems": {"nodes": [
        {"id": "gid://shopify/FulfillmentOrderLineItem/10", "remainingQuantity": 5, "sku": "SKU-1"}]}},
    {"id": "gid://shopify/FulfillmentOrder/2", "status": "OPEN", "lineItems": {"nodes": [
        {"id": "gid://shopify/FulfillmentOrderLineItem/20", "remainingQuantity": 1, "sku": "SKU-1"},
        {"id": "gid://shopify/FulfillmentOrderLineItem/21", "remainingQuantity": 2, "sku": "SKU-2"}]}},
    {"id": "gid://shopify/FulfillmentOrder/3", "status": "IN_PROGRESS", "lineItems": {"nodes": [
        {"id": "gid://shopify/FulfillmentOrderLineItem/30", "remainingQuantity": 4, "sku": "SKU-1"}]}},
]
NS_FULFILLMENT = {
    "id": "77", "shipStatus": {"id": "C", "refName": "Shipped"}, "shipMethod": {"refName": "UPS Ground"},
    "item": {"items": [{"item": {"id": "55"}, "quantity": 3, "itemReceive": True},
                       {"item": {"id": "56"}, "quantity": 2, "itemReceive": True},
                       {"item": {"id": "57"}, "quantity": 9, "itemReceive": False}]},
    "package": {"items": [{"packageTrackingNumber": "1Z999"}, {"packageTrackingNumber": "1Z999"}]},
    "linkedTrackingNumbers": "1Z888",
}
FCTX = FulfillmentContext(item_id_to_sku={"55": "SKU-1", "56": "SKU-2", "57": "SKU-3"}, carrier_map={"UPS Ground": "UPS"})


def test_fulfillment_input_matches_lines_by_sku_across_open_fulfillment_orders():
    draft = map_fulfillment(NS_FULFILLMENT, FO, FCTX)
    assert is_shipped(NS_FULFILLMENT)
    assert draft.idempotency_key == "netsuite-fulfillment-77"
    assert draft.input == {
        "lineItemsByFulfillmentOrder": [
            {"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/2", "fulfillmentOrderLineItems": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/20", "quantity": 1},
                {"id": "gid://shopify/FulfillmentOrderLineItem/21", "quantity": 2}]},
            {"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/3", "fulfillmentOrderLineItems": [
                {"id": "gid://shopify/FulfillmentOrderLineItem/30", "quantity": 2}]}],
        "notifyCustomer": True,
        "trackingInfo": {"numbers": ["1Z999", "1Z888"], "company": "UPS"},
    }


def test_fulfillment_errors_name_the_problem():
    too_many = {**NS_FULFILLMENT, "item": {"items": [{"item": {"id": "56"}, "quantity": 3}]}}
    with pytest.raises(MappingError, match=r"SKU-2 × 1"):
        map_fulfillment(too_many, FO, FCTX)
    unknown = {**NS_FULFILLMENT, "item": {"items": [{"item": {"id": "999"}, "quantity": 1}]}}
    with pytest.raises(MappingError, match="NetSuite item '999'"):
        map_fulfillment(unknown, FO, FCTX)
    assert not is_shipped({"shipStatus": {"id": "B"}})
