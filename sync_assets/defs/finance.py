"""Dagster glue of finance: one daily partition per business day of the shop, backfillable from the UI.

Each partition lands the day's NetSuite transactions and Shopify Payments payouts (flows/finance.py) and
carries the day's tie-out as a **blocking** asset check on ``raw_netsuite_transactions``: storefront orders,
payments and refunds of the day against NetSuite's sales orders, deposits and refunds of the day, every
difference listed in the check's metadata. Days are calendar days in ``account.order_date_timezone``, the
zone that gives a sales order its date; the schedule (policy entity ``finance``) runs the previous day.

The tie-out is one of the guards (``defs/guards.py``): while a day's evaluation fails with ERROR, the marts
and the analysts' snapshot are held. Today's partition runs while orders are still in flight (placed on the
storefront, not yet in NetSuite), so it judges with reconciliation's grace rule
(:func:`sync_assets.domain.finance.tieout_verdict`): differences of orders in flight for less than
``healing_seconds`` (run config; default an hour) are a WARN, listed, holding nothing; any other difference,
or an order in flight for longer, is an ERROR.
"""

# No ``from __future__ import annotations``: Dagster reads the run config's class from the annotation.
import warnings
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from sync_assets.defs.guards import RETRY_ON_FAILURE_TAG, verdict_check_result
from sync_assets.defs.lanes import FLOW_TAG, Flow, flow_definitions, lane_group, run_metadata, time_slot_probe
from sync_assets.defs.tables import table_metadata
from sync_assets.domain.finance import tieout_verdict
from sync_assets.domain.healing import DEFAULT_HEALING_SECONDS
from sync_assets.domain.policy import AccountPolicy, EntityPolicy
from sync_assets.flows.finance import (
    BALANCE_TRANSACTIONS,
    PAYOUTS,
    REFUND_DEPOSITS,
    TRANSACTIONS,
    FinanceRunResult,
    run_finance_flow,
)

JOB_NAME = "finance"
RAW_TRANSACTIONS = dg.AssetKey(["warehouse", "raw_netsuite_transactions"])
RAW_REFUND_DEPOSITS = dg.AssetKey(["warehouse", "raw_netsuite_refund_deposits"])
RAW_BALANCE_TRANSACTIONS = dg.AssetKey(["warehouse", "raw_shopify_balance_transactions"])
RAW_PAYOUTS = dg.AssetKey(["warehouse", "raw_shopify_payouts"])
TIES_OUT = "storefront_ties_out_with_netsuite"
# The first day a backfill can reach when the policy names no account.start_date.
DEFAULT_FIRST_DAY = date(2024, 1, 1)
DIFFERENCE_COLUMNS = [("kind", "string"), ("problem", "string"), ("external_id", "string"), ("order", "string"),
                      ("storefront", "string"), ("netsuite", "string"), ("blocks", "bool"), ("order_id", "string"),
                      ("since", "string")]
TOTAL_COLUMNS = [("kind", "string"), ("currency", "string"), ("storefront_count", "int"),
                 ("storefront_amount", "string"), ("netsuite_count", "int"), ("netsuite_amount", "string"),
                 ("difference", "string")]

_TABLES = {RAW_TRANSACTIONS: (TRANSACTIONS, "NetSuite sales orders, customer deposits and customer refunds of the "
                                            "day, with tax, discount, shipping and item totals"),
           RAW_REFUND_DEPOSITS: (REFUND_DEPOSITS, "the customer deposits each of the day's refunds paid out of"),
           RAW_BALANCE_TRANSACTIONS: (BALANCE_TRANSACTIONS, "Shopify Payments balance transactions processed "
                                                            "that day (charges with their fees, refunds)"),
           RAW_PAYOUTS: (PAYOUTS, "the Shopify Payments payouts those balance transactions belong to")}


class FinanceRunConfig(dg.Config):
    """Per run, from the launchpad: how long a difference of an order in flight (not yet written to NetSuite
    by the real-time lane) is a warning rather than a failing day; unset, an hour."""

    healing_seconds: float | None = None


def partitions(account: AccountPolicy) -> dg.DailyPartitionsDefinition:
    """Days of the shop's calendar up to today (end_offset=1: the current day, to tie out as it goes)."""
    first = account.start_date.date() if account.start_date else DEFAULT_FIRST_DAY
    return dg.DailyPartitionsDefinition(start_date=first.isoformat(), timezone=account.order_date_timezone,
                                        end_offset=1)


