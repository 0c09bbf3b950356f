"""Offline tests of the client's retry rules, with a scripted transport in place of the network.

The sandbox tests (test_netsuite_http.py) prove the same over real HTTP; these pin the exact decisions
(what is retried, what is not, what the stats say) without timing.
"""

from __future__ import annotations

import json

import pytest
import requests
import urllib3

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.netsuite import (
    NetSuiteAuthError,
    NetSuiteClient,
    NetSuiteDuplicateRecord,
    NetSuiteOutcomeUnknown,
    NetSuiteQueryError,
    NetSuiteThrottled,
    NetSuiteUnavailable,
    TokenBasedAuth,
)

BASE = "https://1234567-sb1.suitetalk.api.netsuite.com"
FAST = Backoff(max_attempts=4, base_seconds=0.001, cap_seconds=0.002)
DUP = {"status": 400, "o:errorDetails": [{"detail": "Error while accessing a resource. This entity already exists.", "o:errorCode": "USER_ERROR"}]}
ERR500 = {"status": 500, "o:errorDetails": [{"detail": "An unexpected error occurred.", "o:errorCode": "UNEXPECTED_ERROR"}]}
THROTTLE = {"status": 429, "o:errorDetails": [{"detail": "Concurrent request limit exceeded. Request blocked.", "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED"}]}
LOGIN = {"status": 401, "o:errorDetails": [{"detail": "Invalid login attempt.", "o:errorCode": "INVALID_LOGIN"}]}


class Scripted(requests.adapters.BaseAdapter):
    """Answers each request with the next scripted item: (status, body[, headers]) or an exception."""

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        status, body, *rest = item
        r = requests.Response()
        r.status_code = status
        r.url = request.url
        r.request = request
        r.headers.update(rest[0] if rest else {})
        r._content = b"" if body is None else json.dumps(body).encode()
        return r

    def close(self):
        pass


def client_with(script, **kw):
    adapter = Scripted(script)
    session = requests.Session()
    session.mount("https://", adapter)
    auth = TokenBasedAuth("1234567_SB1", "ck", "cs", "tid", "ts")
    return NetSuiteClient(BASE, "1234567_SB1", auth, backoff=FAST, session=session, **kw), adapter


CREATED = (204, None, {"Location": f"{BASE}/services/rest/record/v1/customer/647"})


def test_create_without_external_id_is_not_retried_after_a_500():
    client, adapter = client_with([(500, ERR500)])
    with pytest.raises(NetSuiteOutcomeUnknown, match="not retried"):
        client.create_record("customer", {"companyName": "ACME"})
    assert len(adapter.sent) == 1


def test_create_without_external_id_is_not_retried_after_a_read_timeout():
    client, adapter = client_with([requests.ReadTimeout("read timed out")])
    with pytest.raises(NetSuiteOutcomeUnknown, match="may or may\\s+not have been applied"):
        client.create_record("customer", {"companyName": "ACME"})
    assert len(adapter.sent) == 1


def test_create_without_external_id_is_retried_when_it_never_reached_netsuite():
    refused = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(None, "refused")))
    client, adapter = client_with([(429, THROTTLE), refused, requests.ConnectTimeout("connect"), CREATED])
    assert client.create_record("customer", {"companyName": "ACME"}) == "647"
    assert len(adapter.sent) == 4
    stats = client.stats.snapshot()
    assert stats["calls"] == 4 and stats["retries"] == 3 and stats["throttled"] == 1


def test_create_with_external_id_resolves_already_exists_after_a_retry():
    client, adapter = client_with([(500, ERR500), (400, DUP), (200, {"id": "88", "externalId": "C-1"})])
    assert client.create_record("customer", {"externalId": "C-1"}) == "88"
    assert [r.method for r in adapter.sent] == ["POST", "POST", "GET"]
    assert adapter.sent[2].url.endswith("/customer/eid:C-1")


def test_create_with_external_id_that_already_existed_before_is_a_duplicate():
    client, _ = client_with([(400, DUP)])
    with pytest.raises(NetSuiteDuplicateRecord):
        client.create_record("customer", {"externalId": "C-1"})


def test_every_attempt_is_signed_afresh():
    client, adapter = client_with([(500, ERR500), (503, ERR500), (200, {"id": "5"})])
    client.get_record("customer", 5)
    headers = [r.headers["Authorization"] for r in adapter.sent]
    nonces = {h.split(b"oauth_nonce=")[1].split(b",")[0] if isinstance(h, bytes) else h.split("oauth_nonce=")[1].split(",")[0] for h in headers}
    assert len(nonces) == 3


def test_server_errors_outlive_the_budget_as_unavailable():
    client, adapter = client_with([(500, ERR500)] * 4)
    with pytest.raises(NetSuiteUnavailable):
        client.get_record("customer", "5")
    assert len(adapter.sent) == FAST.max_attempts


def test_throttling_has_its_own_budget_and_then_raises():
    client, adapter = client_with([(429, THROTTLE)] * 4, max_throttle_retries=3)
    with pytest.raises(NetSuiteThrottled):
        client.get_record("customer", "5")
    assert client.stats.snapshot()["throttled"] == 4


