"""Which NetSuite customer an order belongs to, and the customer body to upsert when there is none.

Match order (DESIGN.md flow table): the external id we stamped (``shopify-customer-<id>``), then the email
lower-cased. Guest checkouts have no Shopify customer: their external id is derived from the email, so the
same guest ordering twice lands on one NetSuite customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sync_assets.domain.errors import MappingError
from sync_assets.domain.ids import customer_external_id, guest_customer_external_id
from sync_assets.domain.money import payload_hash, truncate

NAME_LIMIT = 32  # NetSuite person first/last name field length (conservative)
EMAIL_LIMIT = 254


@dataclass(frozen=True)
class CustomerMatchKey:
    external_id: str
    email: str | None  # lower-cased


@dataclass(frozen=True)
class CustomerDraft:
    external_id: str
    body: dict
    payload_hash: str
    notes: tuple[str, ...] = ()


def _email_of(order: Mapping) -> str | None:
    customer = order.get("customer") or {}
    for value in (customer.get("email"), (customer.get("defaultEmailAddress") or {}).get("emailAddress"), order.get("email")):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def customer_match_key(order: Mapping) -> CustomerMatchKey:
    customer = order.get("customer")
    email = _email_of(order)
    if customer and customer.get("id"):
        return CustomerMatchKey(customer_external_id(customer["id"]), email)
    if email:
        return CustomerMatchKey(guest_customer_external_id(email), email)
    raise MappingError("order has no customer and no email to match a NetSuite customer on", "customer")


def match_existing_customer(key: CustomerMatchKey, candidates: Iterable[Mapping]) -> str | None:
    """Pick the NetSuite customer for ``key`` among looked-up rows ``{id, externalId, email}``.

    External id wins; otherwise an email match, the lowest internal id when several share the email
    (deterministic, so two runs never pick different customers for the same order).
    """
    rows = list(candidates)
    for row in rows:
        if row.get("externalId") == key.external_id:
            return str(row["id"])
    if key.email:
        same_email = [row for row in rows if str(row.get("email") or "").strip().lower() == key.email]
        if same_email:
            return str(min(same_email, key=lambda row: int(row["id"]) if str(row["id"]).isdigit() else 0)["id"])
    return None


def customer_body_from_order(order: Mapping, *, subsidiary_id: str | None = None) -> CustomerDraft:
    """A person customer built from the order's customer (or, for guests, its shipping address)."""
    key = customer_match_key(order)
    notes: list[str] = []
    customer = order.get("customer") or {}
    address = order.get("shippingAddress") or {}
    first = customer.get("firstName") or address.get("firstName")
    last = customer.get("lastName") or address.get("lastName")
    if not first and not last:
        # NetSuite requires a name on a person; the email's local part is the least surprising stand-in.
        last = (key.email or "shopify customer").split("@")[0]
    body: dict = {
        "externalId": key.external_id,
        "isPerson": True,
        "firstName": truncate(first or "", NAME_LIMIT, "firstName", notes),
        "lastName": truncate(last or "", NAME_LIMIT, "lastName", notes),
    }
    if key.email:
        body["email"] = truncate(key.email, EMAIL_LIMIT, "email", notes)
    if subsidiary_id:
        body["subsidiary"] = {"id": subsidiary_id}
    return CustomerDraft(key.external_id, body, payload_hash(body), tuple(notes))
