"""Which webhook topics feed which flow, and the job that drains them.

A topic listed here must be one the job takes from the inbox and acks: the launcher relaunches while
events of a route's topics stay ``new``, so a topic nobody drains would launch runs forever. A route that
does not ``wake`` its flow only feeds it: its events wait in the inbox for the flow's next run, whatever
triggered that (the inventory flow's level deliveries: a storefront level changing is not work by itself,
but it saves the next run a read).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    entity: str  # the flow: value of the sync_assets/flow run tag
    job_name: str
    topics: tuple[str, ...]
    wakes: bool = True  # new events launch the job (else they wait for its next run)


ROUTES: tuple[Route, ...] = (
    Route("orders", "orders_sync", ("orders/create", "orders/updated", "orders/paid", "orders/cancelled")),
    Route("inventory", "inventory_sync", ("inventory_levels/update",), wakes=False),  # flows/storefront_levels.py
)

_BY_TOPIC = {topic: route for route in ROUTES for topic in route.topics}


def route_for_topic(topic: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    if routes is ROUTES:
        return _BY_TOPIC.get(topic)
    return next((r for r in routes if topic in r.topics), None)
