"""The sync flows as plain Python over the connectors, the ledger and the warehouse: no Dagster here, so
they are testable and reusable (the Dagster glue in ``sync_assets.defs`` is a thin wrapper)."""
