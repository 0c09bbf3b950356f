"""The shop's webhook subscriptions: read them, and make one topic deliver to one address.

Shopify keeps one subscription per (topic, address); the admin API has no upsert, so
:func:`ensure_subscriptions` reads what exists and creates or re-points only what differs, which makes it
safe to run again (the second run changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from . import documents, paging

if TYPE_CHECKING:
    from .client import ShopifyClient


def topic_enum(topic: str) -> str:
    """REST/header form → GraphQL enum: ``orders/create`` → ``ORDERS_CREATE``."""
    return topic.replace("/", "_").upper()


@dataclass(frozen=True)
class Change:
    topic: str  # REST form, as the X-Shopify-Topic header names it
    action: str  # "created", "updated" (was: previous) or "unchanged"
    subscription_id: str
    previous: str | None = None


def list_subscriptions(client: ShopifyClient, topics: Iterable[str] | None = None) -> list[dict]:
    variables = {"topics": [topic_enum(t) for t in topics]} if topics is not None else {}
    return list(paging.paginate(client, documents.WEBHOOK_SUBSCRIPTIONS_PAGE, variables, "webhookSubscriptions", page_size=100))


def ensure_subscriptions(client: ShopifyClient, topics: Iterable[str], address: str) -> list[Change]:
    """Every topic in ``topics`` delivers to ``address``: created if missing, re-pointed if it goes elsewhere.

    A topic with one subscription elsewhere is re-pointed (the app moved); with several, one already at
    ``address`` is kept as it is and the others are left alone (another receiver of the same app, perhaps).
    """
    topics = list(dict.fromkeys(topics))
    existing: dict[str, list[dict]] = {}
    for sub in list_subscriptions(client, topics):
        existing.setdefault(sub["topic"], []).append(sub)
    changes = []
    for topic in topics:
        subs = existing.get(topic_enum(topic), [])
        here = next((s for s in subs if s["uri"] == address), None)
        if here is not None:
            changes.append(Change(topic, "unchanged", here["id"]))
        elif len(subs) == 1:
            payload = client.mutate(documents.WEBHOOK_SUBSCRIPTION_UPDATE,
                                    {"id": subs[0]["id"], "webhookSubscription": {"uri": address, "format": "JSON"}},
                                    "webhookSubscriptionUpdate", idempotent=True)  # fmt: skip
            changes.append(Change(topic, "updated", payload["webhookSubscription"]["id"], previous=subs[0]["uri"]))
        else:
            # Not idempotent on an ambiguous failure (a second create is refused as "already taken"): the
            # client does not resend it, and the next run finds it.
            payload = client.mutate(documents.WEBHOOK_SUBSCRIPTION_CREATE,
                                    {"topic": topic_enum(topic), "webhookSubscription": {"uri": address, "format": "JSON"}},
                                    "webhookSubscriptionCreate")  # fmt: skip
            changes.append(Change(topic, "created", payload["webhookSubscription"]["id"]))
    return changes
