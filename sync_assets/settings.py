"""Every environment variable the product reads, with the sandbox's values as defaults.

One table, so the README, the CLI and the Dagster resources agree. A real store and NetSuite account are
configured by setting these variables (see README, "Pointing it at a real store and account").
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sync_assets.sandbox import credentials as sandbox

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False

    def value(self) -> str:
        if self.name in os.environ:
            return os.environ[self.name]
        # Paths under the data folder follow SYNC_ASSETS_DATA_DIR, and the sandbox's URLs follow SANDBOX_PORT,
        # unless set one by one.
        return self.default.replace("{data}", data_dir()).replace("{sandbox}", sandbox_url())

    def is_default(self) -> bool:
        return self.name not in os.environ


def data_dir() -> str:
    return os.environ.get("SYNC_ASSETS_DATA_DIR", str(PROJECT_ROOT / "data"))


def sandbox_url() -> str:
    return f"http://{sandbox.SANDBOX_HOST}:{os.environ.get('SANDBOX_PORT', sandbox.SANDBOX_PORT)}"


def _data(rel: str) -> str:
    return "{data}/" + rel


SETTINGS: tuple[Setting, ...] = (
    Setting("SYNC_ASSETS_DATA_DIR", str(PROJECT_ROOT / "data"), "Folder for generated state (warehouse, ledger, Dagster home)."),
    Setting("DAGSTER_HOME", _data("dagster_home"), "Dagster instance: run history, sensor cursors, dagster.yaml."),
    Setting("SANDBOX_PORT", str(sandbox.SANDBOX_PORT), "Port of the embedded sandbox started by `sync-assets dev`."),
    Setting("SANDBOX_ORDERS_PER_MINUTE", "6", "Order stream of the sandbox's living shop under `sync-assets dev` (0 = none)."),
    Setting("SHOPIFY_SHOP_URL", "{sandbox}", "Base URL of the store, e.g. https://my-shop.myshopify.com."),
    Setting("SHOPIFY_ACCESS_TOKEN", sandbox.SHOPIFY_ACCESS_TOKEN, "Admin API access token (shpat_...).", secret=True),
    Setting("SHOPIFY_API_VERSION", sandbox.SHOPIFY_API_VERSION, "Pinned Admin API version."),
    Setting("SHOPIFY_WEBHOOK_SECRET", sandbox.SHOPIFY_WEBHOOK_SECRET,
            "App client secret that signs webhooks; during a rotation NEW,OLD (comma-separated, newest first).", secret=True),
    Setting("NETSUITE_BASE_URL", "{sandbox}",
            "REST services base URL, e.g. https://1234567-sb1.suitetalk.api.netsuite.com."),
    Setting("NETSUITE_ACCOUNT_ID", sandbox.NETSUITE_ACCOUNT_ID, "Account id as in the realm: upper case, underscore (1234567_SB1)."),
    Setting("NETSUITE_AUTH_METHOD", "tba", "tba (OAuth 1.0a token-based auth) or m2m (OAuth 2.0 client credentials)."),
    Setting("NETSUITE_CONSUMER_KEY", sandbox.NETSUITE_CONSUMER_KEY, "TBA: integration record's consumer key.", secret=True),
    Setting("NETSUITE_CONSUMER_SECRET", sandbox.NETSUITE_CONSUMER_SECRET, "TBA: consumer secret.", secret=True),
    Setting("NETSUITE_TOKEN_ID", sandbox.NETSUITE_TOKEN_ID, "TBA: access token id.", secret=True),
    Setting("NETSUITE_TOKEN_SECRET", sandbox.NETSUITE_TOKEN_SECRET, "TBA: access token secret.", secret=True),
    Setting("NETSUITE_CLIENT_ID", sandbox.NETSUITE_CLIENT_ID, "M2M: integration record's client id."),
    Setting("NETSUITE_CERTIFICATE_ID", sandbox.NETSUITE_CERTIFICATE_ID, "M2M: certificate id of the uploaded public key."),
    Setting("NETSUITE_PRIVATE_KEY_PATH", _data("sandbox/netsuite_m2m_private.pem"), "M2M: PEM private key that signs the JWT."),
    Setting("NETSUITE_MAX_CONCURRENCY", "5", "Requests in flight to NetSuite at most (the account's limit, shared)."),
    Setting("WAREHOUSE_PATH", _data("warehouse.duckdb"), "The DuckDB file runs write."),
    Setting("WAREHOUSE_SNAPSHOT_DIR", _data("warehouse_snapshot"), "Where analysts' snapshot (DuckDB + Parquet) is exported."),
    Setting("LEDGER_PATH", _data("state/ledger.sqlite"), "Transactional sync state: ledger, watermarks, dead letters."),
    Setting("WEBHOOKS_PORT", "8766", "Port of the Shopify webhook receiver (`sync-assets webhooks`, started by `dev`)."),
    Setting("WEBHOOKS_MAX_AGE_HOURS", "48",
            "Webhooks triggered longer ago are rejected as replays (Shopify retries for 4 h, may be a day late)."),
    Setting("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000", "Dagster webserver whose GraphQL API the webhook receiver launches runs through."),
    Setting("SYNC_POLICY_PATH", str(PROJECT_ROOT / "sync_assets" / "sync_policy.yaml"), "Lanes, cadences and knobs per entity."),
    Setting("NETSUITE_SLOTS_DIR", _data("state/netsuite_slots"),
            "Lock files holding the NetSuite account's NETSUITE_MAX_CONCURRENCY slots, shared by every run and process "
            "(local disk)."),
    Setting("FLOW_LOCKS_DIR", _data("state/flow_locks"),
            "Lock files that keep one run per flow executing, whoever launched it (local disk)."),
)

BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    return BY_NAME[name].value()


class SettingError(ValueError):
    """A setting's value is unusable; the message names the variable and what it should be."""


def get_int(name: str, *, minimum: int = 0) -> int:
    raw = get(name)
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number ≥ {minimum}, got {raw!r} ({BY_NAME[name].help})") from None
    if value < minimum:
        raise SettingError(f"{name} must be ≥ {minimum}, got {value} ({BY_NAME[name].help})")
    return value


def parse_secret_list(name: str, raw: str | Sequence[str]) -> tuple[str, ...]:
    """``raw`` as comma-separated secrets (or already a sequence), newest first, each stripped of blanks.

    Several secrets let a verifier accept old and new while a secret is rotated. Errors name the variable and
    the entry's position, never a value: the message may reach a terminal or a log.
    """
    entries = [entry.strip() for entry in (raw.split(",") if isinstance(raw, str) else raw)]
    if entries in ([], [""]):
        raise SettingError(f"{name} is empty; set at least one secret")
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"{name}: secret #{number} of {len(entries)}"
        if not entry:
            raise SettingError(f"{where} is empty; list the secrets comma-separated, newest first, with no empty entries")
        if any(ch.isspace() for ch in entry):
            raise SettingError(f"{where} contains whitespace; separate secrets with commas, not spaces")
        if entry in seen:
            raise SettingError(f"{where} repeats secret #{seen[entry]}; list each secret once")
        seen[entry] = number
    return tuple(entries)


def get_secret_list(name: str) -> tuple[str, ...]:
    return parse_secret_list(name, get(name))
