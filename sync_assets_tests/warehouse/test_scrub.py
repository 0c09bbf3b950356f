from __future__ import annotations

import json
import re

import duckdb
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_assets.state.ledger import Ledger
from sync_assets.warehouse import append_frame, scrub
from sync_assets.warehouse.landing_area import LandingArea
from sync_assets.warehouse.merge import merge_pending
from sync_assets.warehouse.scrub import PREFILTER_REGEX, REDACTED, _SECRET_KEYS, _SECRET_SUFFIXES

from .conftest import orders_frame

SHOPIFY_TOKEN = "shpat_" + "0123456789abcdef" * 2


def test_drops_secret_keys_at_any_depth_and_keeps_lookalikes():
    payload = {
        "id": 1,
        "accessToken": SHOPIFY_TOKEN,
        "headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz", "X-Shopify-Access-Token": "t"},
        "transactions": [{"paymentDetails": {"creditCardNumber": "•••• 4242", "creditCardCompany": "Visa"}}],
        "payment": {"ccNumber": "4111111111111111", "ccSecurityCode": "123", "card_number": "4111"},
        "client_secret": "x",
        "returnAuthorization": {"id": "77"},
        "title": "Basic Tee",
        "note": "Basic dGhpc2lzYXZlcnlsb25nc2VjcmV0",
        "memo": f"token was {SHOPIFY_TOKEN}",
    }
    assert scrub(payload) == {
        "id": 1,
        "headers": {},
        "transactions": [{"paymentDetails": {"creditCardCompany": "Visa"}}],
        "payment": {},
        "returnAuthorization": {"id": "77"},
        "title": "Basic Tee",
        "note": REDACTED,
        "memo": REDACTED,
    }
    assert payload["accessToken"] == SHOPIFY_TOKEN  # the caller's dict is left alone


_SEPARATORS = st.sampled_from(["", "_", "-", " ", "__", " - "])


@st.composite
def secret_key(draw):
    """A secret key name in any casing, with separators sprinkled between its letters."""
    base = draw(st.sampled_from(sorted(_SECRET_KEYS) + [f"x{s}" for s in _SECRET_SUFFIXES]))
    out = []
    for ch in base:
        out.append(ch.upper() if draw(st.booleans()) else ch)
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(_SEPARATORS))
    return "".join(out)


_DUCKDB = duckdb.connect()  # the engine the landing really runs the prefilter in (RE2, not Python's re)


def _prefilter_misses(doc) -> list[str]:
    """The JSON texts of ``doc`` (as Python writes it, with and without ASCII escapes) the prefilter lets by."""
    texts = [json.dumps(doc, ensure_ascii=False), json.dumps(doc), json.dumps(doc, indent=2, ensure_ascii=False)]
    found = _DUCKDB.execute("SELECT regexp_matches(t, ?) FROM unnest(?::VARCHAR[]) u(t)", [PREFILTER_REGEX, texts])
    return [t for t, (hit,) in zip(texts, found.fetchall()) if not hit or not re.search(PREFILTER_REGEX, t)]


@given(key=secret_key(), value=st.text(max_size=20))
@settings(deadline=None)  # a DuckDB query per example: its time on a loaded machine says nothing
def test_prefilter_catches_every_payload_scrub_would_change(key, value):
    """The SQL prefilter decides which text payloads get scrubbed: it must never miss one."""
    doc = {"outer": [{key: value}]}
    assert scrub(doc) != doc
    assert not _prefilter_misses(doc), key


_WHITESPACE = st.sampled_from([c for c in map(chr, range(0x110000)) if re.fullmatch(r"\s", c)])


@st.composite
def secret_value(draw):
    """A credential-shaped string as _SECRET_VALUE sees it: any casing, any (Unicode) whitespace around it."""
    spaces = st.lists(_WHITESPACE, max_size=3).map("".join)
    word = "".join(c.upper() if draw(st.booleans()) else c for c in draw(st.sampled_from(["bearer", "basic", "oauth"])))
    token = draw(st.text("abcdefABCDEF0123456789+/=._~-", min_size=12, max_size=30))
    gap = draw(spaces.filter(bool))
    if word.lower() == "oauth":
        return f"{draw(spaces)}{word}{gap}oauth_consumer_key=\"{token}\""
    return f"{draw(spaces)}{word}{gap}{token}{draw(spaces)}"


