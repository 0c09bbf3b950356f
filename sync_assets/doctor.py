"""`sync-assets doctor`: check the configured store and account as they are, before the first run.

Each check talks to the real service the settings point at (the sandbox by default) and reads nothing
back that a run would not: the Shopify token and its granted scopes, the pinned API version, every
SuiteQL query of the flows (one row each, from :mod:`sync_assets.connectors.netsuite.queries`), the
record types the flows write, what the sync policy names (subsidiary, items, locations, customers, price
level) and the webhook subscriptions. It prints one line per check, ✔ or ✘, and under a ✘ what to do;
the exit code is 1 when anything failed, so a deployment script can stop on it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sync_assets.connectors.errors import AuthenticationError, ConnectorError
from sync_assets.connectors.http import Backoff
from sync_assets.connectors.netsuite import queries as Q
from sync_assets.connectors.shopify import documents as shopify_docs
from sync_assets.connectors.shopify.errors import ShopifyHTTPError
from sync_assets.connectors.shopify.scopes import REQUIRED_SCOPES, missing_scopes
from sync_assets.domain.orders import resolve_item_id
from sync_assets.domain.policy import SyncPolicy

OK, FAILED = "✔", "✘"
# The record types the orders flow upserts through the record API (everything else is read with SuiteQL).
WRITTEN_RECORDS = ("customer", "salesOrder", "customerDeposit", "customerRefund")
_ROLE_FIX = ("give the integration role the permission for it (Setup > Users/Roles > Manage Roles > "
             "Permissions; SuiteAnalytics Workbook and the record's Lists/Transactions permission), "
             "or enable the feature it needs")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""


# ---------------------------------------------------------------------------------------------- Shopify


def shopify_checks(shopify) -> list[Check]:
    """Credentials, granted scopes and the pinned version, from one ``currentAppInstallation`` query."""
    try:
        data = shopify.execute(shopify_docs.ACCESS_SCOPES)
    except AuthenticationError as exc:
        return [Check("Shopify credentials", False, _short(exc),
                      "set valid Shopify credentials (see `sync-assets settings`); the other Shopify checks need them")]
    except ShopifyHTTPError as exc:
        if exc.status == 404:
            return [Check(f"Shopify API version {shopify.api_version}", False, _short(exc),
                          "set SHOPIFY_API_VERSION to a supported release (YYYY-MM) and check SHOPIFY_SHOP_URL")]
        return [Check("Shopify credentials", False, _short(exc), "check SHOPIFY_SHOP_URL")]
    except ConnectorError as exc:
        return [Check("Shopify credentials", False, _short(exc), "check SHOPIFY_SHOP_URL and the store's status")]
    checks = [Check("Shopify credentials", True, f"{shopify.shop_url}")]
    granted = {s.get("handle") for s in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])}
    missing = missing_scopes({g for g in granted if isinstance(g, str)})
    checks.append(Check(
        "Shopify access scopes", not missing,
        f"missing: {', '.join(missing)}" if missing else f"{len(REQUIRED_SCOPES)} needed, all granted",
        "add the missing scopes to the app's configuration (Dev Dashboard > app > Versions), release it and "
        "approve the new scopes in the store admin: " + "; ".join(f"{s}: {why}" for s, why in missing.items()),
    ))
    served = getattr(shopify, "served_version", None)
    current = served in (None, shopify.api_version)
    checks.append(Check(
        f"Shopify API version {shopify.api_version}", current,
        "supported" if current else f"retired: Shopify answered with {served} instead",
        f"test the flows against {served} and set SHOPIFY_API_VERSION to it (or a newer supported release)",
    ))
    return checks


def webhook_checks(shopify, receiver_url: str, topics: Iterable[str]) -> list[Check]:
    """Every topic the flows use has a subscription delivering to the receiver."""
    try:
        data = shopify.execute(shopify_docs.WEBHOOK_SUBSCRIPTIONS, {"first": 100})
    except ConnectorError as exc:
        return [Check("Shopify webhook subscriptions", False, _short(exc), "check the Shopify credentials first")]
    have = {(n.get("topic"), n.get("uri")) for n in ((data.get("webhookSubscriptions") or {}).get("nodes") or [])}
    wanted = sorted(topics)
    missing = [t for t in wanted if (t.upper().replace("/", "_"), receiver_url) not in have]
    return [Check(
        "Shopify webhook subscriptions", not missing,
        f"{len(wanted)} topic(s) → {receiver_url}" if not missing else
        f"not delivered to {receiver_url}: {', '.join(missing)}",
        "run `sync-assets webhooks register` (set WEBHOOKS_PUBLIC_URL to the receiver's public HTTPS URL first); "
        "polling still picks the orders up, only later",
    )]


# --------------------------------------------------------------------------------------------- NetSuite


def netsuite_checks(netsuite, queries: Iterable[Q.Query] = Q.REGISTRY,
                    records: Iterable[str] = WRITTEN_RECORDS) -> list[Check]:
    try:
        netsuite.suiteql_first(Q.CURRENCIES.sql)
    except ConnectorError as exc:
        if isinstance(exc, AuthenticationError) and exc.status != 403:
            return [Check("NetSuite credentials", False, _short(exc), "set valid NetSuite credentials (see "
                          "`sync-assets settings`); the other NetSuite checks need them")]
        if exc.status is None or exc.status >= 500:
            return [Check("NetSuite credentials", False, _short(exc), "check NETSUITE_BASE_URL and NETSUITE_ACCOUNT_ID")]
        # NetSuite authenticated the request and refused only the query: the query's own line says why.
    checks = [Check("NetSuite credentials", True, netsuite.base_url)]
    for query in queries:
        checks.append(_attempt(f"SuiteQL {query.name}", lambda q=query: netsuite.suiteql_first(q.sql, q.sample),
                               _ROLE_FIX))
    for record in records:
        checks.append(_attempt(f"NetSuite record {record}", lambda r=record: netsuite.record_metadata(r),
                               "give the integration role the record's permission at level Create or Full, and "
                               "REST Web Services"))
    return checks


def policy_checks(netsuite, shopify, policy: SyncPolicy) -> list[Check]:
    """What the policy names exists in the account (and the store, for the location map)."""
    from sync_assets.flows import reference
    from sync_assets.flows.inventory import resolve_location_map

    checks: list[Check] = []
    where = policy.source
    account, orders, inventory = policy.account, policy.entity("orders"), policy.entity("inventory")

    checks.append(_subsidiary_check(netsuite, account.subsidiary, where))
    named_items = {"discount_item": orders.discount_item, "tax_item": orders.tax_item}
    for field, name in named_items.items():
        if name:
            checks.append(_exists(f"item {name!r}", lambda n=name: {n} if resolve_item_id(
                n, reference.items_by_sku(netsuite, [n])) else set(),
                f"{where}: entities.orders.{field}: name an active NetSuite item (its Item Name/Number), or "
                "create it"))
    for label, query, ids, field in (
        ("deposit account", Q.ACCOUNTS_BY_ID, [account.deposit_account] if account.deposit_account else [],
         "account.deposit_account"),
        ("payment method(s)", Q.PAYMENT_METHODS_BY_ID, sorted(set(account.payment_methods.values())),
         "account.payment_methods"),
        ("shipping item(s)", Q.SHIP_ITEMS_BY_ID, sorted(set(account.shipping_methods.values())),
         "account.shipping_methods"),
    ):
        if ids:
            checks.append(_exists(f"{label} {', '.join(ids)}", lambda q=query, i=ids: _ids(netsuite, q, i),
                                  f"{where}: {field}: use active internal ids", wanted=ids))
    customers = sorted(set(orders.default_customer.values()))
    if customers:
        checks.append(_exists(f"default customer(s) {', '.join(customers)}",
                              lambda: _ids(netsuite, Q.CUSTOMERS_BY_ID, customers),
                              f"{where}: entities.orders.default_customer: use active customers' internal ids",
                              wanted=customers))
    locations = sorted(set(inventory.location_map.values()))
    if locations:
        checks.append(_exists(f"NetSuite location(s) {', '.join(locations)}",
                              lambda: {str(r["id"]) for r in netsuite.suiteql(Q.LOCATIONS.sql)} & set(locations),
                              f"{where}: entities.inventory.location_map: use active NetSuite location ids",
                              wanted=locations))
    try:
        mapped = resolve_location_map(shopify, netsuite, inventory.location_map) if shopify is not None else None
        if mapped is not None:
            checks.append(Check("location map", bool(mapped), f"{len(mapped)} storefront location(s) mapped" if mapped
                                else "no storefront location maps to a NetSuite location",
                                f"{where}: entities.inventory.location_map: map each storefront location (GID or "
                                "name) to a NetSuite location id"))
    except ValueError as exc:
        checks.append(Check("location map", False, str(exc), f"{where}: entities.inventory.location_map: fix the "
                            "storefront location (GID or name as the store shows it)"))
    except ConnectorError as exc:
        checks.append(Check("location map", False, _short(exc), "fix the credentials checks above first"))
    if shopify is not None:
        checks.append(_shop_timezone_check(shopify, account.shop_timezone, where))
    checks.append(_exists(f"price level {account.price_level!r}",
                          lambda: {r.get("name") for r in netsuite.suiteql(Q.PRICE_LEVELS.sql)} & {account.price_level},
                          f"{where}: account.price_level: name an active price level (Setup > Accounting > "
                          "Accounting Lists > Price Level)"))
    return checks


def _shop_timezone_check(shopify, configured: str, where: str) -> Check:
    """The order-history backfill's months are the shop's: the policy's zone must be the shop's."""
    from sync_assets.connectors.shopify.orders import shop_timezone

    fix = f"{where}: account.shop_timezone: set it to the shop's time zone (Shopify admin: Settings > General)"
    try:
        actual = shop_timezone(shopify)
    except ConnectorError as exc:
        return Check("policy: shop time zone", False, _short(exc), "fix the credentials checks above first")
    return Check(f"policy: shop time zone {configured}", actual == configured,
                 "the shop's" if actual == configured else f"the shop's is {actual}", fix)


def _subsidiary_check(netsuite, configured: str | None, where: str) -> Check:
    """The configured subsidiary exists; none configured is right only if the account has one subsidiary
    (OneWorld accounts refuse customers without one)."""
    fix = (f"{where}: account.subsidiary: set the internal id of the subsidiary new customers belong to "
           "(Setup > Company > Subsidiaries)")
    try:
        found = {str(r["id"]): r.get("name") for r in netsuite.suiteql(Q.SUBSIDIARIES.sql)}
    except ConnectorError as exc:
        if configured:
            return Check(f"policy: subsidiary {configured}", False, _short(exc), fix)
        return Check("policy: subsidiary", True, "not set; the account shows no subsidiaries (not OneWorld)")
    listed = ", ".join(f"{i} ({n})" for i, n in list(found.items())[:10])
    if configured:
        ok = configured in found
        return Check(f"policy: subsidiary {configured}", ok, "exists" if ok else f"not found; the account has: {listed}", fix)
    ok = len(found) <= 1
    return Check("policy: subsidiary", ok, "not set; the account has one subsidiary" if ok else
                 f"not set, but this OneWorld account has {len(found)}: {listed}", fix)


def _ids(netsuite, query: Q.Query, ids: list[str]) -> set[str]:
    return {str(r["id"]) for r in netsuite.suiteql(query.sql, {"ids": [int(i) for i in ids]})}


def _exists(name: str, found: Callable[[], set], fix: str, wanted: list[str] | None = None) -> Check:
    try:
        got = found()
    except ConnectorError as exc:
        return Check(f"policy: {name}", False, _short(exc), fix)
    absent = sorted(set(wanted) - {str(g) for g in got}) if wanted is not None else ([] if got else [name])
    return Check(f"policy: {name}", not absent, "exists" if not absent else f"not found: {', '.join(absent)}", fix)


def _attempt(name: str, call: Callable[[], object], fix: str) -> Check:
    try:
        call()
    except ConnectorError as exc:
        return Check(name, False, _short(exc), fix)
    return Check(name, True)


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------ output


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks) if checks else 0
    lines = []
    for c in checks:
        lines.append(f"{OK if c.ok else FAILED}  {c.name:<{width}}  {c.detail}".rstrip())
        if not c.ok and c.fix:
            lines.append(f"{'':3}{'':<{width}}  → {c.fix}")
    failed = sum(not c.ok for c in checks)
    lines.append(f"\n{len(checks) - failed} of {len(checks)} checks passed" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


def receiver_url() -> str:
    """Where Shopify should deliver: the public URL (``WEBHOOKS_PUBLIC_URL``), else the local receiver."""
    from sync_assets import settings

    public = (settings.get("WEBHOOKS_PUBLIC_URL") if "WEBHOOKS_PUBLIC_URL" in settings.BY_NAME
              else os.environ.get("WEBHOOKS_PUBLIC_URL", "")).strip()
    base = public or f"http://127.0.0.1:{settings.get('WEBHOOKS_PORT')}"
    base = base.rstrip("/")
    return base if base.endswith("/webhooks/shopify") else f"{base}/webhooks/shopify"


def run_all(shopify, netsuite, policy: SyncPolicy, receiver: str, topics: Iterable[str]) -> list[Check]:
    checks = shopify_checks(shopify)
    shopify_ok = checks[0].ok and checks[0].name == "Shopify credentials"
    if shopify_ok:
        checks += webhook_checks(shopify, receiver, topics)
    ns = netsuite_checks(netsuite)
    checks += ns
    if ns[0].ok:
        checks += policy_checks(netsuite, shopify if shopify_ok else None, policy)
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    import dagster as dg

    from sync_assets.defs.resources import build_resources
    from sync_assets.domain.policy import load_policy
    from sync_assets.webhooks.routes import ROUTES

    logging.getLogger("sync_assets").setLevel(logging.ERROR)  # the table says it all; no retry chatter
    policy = load_policy()
    resources = build_resources()
    with dg.build_resources({k: resources[k] for k in ("shopify", "netsuite")}) as built:
        shopify, netsuite = built.shopify.get_client(), built.netsuite.get_client()
        # A preflight answers in seconds: a few quick retries, not a run's patience with a flaky service.
        shopify.backoff = netsuite.backoff = Backoff(max_attempts=3, base_seconds=0.25, cap_seconds=2.0)
        checks = run_all(shopify, netsuite, policy, receiver_url(), [t for r in ROUTES for t in r.topics])
    print(render(checks), flush=True)
    return 0 if all(c.ok for c in checks) else 1


def add_parser(sub) -> None:
    """The one hook in ``cli.py``."""
    doctor = sub.add_parser("doctor", help="check the configured store and account before the first run")
    doctor.set_defaults(func=cmd_doctor)


if __name__ == "__main__":
    sys.exit(cmd_doctor(argparse.Namespace()))
