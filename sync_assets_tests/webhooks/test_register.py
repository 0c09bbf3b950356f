"""`sync-assets webhooks register` against the sandbox over real HTTP: creates, re-points, then changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sync_assets.connectors.shopify import ShopifyClient, ShopifyUserError
from sync_assets.connectors.shopify.webhooks import ensure_subscriptions, list_subscriptions
from sync_assets.sandbox import credentials as C
from sync_assets.webhooks.register import TOPICS, public_address
from sync_assets import settings
from sync_assets_tests.sandbox.test_server_webhooks import receiver  # noqa: F401  (the fixture)

PUBLIC = "https://sync.example.com/webhooks/shopify"


def _register(sandbox, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHOPIFY_SHOP_URL": sandbox.url, "SYNC_ASSETS_DATA_DIR": str(tmp_path),
           "SYNC_ASSETS_ENV_FILE": str(tmp_path / "no.env")}  # fmt: skip
    env.pop("SHOPIFY_ACCESS_TOKEN", None)  # the quick start's way: the client credentials grant
    return subprocess.run([sys.executable, "-m", "sync_assets.cli", "webhooks", "register", *args],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_register_creates_then_changes_nothing_then_repoints(sandbox, tmp_path):
    first = _register(sandbox, tmp_path, "--url", PUBLIC)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created") == len(TOPICS) + 1  # each topic, and the summary line
    assert f"{len(TOPICS)} created, 0 updated, 0 unchanged" in first.stdout
    subs = sandbox.control.webhooks()
    assert sorted(t for s in subs for t in s["topics"]) == sorted(TOPICS) and {s["address"] for s in subs} == {PUBLIC}

    again = _register(sandbox, tmp_path, "--url", PUBLIC)
    assert again.returncode == 0, again.stderr
    assert f"0 created, 0 updated, {len(TOPICS)} unchanged" in again.stdout
    assert sandbox.control.webhooks() == subs  # nothing touched

    moved = _register(sandbox, tmp_path, "--url", "https://new-host.example.com")  # the path is added
    assert f"0 created, {len(TOPICS)} updated, 0 unchanged" in moved.stdout
    assert f"{PUBLIC} -> https://new-host.example.com/webhooks/shopify" in moved.stdout
    assert {s["id"] for s in sandbox.control.webhooks()} == {s["id"] for s in subs}
    counters = sandbox.control.counters()["counters"]
    assert counters.get("shopify.token_grants") == 1  # three processes, one token


def test_a_subscription_registered_through_the_admin_api_is_delivered_to(sandbox, receiver):
    result = subprocess.run(
        [sys.executable, "-m", "sync_assets.cli", "webhooks", "register", "--url", receiver.url],
        env={**os.environ, "SHOPIFY_SHOP_URL": sandbox.url, "SHOPIFY_ACCESS_TOKEN": C.SHOPIFY_ACCESS_TOKEN},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    placed = sandbox.control.place_orders(1, seed=5)
    topics = set()
    while "orders/create" not in topics:  # orders/paid fires too; Shopify promises no order between them
        headers, body = receiver.take()
        topics.add(headers["x-shopify-topic"])
        assert placed[0]["id"] in body.decode()


@pytest.mark.parametrize(("url", "problem"), [
    ("", "WEBHOOKS_PUBLIC_URL is empty"),
    ("http://sync.example.com/webhooks/shopify", "must be an https:// URL"),
])  # fmt: skip
def test_a_missing_or_plain_http_public_url_is_refused_naming_the_setting(url, problem):
    with pytest.raises(settings.SettingError, match=problem):
        public_address(url)


def test_the_sandbox_answers_like_shopify_for_a_duplicate_or_an_http_address(sandbox):
    with ShopifyClient(sandbox.url, C.SHOPIFY_ACCESS_TOKEN) as client:
        ensure_subscriptions(client, ["orders/create"], PUBLIC)
        assert [s["uri"] for s in list_subscriptions(client, ["orders/create"])] == [PUBLIC]
        from sync_assets.connectors.shopify import documents

        for uri, message in ((PUBLIC, "already been taken"), ("http://sync.example.com/x", "http:// is not supported")):
            with pytest.raises(ShopifyUserError, match=message):
                client.mutate(documents.WEBHOOK_SUBSCRIPTION_CREATE,
                              {"topic": "ORDERS_CREATE", "webhookSubscription": {"uri": uri}}, "webhookSubscriptionCreate")
