"""The catalog generator and the living shop's order maker and scheduler (in process, no HTTP)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from sync_assets.sandbox.generator import (
    MAX_VARIANTS_PER_PRODUCT,
    CatalogSpecError,
    LivingShop,
    OrderMaker,
    StreamSettings,
    make_catalog,
)


def test_same_seed_same_catalog_other_seed_other_catalog():
    assert make_catalog(7, 30, 4, 12, 3) == make_catalog(7, 30, 4, 12, 3)
    assert make_catalog(7, 30, 4, 12, 3) != make_catalog(8, 30, 4, 12, 3)


def test_catalog_shape_is_realistic():
    catalog = make_catalog(42, products=20, variants_per_product=3, customers=10, locations=3)
    skus = catalog.skus()
    assert len(skus) == 60 and len(set(skus)) == 60
    assert [level.name for level in catalog.price_levels] == ["Base Price", "Wholesale", "MSRP"]
    assert len({loc.city for loc in catalog.locations}) == 3
    assert [loc.key for loc in catalog.locations] == ["loc-1", "loc-2", "loc-3"]
    # the awkward SKUs real catalogs have: a single quote in the brief's short form, and non-ASCII
    assert any("'" in sku for sku in skus)
    assert any(not sku.isascii() for sku in skus)
    assert "TEE-O'NEIL-M" in skus or any(sku.startswith(("TEE-O'NEIL-", "HOOD-O'NEIL-")) for sku in skus)
    for product in catalog.products:
        assert product.title and product.vendor and product.product_type
        titles = [v.title for v in product.variants]
        assert len(set(titles)) == len(titles), product
        for variant in product.variants:
            assert variant.price == variant.price.quantize(Decimal("0.01")) and variant.price > 0
            assert 0 < variant.cost < variant.price
            assert variant.barcode is None or (len(variant.barcode) == 12 and variant.barcode.isdigit())
    emails = [c.email for c in catalog.customers]
    assert len(set(emails)) == 10 and all("@example." in e and e.isascii() for e in emails)
    assert catalog.inventory and all(q > 0 for q in catalog.inventory.values())
    assert {loc for _, loc in catalog.inventory} <= {"loc-1", "loc-2", "loc-3"}
    assert {sku for sku, _ in catalog.inventory} <= set(skus)


def test_many_variants_per_product_stay_unique():
    catalog = make_catalog(3, products=12, variants_per_product=MAX_VARIANTS_PER_PRODUCT, customers=0, locations=1)
    skus = catalog.skus()
    assert len(skus) == len(set(skus)) == 12 * MAX_VARIANTS_PER_PRODUCT


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"products": 0}, "products"),
        ({"variants_per_product": MAX_VARIANTS_PER_PRODUCT + 1}, "variants_per_product"),
        ({"locations": 99}, "locations"),
        ({"customers": -1}, "customers"),
        ({"products": "10"}, "products"),
    ],
)
def test_bad_sizes_are_refused_naming_the_argument(kwargs, field):
    with pytest.raises(CatalogSpecError, match=field):
        make_catalog(**kwargs)


def test_100k_variants_are_generated_with_distinct_skus():
    # How fast is a benchmark figure, not an assertion: bench/catalog.py and bench/connectors.py print the
    # generation time of their catalogs.
    catalog = make_catalog(42, products=25_000, variants_per_product=4, customers=1_000, locations=3)
    skus = catalog.skus()
    assert len(skus) == 100_000 and len(set(skus)) == 100_000


def test_order_maker_builds_order_create_inputs():
    catalog = make_catalog(1, 10, 2, 5, 2)
    maker = OrderMaker(catalog, seed=5)
    orders = [maker.make() for _ in range(60)]
    again = OrderMaker(catalog, seed=5)
    assert [again.make() for _ in range(3)] == orders[:3]
    skus = set(catalog.skus())
    emails = {c.email for c in catalog.customers}
    for order in orders:
        assert order["currency"] == "USD"
        assert 1 <= len(order["lineItems"]) <= 4
        for line in order["lineItems"]:
            assert line["sku"] in skus and line["quantity"] >= 1
            assert Decimal(line["priceSet"]["shopMoney"]["amount"]) > 0
        assert order["email"] in emails
        assert order["customer"]["toUpsert"]["email"] == order["email"]
    # a mix of paid and pending, discounted and shipped orders
    assert {o["financialStatus"] for o in orders} == {"PAID", "PENDING"}
    assert any("discountCode" in o for o in orders) and any("shippingLines" in o for o in orders)
    paid = [o for o in orders if o["financialStatus"] == "PAID"]
    assert all(o["transactions"][0]["kind"] == "SALE" for o in paid)


def test_living_shop_runs_at_its_rates_and_stops_cleanly():
    catalog = make_catalog(1, 5, 2, 3, 2)
    placed, received, fulfilled, events = [], [], [], []
    lock = threading.Lock()

    def record(bucket):
        def call(*args):
            with lock:
                bucket.append(args)
            return 0

        return call

    shop = LivingShop(
        catalog,
        StreamSettings(orders_per_minute=1200, inventory_receipts_per_minute=600, fulfillment_delay_seconds=0.2),
        place_order=record(placed),
        receive_inventory=record(received),
        fulfill=record(fulfilled),
        on_event=events.append,
        seed=3,
        fulfillment_check_seconds=0.1,
    )
    shop.start()
    time.sleep(1.05)
    shop.stop()
    assert not shop.is_alive()
    count = len(placed)
    assert 12 <= count <= 22, count  # 20 per second
    assert 5 <= len(received) <= 12
    assert fulfilled and all(args == (0.2,) for args in fulfilled)
    sku, location, quantity = received[0]
    assert sku in catalog.skus() and location in ("loc-1", "loc-2") and quantity > 0
    assert events.count("stream.orders") == count
    time.sleep(0.2)
    assert len(placed) == count  # stopped means stopped


def test_living_shop_survives_a_failing_backend():
    catalog = make_catalog(1, 5, 2, 3, 2)
    events: list[str] = []

    def boom(order):
        raise RuntimeError("backend down")

    shop = LivingShop(
        catalog,
        StreamSettings(orders_per_minute=1200),
        place_order=boom,
        receive_inventory=lambda *a: None,
        fulfill=lambda delay: 0,
        on_event=events.append,
    )
    shop.start()
    time.sleep(0.3)
    shop.stop()
    assert events.count("stream.orders.failed") >= 3


def test_stream_settings_are_validated():
    with pytest.raises(CatalogSpecError, match="orders_per_minute"):
        StreamSettings(orders_per_minute=-1)
    assert not StreamSettings().active
