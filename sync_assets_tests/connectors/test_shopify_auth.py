"""Shopify's client credentials grant against the sandbox over real HTTP: one token per shop and app, shared
by every process through its cache file, renewed before it expires and after a 401, never logged."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys
import time

import pytest
import requests

from sync_assets.connectors.http import Backoff
from sync_assets.connectors.shopify import ShopifyAuthError, ShopifyClient, ShopifyTransientError
from sync_assets.connectors.shopify.auth import ClientCredentialsToken
from sync_assets.sandbox import credentials as C
from sync_assets_tests.conftest import shopify_graphql_url


def _provider(sandbox, cache_dir, secret: str = C.SHOPIFY_CLIENT_SECRET) -> ClientCredentialsToken:
    return ClientCredentialsToken(sandbox.url, C.SHOPIFY_CLIENT_ID, secret, cache_dir)


def _counter(sandbox, name: str) -> float:
    return sandbox.control.counters()["counters"].get(name, 0)


def _locations(client: ShopifyClient) -> list[dict]:
    return list(client.iter_locations())


def _status_with(sandbox, token: str) -> int:
    body = {"query": "{ locations(first: 1) { nodes { id } } }"}
    headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
    return requests.post(shopify_graphql_url(sandbox.url), json=body, headers=headers, timeout=10).status_code


def test_the_grant_is_form_encoded_and_answers_token_scope_and_expiry(sandbox):
    form = {"grant_type": "client_credentials", "client_id": C.SHOPIFY_CLIENT_ID, "client_secret": C.SHOPIFY_CLIENT_SECRET}
    answer = requests.post(f"{sandbox.url}/admin/oauth/access_token", data=form, timeout=10)
    assert answer.status_code == 200
    payload = answer.json()
    assert set(payload) == {"access_token", "scope", "expires_in"}
    assert 86000 < payload["expires_in"] <= 86400 and "read_orders" in payload["scope"].split(",")
    assert _status_with(sandbox, payload["access_token"]) == 200
    assert _status_with(sandbox, "shpat_made_up_token") == 401


def test_a_token_is_granted_once_cached_owner_only_and_reused_by_the_next_client(sandbox, tmp_path):
    first = ShopifyClient(sandbox.url, _provider(sandbox, tmp_path))
    assert _locations(first)
    cache = next(tmp_path.glob("shopify-token-*.json"))
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    second = ShopifyClient(sandbox.url, _provider(sandbox, tmp_path))  # a new run in the same process tree
    assert _locations(second) and _locations(first)
    assert _counter(sandbox, "shopify.token_grants") == 1


_CHILD = """
import sys
from sync_assets.connectors.shopify.auth import ClientCredentialsToken
from sync_assets.sandbox import credentials as C
print(ClientCredentialsToken(sys.argv[1], C.SHOPIFY_CLIENT_ID, C.SHOPIFY_CLIENT_SECRET, sys.argv[2]).token())
"""


def test_two_processes_at_once_share_one_grant(sandbox, tmp_path):
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD, sandbox.url, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    tokens = [child.communicate(timeout=120)[0].strip() for child in children]
    assert all(child.returncode == 0 for child in children)
    assert tokens[0] == tokens[1] and tokens[0].startswith("shpat_")
    assert _counter(sandbox, "shopify.token_grants") == 1


def test_a_token_is_renewed_shortly_before_it_expires_and_the_old_one_is_refused(sandbox, tmp_path):
    sandbox.control.configure(shopify_token_lifetime=2)
    provider = _provider(sandbox, tmp_path)
    client = ShopifyClient(sandbox.url, provider)
    assert _locations(client)
    old = provider.token()
    time.sleep(2.2)
    assert _status_with(sandbox, old) == 401  # expired at Shopify
    assert _locations(client)  # the client asked for a new one first
    assert provider.token() != old
    assert _counter(sandbox, "shopify.token_grants") == 2
    assert _counter(sandbox, "shopify.auth_failures") == 1  # only the raw request above


def test_a_401_for_a_cached_token_renews_it_once_and_carries_on(sandbox, tmp_path):
    provider = _provider(sandbox, tmp_path)
    client = ShopifyClient(sandbox.url, provider)
    assert _locations(client)
    revoked = provider.token()
    sandbox.control.reset()  # a new shop: every token it issued is unknown now (as after a reinstall)
    assert _locations(client)
    assert provider.token() != revoked
    assert json.loads(next(tmp_path.glob("shopify-token-*.json")).read_text())["access_token"] == provider.token()
    assert _counter(sandbox, "shopify.token_grants") == 1 and _counter(sandbox, "shopify.auth_failures") == 1


def test_another_process_renewal_is_kept_when_a_stale_token_is_dropped(sandbox, tmp_path):
    ours, theirs = _provider(sandbox, tmp_path), _provider(sandbox, tmp_path)
    stale = ours.token()
    theirs.invalidate(stale)
    fresh = theirs.token()
    ours.invalidate(stale)  # our late 401 for the old token must not throw away their new one
    assert ours.token() == fresh
    assert _counter(sandbox, "shopify.token_grants") == 2


def test_a_wrong_secret_is_refused_with_a_clear_error_that_names_the_settings(sandbox, tmp_path):
    form = {"grant_type": "client_credentials", "client_id": C.SHOPIFY_CLIENT_ID, "client_secret": "not-the-secret"}
    answer = requests.post(f"{sandbox.url}/admin/oauth/access_token", data=form, timeout=10)
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_client"})
    client = ShopifyClient(sandbox.url, _provider(sandbox, tmp_path, secret="not-the-secret"))
    with pytest.raises(ShopifyAuthError) as refused:
        _locations(client)
    message = str(refused.value)
    assert "invalid_client" in message and "SHOPIFY_CLIENT_SECRET" in message and "SHOPIFY_CLIENT_ID" in message
    assert "not-the-secret" not in message and refused.value.status == 400
    assert not list(tmp_path.glob("shopify-token-*.json"))


def test_neither_secret_nor_token_reaches_a_log_line_or_repr(sandbox, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    provider = _provider(sandbox, tmp_path)
    client = ShopifyClient(sandbox.url, provider)
    assert _locations(client)
    token = provider.token()
    shown = caplog.text + repr(provider) + repr(client)
    assert token not in shown and C.SHOPIFY_CLIENT_SECRET not in shown
    assert "Shopify access token obtained" in caplog.text


def test_a_failing_token_endpoint_is_ridden_out_and_then_reported(sandbox, tmp_path):
    sandbox.control.set_faults("server_errors", service="shopify", rate=1.0, limit=2, seed=1)
    provider = ClientCredentialsToken(sandbox.url, C.SHOPIFY_CLIENT_ID, C.SHOPIFY_CLIENT_SECRET, tmp_path,
                                      backoff=Backoff(max_attempts=3, base_seconds=0.01))  # fmt: skip
    assert provider.token().startswith("shpat_") and _counter(sandbox, "shopify.token_grants") == 1
    sandbox.control.set_faults("server_errors", service="shopify", rate=1.0, seed=1)
    failing = ClientCredentialsToken(sandbox.url, C.SHOPIFY_CLIENT_ID, C.SHOPIFY_CLIENT_SECRET, tmp_path / "other",
                                     backoff=Backoff(max_attempts=3, base_seconds=0.01))  # fmt: skip
    with pytest.raises(ShopifyTransientError, match="after 3 attempts"):
        failing.token()


def test_a_fixed_legacy_token_still_works(sandbox):
    assert _locations(ShopifyClient(sandbox.url, C.SHOPIFY_ACCESS_TOKEN))
    assert _counter(sandbox, "shopify.token_grants") == 0
