"""The webhook trigger of the real-time lane: Shopify webhook → durable inbox → a coalesced Dagster run.

``sync-assets webhooks`` serves :mod:`.receiver` (verify, dedupe, store, answer in milliseconds) with the
:mod:`.launcher` thread beside it (launch the entity's job through Dagster's GraphQL API when no run of
that flow is in flight). Polling sensors stay the safety net for webhooks that never arrive.
"""

from sync_assets.webhooks.routes import ROUTES, Route, route_for_topic

__all__ = ["ROUTES", "Route", "route_for_topic"]
