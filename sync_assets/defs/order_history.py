"""Dagster glue of the order history backfill: one asset partitioned by month in the shop's time zone.

An operator launches it from the UI (asset ``warehouse/shopify_order_history`` → Materialize → pick the
months, or job ``order_history_backfill`` → Backfill); nothing schedules it. With a single-run backfill
policy, a backfill of any number of months is one run and one bulk operation over the whole range, so it
takes the shop's bulk slot once instead of queueing a run per month. The work is
:func:`sync_assets.flows.order_history.run_order_history_backfill`.
"""

from __future__ import annotations

import warnings

import dagster as dg

from sync_assets.defs.lanes import run_metadata
from sync_assets.domain.policy import AccountPolicy
from sync_assets.flows.order_history import BackfillConfig, run_order_history_backfill

JOB_NAME = "order_history_backfill"
ORDER_HISTORY = dg.AssetKey(["warehouse", "shopify_order_history"])
LANE = "batch"


def month_partitions(account: AccountPolicy) -> dg.MonthlyPartitionsDefinition:
    """Months of the shop's calendar from ``history_start``; ``end_offset=1`` offers the current month too
    (re-running it later lands only what changed)."""
    return dg.MonthlyPartitionsDefinition(start_date=account.history_start.isoformat(),
                                          timezone=account.shop_timezone, end_offset=1)


def definitions(account: AccountPolicy, config: BackfillConfig = BackfillConfig()) -> dg.Definitions:
    # backfill_policy is "beta" in 1.13 and says so at every load (each run's process, `sync-assets dev`'s
    # terminal): it is the documented way to make a backfill one run, so the notice is silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _definitions(account, config)


def _definitions(account: AccountPolicy, config: BackfillConfig) -> dg.Definitions:
    partitions = month_partitions(account)

    @dg.asset(
        key=ORDER_HISTORY,
        group_name=f"{LANE}_lane",
        kinds={"shopify", "parquet"},
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={"shopify", "ledger", "landing"},
        description="Storefront orders placed in each month (the shop's time zone, "
                    f"{account.shop_timezone}), read with a bulk operation and landed for raw.shopify_orders "
                    "(merged by warehouse_load; unchanged orders add no row). History for analysts: nothing "
                    "is sent to NetSuite. Launch a backfill of the months you need from this asset's page.",
    )  # fmt: skip
    def shopify_order_history(context):  # no annotation: postponed annotations hide the type from Dagster
        r = context.resources
        ledger = r.ledger.get_ledger()
        window = context.partition_time_window
        result = run_order_history_backfill(
            r.shopify.get_client(lane=LANE), ledger, r.landing.get_area(ledger), start=window.start,
            end=window.end, timezone=account.shop_timezone, run_id=context.run.run_id, config=config,
        )  # fmt: skip
        numbers = result.numbers()
        context.log.info("order history %s..%s: %s; by month %s", window.start.date(), window.end.date(), numbers,
                         dict(sorted(result.by_month.items())))
        for reason in result.errors:
            context.log.warning(reason)
        return dg.MaterializeResult(metadata={
            **run_metadata(**numbers, **{"dagster/row_count": result.orders_landed}),
            "orders_by_month": dg.MetadataValue.json(dict(sorted(result.by_month.items()))),
            "shop_timezone": dg.MetadataValue.text(account.shop_timezone),
        })  # fmt: skip

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(shopify_order_history),
        executor_def=dg.in_process_executor,
        description="Order history backfill: storefront orders per month (shop's time zone) → warehouse landing.",
    )  # fmt: skip
    return dg.Definitions(assets=[shopify_order_history], jobs=[job])
