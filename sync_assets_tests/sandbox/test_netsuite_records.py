"""Record API: create/upsert/duplicate/get/expand/patch/404/INVALID_CONTENT, SuiteQL visibility, 429."""

from __future__ import annotations

import threading

from .netsuite_helpers import make

R = "/services/rest/record/v1"


def _order(ext: str, items: list[dict], **extra) -> dict:
    return {"entity": {"id": "1"}, "externalId": ext, "tranDate": "2026-03-14", "location": {"id": "1"},
            "otherRefNum": "1001", "memo": "web order", "item": {"items": items}, **extra}


def test_create_get_expand_and_suiteql_sees_it() -> None:
    _, client, counters = make()
    resp = client.call("POST", f"{R}/salesOrder", body=_order("SHOP-1", [
        {"item": {"id": "2"}, "quantity": 2, "rate": 9.99}, {"item": {"externalId": "SKU-1-1"}, "quantity": 1,
                                                             "rate": 5}], shippingCost=4.5, taxTotal=1.25))
    assert resp.status_code == 204 and resp.get_data() == b""
    so_id = resp.headers["Location"].rsplit("/", 1)[-1]
    stub = client.call("GET", f"{R}/salesOrder/{so_id}").get_json()
    assert set(stub["item"]) == {"links"} and stub["entity"]["id"] == "1" and stub["entity"]["refName"]
    full = client.call("GET", f"{R}/salesOrder/eid:SHOP-1", params={"expandSubResources": "true"})
    assert full.headers["Content-Type"].startswith("application/vnd.oracle.resource+json; type=singular")
    body = full.get_json()
    assert body["total"] == 30.73 and body["status"] == {"id": "B", "refName": "Pending Fulfillment"}
    assert [ln["quantity"] for ln in body["item"]["items"]] == [2.0, 1.0]
    rows = client.suiteql("SELECT tl.quantity, tl.netamount, tl.mainline FROM transactionline tl JOIN transaction t "
                          "ON t.id = tl.transaction WHERE t.type = 'SalesOrd' AND t.externalid = 'SHOP-1' "
                          "AND tl.itemtype = 'InvtPart' ORDER BY tl.id").get_json()["items"]
    assert [(r["quantity"], r["netamount"], r["mainline"]) for r in rows] == [("-2", "-19.98", "F"), ("-1", "-5", "F")]
    stock = client.suiteql("SELECT quantitycommitted c, quantityavailable a FROM inventoryitemlocations "
                           "WHERE item = 2 AND location = 1").get_json()["items"][0]
    assert stock == {"links": [], "c": "2", "a": "8"}
    assert counters.snapshot()["netsuite.writes"] == 1


def test_duplicate_external_id_and_upsert() -> None:
    _, client, _ = make()
    body = _order("SHOP-2", [{"item": {"id": "2"}, "quantity": 1, "rate": 10}])
    first = client.call("POST", f"{R}/salesOrder", body=body)
    dup = client.call("POST", f"{R}/salesOrder", body=body)
    assert dup.status_code == 400
    detail = dup.get_json()["o:errorDetails"][0]
    assert detail == {"detail": "Error while accessing a resource. This entity already exists.",
                      "o:errorCode": "USER_ERROR"}
    upsert = client.call("PUT", f"{R}/salesOrder/eid:SHOP-2", body={**body, "memo": "changed"})
    assert upsert.status_code == 204 and upsert.headers["Location"] == first.headers["Location"]
    assert client.call("GET", f"{R}/salesOrder/eid:SHOP-2").get_json()["memo"] == "changed"
    created = client.call("PUT", f"{R}/customer/eid:CUST-9", body={"firstName": "Ann", "lastName": "Lee",
                                                                  "email": "ann@example.com"})
    assert created.status_code == 204
    row = client.suiteql("SELECT email, isperson FROM customer WHERE externalid = 'CUST-9'").get_json()["items"]
    assert row == [{"links": [], "email": "ann@example.com", "isperson": "T"}]


