"""Small realistic frames for every raw table, and a fresh warehouse file per test."""

from __future__ import annotations

import shutil

import duckdb
import pandas as pd
import pytest

from sync_assets.warehouse import ensure_schema

T0 = pd.Timestamp("2025-09-20T14:00:00Z")


def ts(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def order_payload(n: int, *, total: str = "145.0", updated: float = 60, currency: str = "USD", **extra) -> dict:
    return {
        "id": f"gid://shopify/Order/{n}",
        "name": f"#{1000 + n}",
        "createdAt": ts(0).isoformat().replace("+00:00", "Z"),
        "updatedAt": ts(updated).isoformat().replace("+00:00", "Z"),
        "test": False,
        "cancelledAt": None,
        "currencyCode": currency,
        "totalPriceSet": {"shopMoney": {"amount": total, "currencyCode": currency}},
        "subtotalPriceSet": {"shopMoney": {"amount": total, "currencyCode": currency}},
        "customer": {"id": "gid://shopify/Customer/7", "defaultEmailAddress": {"emailAddress": "zoë@example.com"}},
        "lineItems": {
            "nodes": [
                {"id": f"L{n}-1", "sku": "SKU-1", "name": "Café ☕ mug", "quantity": 2,
                 "originalUnitPriceSet": {"shopMoney": {"amount": "49.0"}}},
                {"id": f"L{n}-2", "sku": 'SKU-"2"', "name": "Basic Tee", "quantity": 1,
                 "originalUnitPriceSet": {"shopMoney": {"amount": "47.0"}}},
            ]
        },
        **extra,
    }


def orders_frame(ns=(1, 2, 3), updated: float = 60, **kw) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"gid://shopify/Order/{n}" for n in ns],
            "source_updated_at": [ts(updated)] * len(ns),
            "payload": [order_payload(n, updated=updated, **kw) for n in ns],
        }
    )


def netsuite_frames() -> dict[str, pd.DataFrame]:
    return {
        "raw.netsuite_items": pd.DataFrame(
            {
                "item_id": ["101", "102"],
                "source_updated_at": [ts(0), ts(0)],
                "payload": [
                    {"id": "101", "itemid": "SKU-1", "displayname": "Café mug", "itemtype": "InvtPart", "isinactive": "F"},
                    {"id": "102", "itemid": 'SKU-"2"', "displayname": "Basic Tee", "itemtype": "InvtPart", "isinactive": "T"},
                ],
            }
        ),
        "raw.netsuite_item_prices": pd.DataFrame(
            {
                "item_id": ["101", "101", "102"],
                "price_level": ["1", "2", "1"],
                "currency": ["USD", "USD", "USD"],
                "source_updated_at": [ts(0)] * 3,
                "payload": [
                    {"item": "101", "pricelevel": "1", "pricelevelname": "Base Price", "unitprice": "49.00"},
                    {"item": "101", "pricelevel": "2", "pricelevelname": "Wholesale", "unitprice": "39.20"},
                    {"item": "102", "pricelevel": "1", "pricelevelname": "Base Price", "unitprice": "47.00"},
                ],
            }
        ),
        "raw.netsuite_inventory": pd.DataFrame(
            {
                "item_id": ["101"],
                "location_id": ["1"],
                "source_updated_at": [ts(0)],
                "payload": [{"item": "101", "location": "1", "quantityonhand": "20", "quantitycommitted": "3",
                             "quantityavailable": "17"}],
            }
        ),
        "raw.netsuite_customers": pd.DataFrame(
            {
                "customer_id": ["501"],
                "source_updated_at": [ts(0)],
                "payload": [{"id": "501", "entityid": "Zoë Ü", "email": "zoë@example.com", "isinactive": "F"}],
            }
        ),
        "raw.netsuite_fulfillments": pd.DataFrame(
            {
                "fulfillment_id": ["900"],
                "source_updated_at": [ts(0)],
                "payload": [{"id": "900", "tranid": "IF1", "createdfrom": "SO-1", "status": "C",
                             "trandate": "2025-09-21", "trackingnumbers": ["1Z999", "1Z998"]}],
            }
        ),
        "raw.inventory_snapshots": pd.DataFrame(
            {
                "sku": ["SKU-1", "SKU-1"],
                "location": ["1", "1"],
                "netsuite_available": [17, 15],
                "unsynced_qty": [1, 0],
                "safety_stock": [2, 2],
                "computed": [14, 13],
                "previous_storefront": [16, 14],
                "written": [True, False],
                "computed_at": [ts(10), ts(20)],
            }
        ),
        "raw.sync_events": pd.DataFrame(
            {
                "flow": ["orders", "orders", "orders", "orders"],
                "source_id": ["gid://shopify/Order/1", "gid://shopify/Order/2", "gid://shopify/Order/2",
                              "gid://shopify/Order/3"],
                "target_id": ["SO-1", None, "SO-2", None],
                "status": ["synced", "failed", "synced", "dead_lettered"],
                "reason": [None, "timeout", None, "unknown SKU 'X'"],
                "event_at": [ts(62), ts(61), ts(64), ts(63)],
                "source_updated_at": [ts(60), ts(60), ts(60), ts(60)],
            }
        ),
    }


@pytest.fixture
def wh_path(tmp_path, empty_warehouse):
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(empty_warehouse, path)
    return path


@pytest.fixture
def conn(wh_path):
    c = duckdb.connect(str(wh_path))
    ensure_schema(c)
    yield c
    c.close()
