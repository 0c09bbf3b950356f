"""The tie-out as a pure function: which storefront facts must be in NetSuite for a day, and every way they
can differ (missing, duplicated, another amount or currency, a sales order the storefront lacks)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sync_assets.domain.finance import (
    AMOUNT_DIFFERS,
    CURRENCY_DIFFERS,
    DUPLICATED_IN_NETSUITE,
    MISSING_IN_NETSUITE,
    ONLY_IN_NETSUITE,
    day_window,
    tie_out,
    tieout_verdict,
)

DAY = date(2026, 12, 6)


def _order(n: int, total: str, *, txns=(), currency="USD") -> dict:
    return {"id": f"gid://shopify/Order/{n}", "name": f"#{n}", "currencyCode": currency,
            "totalPriceSet": {"shopMoney": {"amount": total, "currencyCode": currency}},
            "transactions": [{"id": f"gid://shopify/OrderTransaction/{n}{i}", "kind": kind, "status": "SUCCESS",
                              "processedAt": at, "amountSet": {"shopMoney": {"amount": amt, "currencyCode": currency}}}
                             for i, (kind, amt, at) in enumerate(txns)]}  # fmt: skip


def _ns(type_: str, eid: str, total: str, currency="USD", tranid="X") -> dict:
    return {"type": type_, "externalid": eid, "foreigntotal": total, "currencyname": currency, "tranid": tranid}


def test_a_day_in_a_zone_is_its_local_midnights_in_utc_also_across_dst():
    assert day_window(DAY, "America/New_York") == (datetime(2026, 12, 6, 5, tzinfo=timezone.utc),
                                                   datetime(2026, 12, 7, 5, tzinfo=timezone.utc))
    start, end = day_window(date(2026, 3, 8), "America/New_York")  # spring forward: a 23-hour day
    assert (end - start).total_seconds() == 23 * 3600


def test_matching_documents_tie_out_with_totals_per_kind_and_currency():
    orders = [_order(1, "21.00", txns=[("SALE", "21.00", "2026-12-06T10:00:00Z"), ("REFUND", "5.00", "2026-12-06T11:00:00Z")]),
              _order(2, "11.50")]
    netsuite = [_ns("SalesOrd", "shopify-order-1", "21.00"), _ns("SalesOrd", "shopify-order-2", "11.50"),
                _ns("CustDep", "shopify-payment-10", "21.00"), _ns("CustRfnd", "shopify-refund-11", "5.00")]
    result = tie_out(DAY, orders, netsuite, "UTC")
    assert result.ties_out
    assert [(r["kind"], r["storefront_amount"], r["netsuite_amount"]) for r in result.total_rows()] == [
        ("deposit", "21.00", "21.00"), ("refund", "5.00", "5.00"), ("sales_order", "32.50", "32.50")]


def test_every_kind_of_difference_is_listed():
    orders = [_order(1, "21.00", txns=[("SALE", "21.00", "2026-12-06T10:00:00Z")]), _order(2, "11.50"),
              _order(3, "9.00", currency="CAD"),
              # paid the next day in the shop's zone: not this day's deposit
              _order(4, "7.00", txns=[("SALE", "7.00", "2026-12-07T01:00:00Z")])]
    netsuite = [_ns("SalesOrd", "shopify-order-1", "20.00"),
                _ns("SalesOrd", "shopify-order-2", "11.50", tranid="SO1"), _ns("SalesOrd", "shopify-order-2", "11.50", tranid="SO2"),
                _ns("SalesOrd", "shopify-order-3", "9.00", currency="USD"), _ns("SalesOrd", "shopify-order-4", "7.00"),
                _ns("SalesOrd", "shopify-order-99", "3.00"), _ns("SalesOrd", "other-connector-1", "3.00")]
    found = {(d.kind, d.problem, d.external_id, d.storefront, d.netsuite)
             for d in tie_out(DAY, orders, netsuite, "UTC").differences}
    assert found == {
        ("sales_order", AMOUNT_DIFFERS, "shopify-order-1", "21.00", "20.00"),
        ("deposit", MISSING_IN_NETSUITE, "shopify-payment-10", "21.00", None),
        ("sales_order", DUPLICATED_IN_NETSUITE, "shopify-order-2", "11.50", "SO1, SO2"),
        ("sales_order", CURRENCY_DIFFERS, "shopify-order-3", "CAD", "USD"),
        ("sales_order", ONLY_IN_NETSUITE, "shopify-order-99", None, "3.00"),
    }
    # In Tokyo the payment of #4 falls on Dec 7 too, but #1's (10:00 UTC = 19:00 JST) stays on Dec 6.
    tokyo = tie_out(DAY, orders, netsuite, "Asia/Tokyo").differences
    assert not [d for d in tokyo if d.external_id == "shopify-payment-40"]


def test_deposits_and_refunds_near_midnight_are_dated_and_tied_out_on_the_shop_day():
    """Los Angeles (UTC-8): a refund at 07:30 UTC on Dec 7 is 23:30 on Dec 6 there. The orders flow dates its
    NetSuite customer refund Dec 6, and the tie-out counts it among Dec 6's refunds — as a transaction of
    that day, although its order was placed on Dec 5 (not an order of the day)."""
    from sync_assets.domain.payments import PaymentContext, deposits_for_order, refunds_for_order

    la, auckland = "America/Los_Angeles", "Pacific/Auckland"
    order = {**_order(5, "30.00", txns=[("SALE", "30.00", "2026-12-05T18:00:00Z"),
                                        ("REFUND", "4.00", "2026-12-07T07:30:00Z")]),
             "createdAt": "2026-12-05T17:59:00Z"}  # fmt: skip
    [deposit] = deposits_for_order(order, PaymentContext("107", {"USD": "1"}, tran_date_timezone=la))
    [refund], _ = refunds_for_order(order, PaymentContext("107", {"USD": "1"}, tran_date_timezone=la),
                                    {deposit.external_id: "9"})
    assert (deposit.body["tranDate"], refund.body["tranDate"]) == ("2026-12-05", "2026-12-06")
    [utc_refund], _ = refunds_for_order(order, PaymentContext("107", {"USD": "1"}), {deposit.external_id: "9"})
    assert utc_refund.body["tranDate"] == "2026-12-07"  # what UTC would have said
    # Auckland (UTC+13 in December): 18:00 UTC on Dec 5 is 07:00 on Dec 6 there.
    [east] = deposits_for_order(order, PaymentContext("107", {"USD": "1"}, tran_date_timezone=auckland))
    assert east.body["tranDate"] == "2026-12-06"

    booked = [_ns("CustRfnd", refund.external_id, "4.00")]
    dec6 = tie_out(date(2026, 12, 6), [], booked, la, others=[order])
    assert dec6.ties_out and [(r["kind"], r["storefront_count"], r["netsuite_count"]) for r in dec6.total_rows()] == [
        ("refund", 1, 1)]
    dec7 = tie_out(date(2026, 12, 7), [], [], la, others=[order])
    assert dec7.ties_out and dec7.total_rows() == []
    # An order of the day given again among the others counts once (one sales order expected).
    once = tie_out(date(2026, 12, 5), [order], [_ns("SalesOrd", "shopify-order-5", "30.00"),
                                                 _ns("CustDep", deposit.external_id, "30.00")], la, others=[order])
    assert once.ties_out, [d.as_dict() for d in once.differences]


def test_a_bad_timestamp_or_zone_names_the_field():
    import pytest

    from sync_assets.domain.errors import MappingError
    from sync_assets.domain.payments import PaymentContext, deposits_for_order

    order = _order(6, "5.00", txns=[("SALE", "5.00", "yesterday")])
    with pytest.raises(MappingError, match="not ISO 8601") as bad:
        deposits_for_order(order, PaymentContext("107", {"USD": "1"}))
    assert bad.value.field_path == "transactions[0].processedAt"
    order = _order(6, "5.00", txns=[("SALE", "5.00", "2026-12-06T10:00:00Z")])
    with pytest.raises(MappingError, match="unknown time zone 'Mars/Olympus'"):
        deposits_for_order(order, PaymentContext("107", {"USD": "1"}, tran_date_timezone="Mars/Olympus"))


def test_only_differences_of_orders_in_flight_heal_and_only_within_the_grace():
    """#1 placed 10:00 and paid then, not yet synced; #2 synced but NetSuite holds another amount; #3 not
    synced, its refund processed 10:30; a stray sales order. As of 10:40 with an hour's grace: #1's missing
    sales order and deposit heal, #3's refund heals, the rest blocks; at 11:15 #1's are overdue."""
    orders = [{**_order(1, "21.00", txns=[("SALE", "21.00", "2026-12-06T10:00:00Z")]), "createdAt": "2026-12-06T10:00:00Z",
               "updatedAt": "2026-12-06T10:00:00Z"},
              {**_order(2, "11.50"), "createdAt": "2026-12-06T10:20:00Z", "updatedAt": "2026-12-06T10:20:00Z"},
              {**_order(3, "9.00", txns=[("REFUND", "9.00", "2026-12-06T10:30:00Z")]), "createdAt": "2026-12-06T09:00:00Z",
               "updatedAt": "2026-12-06T10:30:00Z"}]
    netsuite = [_ns("SalesOrd", "shopify-order-2", "10.00"), _ns("SalesOrd", "shopify-order-3", "9.00"),
                _ns("SalesOrd", "shopify-order-99", "3.00")]
    tieout = tie_out(DAY, orders, netsuite, "UTC")
    unsynced = {"gid://shopify/Order/1", "gid://shopify/Order/3"}

    def split(at: datetime):
        verdict = tieout_verdict(tieout, unsynced, at, timedelta(hours=1).total_seconds())
        return ({(d.problem, d.external_id) for d in verdict.healing}, {(d.problem, d.external_id) for d in verdict.blocking})

    healing, blocking = split(datetime(2026, 12, 6, 10, 40, tzinfo=timezone.utc))
    assert healing == {(MISSING_IN_NETSUITE, "shopify-order-1"), (MISSING_IN_NETSUITE, "shopify-payment-10"),
                       (MISSING_IN_NETSUITE, "shopify-refund-30")}
    assert blocking == {(AMOUNT_DIFFERS, "shopify-order-2"), (ONLY_IN_NETSUITE, "shopify-order-99")}
    healing, blocking = split(datetime(2026, 12, 6, 11, 15, tzinfo=timezone.utc))
    assert healing == {(MISSING_IN_NETSUITE, "shopify-refund-30")}
    assert (MISSING_IN_NETSUITE, "shopify-order-1") in blocking and (MISSING_IN_NETSUITE, "shopify-payment-10") in blocking
    # Nothing is in flight when the ledger says every order is synced: all of it blocks.
    assert not tieout_verdict(tieout, set(), datetime(2026, 12, 6, 10, 40, tzinfo=timezone.utc), 3600).healing
