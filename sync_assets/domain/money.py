"""Money and payload helpers shared by the mappers.

Shopify's ``Decimal``/``MoneyV2.amount`` is a JSON *string* whose precision is not fixed (``"29.99"``,
``"145.0"``; shopify-admin.md §4.2). We parse it with ``Decimal`` so no float rounding creeps into totals,
and only turn it into a JSON number at the very end, rounded to cents.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sync_assets.domain.errors import MappingError

_AMOUNT = re.compile(r"^-?\d{1,15}(\.\d{1,10})?$")
CENT = Decimal("0.01")


def parse_amount(value: object, field_path: str, *, allow_negative: bool = False) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise MappingError(f"missing or non-numeric money amount {value!r}", field_path)
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise MappingError(f"money amount must be a decimal string, got {type(value).__name__} {value!r}", field_path)
    if not _AMOUNT.match(text):
        raise MappingError(f"malformed money amount {value!r}", field_path)
    amount = Decimal(text)
    if amount < 0 and not allow_negative:
        raise MappingError(f"negative money amount {value!r}", field_path)
    return amount


def money_bag(container: dict, key: str, field_path: str, *, currency: str | None, required: bool = True) -> Decimal | None:
    """``container[key].shopMoney.amount`` as a Decimal, checking its currency against the order's."""
    bag = container.get(key)
    if bag is None:
        if required:
            raise MappingError(f"missing {key}", f"{field_path}.{key}" if field_path else key)
        return None
    path = f"{field_path}.{key}.shopMoney" if field_path else f"{key}.shopMoney"
    shop = bag.get("shopMoney") if isinstance(bag, dict) else None
    if not isinstance(shop, dict):
        raise MappingError(f"{key} has no shopMoney", path)
    code = shop.get("currencyCode")
    if currency is not None and code is not None and code != currency:
        raise MappingError(f"{key} is in {code} but the order is in {currency}", f"{path}.currencyCode")
    return parse_amount(shop.get("amount"), f"{path}.amount")


def cents(amount: Decimal) -> float:
    """A JSON number for NetSuite's ``number (double)`` fields, rounded half-up to cents."""
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def rate_number(amount: Decimal) -> float:
    """Unit rates keep up to 4 decimals (Shopify prices can carry more than 2 after discounts)."""
    return float(amount.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def payload_hash(body: Any) -> str:
    """A stable digest of a JSON body: key order and whitespace do not matter, values do."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def truncate(value: str | None, limit: int, field: str, notes: list[str]) -> str | None:
    """Cut text to a NetSuite field length, recording a note instead of rejecting the record."""
    if value is None or len(value) <= limit:
        return value
    notes.append(f"{field} truncated from {len(value)} to {limit} characters")
    return value[:limit]


def nodes(value: object) -> list:
    """Shopify returns connections as ``{nodes: [...]}`` (or ``{edges: [{node}]}``) and some lists bare;
    NetSuite sublists are ``{items: [...]}``."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if "nodes" in value:
            return list(value["nodes"] or [])
        if "items" in value:
            return list(value["items"] or [])
        if "edges" in value:
            return [edge.get("node") for edge in value["edges"] or []]
    raise MappingError(f"expected a list or connection, got {type(value).__name__}", None)