def partition_keys(shop_timezone: str, policy: EntityPolicy):
    """The day a trigger runs (Flow.partition_keys): the batch lane the last complete day before the tick,
    the real-time lane today."""

    def keys(context) -> list[str]:
        moment = getattr(context, "scheduled_execution_time", None) or datetime.now(timezone.utc)
        today = moment.astimezone(ZoneInfo(shop_timezone)).date()
        return [(today if policy.is_realtime else today - timedelta(days=1)).isoformat()]

    return keys


def definitions(policy: EntityPolicy, account: AccountPolicy = AccountPolicy()) -> dg.Definitions:
    # A check's partitions_def is "preview" in 1.13: it records one tie-out per day, which the guards read
    # per partition (a day that passed must not hide another that failed).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _definitions(policy, account)


def _check_result(result: FinanceRunResult, healing_seconds: float) -> dg.AssetCheckResult:
    tieout, day = result.tieout, result.day.isoformat()
    verdict = tieout_verdict(tieout, result.unsynced, result.checked_at, healing_seconds)
    rows = [{**d.as_dict(), "blocks": d in verdict.blocking} for d in tieout.differences]
    return verdict_check_result(
        TIES_OUT, verdict, asset_key=RAW_TRANSACTIONS,
        metadata={"day": day, "differences": len(rows), "difference_list": table_metadata(DIFFERENCE_COLUMNS, rows),
                  "all_differences": dg.MetadataValue.json(rows),
                  "totals": table_metadata(TOTAL_COLUMNS, tieout.total_rows())},
        blocking=f"{len(verdict.blocking)} difference(s) between the storefront and NetSuite fail {day}"
                 + (f" (and {len(verdict.healing)} of orders in flight)" if verdict.healing else ""),
        healing=f"{len(verdict.healing)} difference(s) of {day} from orders in flight, not yet written to NetSuite "
                f"by the real-time lane (within {healing_seconds:g} s: holds nothing)",
    )  # fmt: skip


def _definitions(policy: EntityPolicy, account: AccountPolicy) -> dg.Definitions:
    days = partitions(account)
    tz = account.order_date_timezone

    @dg.multi_asset(
        name="finance_day", partitions_def=days, group_name=lane_group(policy),
        specs=[dg.AssetSpec(key, kinds={"parquet"}, partitions_def=days,
                            description=f"Landed for {table}: {what} (one daily partition per business day in {tz}; "
                                        "merged by warehouse_load, new versions only).")
               for key, (table, what) in _TABLES.items()],
        check_specs=[dg.AssetCheckSpec(
            TIES_OUT, asset=RAW_TRANSACTIONS, blocking=True, partitions_def=days,
            description="The day's storefront orders, payments and refunds each have their NetSuite sales order, "
                        "deposit or refund, dated that day, for the same amount and currency (and NetSuite has no "
                        "sales order of ours the storefront lacks); every difference is listed. A difference of "
                        "an order in flight (not yet written to NetSuite, within healing_seconds) is a warning "
                        "that holds nothing; any other fails the day and holds the marts and the snapshot.")],
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
    )  # fmt: skip
    def finance_day(context, config: FinanceRunConfig):
        r = context.resources
        ledger = r.ledger.get_ledger()
        day = date.fromisoformat(context.partition_key)
        result = run_finance_flow(r.shopify.get_client(lane=policy.lane), r.netsuite.get_client(),
                                  r.landing.get_area(ledger), day, shop_timezone=tz,
                                  netsuite_timezone=account.netsuite_timezone, run_id=context.run.run_id,
                                  page_size=max(1, min(1000, policy.batch_size)), ledger=ledger)
        numbers = run_metadata(**result.numbers())
        for key, (table, _) in _TABLES.items():
            yield dg.MaterializeResult(asset_key=key, metadata={**numbers, "dagster/row_count": result.count(table)})
        healing = config.healing_seconds if config.healing_seconds is not None else DEFAULT_HEALING_SECONDS
        yield _check_result(result, healing)

    job = dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.assets(finance_day),
                              tags={FLOW_TAG: "finance", RETRY_ON_FAILURE_TAG: "false"},
                              executor_def=dg.in_process_executor,
                              description="A business day of finance: NetSuite transactions and Shopify Payments "
                                          "payouts landed, and the day's storefront vs NetSuite tie-out.")
    flow = Flow(entity="finance", job=job, probe=time_slot_probe("finance", minimum_seconds=300),
                description="NetSuite transactions + Shopify payouts → warehouse, daily tie-out",
                partition_keys=partition_keys(tz, policy))
    return flow_definitions(flow, policy, [finance_day])
