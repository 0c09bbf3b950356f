from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from sync_assets.warehouse import RAW_TABLES, WarehouseLoadError, append_frame, ensure_schema, upsert_frame

from .conftest import orders_frame


def q(conn, sql, *params):
    return conn.execute(sql, list(params)).fetchall()


def test_ensure_schema_is_idempotent_and_creates_every_raw_table(conn, wh_path):
    ensure_schema(conn)
    conn.close()
    with duckdb.connect(str(wh_path)) as again:
        ensure_schema(again)
        names = {f"{s}.{t}" for s, t in q(again, "SELECT table_schema, table_name FROM information_schema.tables")}
    assert set(RAW_TABLES) <= names


# staging and the marts are dbt models, tested on what the flows really land: test_marts.py.


def test_non_ascii_and_huge_payloads_round_trip(conn):
    huge = "Ω≈ç√ 漢字 🚀 " * 400_000  # ~6 MB of multi-byte text
    df = orders_frame(ns=[1], note=huge)
    append_frame(conn, "raw.shopify_orders", df, "r")
    (payload,) = q(conn, "SELECT payload FROM raw.shopify_orders")[0]
    assert json.loads(payload)["note"] == huge
    text = df.assign(payload=[json.dumps({"id": "x", "title": "Zoë 🚀 " * 10}, ensure_ascii=False)])
    append_frame(conn, "raw.shopify_orders", text, "r2")
    assert q(conn, "SELECT json_extract_string(payload, '$.title') FROM raw.shopify_orders WHERE _run_id='r2'") == [
        ("Zoë 🚀 " * 10,)
    ]


@pytest.mark.parametrize(
    "table, df, run_id, message",
    [
        ("raw.nope", orders_frame(), "r", "unknown raw table"),
        ("raw.shopify_orders", orders_frame().assign(extra=1), "r", "not in the table"),
        ("raw.shopify_orders", orders_frame().drop(columns="order_id"), "r", "lacks required columns ['order_id']"),
        ("raw.shopify_orders", orders_frame().assign(_run_id="x"), "r", "not in the table"),
        ("raw.shopify_orders", orders_frame(), "", "run_id"),
        ("raw.shopify_orders", orders_frame().assign(order_id=["a", None, "c"]), "r", "NOT NULL"),
        ("raw.shopify_orders", orders_frame().assign(payload=["{}", "{not json", "{}"]), "r", "JSON"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(conn, table, df, run_id, message):
    with pytest.raises(WarehouseLoadError, match="append_frame") as err:
        append_frame(conn, table, df, run_id)
    assert message in str(err.value)
    assert q(conn, "SELECT count(*) FROM raw.shopify_orders") == [(0,)]


def test_empty_frame_is_a_no_op(conn):
    assert append_frame(conn, "shopify_orders", orders_frame().iloc[:0], "r") == 0


@pytest.mark.parametrize("method", ["delete_insert", "insert_or_replace"])
def test_upsert_replaces_by_composite_key_and_dedupes_the_batch(conn, method):
    conn.execute(
        "CREATE TABLE main.prices (item VARCHAR, level VARCHAR, price DOUBLE, payload JSON, PRIMARY KEY (item, level))"
    )
    first = pd.DataFrame({"item": ["a", "a", "b"], "level": ["1", "2", "1"], "price": [1.0, 2.0, 3.0],
                          "payload": [{"k": 1}, {"k": 2}, {"k": 3}]})
    assert upsert_frame(conn, "main.prices", first, ["item", "level"], method=method) == 3
    second = pd.DataFrame({"item": ["a", "a", "c"], "level": ["1", "1", "1"], "price": [9.0, 10.0, 5.0],
                           "payload": [{"k": 9}, {"k": 10, "api_key": "s3cr3t"}, {"k": 5}]})
    assert upsert_frame(conn, "main.prices", second, ["item", "level"], method=method) == 2
    upsert_frame(conn, "main.prices", second, ["item", "level"], method=method)  # replay: no change
    assert q(conn, "SELECT item, level, price, payload::VARCHAR FROM main.prices ORDER BY 1, 2") == [
        ("a", "1", 10.0, '{"k": 10}'),
        ("a", "2", 2.0, '{"k": 2}'),
        ("b", "1", 3.0, '{"k": 3}'),
        ("c", "1", 5.0, '{"k": 5}'),
    ]


def test_upsert_errors_name_the_problem(conn):
    conn.execute("CREATE TABLE main.t (k VARCHAR, v INTEGER)")
    df = pd.DataFrame({"k": ["a", None], "v": [1, 2]})
    with pytest.raises(WarehouseLoadError, match="NULL key"):
        upsert_frame(conn, "main.t", df, ["k"])
    with pytest.raises(WarehouseLoadError, match="does not exist"):
        upsert_frame(conn, "main.missing", df, ["k"])
    with pytest.raises(WarehouseLoadError, match=r"key columns \['x'\]"):
        upsert_frame(conn, "main.t", df, ["x"])
    with pytest.raises(WarehouseLoadError, match="method"):
        upsert_frame(conn, "main.t", df, ["k"], method="merge")
    assert q(conn, "SELECT count(*) FROM main.t") == [(0,)]
