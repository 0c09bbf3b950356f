"""Offline tests of SuiteQL text building: binding, escaping, timestamps, keyset page queries.

Escaped literals are checked by running them through DuckDB, whose string-literal rules ('' for ')
match SuiteQL's, so "round-trips as data" is tested by a real SQL parser rather than by string equality.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_assets.connectors.netsuite.suiteql import (
    bind,
    has_top_level_order_by,
    keyset_page_query,
    literal,
    parse_ts,
    ts_column,
    ts_literal,
)


_CON = duckdb.connect()


@given(st.text().filter(lambda s: "\x00" not in s))
def test_any_string_round_trips_as_one_literal(value):
    assert _CON.execute(f"SELECT {literal(value)} AS v").fetchone()[0] == value


INJECTIONS = [
    "x' OR '1'='1",
    "x'; DROP TABLE item; --",
    "O'Brien's \"Best\" 12''",
    "'",
    "''",
    "\\'",
    "a' UNION SELECT itemid FROM item WHERE 'a'='a",
]


@pytest.mark.parametrize("sku", INJECTIONS)
def test_injection_attempts_match_only_themselves(sku):
    con = duckdb.connect()
    con.execute("CREATE TABLE item (id INTEGER, itemid VARCHAR)")
    con.executemany("INSERT INTO item VALUES (?, ?)", [(1, "plain"), (2, sku), (3, "other")])
    sql = bind("SELECT id FROM item WHERE itemid = :sku", {"sku": sku})
    assert con.execute(sql).fetchall() == [(2,)]
    assert con.execute("SELECT count(*) FROM item").fetchone()[0] == 3


def test_scalars_render_as_suiteql_literals():
    assert literal(None) == "NULL"
    assert literal(True) == "'T'" and literal(False) == "'F'"
    assert literal(42) == "42" and literal(-7) == "-7"
    assert literal(1.5) == "1.5"
    assert literal(Decimal("19.990")) == "19.990"
    assert literal(Decimal("1E+3")) == "1000"
    assert literal(date(2024, 3, 14)) == "TO_DATE('2024-03-14', 'YYYY-MM-DD')"
    assert literal(datetime(2024, 3, 14, 9, 5, 7)) == "TO_TIMESTAMP('2024-03-14 09:05:07', 'YYYY-MM-DD HH24:MI:SS')"


@pytest.mark.parametrize("bad", [[1], {"a": 1}, b"x", object(), float("nan"), float("inf"), Decimal("NaN"), "a\x00b"])
def test_non_scalars_and_unrepresentable_values_are_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        literal(bad)


def test_bind_leaves_placeholders_inside_literals_alone():
    sql = bind(
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS t FROM item WHERE itemid = :sku AND x = ':sku'",
        {"sku": "A:B"},
    )
    assert sql == (
        "SELECT TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS t FROM item WHERE itemid = 'A:B' AND x = ':sku'"
    )


def test_bind_in_list_and_its_limits():
    assert bind("WHERE id IN :ids", {"ids": [3, "4'"]}) == "WHERE id IN (3, '4''')"
    with pytest.raises(ValueError, match="1..1000"):
        bind("WHERE id IN :ids", {"ids": []})
    with pytest.raises(ValueError, match="1..1000"):
        bind("WHERE id IN :ids", {"ids": list(range(1001))})
    with pytest.raises(TypeError):
        bind("WHERE id IN :ids", {"ids": [[1]]})


def test_bind_refuses_missing_and_unused_parameters():
    with pytest.raises(KeyError, match=":sku"):
        bind("WHERE itemid = :sku", {})
    with pytest.raises(KeyError, match="not used"):
        bind("WHERE itemid = :sku", {"sku": "a", "skus": "b"})
    with pytest.raises(ValueError, match="unterminated"):
        bind("WHERE itemid = 'abc", {})
    assert bind("SELECT 1 FROM dual") == "SELECT 1 FROM dual"


def test_timestamp_helpers():
    assert ts_column("i.lastmodifieddate") == "TO_CHAR(i.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodifieddate"
    assert ts_column("lastmodifieddate", "modified") == "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS modified"
    assert parse_ts("2024-03-14 09:05:07") == datetime(2024, 3, 14, 9, 5, 7)
    with pytest.raises(ValueError, match="naive"):
        ts_literal(datetime(2024, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError):
        ts_column("x); DROP TABLE item; --")


def test_keyset_page_query_keeps_the_callers_condition_whole():
    base = "SELECT id, itemid FROM item WHERE isinactive = 'F' OR itemid = 'x WHERE y ORDER BY z'"
    assert keyset_page_query(base, "id", None) == (
        "SELECT id, itemid FROM item WHERE (isinactive = 'F' OR itemid = 'x WHERE y ORDER BY z') ORDER BY id ASC"
    )
    assert keyset_page_query(base, "id", 500).endswith(" AND id > 500 ORDER BY id ASC")
    assert keyset_page_query("SELECT id FROM item", "id", "A'1") == "SELECT id FROM item WHERE id > 'A''1' ORDER BY id ASC"


def test_keyset_page_query_ignores_nested_clauses_and_refuses_top_level_ordering():
    nested = "SELECT i.id FROM item i WHERE i.id IN (SELECT item FROM pricing WHERE pricelevel = 1 ORDER BY item)"
    assert keyset_page_query(nested, "i.id", 9).endswith("pricelevel = 1 ORDER BY item)) AND i.id > 9 ORDER BY i.id ASC")
    for bad in ("SELECT id FROM item ORDER BY id", "SELECT item, count(*) FROM pricing GROUP BY item"):
        with pytest.raises(ValueError, match="top-level"):
            keyset_page_query(bad, "id", None)
    assert has_top_level_order_by("SELECT id FROM item ORDER BY id")
    assert not has_top_level_order_by("SELECT id FROM (SELECT id FROM item ORDER BY id)")


def test_keyset_page_query_runs_and_pages_by_key():
    con = duckdb.connect()
    con.execute("CREATE TABLE item AS SELECT range AS id, 'sku' || range AS itemid FROM range(1, 26)")
    seen, last = [], None
    while True:
        rows = con.execute(keyset_page_query("SELECT id FROM item WHERE id % 2 = 1", "id", last) + " LIMIT 4").fetchall()
        if not rows:
            break
        seen += [r[0] for r in rows]
        last = rows[-1][0]
    assert seen == list(range(1, 26, 2))