def test_retry_after_is_honoured_and_counted_as_throttle_wait():
    client, _ = client_with([(429, THROTTLE, {"Retry-After": "0.05"}), (200, {"id": "5"})])
    client.get_record("customer", "5")
    assert client.stats.snapshot()["throttle_wait_s"] >= 0.05


def test_tba_401_is_not_retried_and_names_the_credentials():
    client, adapter = client_with([(401, LOGIN)])
    with pytest.raises(NetSuiteAuthError, match="token secret") as caught:
        client.get_record("customer", "5")
    assert len(adapter.sent) == 1
    assert "'cs'" not in str(caught.value) and "'ts'" not in str(caught.value)


def test_upsert_without_location_looks_the_id_up():
    client, adapter = client_with([(204, None), (200, {"id": "901"})])
    assert client.upsert_record("salesOrder", "SHOP-1", {"memo": "x"}) == "901"
    assert adapter.sent[0].method == "PUT" and adapter.sent[0].url.endswith("/salesOrder/eid:SHOP-1")


@pytest.mark.parametrize("eid", ["a|b", "a/b", "", "a b", "x?y"])
def test_external_ids_netsuite_cannot_address_are_refused(eid):
    client, adapter = client_with([])
    with pytest.raises(ValueError, match="external id"):
        client.upsert_record("salesOrder", eid, {})
    assert adapter.sent == []


def test_bad_references_are_refused_before_sending():
    client, adapter = client_with([])
    for bad in ("abc", "eid:a|b", None, True):
        with pytest.raises(ValueError, match="record reference|external id"):
            client.get_record("customer", bad)
    with pytest.raises(ValueError, match="record type"):
        client.get_record("../customer", 1)
    assert adapter.sent == []


def _page(items, has_more, total, offset=0):
    return (200, {"items": [dict(i, links=[]) for i in items], "hasMore": has_more, "totalResults": total, "count": len(items), "offset": offset})


def test_suiteql_pages_and_strips_links():
    client, adapter = client_with([_page([{"id": "1"}, {"id": "2"}], True, 3), _page([{"id": "3"}], False, 3, 2)])
    rows = list(client.suiteql("SELECT id FROM item WHERE itemid = :sku ORDER BY id", {"sku": "a'b"}, page_size=2))
    assert rows == [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    assert adapter.sent[0].headers["Prefer"] in ("transient", b"transient")  # oauthlib re-encodes headers as bytes
    assert json.loads(adapter.sent[0].body) == {"q": "SELECT id FROM item WHERE itemid = 'a''b' ORDER BY id"}
    assert "limit=2&offset=2" in adapter.sent[1].url


def test_suiteql_refuses_to_page_an_unordered_query():
    client, _ = client_with([_page([{"id": "1"}, {"id": "2"}], True, 3)])
    with pytest.raises(NetSuiteQueryError, match="ORDER BY"):
        list(client.suiteql("SELECT id FROM item", page_size=2))


def test_suiteql_notices_a_silently_capped_result():
    client, _ = client_with([_page([{"id": "1"}], False, 5)])
    with pytest.raises(NetSuiteQueryError, match="suiteql_keyset"):
        list(client.suiteql("SELECT id FROM item ORDER BY id"))


def test_keyset_pages_by_key_and_detects_a_non_unique_key():
    client, adapter = client_with([_page([{"id": "9"}, {"id": "10"}], True, 9), _page([{"id": "11"}], False, 1), ])
    assert [r["id"] for r in client.suiteql_keyset("SELECT id FROM item", page_size=2)] == ["9", "10", "11"]
    assert json.loads(adapter.sent[1].body)["q"] == "SELECT id FROM item WHERE id > 10 ORDER BY id ASC"
    assert all("offset=0" in r.url for r in adapter.sent)
    client, _ = client_with([_page([{"id": "3"}, {"id": "3"}], True, 9)])
    with pytest.raises(NetSuiteQueryError, match="not unique"):
        list(client.suiteql_keyset("SELECT id FROM item", page_size=2))


def test_client_refuses_an_auth_for_another_account():
    with pytest.raises(ValueError, match="realm"):
        NetSuiteClient(BASE, "7654321", TokenBasedAuth("1234567_SB1", "ck", "cs", "tid", "ts"))
    assert "cs" not in repr(NetSuiteClient(BASE, "1234567-sb1", TokenBasedAuth("1234567_SB1", "ck", "cs", "tid", "ts")))


def test_bad_queries_fail_at_the_call_before_any_request():
    client, adapter = client_with([])
    with pytest.raises(KeyError):
        client.suiteql("SELECT id FROM item WHERE itemid = :sku")
    with pytest.raises(ValueError, match="top-level"):
        client.suiteql_keyset("SELECT id FROM item ORDER BY id")
    with pytest.raises(ValueError, match="page size"):
        client.suiteql("SELECT id FROM item", page_size=1001)
    assert adapter.sent == []
