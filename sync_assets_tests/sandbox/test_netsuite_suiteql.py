"""SuiteQL over REST: wire shape, paging rules, row cap, quoting, errors, keyset paging, bulk load time."""

from __future__ import annotations

import time
from decimal import Decimal

from sync_assets.sandbox.model import Catalog, Counters, Location, PriceLevel, Product, Variant
from sync_assets.sandbox.netsuite import NetSuiteBackend
from sync_assets.sandbox.netsuite.suiteql import oracle_format_to_strftime

from .netsuite_helpers import Client, make


def test_response_shape_strings_nulls_booleans_lowercase() -> None:
    _, client, _ = make()
    resp = client.suiteql("SELECT id AS InternalId, itemid, parent, isinactive, cost, upccode, "
                          "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS LM, lastmodifieddate "
                          "FROM item WHERE matrixtype = 'PARENT' ORDER BY id", limit=2)
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"links", "count", "hasMore", "items", "offset", "totalResults"}
    assert body["count"] == 2 and body["hasMore"] is True and body["totalResults"] == 4 and body["offset"] == 0
    rels = {link["rel"] for link in body["links"]}
    assert rels == {"next", "last", "self"}
    first = body["items"][0]
    assert first["links"] == [] and first["internalid"] == "1" and first["itemid"] == "prod-000000"
    assert first["isinactive"] == "F"
    assert "parent" not in first and "cost" not in first and "upccode" not in first  # NULLs omitted
    assert all(isinstance(v, str) for k, v in first.items() if k != "links")
    assert len(first["lm"]) == 19 and first["lm"][10] == "T"
    assert first["lastmodifieddate"].count("/") == 2  # user date format, time part lost
    page2 = client.suiteql("SELECT id FROM item WHERE matrixtype = 'PARENT' ORDER BY id", limit=2, offset=2)
    body2 = page2.get_json()
    assert body2["hasMore"] is False and {link["rel"] for link in body2["links"]} == {"prev", "first", "self"}


def test_offset_limit_rules_prefer_and_past_the_end() -> None:
    _, client, _ = make()
    for limit, offset in ((0, 0), (1001, 0), (10, 5), (10, -10)):
        resp = client.suiteql("SELECT id FROM item ORDER BY id", limit=limit, offset=offset)
        assert resp.status_code == 400 and resp.get_json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_PARAMETER"
    assert client.suiteql("SELECT id FROM item", prefer=None).status_code == 400
    assert client.suiteql("SELECT id FROM item ORDER BY id", limit=10, offset=20).status_code == 404
    assert client.suiteql("SELECT id FROM item ORDER BY id").get_json()["count"] == 11  # default limit 1000


def test_row_cap_refuses_pages_past_it() -> None:
    backend, client, _ = make()
    backend.configure(row_cap=4)
    ok = client.suiteql("SELECT id FROM item ORDER BY id", limit=2, offset=2).get_json()
    assert ok["hasMore"] is False and ok["totalResults"] == 11  # the rest is only reachable by keyset
    capped = client.suiteql("SELECT id FROM item ORDER BY id", limit=2, offset=4)
    assert capped.status_code == 400
    assert "maximum of 4 results" in capped.get_json()["o:errorDetails"][0]["detail"]


def test_quote_laden_sku_round_trip_literal_and_bound() -> None:
    _, client, _ = make()
    sku = "O'NEIL-\"X\"-é"
    literal = client.suiteql(f"SELECT itemid FROM item WHERE itemid = '{sku.replace(chr(39), chr(39) * 2)}'")
    assert literal.get_json()["items"][0]["itemid"] == sku
    bound = client.suiteql("SELECT itemid FROM item WHERE itemid = ?", params=[sku])
    assert bound.get_json()["items"][0]["itemid"] == sku


def test_unknown_column_table_and_non_select() -> None:
    _, client, _ = make()
    detail = client.suiteql("SELECT balance FROM item").get_json()["o:errorDetails"][0]["detail"]
    assert "Unknown identifier 'balance'" in detail
    assert "Record 'classification' was not found." in client.suiteql(
        "SELECT id FROM classification").get_json()["o:errorDetails"][0]["detail"]
    assert client.suiteql("DELETE FROM item").status_code == 400
    assert client.suiteql("SELECT * FROM read_csv('/etc/passwd')").status_code == 400


def test_dates_and_builtin_df() -> None:
    _, client, _ = make()
    rows = client.suiteql("SELECT id, BUILTIN.DF(parent) AS p FROM item WHERE lastmodifieddate >= "
                          "TO_DATE('2000-01-01 00:00:00', 'yyyy-mm-dd hh24:mi:ss') AND parent IS NOT NULL "
                          "ORDER BY id FETCH FIRST 2 ROWS ONLY").get_json()
    assert rows["totalResults"] == 2 and rows["items"][0]["p"] == "prod-000000"
    assert oracle_format_to_strftime('YYYY-MM-DD"T"HH24:MI:SS.FF3') == "%Y-%m-%dT%H:%M:%S.%g"


def test_keyset_paging_and_unordered_shuffle() -> None:
    _, client, _ = make()
    seen, last = [], 0
    while True:
        page = client.suiteql("SELECT id FROM item WHERE id > ? ORDER BY id", limit=3, params=[str(last)]).get_json()
        seen += [int(r["id"]) for r in page["items"]]
        if not page["hasMore"]:
            break
        last = seen[-1]
    assert seen == list(range(1, 12))
    orders = {tuple(r["id"] for r in client.suiteql("SELECT id FROM item").get_json()["items"]) for _ in range(8)}
    assert len(orders) > 1


def big_catalog(n: int) -> Catalog:
    products = [Product(key=f"p{i}", title=f"P{i}", vendor="V", product_type="T", description="d",
                        variants=(Variant(sku=f"S{i}", title="One", price=Decimal("9.99"), cost=Decimal("3"),
                                          weight_grams=100),)) for i in range(n)]
    return Catalog(currency="USD", locations=[Location("loc-1", "Main", "X", "US")],
                   price_levels=[PriceLevel("Base Price", Decimal(0)), PriceLevel("MSRP", Decimal(-10))],
                   products=products, customers=[], inventory={(f"S{i}", "loc-1"): 5 for i in range(n)})


def test_load_100k_items_and_keyset_page_them() -> None:
    catalog = big_catalog(50_000)  # 50k products -> 100k item rows (parent + child)
    backend = NetSuiteBackend(Counters())
    start = time.perf_counter()
    backend.load_catalog(catalog)
    loaded = time.perf_counter() - start
    client = Client(backend)
    start, last, total = time.perf_counter(), 0, 0
    while True:
        page = client.suiteql("SELECT id, itemid FROM item WHERE id > ? ORDER BY id", params=[str(last)]).get_json()
        total += page["count"]
        if not page["hasMore"]:
            break
        last = int(page["items"][-1]["id"])
    paged = time.perf_counter() - start
    print(f"\nload_catalog 100,000 items: {loaded:.2f} s; keyset paging 100 pages: {paged:.2f} s")
    assert total == 100_000
