"""Catalog flow against the sandbox over real HTTP: NetSuite → warehouse, then only changed products → storefront."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from sync_assets.connectors.shopify import documents as docs
from sync_assets.flows.catalog import (
    FLOW,
    CatalogConfig,
    content_hash,
    desired_products,
    handle_for,
    probe_catalog,
    run_catalog_flow,
)
from sync_assets_tests.flows.orders_support import landing_at, ledger_at, merge_at, netsuite_client, shopify_client

CONFIG = CatalogConfig(page_size=25, bulk_poll_interval=0.1, land_rows=30)  # several appends per table


def test_first_run_lands_everything_and_pushes_nothing_when_in_sync(sandbox, tmp_path):
    netsuite, shopify, ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)
    landing = landing_at(tmp_path)

    result = run_catalog_flow(netsuite, shopify, ledger, landing=landing, run_id="r1", config=CONFIG)

    # 20 products × (1 parent + 3 variants) items, 3 price levels per variant, keyset-paged 25 at a time
    assert result.extract.items == 80 and result.extract.pages == 4
    assert result.extract.prices == 60 * 3
    merge_at(tmp_path)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        # staging and the marts are dbt's (sync_assets_tests/warehouse/test_marts.py); here, what landed
        assert conn.execute("SELECT count(DISTINCT item_id) FROM raw.netsuite_items").fetchone()[0] == 80
        assert conn.execute("SELECT count(DISTINCT payload->>'pricelevelname') FROM raw.netsuite_item_prices"
                            ).fetchone()[0] == 3
        # the ISO code beside NetSuite's internal currency id
        assert conn.execute("SELECT DISTINCT currency, payload->>'currencyname' FROM raw.netsuite_item_prices"
                            ).fetchall() == [("1", "USD")]
        assert conn.execute("SELECT count(DISTINCT item_id) FROM raw.netsuite_items WHERE item_id NOT IN "
                            "(SELECT item_id FROM raw.netsuite_item_prices)").fetchone()[0] == 20  # unpriced parents
    push = result.push
    assert push.first_run and push.desired == 20
    assert push.already_in_sync == 20 and push.pushed == 0 and push.changed == 0
    assert len(ledger.entries(FLOW, "done")) == 20
    assert result.numbers()["netsuite_api_calls"] >= 8  # 4 item pages (+ the empty tail) and 4 price queries


def test_a_foreseen_storefront_read_runs_on_shopify_while_netsuite_is_read(sandbox, tmp_path):
    # Shopify takes a second to run the storefront's bulk read; NetSuite answers each request 0.3 s late,
    # so the extract (more than eight requests) outlasts it.
    sandbox.control.configure(bulk_seconds=1.0, bulk_seconds_per_1000_objects=0)
    sandbox.control.set_faults("slow", service="netsuite", seconds=0.3)
    netsuite, shopify, ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)
    config = replace(CONFIG, bulk_read_above=1)

    def run(run_id: str):
        sandbox.control.reset_counters()
        result = run_catalog_flow(netsuite, shopify, ledger, landing=landing_at(tmp_path), run_id=run_id, config=config)
        calls = sandbox.control.counters()["counters"]
        return result, calls.get("shopify.calls.BulkOperationRunQuery", 0), calls.get("shopify.calls.BulkOperationStatus", 0)

    # A first run compares the whole storefront: submitted before the extract, the bulk read had finished
    # by its first status poll.
    first, submitted, polls = run("r1")
    assert first.push.first_run and first.push.already_in_sync == 20
    assert (submitted, polls) == (1, 1)

    # More items modified than bulk_read_above: the probe foresees the bulk read, and it is used.
    for handle in sorted(e.source_id for e in ledger.entries(FLOW, "done"))[:2]:
        sandbox.control.update_item(handle, description=f"Re-worded: {handle}.")
    second, submitted, polls = run("r2")
    assert second.push.pushed == 2 and (submitted, polls) == (1, 1)

    # Nothing modified: no bulk read at all.
    third, submitted, polls = run("r3")
    assert third.push.changed == 0 and (submitted, polls) == (0, 0)


def test_only_products_changed_on_the_storefront_are_pushed_back_and_next_run_is_a_no_op(sandbox, tmp_path):
    netsuite, shopify, ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)
    landing = landing_at(tmp_path)
    # Someone edits a price in the storefront by hand: NetSuite is the source of truth for it.
    page = shopify.execute(docs.PRODUCT_BY_HANDLE, {"query": "title:*", "first": 50})["products"]["nodes"][0]
    variant = page["variants"]["nodes"][0]
    shopify.product_set(
        {"variants": [{"id": v["id"], "price": "1.00" if v["id"] == variant["id"] else v["price"],
                       "optionValues": [{"optionName": "Title", "name": v["sku"]}]}
                      for v in page["variants"]["nodes"]]},
        identifier={"id": page["id"]},
    )  # fmt: skip

    first = run_catalog_flow(netsuite, shopify, ledger, landing=landing, run_id="r1", config=CONFIG)
    assert first.push.already_in_sync == 19 and first.push.changed == 1 and first.push.pushed == 1
    after = shopify.execute(docs.PRODUCT_BY_HANDLE, {"query": f"handle:{page['handle']}", "first": 50})
    prices = {v["sku"]: v["price"] for v in after["products"]["nodes"][0]["variants"]["nodes"]}
    assert prices[variant["sku"]] != "1.00"
    # the variant kept its id: productSet named it instead of replacing it
    assert variant["id"] in {v["id"] for v in after["products"]["nodes"][0]["variants"]["nodes"]}

    second = run_catalog_flow(netsuite, shopify, ledger, landing=landing, run_id="r2", config=CONFIG)
    assert not second.push.first_run and second.push.changed == 0 and second.push.pushed == 0
    assert second.numbers()["shopify_api_calls"] == 0  # nothing changed: the storefront is not even read


def test_pushes_are_capped_per_run_and_the_rest_wait(sandbox, tmp_path):
    netsuite, shopify, ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)
    # Pretend the ledger holds stale hashes for every product: all 20 count as changed.
    result = run_catalog_flow(netsuite, None, ledger, landing=landing_at(tmp_path), config=CONFIG, push=False)
    desired = desired_products(*_rows(netsuite), "Base Price")
    for handle in desired:
        ledger.mark_done(FLOW, handle, "gid://shopify/Product/0", "stale")
    assert result.push is None

    capped = run_catalog_flow(netsuite, shopify, ledger, landing=landing_at(tmp_path),
                              config=CatalogConfig(page_size=25, max_pushes=5))
    assert capped.push.changed == 20 and capped.push.pushed == 5 and capped.push.deferred == 15
    assert sum(1 for e in ledger.entries(FLOW, "done") if e.payload_hash != "stale") == 5
    assert ledger.get_watermark("catalog") is None  # not everything reached the storefront yet


def _rows(netsuite):
    from sync_assets.flows.catalog import ITEMS_SQL, PRICES_SQL

    items = {r["id"]: r for r in netsuite.suiteql_keyset(ITEMS_SQL, key="id")}
    prices: dict[str, list] = {}
    for p in netsuite.suiteql(PRICES_SQL, {"first": 0, "last": 10**9}):
        prices.setdefault(str(p["item"]), []).append(p)
    return items, prices


def test_desired_state_hash_ignores_ids_and_sees_prices():
    items = {
        "1": {"id": "1", "itemid": "Tee Shirt", "displayname": "Tee", "matrixtype": "PARENT", "isinactive": "F"},
        "2": {"id": "2", "itemid": "TEE-L", "displayname": "Tee - Large", "parent": "1", "isinactive": "F"},
        "3": {"id": "3", "itemid": "MUG", "displayname": "Mug", "isinactive": "F"},
    }
    prices = {"2": [{"item": "2", "pricelevelname": "Base Price", "unitprice": "10"}],
              "3": [{"item": "3", "pricelevelname": "Base Price", "unitprice": "4.5"}]}
    desired = desired_products(items, prices, "Base Price")
    assert set(desired) == {"tee-shirt", "mug"}
    assert desired["tee-shirt"]["variants"] == [{"sku": "TEE-L", "price": "10.00", "barcode": None, "option": "Large",
                                              "retired": False}]
    assert desired["mug"]["variants"][0]["option"] == "Default Title"
    storefront = {"title": "Tee", "vendor": "", "productType": "", "status": "ACTIVE", "id": "gid://x",
                  "variants": [{"id": "gid://v", "sku": "TEE-L", "price": "10.0", "barcode": None}]}
    assert content_hash(storefront) == content_hash(desired["tee-shirt"])
    storefront["variants"][0]["price"] = "11.00"
    assert content_hash(storefront) != content_hash(desired["tee-shirt"])
    assert handle_for("O'Brien Tee / XL") == "o-brien-tee-xl"


def test_probe_sees_items_modified_after_the_last_complete_run(sandbox, tmp_path):
    netsuite, shopify, ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)
    pending = probe_catalog(netsuite, ledger)
    assert pending is not None and pending.count == 80
    run_catalog_flow(netsuite, shopify, ledger, landing=landing_at(tmp_path), config=CONFIG)
    assert probe_catalog(netsuite, ledger) is None
    # an edit in NetSuite, then a deletion: each is seen, and a complete run settles it
    sku = sandbox.control.catalog()["skus_sample"][0]
    sandbox.control.set_item_price(sku, "5.55")
    assert probe_catalog(netsuite, ledger).count == 1
    run_catalog_flow(netsuite, shopify, ledger, landing=landing_at(tmp_path), config=CONFIG)
    assert probe_catalog(netsuite, ledger) is None
    sandbox.control.delete_item(sku)
    assert probe_catalog(netsuite, ledger).count == 1
    run_catalog_flow(netsuite, shopify, ledger, landing=landing_at(tmp_path), config=CONFIG)
    assert probe_catalog(netsuite, ledger) is None


@pytest.mark.parametrize("bad", [0])
def test_config_page_size_must_be_positive(bad, sandbox, tmp_path):
    with pytest.raises(ValueError):
        run_catalog_flow(netsuite_client(sandbox), None, ledger_at(tmp_path), landing=landing_at(tmp_path),
                         config=CatalogConfig(page_size=bad), push=False)
