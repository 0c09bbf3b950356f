"""The NetSuite client over real HTTP against the sandbox (``sandbox`` fixture in conftest.py).

The sandbox verifies OAuth 1.0a signatures and refuses replayed nonces, enforces the SuiteQL row cap and
the account's concurrency limit, and injects faults; so each test here proves a behaviour end to end.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.netsuite import (
    ClientCredentialsAuth,
    NetSuiteAuthError,
    NetSuiteClient,
    NetSuiteDuplicateRecord,
    NetSuiteInvalidContent,
    NetSuiteOutcomeUnknown,
    NetSuiteQueryError,
    NetSuiteRecordNotFound,
    NetSuiteUnavailable,
    TokenBasedAuth,
    token_url_for,
)
from sync_assets.sandbox import credentials as C

FAST = Backoff(max_attempts=8, base_seconds=0.02, cap_seconds=0.2)


@pytest.fixture
def sandbox(sandbox):
    """The shared sandbox, with the settings these tests change put back (its reset keeps settings)."""
    yield sandbox
    sandbox.control.clear_faults()
    sandbox.control.configure(suiteql_row_cap=100_000, netsuite_concurrency=5)


def tba(token_secret: str = C.NETSUITE_TOKEN_SECRET) -> TokenBasedAuth:
    return TokenBasedAuth(
        C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET, C.NETSUITE_TOKEN_ID, token_secret
    )


def m2m_key(sandbox) -> bytes:
    keys = sorted(sandbox.data_dir.rglob("netsuite_m2m_private.pem"))
    assert keys, f"the sandbox wrote no netsuite_m2m_private.pem under {sandbox.data_dir}"
    return keys[0].read_bytes()


def m2m(sandbox, certificate_id: str = C.NETSUITE_CERTIFICATE_ID) -> ClientCredentialsAuth:
    return ClientCredentialsAuth(token_url_for(sandbox.url), C.NETSUITE_CLIENT_ID, certificate_id, m2m_key(sandbox))


def client(sandbox, auth=None, **kw) -> NetSuiteClient:
    kw.setdefault("backoff", FAST)
    kw.setdefault("timeout", 5)
    return NetSuiteClient(sandbox.url, C.NETSUITE_ACCOUNT_ID, auth or tba(), **kw)


def item_ids(ns: NetSuiteClient) -> list[str]:
    return [row["id"] for row in ns.suiteql("SELECT id FROM item ORDER BY id")]


def count_customers(ns: NetSuiteClient, external_id: str) -> int:
    rows = list(ns.suiteql("SELECT COUNT(*) AS n FROM customer WHERE externalid = :eid", {"eid": external_id}))
    return int(rows[0]["n"])


def test_tba_and_m2m_both_authenticate(sandbox):
    by_tba = item_ids(client(sandbox))
    ns = client(sandbox, m2m(sandbox))
    assert item_ids(ns) == by_tba and len(by_tba) >= 60
    assert len(item_ids(ns)) == len(by_tba)  # second call reuses the cached bearer token
    assert ns.stats.snapshot()["calls"] == 2


def test_a_bad_token_secret_is_an_auth_error_naming_the_credential(sandbox):
    wrong = "0" * 64
    ns = client(sandbox, tba(token_secret=wrong))
    with pytest.raises(NetSuiteAuthError) as caught:
        ns.get_record("customer", 1)
    message = str(caught.value)
    assert caught.value.status == 401 and caught.value.code == "INVALID_LOGIN"
    assert "token secret" in message and "1234567_SB1" in message
    assert wrong not in message and C.NETSUITE_CONSUMER_SECRET not in message
    assert ns.stats.snapshot()["calls"] == 1  # a refused credential is not retried


def test_m2m_with_an_unknown_certificate_is_an_auth_error(sandbox):
    with pytest.raises(NetSuiteAuthError, match="certificate id") as caught:
        item_ids(client(sandbox, m2m(sandbox, certificate_id="no-such-cert")))
    assert "PRIVATE KEY" not in str(caught.value)


def test_each_retry_is_signed_with_a_fresh_nonce(sandbox):
    # The sandbox refuses a replayed (nonce, timestamp) with 401, so success after retries proves re-signing.
    sandbox.control.set_faults("server_errors", service="netsuite", statuses=[500], limit=3)
    ns = client(sandbox)
    assert len(item_ids(ns)) >= 60
    assert ns.stats.snapshot()["retries"] == 3
    assert sandbox.control.counters()["counters"].get("netsuite.auth_failures", 0) == 0


def test_keyset_paging_goes_past_the_row_cap_exactly_once(sandbox):
    sandbox.control.reset(seed=7, products=120, variants_per_product=3, customers=5, locations=2)
    ns = client(sandbox)
    total = int(next(ns.suiteql("SELECT COUNT(*) AS n FROM item WHERE isinactive = 'F'"))["n"])
    assert total > 300
    sandbox.control.configure(suiteql_row_cap=100)  # the sandbox refuses any page reaching past it
    rows = list(ns.suiteql_keyset("SELECT id, itemid FROM item WHERE isinactive = :f", params={"f": False}, page_size=50))
    ids = [int(r["id"]) for r in rows]
    assert len(ids) == len(set(ids)) == total
    assert ids == sorted(ids)
    resumed = list(ns.suiteql_keyset("SELECT id FROM item WHERE isinactive = 'F'", after=rows[199]["id"], page_size=50))
    assert [int(r["id"]) for r in resumed] == ids[200:]
    with pytest.raises(NetSuiteQueryError, match="100"):
        list(ns.suiteql("SELECT id FROM item ORDER BY id", page_size=50))


def test_a_sku_with_quotes_round_trips_in_a_suiteql_filter(sandbox):
    ns = client(sandbox)
    items = list(ns.suiteql("SELECT id, itemid FROM item ORDER BY id"))
    quoted = [row for row in items if "'" in row.get("itemid", "")]
    assert quoted, "the sandbox catalog is meant to hold SKUs with quotes"
    for row in quoted:
        assert list(ns.suiteql("SELECT id, itemid FROM item WHERE itemid = :sku", {"sku": row["itemid"]})) == [row]
    attack = quoted[0]["itemid"] + "' OR '1'='1"
    assert list(ns.suiteql("SELECT id FROM item WHERE itemid = :sku", {"sku": attack})) == []


def test_create_get_patch_and_upsert(sandbox):
    ns = client(sandbox)
    cid = ns.create_record("customer", {"externalId": "CUST-1", "companyName": "O'Hara & Sons", "email": "a@x.test"})
    assert ns.get_record("customer", cid)["companyName"] == "O'Hara & Sons"
    assert ns.get_record("customer", "eid:CUST-1")["id"] == cid
    assert ns.patch_record("customer", cid, {"email": "b@x.test"}) is None
    assert ns.get_record("customer", int(cid))["email"] == "b@x.test"
    uid = ns.upsert_record("customer", "CUST-2", {"firstName": "Ann", "lastName": "Lee"})
    assert uid != cid
    assert ns.upsert_record("customer", "CUST-2", {"firstName": "Anna", "lastName": "Lee"}) == uid
    assert ns.get_record("customer", "eid:CUST-2")["firstName"] == "Anna"
    assert count_customers(ns, "CUST-2") == 1


def test_duplicate_external_id_on_create(sandbox):
    ns = client(sandbox)
    ns.create_record("customer", {"externalId": "DUP-1", "companyName": "First"})
    with pytest.raises(NetSuiteDuplicateRecord) as caught:
        ns.create_record("customer", {"externalId": "DUP-1", "companyName": "Second"})
    assert caught.value.status == 400 and "already exists" in caught.value.detail


def test_missing_records_are_not_found(sandbox):
    ns = client(sandbox)
    for ref in (987654321, "eid:NO-SUCH-CUSTOMER"):
        with pytest.raises(NetSuiteRecordNotFound) as caught:
            ns.get_record("customer", ref)
        assert caught.value.status == 404 and caught.value.code == "NONEXISTENT_ID"


def test_invalid_content_carries_the_path(sandbox):
    ns = client(sandbox)
    cid = ns.create_record("customer", {"externalId": "SO-CUST", "companyName": "Buyer"})
    # A matrix parent is not sellable (the sandbox, like NetSuite, refuses it on a line): take a real SKU.
    sellable = "SELECT id FROM item WHERE itemtype = 'InvtPart' AND NVL(matrixtype, 'NONE') <> 'PARENT' ORDER BY id"
    good_item = next(ns.suiteql(sellable))["id"]
    body = {"entity": {"id": cid}, "item": {"items": [{"item": {"id": good_item}, "quantity": 1}, {"item": {"id": "99999999"}, "quantity": 1}]}}
    with pytest.raises(NetSuiteInvalidContent) as caught:
        ns.upsert_record("salesOrder", "SHOP-BAD-1", body)
    assert caught.value.code == "INVALID_CONTENT", str(caught.value)
    assert caught.value.error_path == "item.items[1].item"
    assert "item.items[1].item" in str(caught.value)


def test_many_threads_over_the_account_concurrency_limit_never_fail(sandbox):
    sandbox.control.configure(netsuite_concurrency=3)
    sandbox.control.reset_counters()
    ns = client(sandbox, max_concurrency=8, backoff=Backoff(max_attempts=8, base_seconds=0.01, cap_seconds=0.1))
    first = item_ids(ns)[0]

    cid = ns.create_record("customer", {"externalId": "BUSY-1", "companyName": "Busy"})

    def work(i: int) -> int:
        if i % 2:
            return len(list(ns.suiteql("SELECT id, itemid FROM item WHERE id = :id", {"id": int(first)})))
        return int(ns.get_record("customer", cid)["id"] == cid)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(160)))
    assert results == [1] * 160
    counters = sandbox.control.counters()
    assert counters["peak_in_flight"]["netsuite"] <= 8
    stats = ns.stats.snapshot()
    assert stats["throttled"] > 0  # the run really went over the account's limit...
    assert stats["throttled"] == counters["counters"]["netsuite.throttled"]  # ...and every 429 was retried
    assert stats["calls"] == counters["counters"]["requests.netsuite"]


@pytest.mark.parametrize(
    ("profile", "params"),
    [
        ("server_errors", {"rate": 0.4, "seed": 3}),
        ("throttle", {"rate": 0.5, "seed": 4}),
        ("resets", {"rate": 0.3, "seed": 5}),
        ("timeouts", {"rate": 0.3, "seed": 6, "seconds": 1.0}),
    ],
)
def test_fault_profiles_are_survived(sandbox, profile, params):
    ns = client(sandbox, timeout=0.5)
    baseline = item_ids(ns)
    sandbox.control.set_faults(profile, service="netsuite", **params)
    for n in range(6):
        assert item_ids(ns) == baseline
        ns.upsert_record("customer", f"FAULT-{n}", {"companyName": f"Fault {n}"})
    sandbox.control.clear_faults()
    for n in range(6):
        assert count_customers(ns, f"FAULT-{n}") == 1
    assert ns.stats.snapshot()["retries"] > 0


def test_a_short_outage_is_ridden_out(sandbox):
    sandbox.control.set_faults("down", service="netsuite", seconds=1.0)
    ns = client(sandbox, backoff=Backoff(max_attempts=12, base_seconds=0.1, cap_seconds=0.4))
    assert item_ids(ns)
    assert ns.stats.snapshot()["retries"] > 0


def test_a_long_outage_surfaces_as_unavailable(sandbox):
    sandbox.control.set_faults("down", service="netsuite", seconds=30)
    ns = client(sandbox, backoff=Backoff(max_attempts=3, base_seconds=0.01, cap_seconds=0.02))
    with pytest.raises(NetSuiteUnavailable) as caught:
        ns.get_record("customer", 1)
    assert caught.value.status == 503


@pytest.mark.parametrize("failure", ["error", "timeout", "reset"])
def test_committed_then_failed_upsert_leaves_one_record(sandbox, failure):
    sandbox.control.set_faults("committed_then_failed", service="netsuite", failure=failure, seconds=1.0, limit=1)
    ns = client(sandbox, timeout=0.5)
    cid = ns.upsert_record("customer", "CTF-1", {"companyName": "Committed"})
    sandbox.control.clear_faults()
    assert count_customers(ns, "CTF-1") == 1
    assert ns.get_record("customer", "eid:CTF-1")["id"] == cid


def test_committed_then_failed_create_with_external_id_resolves_to_the_record(sandbox):
    sandbox.control.set_faults("committed_then_failed", service="netsuite", failure="error", limit=1)
    ns = client(sandbox)
    cid = ns.create_record("customer", {"externalId": "CTF-2", "companyName": "Committed"})
    sandbox.control.clear_faults()
    assert count_customers(ns, "CTF-2") == 1
    assert ns.get_record("customer", cid)["externalId"] == "CTF-2"


def test_committed_then_failed_create_without_external_id_is_not_retried(sandbox):
    sandbox.control.set_faults("committed_then_failed", service="netsuite", failure="error", limit=1)
    ns = client(sandbox)
    with pytest.raises(NetSuiteOutcomeUnknown):
        ns.create_record("customer", {"companyName": "No External Id Inc"})
    sandbox.control.clear_faults()
    rows = list(ns.suiteql("SELECT id FROM customer WHERE companyname = :n", {"n": "No External Id Inc"}))
    assert len(rows) == 1  # it did commit: a blind retry would have made it two
