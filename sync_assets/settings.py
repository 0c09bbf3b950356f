"""Every environment variable the product reads, with the sandbox's values as defaults.

One table, so the README, the CLI and the Dagster resources agree. A real store and NetSuite account are
configured by setting these variables (see README, "Pointing it at a real store and account"), in the
environment or in a ``.env`` file in the project root, which is read on import the way ``dagster dev`` reads
it (python-dotenv; a variable already in the environment wins), so every command and every run process that
reads a setting sees the same values.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from sync_assets.sandbox import credentials as sandbox

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_FILE_VARIABLE = "SYNC_ASSETS_ENV_FILE"

# Names this process took from the .env file (not from its own environment), for `sync-assets settings`.
FROM_DOTENV: set[str] = set()


def env_file() -> Path:
    return Path(os.environ.get(ENV_FILE_VARIABLE) or PROJECT_ROOT / ".env")


def load_dotenv() -> Path | None:
    """Put the ``.env`` file's variables into ``os.environ`` where not already set; children inherit them."""
    path = env_file()
    if not path.is_file():
        return None
    for name, value in dotenv_values(path).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
            FROM_DOTENV.add(name)
    return path


load_dotenv()


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False
    # The default opens only the sandbox: refused when the service's URL points anywhere else.
    sandbox_credential: bool = False

    def value(self) -> str:
        if self.name in os.environ:
            return os.environ[self.name]
        return self.default_value()

    def default_value(self) -> str:
        # Paths under the data folder follow SYNC_ASSETS_DATA_DIR, the sandbox's URLs follow SANDBOX_PORT and the
        # webhook secret follows the app's client secret (Shopify signs with it), unless set one by one.
        value = self.default.replace("{data}", data_dir()).replace("{sandbox}", sandbox_url())
        return value.replace("{client_secret}", get("SHOPIFY_CLIENT_SECRET")) if "{client_secret}" in value else value

    def is_default(self) -> bool:
        return self.name not in os.environ

    def is_sandbox_value(self) -> bool:
        """Set or not, the value is the sandbox's own (public) credential."""
        if not self.sandbox_credential:
            return False
        value = self.value()
        return bool(value) and value == _sandbox_defaults().get(self.name, self.default_value())

    def origin(self) -> str:
        if self.name in FROM_DOTENV:
            return f"from {env_file().name}"
        if not self.is_default():
            return "environment"
        return "sandbox default" if self.sandbox_credential else "default"


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
    Setting("SHOPIFY_CLIENT_ID", sandbox.SHOPIFY_CLIENT_ID,
            "Dev Dashboard app's client id (traded with the secret for a day-long access token).", sandbox_credential=True),
    Setting("SHOPIFY_CLIENT_SECRET", sandbox.SHOPIFY_CLIENT_SECRET, "Dev Dashboard app's client secret.",
            secret=True, sandbox_credential=True),
    Setting("SHOPIFY_ACCESS_TOKEN", "",
            "Only for a legacy custom app (made in the store admin before 2026): its fixed shpat_ token; "
            "when set, used instead of the client id and secret.", secret=True),
    Setting("SHOPIFY_TOKEN_CACHE_DIR", _data("state"),
            "Where the access token from the client credentials grant is kept (owner-only file), shared by every process."),
    Setting("SHOPIFY_API_VERSION", sandbox.SHOPIFY_API_VERSION, "Pinned Admin API version."),
    Setting("SHOPIFY_WEBHOOK_SECRET", "{client_secret}",
            "Secret that signs webhooks (the app's client secret, the default); during a rotation NEW,OLD "
            "(comma-separated, newest first).", secret=True, sandbox_credential=True),
    Setting("SHOPIFY_SHARED_STATE_DIR", _data("state/shopify"),
            "Where every run keeps the shop's last cost-bucket report and the bulk-slot queue (one budget per shop)."),
    Setting("SHOPIFY_BATCH_RESERVE_FRACTION", "0.3",
            "Part of Shopify's cost bucket batch-lane runs leave for the real-time lane (they wait below it)."),
    Setting("SHOPIFY_BATCH_THROTTLE_DEADLINE_SECONDS", "1800",
            "How long a batch-lane request waits through Shopify throttling before its run fails."),
    Setting("NETSUITE_BASE_URL", "{sandbox}",
            "REST services base URL, e.g. https://1234567-sb1.suitetalk.api.netsuite.com."),
    Setting("NETSUITE_ACCOUNT_ID", sandbox.NETSUITE_ACCOUNT_ID, "Account id as in the realm: upper case, underscore (1234567_SB1).",
            sandbox_credential=True),
    Setting("NETSUITE_AUTH_METHOD", "tba", "tba (OAuth 1.0a token-based auth) or m2m (OAuth 2.0 client credentials)."),
    Setting("NETSUITE_CONSUMER_KEY", sandbox.NETSUITE_CONSUMER_KEY, "TBA: integration record's consumer key.", secret=True, sandbox_credential=True),
    Setting("NETSUITE_CONSUMER_SECRET", sandbox.NETSUITE_CONSUMER_SECRET, "TBA: consumer secret.", secret=True, sandbox_credential=True),
    Setting("NETSUITE_TOKEN_ID", sandbox.NETSUITE_TOKEN_ID, "TBA: access token id.", secret=True, sandbox_credential=True),
    Setting("NETSUITE_TOKEN_SECRET", sandbox.NETSUITE_TOKEN_SECRET, "TBA: access token secret.", secret=True, sandbox_credential=True),
    Setting("NETSUITE_CLIENT_ID", sandbox.NETSUITE_CLIENT_ID, "M2M: integration record's client id.", sandbox_credential=True),
    Setting("NETSUITE_CERTIFICATE_ID", sandbox.NETSUITE_CERTIFICATE_ID, "M2M: certificate id of the uploaded public key.",
            sandbox_credential=True),
    Setting("NETSUITE_PRIVATE_KEY_PATH", _data("sandbox/netsuite_m2m_private.pem"), "M2M: PEM private key that signs the JWT.",
            sandbox_credential=True),
    Setting("NETSUITE_MAX_CONCURRENCY", "5", "Requests in flight to NetSuite at most (the account's limit, shared)."),
    Setting("WAREHOUSE_PATH", _data("warehouse.duckdb"), "The DuckDB file runs write."),
    Setting("WAREHOUSE_SNAPSHOT_DIR", _data("warehouse_snapshot"), "Where analysts' snapshot (DuckDB + Parquet) is exported."),
    Setting("WAREHOUSE_SNAPSHOT_GRACE_SECONDS", "3600",
            "How long a replaced snapshot version stays readable before it is removed (the two newest always stay)."),
    Setting("WAREHOUSE_LANDING_DIR", _data("landing"),
            "Landing area: run-scoped Parquet files sync runs write; the warehouse_load job merges them into raw."),
    Setting("LEDGER_PATH", _data("state/ledger.sqlite"), "Transactional sync state: ledger, watermarks, dead letters."),
    Setting("WEBHOOKS_PUBLIC_URL", "",
            "Public HTTPS URL of the receiver as Shopify reaches it (your reverse proxy), e.g. "
            "https://sync.example.com/webhooks/shopify; `sync-assets webhooks register` subscribes it."),
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


