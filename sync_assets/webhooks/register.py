"""`sync-assets webhooks register`: subscribe the receiver's public URL to the topics the flows use.

Shopify delivers only to HTTPS endpoints it can reach, so the address is the public URL of the reverse
proxy in front of the receiver (``WEBHOOKS_PUBLIC_URL``, see README "Webhooks from a real store"), not the
receiver's local port. Idempotent: what already points there is left alone, and each line says what changed.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from sync_assets import settings
from sync_assets.connectors.shopify import ShopifyClient, ShopifyError
from sync_assets.connectors.shopify.auth import token_provider_for
from sync_assets.connectors.shopify.webhooks import Change, ensure_subscriptions
from sync_assets.webhooks.receiver import PATH
from sync_assets.webhooks.routes import ROUTES

TOPICS = tuple(topic for route in ROUTES for topic in route.topics)


def public_address(url: str) -> str:
    """The subscription address for ``url``: HTTPS (plain http only to this machine), path defaulting to PATH."""
    url = url.strip()
    if not url:
        raise settings.SettingError(
            "WEBHOOKS_PUBLIC_URL is empty: set it to the public HTTPS URL Shopify reaches the receiver at "
            f"(e.g. https://sync.example.com{PATH}), or pass --url"
        )
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.is_local(url)):
        raise settings.SettingError(
            f"WEBHOOKS_PUBLIC_URL must be an https:// URL (Shopify delivers only to HTTPS endpoints), got {url!r}"
        )
    return url if parts.path not in ("", "/") else url.rstrip("/") + PATH


def shopify_client() -> ShopifyClient:
    """A client for the configured store, authenticated as the Dagster resource is."""
    shop_url = settings.get("SHOPIFY_SHOP_URL")
    tokens = token_provider_for(shop_url, access_token=settings.get("SHOPIFY_ACCESS_TOKEN"),
                                client_id=settings.get("SHOPIFY_CLIENT_ID"), client_secret=settings.get("SHOPIFY_CLIENT_SECRET"),
                                cache_dir=settings.get("SHOPIFY_TOKEN_CACHE_DIR"))  # fmt: skip
    return ShopifyClient(shop_url, tokens, api_version=settings.get("SHOPIFY_API_VERSION"))


def register(client: ShopifyClient, address: str) -> list[Change]:
    return ensure_subscriptions(client, TOPICS, address)


def describe(change: Change, address: str) -> str:
    if change.action == "updated":
        return f"updated    {change.topic:20} {change.previous} -> {address}"
    return f"{change.action:10} {change.topic:20} {address}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-assets webhooks register", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--url", default=settings.get("WEBHOOKS_PUBLIC_URL"),
                        help="public HTTPS URL of the receiver (default: WEBHOOKS_PUBLIC_URL)")
    args = parser.parse_args(argv)
    address = public_address(args.url)
    try:
        with shopify_client() as client:
            changes = register(client, address)
    except ShopifyError as error:
        print(f"sync-assets webhooks register: {error}", file=sys.stderr, flush=True)
        return 1
    for change in changes:
        print(describe(change, address))
    counts = {action: sum(c.action == action for c in changes) for action in ("created", "updated", "unchanged")}
    print(f"{settings.get('SHOPIFY_SHOP_URL')}: " + ", ".join(f"{n} {action}" for action, n in counts.items()))
    return 0
