"""The catalog push against changes made in NetSuite (sandbox control API), over real HTTP.

Each productSet safety rule has its test: productSet's variant list *replaces* the product's variants, so a
variant left out is deleted on the storefront. Read-backs go through Shopify GraphQL; the sandbox's
per-mutation counter shows how many productSet calls were made.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sync_assets.connectors.shopify import documents as docs
from sync_assets.connectors.shopify.catalog import product_by_handle
from sync_assets.flows.catalog import ARCHIVED_HASH, FLOW, CatalogConfig, run_catalog_flow
from sync_assets_tests.flows.orders_support import landing_at, ledger_at, merge_at, netsuite_client, shopify_client

CONFIG = CatalogConfig(page_size=25, bulk_poll_interval=0.1)
PRODUCT_SETS = "shopify.mutation.productSet"


class Catalog:
    """The flow's clients, ledger and warehouse in one tmp dir, and read-backs of the storefront."""

    views: Path  # the session's built warehouse (empty, every dbt view), set by the _views fixture

    def __init__(self, sandbox, tmp_path, config: CatalogConfig = CONFIG):
        self.sandbox, self.tmp_path, self.config = sandbox, tmp_path, config
        self.netsuite, self.shopify, self.ledger = netsuite_client(sandbox), shopify_client(sandbox), ledger_at(tmp_path)

    def run(self, run_id: str = "r"):
        self.sandbox.control.reset_counters()
        return run_catalog_flow(self.netsuite, self.shopify, self.ledger, landing=landing_at(self.tmp_path),
                                run_id=run_id, config=self.config)

    def product_sets(self) -> int:
        return self.sandbox.control.counters()["counters"].get(PRODUCT_SETS, 0)

    def product(self, handle: str) -> dict:
        node = product_by_handle(self.shopify, handle)
        assert node is not None, handle
        return node

    def variants(self, handle: str) -> dict[str, dict]:
        return {v["sku"]: v for v in self.product(handle)["variants"]}

    def available(self, variant: dict) -> list[int]:
        data = self.shopify.execute(docs.INVENTORY_ITEM_LEVELS_PAGE,
                                    {"id": variant["inventoryItem"]["id"], "first": 50, "after": None})
        return [next(q["quantity"] for q in level["quantities"] if q["name"] == "available")
                for level in data["inventoryItem"]["inventoryLevels"]["nodes"]]

    def warehouse(self, sql: str, params=()):
        """Merge what the runs landed (as the warehouse_load job does), then query the warehouse: staging and
        the marts are the dbt project's views, in a copy of the session's freshly built file (a dbt run per
        test cost ~15 s), so the merge lands into a warehouse that already exists, as in production."""
        target = self.tmp_path / "warehouse.duckdb"
        if not target.exists():
            shutil.copyfile(self.views, target)
        path = merge_at(self.tmp_path)
        with duckdb.connect(str(path)) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(autouse=True)
def _views(empty_warehouse, monkeypatch):
    """Every Catalog here reads the marts from a copy of the session's built warehouse."""
    monkeypatch.setattr(Catalog, "views", empty_warehouse, raising=False)  # declared, not assigned


def _two_products(cat: Catalog) -> tuple[str, str]:
    handles = sorted(e.source_id for e in cat.ledger.entries(FLOW, "done"))
    return handles[0], handles[1]


# Two ways to find the variant ids to name: a read per product, or one bulk read when many changed.
BOTH_READS = pytest.mark.parametrize("bulk_read_above", [100, 0], ids=["read-per-product", "bulk-read"])


@BOTH_READS
def test_a_price_and_a_description_changed_in_netsuite_push_exactly_those_two_products(sandbox, tmp_path,
                                                                                         bulk_read_above):
    cat = Catalog(sandbox, tmp_path, replace(CONFIG, bulk_read_above=bulk_read_above))
    first = cat.run("r1")
    assert first.push.already_in_sync == 20 and first.push.pushed == 0 and cat.product_sets() == 0
    priced, described = _two_products(cat)
    sku = sorted(cat.variants(priced))[1]
    sandbox.control.set_item_price(sku, "123.45")
    sandbox.control.update_item(described, description="Now in recycled cotton & more.")
    others = {h: cat.product(h)["updatedAt"] for h in sorted(e.source_id for e in cat.ledger.entries(FLOW, "done"))[2:5]}

    second = cat.run("r2")
    assert second.push.changed == 2 and second.push.pushed == 2 and second.push.first_run is False
    assert cat.product_sets() == 2  # the sandbox saw productSet exactly twice: those two, nothing else
    assert {e.source_id for e in cat.ledger.entries(FLOW, "done")} >= {priced, described}
    assert cat.variants(priced)[sku]["price"] == "123.45"
    assert cat.product(described)["descriptionHtml"] == "<p>Now in recycled cotton &amp; more.</p>"
    assert {h: cat.product(h)["updatedAt"] for h in others} == others  # the other products were left alone
    # every price level and currency reaches the warehouse, the new price as the latest version
    assert cat.warehouse("SELECT unit_price FROM staging.item_prices p JOIN staging.items i USING (item_id) "
                         "WHERE i.sku = ? AND p.price_level_name = 'Base Price'", [sku]) == [(Decimal("123.45"),)]
    assert cat.warehouse("SELECT DISTINCT currency FROM staging.item_prices") == [("USD",)]
    assert cat.warehouse("SELECT count(*) FROM staging.locations")[0][0] == 3

    third = cat.run("r3")
    assert third.push.changed == 0 and cat.product_sets() == 0


