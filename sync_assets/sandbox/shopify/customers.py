"""Customers as a merchant's admin leaves them: created, edited (``updatedAt`` moves), and — for fault
injection — stored with a field a well-behaved shop would never serve (``corrupt``), so tests can see a
malformed record dead-lettered while the rest lands."""

from __future__ import annotations

from .store import Store, UserError, iso, now_dt, parse_gid, parse_iso

EDITABLE = ("email", "firstName", "lastName", "tags", "state", "marketingState")
STATES = ("DISABLED", "INVITED", "ENABLED", "DECLINED")
MARKETING_STATES = ("NOT_SUBSCRIBED", "PENDING", "SUBSCRIBED", "UNSUBSCRIBED", "INVALID")


def _check(fields: dict) -> None:
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise UserError(["customer"], f"Unknown customer fields {unknown} (editable: {', '.join(EDITABLE)})", "INVALID")
    if "state" in fields and fields["state"] not in STATES:
        raise UserError(["customer", "state"], f"state must be one of {', '.join(STATES)}", "INVALID")
    if "marketingState" in fields and fields["marketingState"] not in MARKETING_STATES:
        raise UserError(["customer", "marketingState"], f"marketingState must be one of {', '.join(MARKETING_STATES)}",
                        "INVALID")
    if "tags" in fields and not (isinstance(fields["tags"], list) and all(isinstance(t, str) for t in fields["tags"])):
        raise UserError(["customer", "tags"], "tags must be a list of strings", "INVALID")
    for key in ("email", "firstName", "lastName"):
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise UserError(["customer", key], f"{key} must be a string", "INVALID")


def _apply(store: Store, record: dict, fields: dict, stamp: str) -> dict:
    record = {**record, "updatedAt": stamp, "_updated": parse_iso(stamp)}
    for key in ("firstName", "lastName", "tags", "state"):
        if key in fields:
            record[key] = fields[key]
    if "email" in fields or "marketingState" in fields:
        old = record.get("email")
        email = fields.get("email", old)
        state = fields.get("marketingState", (record.get("defaultEmailAddress") or {}).get("marketingState",
                                                                                          "NOT_SUBSCRIBED"))
        if old and store.customer_by_email.get(old.lower()) == record["_n"]:
            del store.customer_by_email[old.lower()]
        record["email"] = email
        record["defaultEmailAddress"] = {"emailAddress": email, "marketingState": state} if email else None
        if email:
            store.customer_by_email[email.lower()] = record["_n"]
    record["displayName"] = " ".join(p for p in (record.get("firstName"), record.get("lastName")) if p) or (
        record.get("email") or "")
    return record


def create_customer(store: Store, fields: dict) -> dict:
    _check(fields)
    with store.lock:
        email = fields.get("email")
        if email and email.lower() in store.customer_by_email:
            raise UserError(["customer", "email"], "Email has already been taken", "TAKEN")
        stamp = iso(now_dt())
        n = store._new_customer(email, fields.get("firstName"), fields.get("lastName"), None, stamp)
        store.customers[n] = _apply(store, store.customers[n], fields, stamp)
        return store.customers[n]


def update_customer(store: Store, customer_id: str, fields: dict, corrupt: dict | None = None) -> dict:
    """Edit a customer (``updatedAt`` moves). ``corrupt`` stores raw values verbatim over the served fields."""
    _check(fields)
    with store.lock:
        n = parse_gid(customer_id, "Customer")
        if n is None or n not in store.customers:
            raise UserError(["id"], f"Customer {customer_id!r} does not exist", "NOT_FOUND")
        record = _apply(store, store.customers[n], fields, iso(now_dt()))
        record.update(corrupt or {})  # replaces the dict: readers outside the lock see old or new, never half
        store.customers[n] = record
        return record
