"""The routes table repeats the orders flow's topics and job name (so the receiver starts without importing
the flows): this keeps the copies equal, since a topic no job drains would make the launcher relaunch forever."""

from sync_assets.defs.orders import JOB_NAME
from sync_assets.flows.orders import TOPICS
from sync_assets.webhooks.routes import ROUTES, route_for_topic


def test_orders_route_matches_the_orders_flow():
    (route,) = [r for r in ROUTES if r.entity == "orders"]
    assert route.job_name == JOB_NAME
    assert set(route.topics) == set(TOPICS)
    assert all(route_for_topic(topic) is route for topic in TOPICS)
