"""sync_assets: keep a Shopify storefront and NetSuite in sync, as Dagster assets, with a DuckDB warehouse.

Layers (see README and ../shared/DESIGN.md):
  connectors/  HTTP clients for Shopify and NetSuite (no Dagster inside)
  domain/      pure mapping and computation over plain data
  state/       the transactional ledger, watermarks, dead letters
  warehouse/   DuckDB raw -> staging -> analytics, analyst snapshots
  defs/        Dagster glue: assets, checks, sensors, schedules, resources
  sandbox/     an embedded stand-in for Shopify and NetSuite
"""
