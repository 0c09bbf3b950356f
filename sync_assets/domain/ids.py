"""Deterministic ids: Shopify GIDs to legacy numbers, and the external ids we stamp on NetSuite records.

External ids are the idempotency keys of every NetSuite write (``PUT /{type}/eid:{externalId}``), so they
must be a pure function of the Shopify id and use only the characters NetSuite allows after ``eid:``
(letters, digits, ``_`` and ``-``; netsuite-rest.md §4.3).
"""

from __future__ import annotations

import hashlib
import re

from sync_assets.domain.errors import MappingError

_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")
_EXTERNAL_ID_OK = re.compile(r"^[A-Za-z0-9_-]+$")


def legacy_id(value: object, field_path: str, expected_type: str | None = None) -> str:
    """The numeric id inside a GID (``gid://shopify/Order/123`` → ``"123"``); bare digits pass through."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if not isinstance(value, str) or not value:
        raise MappingError(f"missing or non-text id {value!r}", field_path)
    if value.isdigit():
        return value
    match = _GID.match(value)
    if not match:
        raise MappingError(f"malformed Shopify id {value!r} (expected gid://shopify/<Type>/<digits>)", field_path)
    if expected_type and match["type"] != expected_type:
        raise MappingError(f"expected a {expected_type} id, got {value!r}", field_path)
    return match["id"]


def checked_external_id(value: str) -> str:
    if not _EXTERNAL_ID_OK.match(value):
        raise MappingError(f"external id {value!r} has characters NetSuite does not accept after eid:", "externalId")
    return value


def order_external_id(order_gid: str) -> str:
    return checked_external_id(f"shopify-order-{legacy_id(order_gid, 'id', 'Order')}")


def customer_external_id(customer_gid: str) -> str:
    return checked_external_id(f"shopify-customer-{legacy_id(customer_gid, 'customer.id', 'Customer')}")


def short_digest(text: str, length: int = 16) -> str:
    """A short, stable hex digest of ``text``: fingerprints of pending work, versions, derived keys."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def guest_customer_external_id(email: str) -> str:
    """Guest checkouts have no customer id; the lower-cased email is the only stable key (hashed: emails hold
    characters eid: refuses, and the id ends up in logs and URLs)."""
    return f"shopify-guest-{short_digest(email.strip().lower(), 24)}"


def payment_external_id(transaction_or_order_gid: str, field_path: str) -> str:
    return checked_external_id(f"shopify-payment-{legacy_id(transaction_or_order_gid, field_path)}")


def id_sort_key(value: str) -> tuple[int, int, str]:
    """Order ids numerically when they are numbers (or GIDs), so "10" sorts after "9"; "" sorts first."""
    if value == "":
        return (-1, 0, "")
    match = _GID.match(value)
    digits = match["id"] if match else value
    if digits.isdigit():
        return (0, int(digits), "")
    return (1, 0, value)