def test_invalid_references_and_missing_records() -> None:
    _, client, _ = make()
    bad_item = client.call("POST", f"{R}/salesOrder", body=_order("SHOP-3", [
        {"item": {"id": "2"}, "quantity": 1}, {"item": {"id": "3"}, "quantity": 1},
        {"item": {"id": "9999"}, "quantity": 1}]))
    assert bad_item.status_code == 400
    detail = bad_item.get_json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_CONTENT" and detail["o:errorPath"] == "item.items[2].item"
    assert "Invalid Field Value 9999 for the following field: item" in detail["detail"]
    bad_entity = client.call("POST", f"{R}/salesOrder", body={**_order("SHOP-3", [{"item": {"id": "2"}}]),
                                                               "entity": {"id": "777"}})
    assert bad_entity.get_json()["o:errorDetails"][0]["o:errorPath"] == "entity"
    assert client.suiteql("SELECT count(*) n FROM transaction").get_json()["items"][0]["n"] == "0"  # nothing left
    missing = client.call("GET", f"{R}/salesOrder/424242")
    assert missing.status_code == 404
    assert missing.get_json()["o:errorDetails"][0] == {"detail": "Record does not exist.",
                                                       "o:errorCode": "NONEXISTENT_ID"}
    assert client.call("PATCH", f"{R}/customer/eid:nobody", body={"email": "x@y.z"}).status_code == 404


def test_patch_closes_lines_and_releases_stock() -> None:
    _, client, _ = make()
    loc = client.call("POST", f"{R}/salesOrder", body=_order("SHOP-4", [{"item": {"id": "2"}, "quantity": 3,
                                                                          "rate": 1}])).headers["Location"]
    so_id = loc.rsplit("/", 1)[-1]
    patch = client.call("PATCH", f"{R}/salesOrder/{so_id}", body={"item": {"items": [{"line": 1, "isClosed": True}]}})
    assert patch.status_code == 204
    body = client.call("GET", f"{R}/salesOrder/{so_id}", params={"expandSubResources": "true"}).get_json()
    assert body["status"]["id"] == "H" and body["item"]["items"][0]["isClosed"] is True
    stock = client.suiteql("SELECT quantityavailable a FROM inventoryitemlocations WHERE item = 2 AND location = 1")
    assert stock.get_json()["items"][0]["a"] == "10"


def test_deposit_payment_and_fulfillment_records() -> None:
    backend, client, _ = make()
    so = client.call("POST", f"{R}/salesOrder", body=_order("SHOP-5", [{"item": {"id": "2"}, "quantity": 1,
                                                                         "rate": 10}])).headers["Location"]
    so_id = so.rsplit("/", 1)[-1]
    dep = client.call("PUT", f"{R}/customerDeposit/eid:PAY-5", body={"customer": {"id": "1"}, "payment": 10,
                                                                    "salesOrder": {"id": so_id}})
    assert dep.status_code == 204
    got = client.call("GET", f"{R}/customerDeposit/eid:PAY-5").get_json()
    assert got["salesOrder"]["id"] == so_id and got["payment"] == 10.0
    bad = client.call("POST", f"{R}/customerPayment", body={"customer": {"id": "1"}, "payment": 5, "apply": {
        "items": [{"doc": {"id": "99999"}, "apply": True, "amount": 5}]}})
    assert bad.get_json()["o:errorDetails"][0]["o:errorPath"] == "apply.items[0].doc"
    assert backend.fulfill_sales_orders(0) == 1 and backend.fulfill_sales_orders(0) == 0
    rows = client.suiteql("SELECT c.id, tn.trackingnumber FROM previoustransactionlinelink l JOIN transaction c ON "
                          f"c.id = l.nextdoc AND c.type = 'ItemShip' JOIN trackingnumbermap m ON m.transaction = c.id "
                          f"JOIN trackingnumber tn ON tn.id = m.trackingnumber WHERE l.previousdoc = {so_id}")
    (row,) = rows.get_json()["items"]
    shipped = client.call("GET", f"{R}/itemFulfillment/{row['id']}", params={"expandSubResources": "true"}).get_json()
    assert shipped["createdFrom"]["id"] == so_id
    assert shipped["package"]["items"][0]["packageTrackingNumber"] == row["trackingnumber"]


