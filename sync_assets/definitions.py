"""The one place the Dagster code location is assembled."""

from __future__ import annotations

import dagster as dg

from sync_assets.defs import (
    catalog,
    customers,
    finance,
    fulfillments,
    inventory,
    operations,
    order_history,
    orders,
    reconciliation,
    run_record,
    warehouse_export,
    warehouse_load,
    warehouse_models,
)
from sync_assets.defs.freshness import with_lane_freshness
from sync_assets.defs.resources import build_resources
from sync_assets.domain.policy import AccountPolicy, load_policy
from sync_assets.flows.catalog import CatalogConfig
from sync_assets.flows.customers import CrmConfig
from sync_assets.flows.fulfillments import FulfillmentsFlowConfig
from sync_assets.flows.inventory import InventoryFlowConfig
from sync_assets.flows.orders import OrdersFlowConfig


def account_configs(account: AccountPolicy, catalog_batch_size: int, *, orders_search_lag_seconds: float = 2.0) -> dict:
    """The policy's account facts as each flow's config (the flows themselves take plain values); the
    inventory flow also takes the orders' safety lag, for the orders probe's cursor it moves."""
    tz, start = account.netsuite_timezone, account.start_date
    return {
        "orders": OrdersFlowConfig(subsidiary_id=account.subsidiary, tran_date_timezone=account.order_date_timezone,
                                   start_at=start, deposit_account_id=account.deposit_account,
                                   payment_method_map=dict(account.payment_methods),
                                   shipping_method_map=dict(account.shipping_methods)),
        "inventory": InventoryFlowConfig(netsuite_timezone=tz, start_at=start,
                                         orders_search_lag_seconds=orders_search_lag_seconds),
        "fulfillments": FulfillmentsFlowConfig(netsuite_timezone=tz, start_at=start, carrier_map=dict(account.carriers)),
        "catalog": CatalogConfig(price_level=account.price_level, netsuite_timezone=tz,
                                 max_pushes=max(1, catalog_batch_size)),
        "crm": CrmConfig(netsuite_timezone=tz),
    }


@dg.definitions
def defs() -> dg.Definitions:
    policy = load_policy()
    models = warehouse_models.build_dbt_assets()
    configs = account_configs(policy.account, policy.entity("catalog").batch_size,
                              orders_search_lag_seconds=policy.entity("orders").safety_lag_seconds)
    # Each area's runs land their rows for raw.flow_runs under its name (a run's flow tag wins), and the
    # failure sensor lands the rows of runs that died before a hook could (defs/run_record.py).
    areas = {
        "orders": orders.definitions(policy.entity("orders"), configs["orders"]),
        "inventory": inventory.definitions(policy.entity("inventory"), configs["inventory"]),
        "fulfillments": fulfillments.definitions(policy.entity("fulfillments"), configs["fulfillments"]),
        "catalog": catalog.definitions(policy.entity("catalog"), configs["catalog"]),
        "crm": customers.definitions(policy.entity("crm"), configs["crm"]),
        "finance": finance.definitions(policy.entity("finance"), policy.account),
        "warehouse_load": warehouse_load.definitions(policy.entity("warehouse_load")),
        "warehouse_models": warehouse_models.definitions(models),
        "warehouse_export": warehouse_export.definitions(policy.entity("warehouse_export"), models),
        "reconciliation": reconciliation.definitions(policy.entity("reconciliation"), policy.account),
        "order_history": order_history.definitions(policy.account),
        "operations": operations.definitions(),
    }
    merged = dg.Definitions.merge(
        # Runs print their events to the terminal of `sync-assets dev` (the run worker's): from INFO up, the
        # flows' own lines; Dagster's DEBUG step events (a dozen per run) stay in the UI's event log only.
        dg.Definitions(resources=build_resources(),
                       loggers={"console": dg.colored_console_logger.configured({"log_level": "INFO"})},
                       sensors=[run_record.failed_run_sensor(run_record.flows_by_asset(areas))]),
        *(run_record.record_runs(area, name) for name, area in areas.items()),
    )
    # Freshness per lane from the policy, after merging, so it covers every flow's assets.
    return with_lane_freshness(merged, policy)