def get_float(name: str, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    raw = get(name)
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, got {raw!r} ({BY_NAME[name].help})") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"≥ {minimum}"
        raise SettingError(f"{name} must be {bounds}, got {value} ({BY_NAME[name].help})")
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


# --- never send the sandbox's credentials to a real service ------------------------------------------------


def _sandbox_defaults() -> dict[str, str]:
    return {
        "SHOPIFY_CLIENT_ID": sandbox.SHOPIFY_CLIENT_ID,
        "SHOPIFY_CLIENT_SECRET": sandbox.SHOPIFY_CLIENT_SECRET,
        "SHOPIFY_WEBHOOK_SECRET": sandbox.SHOPIFY_WEBHOOK_SECRET,
        "NETSUITE_ACCOUNT_ID": sandbox.NETSUITE_ACCOUNT_ID,
        "NETSUITE_CONSUMER_KEY": sandbox.NETSUITE_CONSUMER_KEY,
        "NETSUITE_CONSUMER_SECRET": sandbox.NETSUITE_CONSUMER_SECRET,
        "NETSUITE_TOKEN_ID": sandbox.NETSUITE_TOKEN_ID,
        "NETSUITE_TOKEN_SECRET": sandbox.NETSUITE_TOKEN_SECRET,
        "NETSUITE_CLIENT_ID": sandbox.NETSUITE_CLIENT_ID,
        "NETSUITE_CERTIFICATE_ID": sandbox.NETSUITE_CERTIFICATE_ID,
    }


def is_local(url: str) -> bool:
    """A loopback URL: the sandbox (on whatever port), never a real store or NetSuite account."""
    host = urlsplit(url if "://" in url else "https://" + url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credentials_in_use() -> dict[str, list[str]]:
    """Per service URL setting, the credential settings the connector will send there."""
    shopify = ["SHOPIFY_ACCESS_TOKEN"] if get("SHOPIFY_ACCESS_TOKEN").strip() else ["SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET"]
    shopify.append("SHOPIFY_WEBHOOK_SECRET")  # a public secret would let anyone forge webhooks
    netsuite = ["NETSUITE_ACCOUNT_ID"]
    if get("NETSUITE_AUTH_METHOD").strip().lower() == "m2m":
        netsuite += ["NETSUITE_CLIENT_ID", "NETSUITE_CERTIFICATE_ID", "NETSUITE_PRIVATE_KEY_PATH"]
    else:
        netsuite += ["NETSUITE_CONSUMER_KEY", "NETSUITE_CONSUMER_SECRET", "NETSUITE_TOKEN_ID", "NETSUITE_TOKEN_SECRET"]
    return {"SHOPIFY_SHOP_URL": shopify, "NETSUITE_BASE_URL": netsuite}


def sandbox_credentials_for_real_services() -> list[str]:
    """One line per credential that is still the sandbox's while its service's URL is not the sandbox."""
    problems = []
    for url_name, names in credentials_in_use().items():
        url = get(url_name)
        if is_local(url):
            continue
        left = [name for name in names if BY_NAME[name].is_sandbox_value()]
        if left:
            problems.append(f"{url_name} points at {url}, not the sandbox, but {', '.join(left)} "
                            f"{'is' if len(left) == 1 else 'are'} still the sandbox's; set "
                            f"{'it' if len(left) == 1 else 'each'} to your own (see .env.example)")  # fmt: skip
    return problems


def refuse_sandbox_credentials_for_real_services() -> None:
    """Raise before anything is sent: the sandbox's public secrets must never reach a real service."""
    problems = sandbox_credentials_for_real_services()
    if problems:
        raise SettingError("; ".join(problems))
