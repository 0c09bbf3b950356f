"""Dagster glue of the catalog flow: NetSuite items/prices landed in the warehouse, changed products pushed
to the storefront. Job ``catalog_sync``; a schedule in the batch lane (default, nightly) or a sensor whose
probe is "items modified since the last complete run" if an engineer moves the catalog to real time.

The work is :func:`sync_assets.flows.catalog.run_catalog_flow`.
"""

from __future__ import annotations

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG, Flow, PendingWork, flow_definitions, lane_group, run_metadata
from sync_assets.domain.policy import EntityPolicy
from sync_assets.flows.catalog import CatalogConfig, probe_catalog, run_catalog_flow

JOB_NAME = "catalog_sync"
RAW_ITEMS = dg.AssetKey(["warehouse", "raw_netsuite_items"])
RAW_PRICES = dg.AssetKey(["warehouse", "raw_netsuite_item_prices"])
RAW_LOCATIONS = dg.AssetKey(["warehouse", "raw_netsuite_locations"])
RAW_DELETED = dg.AssetKey(["warehouse", "raw_netsuite_deleted_items"])
PRODUCTS = dg.AssetKey(["storefront", "products"])
NO_DEAD_LETTERS = "no_products_dead_lettered"


def _probe(config: CatalogConfig):
    def probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork | None:
        pending = probe_catalog(context.resources.netsuite.get_client(), context.resources.ledger.get_ledger(),
                                config.netsuite_timezone)
        return None if pending is None else PendingWork(pending.fingerprint, pending.summary, pending.count)

    return probe


def definitions(policy: EntityPolicy, config: CatalogConfig | None = None) -> dg.Definitions:
    group = lane_group(policy)
    config = config or CatalogConfig(max_pushes=max(1, policy.batch_size))

    @dg.multi_asset(
        name="catalog_to_warehouse_and_storefront",
        specs=[
            dg.AssetSpec(RAW_ITEMS, group_name=group, kinds={"parquet"},
                         description="Landed for raw.netsuite_items: every NetSuite item, keyset-paged SuiteQL "
                                     "(merged by warehouse_load)."),
            dg.AssetSpec(RAW_PRICES, group_name=group, kinds={"parquet"},
                         description="Landed for raw.netsuite_item_prices: pricing rows per item, every price level "
                                     "and currency."),
            dg.AssetSpec(RAW_LOCATIONS, group_name=group, kinds={"parquet"},
                         description="Landed for raw.netsuite_locations: every NetSuite location."),
            dg.AssetSpec(RAW_DELETED, group_name=group, kinds={"parquet"},
                         description="Landed for raw.netsuite_deleted_items: NetSuite's deletedrecord rows for items."),
            dg.AssetSpec(PRODUCTS, group_name=group, kinds={"shopify"}, deps=[RAW_ITEMS, RAW_PRICES, RAW_DELETED],
                         description="Storefront products updated with productSet where their content hash changed; "
                                     "no variant is ever dropped (inactive or deleted ones are zeroed, storefront-only "
                                     "ones kept) and products whose item is gone are archived."),
        ],  # fmt: skip
        check_specs=[
            dg.AssetCheckSpec(NO_DEAD_LETTERS, asset=PRODUCTS,
                              description="Every changed product was accepted by the storefront (WARN otherwise)."),
        ],
        required_resource_keys={"shopify", "netsuite", "ledger", "landing"},
    )
    def catalog_to_warehouse_and_storefront(context):
        r = context.resources
        ledger = r.ledger.get_ledger()
        result = run_catalog_flow(
            r.netsuite.get_client(), r.shopify.get_client(lane=policy.lane), ledger,
            landing=r.landing.get_area(ledger), run_id=context.run.run_id, config=config,
        )  # fmt: skip
        numbers = result.numbers()
        context.log.info("catalog run: %s", numbers)
        yield dg.MaterializeResult(asset_key=RAW_ITEMS, metadata=run_metadata(
            **{"dagster/row_count": result.extract.items, "extract_seconds": result.extract.extract_seconds,
               "warehouse_load_seconds": result.extract.load_seconds,
               "netsuite_api_calls": numbers["netsuite_api_calls"],
               "netsuite_throttle_wait_seconds": numbers["netsuite_throttle_wait_seconds"]}))
        yield dg.MaterializeResult(asset_key=RAW_PRICES, metadata=run_metadata(**{"dagster/row_count": result.extract.prices}))
        yield dg.MaterializeResult(asset_key=RAW_LOCATIONS,
                                   metadata=run_metadata(**{"dagster/row_count": result.extract.locations}))
        yield dg.MaterializeResult(asset_key=RAW_DELETED,
                                   metadata=run_metadata(**{"dagster/row_count": result.extract.deleted}))
        push = result.push
        yield dg.MaterializeResult(asset_key=PRODUCTS, metadata=run_metadata(**{
            k: v for k, v in numbers.items() if k.startswith(("products_", "shopify_"))}))
        yield dg.AssetCheckResult(
            check_name=NO_DEAD_LETTERS, asset_key=PRODUCTS, passed=not push.dead_lettered,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(f"{h}: {e}" for h, e in push.errors[:20]) or None,
            metadata={"dead_lettered": push.dead_lettered},
        )
        if push.stopped:
            raise dg.Failure(f"catalog push stopped: {push.stopped}", metadata=run_metadata(**numbers))

    job = dg.define_asset_job(
        JOB_NAME, selection=dg.AssetSelection.assets(catalog_to_warehouse_and_storefront), tags={FLOW_TAG: "catalog"},
        description="Catalog + pricing: NetSuite → warehouse, changed products → storefront (productSet).",
    )
    flow = Flow(entity="catalog", job=job, probe=_probe(config), resource_keys=frozenset({"netsuite", "ledger"}),
                description="NetSuite items modified → storefront products")
    return flow_definitions(flow, policy, [catalog_to_warehouse_and_storefront])