def test_a_price_in_another_currency_lands_but_does_not_change_the_storefront(sandbox, tmp_path):
    cat = Catalog(sandbox, tmp_path)
    cat.run("r1")
    handle, _ = _two_products(cat)
    sku = sorted(cat.variants(handle))[0]
    sandbox.control.set_item_price(sku, "88.00", currency="CAD", price_level="MSRP")
    result = cat.run("r2")
    assert result.push.changed == 0 and cat.product_sets() == 0
    assert cat.warehouse("SELECT p.unit_price FROM staging.item_prices p JOIN staging.items i USING (item_id) "
                         "WHERE i.sku = ? AND p.currency = 'CAD'", [sku]) == [(Decimal("88.00"),)]


def test_an_inactive_child_keeps_its_variant_with_stock_zeroed_and_an_all_inactive_product_is_archived(sandbox, tmp_path):
    cat = Catalog(sandbox, tmp_path)
    cat.run("r1")
    handle, whole = _two_products(cat)
    before = cat.variants(handle)
    retired = sorted(before)[0]
    assert any(cat.available(before[retired]))  # stocked somewhere before
    sandbox.control.update_item(retired, isinactive=True)
    for sku in cat.variants(whole):
        sandbox.control.update_item(sku, isinactive=True)

    result = cat.run("r2")
    assert result.push.pushed == 2 and cat.product_sets() == 2
    after = cat.variants(handle)
    assert {s: v["id"] for s, v in after.items()} == {s: v["id"] for s, v in before.items()}  # none lost
    assert set(cat.available(after[retired])) == {0}
    assert all(any(cat.available(v)) for s, v in after.items() if s != retired)
    archived = cat.product(whole)
    assert archived["status"] == "ARCHIVED" and len(archived["variants"]) == 3
    assert cat.product(handle)["status"] == "ACTIVE"
    assert cat.run("r3").push.changed == 0


@BOTH_READS
def test_a_variant_only_the_storefront_has_is_kept_when_netsuite_changes_the_product(sandbox, tmp_path,
                                                                                     bulk_read_above):
    cat = Catalog(sandbox, tmp_path, replace(CONFIG, bulk_read_above=bulk_read_above))
    cat.run("r1")
    handle, _ = _two_products(cat)
    node = cat.product(handle)
    keep = [{"id": v["id"], "optionValues": [{"optionName": "Title", "name": v["title"]}]} for v in node["variants"]]
    titles = [v["title"] for v in node["variants"]] + ["Gift wrap"]
    cat.shopify.product_set({"variants": keep + [{"sku": "SHOP-ONLY-1", "price": "2.00", "optionValues": [
        {"optionName": "Title", "name": "Gift wrap"}]}],
        "productOptions": [{"name": "Title", "values": [{"name": t} for t in titles]}]}, identifier={"id": node["id"]})
    shop_only = cat.variants(handle)["SHOP-ONLY-1"]

    sandbox.control.set_item_price(sorted(v["sku"] for v in node["variants"])[0], "77.00")
    result = cat.run("r2")
    assert result.push.pushed == 1
    after = cat.variants(handle)
    assert after["SHOP-ONLY-1"]["id"] == shop_only["id"] and after["SHOP-ONLY-1"]["price"] == "2.00"
    assert len(after) == 4


def test_variant_lookup_pages_past_250_so_no_variant_is_replaced(sandbox, tmp_path):
    sandbox.control.reset(seed=5, products=1, variants_per_product=260, customers=1, locations=1)
    cat = Catalog(sandbox, tmp_path)
    cat.run("r1")
    [handle] = [e.source_id for e in cat.ledger.entries(FLOW, "done")]
    before = {s: v["id"] for s, v in cat.variants(handle).items()}
    assert len(before) == 260
    sandbox.control.set_item_price(sorted(before)[-1], "9.99")  # a SKU past the first page

    result = cat.run("r2")
    assert result.push.pushed == 1 and cat.product_sets() == 1
    after = cat.variants(handle)
    assert {s: v["id"] for s, v in after.items()} == before  # same 260 variants, same ids
    assert after[sorted(before)[-1]]["price"] == "9.99"


def test_items_deleted_in_netsuite_archive_the_product_or_zero_the_variant(sandbox, tmp_path):
    cat = Catalog(sandbox, tmp_path)
    cat.run("r1")
    gone, trimmed = _two_products(cat)
    before = cat.variants(trimmed)
    deleted_sku = sorted(before)[0]
    assert len(sandbox.control.delete_item(gone)) == 4  # the matrix parent and its three children
    sandbox.control.delete_item(deleted_sku)

    result = cat.run("r2")
    assert result.push.archived == 1 and result.push.pushed == 1 and cat.product_sets() == 2
    archived = cat.product(gone)
    assert archived["status"] == "ARCHIVED" and len(archived["variants"]) == 3
    after = cat.variants(trimmed)
    assert {s: v["id"] for s, v in after.items()} == {s: v["id"] for s, v in before.items()}
    assert set(cat.available(after[deleted_sku])) == {0}
    assert cat.ledger.get_entry(FLOW, gone).payload_hash == ARCHIVED_HASH
    assert cat.warehouse("SELECT count(*) FROM staging.deleted_items")[0][0] == 5
    assert cat.warehouse("SELECT count(*) FROM analytics.products WHERE is_deleted")[0][0] >= 5

    third = cat.run("r3")  # archived once: not again
    assert third.push.archived == 0 and third.push.pushed == 0 and cat.product_sets() == 0