def test_concurrency_limit_answers_429() -> None:
    backend, client, counters = make(concurrency_limit=2)
    gate, entered = threading.Event(), threading.Semaphore(0)
    original = backend._authenticate

    def slow_auth():
        entered.release()
        gate.wait(5)
        original()

    backend._authenticate = slow_auth
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(
        client.call("GET", f"{R}/customer/1").status_code)) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(2):
        assert entered.acquire(timeout=5)
    third = client.call("GET", f"{R}/customer/1")
    gate.set()
    for t in threads:
        t.join()
    assert third.status_code == 429
    assert third.get_json()["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert sorted(results) == [200, 200]
    assert counters.snapshot()["netsuite.throttled"] == 1 and backend.peak_in_flight() == 2


def _refund(deposit_id: str, amount, customer: str = "1") -> dict:
    return {"customer": {"id": customer}, "currency": {"id": "1"}, "tranDate": "2026-03-15", "memo": "returned",
            "deposit": {"items": [{"doc": {"id": deposit_id}, "apply": True, "amount": amount}]}}


def test_customer_refund_applies_against_the_deposit_and_shows_in_suiteql() -> None:
    _, client, _ = make()
    dep = client.call("PUT", f"{R}/customerDeposit/eid:PAY-R", body={"customer": {"id": "1"}, "payment": 50,
                                                                     "currency": {"id": "1"}})
    dep_id = dep.headers["Location"].rsplit("/", 1)[-1]
    first = client.call("PUT", f"{R}/customerRefund/eid:RF-1", body=_refund(dep_id, 30))
    assert first.status_code == 204
    again = client.call("PUT", f"{R}/customerRefund/eid:RF-1", body=_refund(dep_id, 30))  # upsert: not counted twice
    assert again.status_code == 204 and again.headers["Location"] == first.headers["Location"]
    got = client.call("GET", f"{R}/customerRefund/eid:RF-1").get_json()
    assert got["total"] == 30 and got["customer"]["id"] == "1" and got["externalId"] == "RF-1"
    too_much = client.call("PUT", f"{R}/customerRefund/eid:RF-2", body=_refund(dep_id, 20.01))
    assert too_much.status_code == 400
    detail = too_much.get_json()["o:errorDetails"][0]
    assert detail["o:errorPath"] == "deposit.items[0].amount" and "remaining amount (20" in detail["detail"]
    assert client.call("PUT", f"{R}/customerRefund/eid:RF-2", body=_refund(dep_id, 20)).status_code == 204
    rows = client.suiteql("SELECT t.externalid, t.foreigntotal, l.previousdoc FROM transaction t JOIN "
                          "previoustransactionlinelink l ON l.nextdoc = t.id WHERE t.type = 'CustRfnd' "
                          "ORDER BY t.externalid").get_json()["items"]
    assert [(r["externalid"], r["foreigntotal"], r["previousdoc"]) for r in rows] == [
        ("RF-1", "30", dep_id), ("RF-2", "20", dep_id)]


def test_customer_refund_refuses_unknown_or_foreign_deposits_and_customers() -> None:
    _, client, _ = make()
    dep = client.call("PUT", f"{R}/customerDeposit/eid:PAY-S", body={"customer": {"id": "1"}, "payment": 10})
    dep_id = dep.headers["Location"].rsplit("/", 1)[-1]
    cases = [
        (_refund("99999", 5), "deposit.items[0].doc"),
        (_refund(dep_id, 5, customer="99999"), "customer"),
        (_refund(dep_id, 5, customer="2"), "deposit.items[0].doc"),  # someone else's deposit
        ({"customer": {"id": "1"}}, "deposit"),
        (_refund(dep_id, 0), "deposit.items[0].amount"),
    ]
    for body, path in cases:
        resp = client.call("PUT", f"{R}/customerRefund/eid:RF-BAD", body=body)
        assert resp.status_code == 400, body
        assert resp.get_json()["o:errorDetails"][0]["o:errorPath"] == path, body
    assert client.call("GET", f"{R}/customerRefund/eid:RF-BAD").status_code == 404
    assert client.suiteql("SELECT id FROM transaction WHERE type = 'CustRfnd'").get_json()["items"] == []