@given(value=secret_value(), key=st.sampled_from(["note", "Authorization-ish", "x"]))
@settings(deadline=None)  # a DuckDB query per example: its time on a loaded machine says nothing
def test_prefilter_catches_credential_values_whatever_whitespace_they_carry(value, key):
    """A tab or newline reaches the JSON text as an escape (``\\t``), a no-break space raw: both are whitespace
    to the exact check, so the prefilter (RE2, whose own ``\\s`` is ASCII only) must let neither by."""
    doc = {"outer": [{key: value}]}
    assert scrub(doc) != doc
    assert not _prefilter_misses(doc), repr(value)


def test_every_whitespace_character_is_in_the_prefilter_class():
    from sync_assets.warehouse.scrub import _WHITESPACE as listed

    assert {c for c in map(chr, range(0x110000)) if re.fullmatch(r"\s", c)} == set(listed)


def test_prefilter_catches_these_spellings_in_duckdb():
    docs = [
        {"note": "\tBearer abcdefghijklmnopqrstuv"},  # JSON text: "\tBearer ..."
        {"note": "Bearer\tabcdefghijklmnopqrstuv"},
        {"note": "basic\u00a0abcdefghijklmnopqrstuv"},
        {"h": '\nOAuth oauth_consumer_key="x"'},
        {"api\u212aey": "x"},  # KELVIN SIGN: lower() makes it "apikey"
        {"v": "\u017fhpat_" + "0123456789abcdef" * 2},  # LATIN SMALL LETTER LONG S: IGNORECASE takes it for s
    ]
    for doc in docs:
        assert scrub(doc) != doc, doc
        assert not _prefilter_misses(doc), doc


def test_landed_payloads_hold_no_secrets_whether_dicts_or_text(conn):
    as_dict = orders_frame(ns=[1], accessToken=SHOPIFY_TOKEN, payment={"cardNumber": "4111111111111111"})
    as_text = orders_frame(ns=[2]).assign(
        payload=[json.dumps({"id": 2, "Authorization": "Bearer abcdefghijklmnopqrstuv", "tags": ["Basic"]})]
    )
    append_frame(conn, "raw.shopify_orders", as_dict, "r1")
    append_frame(conn, "raw.shopify_orders", as_text, "r2")
    rows = conn.execute("SELECT order_id, payload FROM raw.shopify_orders ORDER BY order_id").fetchall()
    dump = " ".join(p for _, p in rows)
    for secret in (SHOPIFY_TOKEN, "4111111111111111", "abcdefghijklmnopqrstuv"):
        assert secret not in dump
    assert json.loads(rows[1][1]) == {"id": 2, "tags": ["Basic"]}
    assert json.loads(rows[0][1])["lineItems"]["nodes"][0]["sku"] == "SKU-1"
    # untouched text payloads are stored byte for byte (no re-serialisation on the fast path)
    plain = '{"id":3,  "name":"Zoë"}'
    append_frame(conn, "raw.shopify_orders", pd.DataFrame({"order_id": ["3"], "payload": [plain]}), "r3")
    assert conn.execute("SELECT payload FROM raw.shopify_orders WHERE order_id='3'").fetchall() == [(plain,)]


def test_landing_scrubs_a_frame_mixing_dict_and_text_payloads(tmp_path):
    """Dicts are scrubbed as they are serialised; text (even one row of it) still passes the SQL check."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    dicts = orders_frame(ns=[1], accessToken=SHOPIFY_TOKEN)
    text = orders_frame(ns=[2]).assign(payload=[json.dumps({"id": 2, "Authorization": "Bearer abcdefghijklmnopqrstuv"})])
    LandingArea(tmp_path / "landing", ledger).land({"raw.shopify_orders": pd.concat([dicts, text])}, "r1")
    LandingArea(tmp_path / "landing", ledger).land({"raw.shopify_orders": orders_frame(ns=[3], accessToken=SHOPIFY_TOKEN)}, "r2")
    merge_pending(str(tmp_path / "warehouse.duckdb"), ledger)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        rows = dict(conn.execute("SELECT order_id, payload FROM raw.shopify_orders").fetchall())
    assert len(rows) == 3
    for payload in rows.values():
        assert SHOPIFY_TOKEN not in payload and "abcdefghijklmnopqrstuv" not in payload
    assert json.loads(rows["gid://shopify/Order/2"]) == {"id": 2}
