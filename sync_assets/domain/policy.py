"""The sync policy: per entity, which lane it runs in, how often, and its tuning knobs.

One YAML file (``sync_policy.yaml`` next to the package, or ``$SYNC_POLICY_PATH``) so an integration
engineer moves an entity between lanes without touching code. Entities and fields the file leaves out
keep the built-in defaults (DESIGN.md flow table); a file that switches an entity's lane must give the
new lane's cadence. Every mistake is a ``PolicyError`` naming file, entity and field.

Every entry is backed by a flow: an entity with no flow of its own is refused rather than silently ignored
(``NO_FLOW_YET``), and customers and payments, which are synced inline with each order, follow the
orders entry (a different lane or cadence for them is refused, naming where to set it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from sync_assets.domain.errors import PolicyError
from sync_assets.domain.inventory import SafetyStock

BUNDLED_POLICY = Path(__file__).resolve().parent.parent / "sync_policy.yaml"
ENV_VAR = "SYNC_POLICY_PATH"
LANES = ("realtime", "batch")
ENTITIES = (
    "orders", "customers", "payments", "inventory", "fulfillments",
    "catalog", "crm", "finance", "warehouse_load", "warehouse_export", "reconciliation",
)
# Synced inside another entity's flow (flows/orders.py upserts the customer and the deposit with each
# order): their lane and cadence are the host's.
INLINE = {"customers": "orders", "payments": "orders"}
# Named in DESIGN.md's flow table but not built: an entry for them would do nothing, so it is refused.
# Empty today (every entity of the table has a flow); the refusal stays for the next one.
NO_FLOW_YET: dict[str, str] = {}
_CADENCE_KEYS = ("interval_seconds", "cron", "timezone")
_ALLOWED_KEYS = frozenset({
    "lane", *_CADENCE_KEYS, "overlap_seconds", "safety_lag_seconds", "safety_stock", "location_map",
    "default_customer", "batch_size", "discount_item", "tax_item",
})

_REALTIME = {"lane": "realtime", "interval_seconds": 1}
DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "orders": {**_REALTIME, "overlap_seconds": 300, "safety_lag_seconds": 2, "batch_size": 250},
    "customers": {**_REALTIME, "overlap_seconds": 300, "safety_lag_seconds": 2, "batch_size": 250},
    "payments": {**_REALTIME, "overlap_seconds": 300, "safety_lag_seconds": 2, "batch_size": 250},
    "inventory": {**_REALTIME, "overlap_seconds": 60, "safety_lag_seconds": 0, "batch_size": 250},
    "fulfillments": {**_REALTIME, "overlap_seconds": 300, "safety_lag_seconds": 2, "batch_size": 100},
    "catalog": {"lane": "batch", "cron": "0 2 * * *", "timezone": "UTC", "batch_size": 1000},
    "crm": {"lane": "batch", "cron": "15 * * * *", "timezone": "UTC", "batch_size": 1000},
    # Each run lands the shop's previous calendar day (account.order_date_timezone); older days are a backfill.
    "finance": {"lane": "batch", "cron": "0 4 * * *", "timezone": "UTC", "batch_size": 1000},
    # The one writer of the warehouse: landed files → raw, as soon as a sync run queued some.
    "warehouse_load": dict(_REALTIME),
    "warehouse_export": {"lane": "batch", "cron": "45 * * * *", "timezone": "UTC"},
    "reconciliation": {"lane": "batch", "cron": "30 3 * * *", "timezone": "UTC", "batch_size": 1000},
}


@dataclass(frozen=True)
class EntityPolicy:
    name: str
    lane: str
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str = "UTC"
    overlap_seconds: int = 0
    safety_lag_seconds: int = 0
    batch_size: int = 250
    safety_stock: SafetyStock = field(default_factory=SafetyStock)
    location_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    default_customer: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # NetSuite items (by item name, ``itemid``) that carry the storefront's discounts and taxes on a sales
    # order; no discount item means order-level discounts cannot be posted, no tax item means NetSuite's own
    # tax engine computes tax.
    discount_item: str | None = None
    tax_item: str | None = None

    @property
    def is_realtime(self) -> bool:
        return self.lane == "realtime"


@dataclass(frozen=True)
class AccountPolicy:
    """Facts about the merchant's NetSuite account the flows depend on (the ``account:`` section).

    ``subsidiary`` is the internal id new customers (and sales orders) are filed under: OneWorld accounts
    reject a customer without one; leave it unset on a single-subsidiary account. ``netsuite_timezone`` is
    the integration user's time zone (Set Preferences > Time Zone): SuiteQL renders and compares
    timestamps in it, so every polling window against NetSuite is converted through it.
    ``order_date_timezone`` is the zone whose calendar day becomes a sales order's ``tranDate``.
    ``start_date`` is where the real-time lane's very first window begins (later runs follow their
    watermarks; history before it is the backfill's job); unset, the first run looks back one day.
    ``price_level`` is the NetSuite price level the storefront sells at (catalog). ``deposit_account``
    is the internal id of the bank or cash account customer deposits post to (unset: Undeposited Funds);
    ``payment_methods`` maps a storefront payment gateway to a NetSuite payment method id,
    ``shipping_methods`` a shipping line title to a NetSuite shipping item id, and ``carriers`` a NetSuite
    ship method name to the tracking company the storefront shows. ``shop_timezone`` is the storefront's
    time zone (Shopify admin: Settings > General; the API's ``shop.ianaTimezone``): the order-history
    backfill's months are the shop's, and its runs refuse to land if the shop says otherwise.
    ``history_start`` is the first month the backfill offers as a partition.
    """

    subsidiary: str | None = None
    netsuite_timezone: str = "UTC"
    order_date_timezone: str = "UTC"
    start_date: datetime | None = None
    price_level: str = "Base Price"
    deposit_account: str | None = None
    payment_methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    shipping_methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    carriers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The storefront's calendar: its time zone (Shopify's shop.ianaTimezone; backfill runs check it) and the
    # first month of order history the backfill offers.
    shop_timezone: str = "UTC"
    history_start: date = date(2024, 1, 1)


_ACCOUNT_KEYS = frozenset({"subsidiary", "netsuite_timezone", "order_date_timezone", "start_date", "price_level",
                           "deposit_account", "payment_methods", "shipping_methods", "carriers", "shop_timezone",
                           "history_start"})


@dataclass(frozen=True)
class SyncPolicy:
    source: str
    entities: Mapping[str, EntityPolicy]
    account: AccountPolicy = field(default_factory=AccountPolicy)

    def entity(self, name: str) -> EntityPolicy:
        try:
            return self.entities[name]
        except KeyError:
            if name in NO_FLOW_YET:
                raise PolicyError(f"{self.source}: entities.{name}: {_no_flow(name)}") from None
            raise PolicyError(f"{self.source}: no entity {name!r} (known: {', '.join(ENTITIES)})") from None

    def in_lane(self, lane: str) -> list[EntityPolicy]:
        return [p for p in self.entities.values() if p.lane == lane]


def load_policy(path: str | os.PathLike | None = None) -> SyncPolicy:
    """Load from ``path``, else ``$SYNC_POLICY_PATH``, else the bundled default file."""
    chosen = Path(path or os.environ.get(ENV_VAR) or BUNDLED_POLICY)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{chosen}: cannot read sync policy ({exc.strerror or exc})") from None
    return parse_policy(text, source=chosen.name)


def parse_policy(text: str, source: str = "sync_policy.yaml") -> SyncPolicy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    except ValueError as exc:  # PyYAML builds dates itself: 2026-13-01 fails there, before we see it
        raise PolicyError(f"{source}: not a valid date or number: {exc}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the top level must be a mapping with 'entities'")
    unknown = set(data) - {"version", "account", "entities"}
    if unknown:
        raise PolicyError(f"{source}: unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}")
    if data.get("version", 1) != 1:
        raise PolicyError(f"{source}: version: {data['version']!r} is not supported (expected 1)")
    entities = data.get("entities") or {}
    if not isinstance(entities, dict):
        raise PolicyError(f"{source}: entities: must be a mapping of entity name to settings")
    for name in entities:
        if name in NO_FLOW_YET:
            raise PolicyError(f"{source}: entities.{name}: {_no_flow(name)}; remove the entry")
        if name not in DEFAULTS:
            raise PolicyError(f"{source}: entities.{name}: unknown entity (known: {', '.join(ENTITIES)})")
    parsed: dict[str, EntityPolicy] = {}
    for name in ENTITIES:
        if name in INLINE:
            continue
        parsed[name] = _entity(source, name, entities.get(name))
    for name, host in INLINE.items():
        parsed[name] = _inline(source, name, entities.get(name), parsed[host])
    return SyncPolicy(source, MappingProxyType({name: parsed[name] for name in ENTITIES}),
                      _account(source, data.get("account")))


def _no_flow(name: str) -> str:
    return (f"no flow runs {name!r} yet ({NO_FLOW_YET[name]} are not built), so a lane or cadence for it "
            f"would do nothing (entities with a flow: {', '.join(e for e in ENTITIES if e not in INLINE)})")


def _inline(source: str, name: str, raw: Any, host: EntityPolicy) -> EntityPolicy:
    """An entity synced inside its host's flow: settings equal to the host's are accepted (old files keep
    working), anything else is refused with where to set it instead."""
    where = f"{source}: entities.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: must be a mapping of settings, got {type(raw).__name__}")
    for key, value in raw.items():
        if key not in _ALLOWED_KEYS:
            raise PolicyError(f"{where}.{key}: unknown setting (allowed: {', '.join(sorted(_ALLOWED_KEYS))})")
        if key in ("lane", *_CADENCE_KEYS) and value == getattr(host, key):
            continue
        raise PolicyError(f"{where}.{key}: {name} are synced inline with each of the {host.name} (no flow of "
                          f"their own), so this setting would do nothing; set entities.{host.name}.{key} instead")
    return replace(host, name=name)


def _account(source: str, raw: Any) -> AccountPolicy:
    where = f"{source}: account"
    if raw is None:
        return AccountPolicy()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: must be a mapping of settings, got {type(raw).__name__}")
    unknown = set(raw) - _ACCOUNT_KEYS
    if unknown:
        raise PolicyError(f"{where}.{sorted(map(str, unknown))[0]}: unknown setting (allowed: {', '.join(sorted(_ACCOUNT_KEYS))})")
    subsidiary = _internal_id(where, "subsidiary", raw.get("subsidiary"), "the subsidiary's")
    deposit_account = _internal_id(where, "deposit_account", raw.get("deposit_account"), "the account's")
    price_level = raw.get("price_level", "Base Price")
    if not isinstance(price_level, str) or not price_level.strip():
        raise PolicyError(f"{where}.price_level: must be a NetSuite price level name (text), got {price_level!r}")
    return AccountPolicy(
        subsidiary=subsidiary,
        netsuite_timezone=_zone(where, "netsuite_timezone", raw.get("netsuite_timezone", "UTC")),
        order_date_timezone=_zone(where, "order_date_timezone", raw.get("order_date_timezone", "UTC")),
        start_date=_start_date(where, raw.get("start_date")),
        price_level=price_level.strip(),
        deposit_account=deposit_account,
        payment_methods=_text_map(where, "payment_methods", raw.get("payment_methods")),
        shipping_methods=_text_map(where, "shipping_methods", raw.get("shipping_methods")),
        carriers=_text_map(where, "carriers", raw.get("carriers")),
        shop_timezone=_zone(where, "shop_timezone", raw.get("shop_timezone", "UTC")),
        history_start=_month(where, "history_start", raw.get("history_start", date(2024, 1, 1))),
    )


def _month(where: str, key: str, value: Any) -> date:
    """The first day of a month, from a date or 'YYYY-MM' / 'YYYY-MM-DD' text."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value if len(value.strip()) > 7 else f"{value.strip()}-01")
        except ValueError:
            raise PolicyError(f"{where}.{key}: {value!r} is not a month (2024-01) or a date (2024-01-01)") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise PolicyError(f"{where}.{key}: must be a month (2024-01) or a date, got {value!r}")
    return value.replace(day=1)


def _internal_id(where: str, key: str, value: Any, whose: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip().isdigit():
        raise PolicyError(f"{where}.{key}: must be {whose} NetSuite internal id (a number), got {value!r}")
    return str(value).strip()


def _zone(where: str, key: str, tz: Any) -> str:
    if not isinstance(tz, str):
        raise PolicyError(f"{where}.{key}: must be text such as 'Europe/Paris', got {tz!r}")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"{where}.{key}: {tz!r} is not a known IANA timezone") from None
    return tz


def _start_date(where: str, value: Any) -> datetime | None:
    """A date (midnight UTC) or an ISO timestamp with an offset; YAML may already have parsed either."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value or " " in value.strip() \
                else date.fromisoformat(value)
        except ValueError:
            raise PolicyError(f"{where}.start_date: {value!r} is not a date (2026-01-31) or a timestamp "
                              "with an offset (2026-01-31T08:00:00Z)") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise PolicyError(f"{where}.start_date: {value.isoformat()} has no offset; write it with Z or +hh:mm")
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    raise PolicyError(f"{where}.start_date: must be a date or a timestamp, got {value!r}")


def _entity(source: str, name: str, raw: Any) -> EntityPolicy:
    where = f"{source}: entities.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: must be a mapping of settings, got {type(raw).__name__}")
    unknown = set(raw) - _ALLOWED_KEYS
    if unknown:
        raise PolicyError(f"{where}.{sorted(map(str, unknown))[0]}: unknown setting (allowed: {', '.join(sorted(_ALLOWED_KEYS))})")
    merged = dict(DEFAULTS[name])
    if "lane" in raw and raw["lane"] != merged["lane"]:
        for key in _CADENCE_KEYS:  # the old lane's cadence does not carry over
            merged.pop(key, None)
    merged.update(raw)

    lane = merged["lane"]
    if lane not in LANES:
        raise PolicyError(f"{where}.lane: {lane!r} is not a lane (use realtime or batch)")
    interval = _optional_int(where, "interval_seconds", merged.get("interval_seconds"), minimum=1)
    cron = merged.get("cron")
    tz = merged.get("timezone", "UTC")
    if lane == "realtime":
        if interval is None:
            raise PolicyError(f"{where}.interval_seconds: a realtime entity needs interval_seconds")
        if cron is not None:
            raise PolicyError(f"{where}.cron: a realtime entity runs on interval_seconds, not cron (or set lane: batch)")
    else:
        if cron is None:
            raise PolicyError(f"{where}.cron: a batch entity needs a cron expression")
        if interval is not None:
            raise PolicyError(f"{where}.interval_seconds: a batch entity runs on cron, not interval_seconds (or set lane: realtime)")
        if not isinstance(cron, str) or not _valid_cron(cron):
            raise PolicyError(f"{where}.cron: {cron!r} is not a valid cron expression")
    _zone(where, "timezone", tz)

    return EntityPolicy(
        name=name,
        lane=lane,
        interval_seconds=interval,
        cron=cron,
        timezone=tz,
        overlap_seconds=_optional_int(where, "overlap_seconds", merged.get("overlap_seconds", 0), minimum=0),
        safety_lag_seconds=_optional_int(where, "safety_lag_seconds", merged.get("safety_lag_seconds", 0), minimum=0),
        batch_size=_optional_int(where, "batch_size", merged.get("batch_size", 250), minimum=1),
        safety_stock=_safety_stock(where, merged.get("safety_stock")),
        location_map=_text_map(where, "location_map", merged.get("location_map")),
        default_customer=_text_map(where, "default_customer", merged.get("default_customer")),
        discount_item=_optional_text(where, "discount_item", merged.get("discount_item")),
        tax_item=_optional_text(where, "tax_item", merged.get("tax_item")),
    )


def _valid_cron(expression: str) -> bool:
    # Dagster is the scheduler, so its own validator is the one that must accept the string.
    from dagster._utils.schedules import is_valid_cron_string

    return is_valid_cron_string(expression)


def _optional_int(where: str, key: str, value: Any, *, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{where}.{key}: must be a whole number, got {value!r}")
    if value < minimum:
        raise PolicyError(f"{where}.{key}: must be ≥ {minimum}, got {value}")
    return value


def _optional_text(where: str, key: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}.{key}: must be a NetSuite item name (text), got {value!r}")
    return value.strip()


def _text_map(where: str, key: str, value: Any) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise PolicyError(f"{where}.{key}: must be a mapping, got {type(value).__name__}")
    result = {}
    for k, v in value.items():
        if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (str, int)) or str(v) == "":
            raise PolicyError(f"{where}.{key}.{k}: must map text to text or an id, got {v!r}")
        result[k] = str(v)  # NetSuite internal ids travel as strings on the wire
    return MappingProxyType(result)


def _safety_stock(where: str, value: Any) -> SafetyStock:
    if value is None:
        return SafetyStock()
    if isinstance(value, int) and not isinstance(value, bool):
        return SafetyStock(_optional_int(where, "safety_stock", value, minimum=0) or 0)
    if not isinstance(value, dict):
        raise PolicyError(f"{where}.safety_stock: must be a number or {{default, per_sku}}, got {value!r}")
    unknown = set(value) - {"default", "per_sku"}
    if unknown:
        raise PolicyError(f"{where}.safety_stock.{sorted(map(str, unknown))[0]}: unknown setting (allowed: default, per_sku)")
    default = _optional_int(where, "safety_stock.default", value.get("default", 0), minimum=0) or 0
    per_sku_raw = value.get("per_sku") or {}
    if not isinstance(per_sku_raw, dict):
        raise PolicyError(f"{where}.safety_stock.per_sku: must be a mapping of SKU to quantity")
    per_sku = {}
    for sku, qty in per_sku_raw.items():
        if qty is None:
            raise PolicyError(f"{where}.safety_stock.per_sku.{sku}: needs a quantity")
        per_sku[str(sku)] = _optional_int(where, f"safety_stock.per_sku.{sku}", qty, minimum=0)
    return SafetyStock(default, MappingProxyType(per_sku))
