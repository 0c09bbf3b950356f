"""A tiny code location for the real-Dagster launcher test: an ``orders_sync`` job that drains the orders
topics of the inbox (``SYNC_ASSETS_TEST_LEDGER``) and acks them, as the real job does."""

import os

import dagster as dg

from sync_assets.state.ledger import Ledger
from sync_assets.webhooks.routes import ROUTES


@dg.op
def drain_inbox(context: dg.OpExecutionContext) -> int:
    ledger = Ledger(os.environ["SYNC_ASSETS_TEST_LEDGER"])
    taken = [event for topic in ROUTES[0].topics for event in ledger.inbox_take(topic, 10_000)]
    ledger.inbox_ack([event.event_id for event in taken])
    context.log.info(f"drained {len(taken)} events")
    return len(taken)


@dg.job(executor_def=dg.in_process_executor)
def orders_sync() -> None:
    drain_inbox()


defs = dg.Definitions(jobs=[orders_sync])
