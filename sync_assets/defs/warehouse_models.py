"""The warehouse's dbt project (``sync_assets/warehouse/dbt``) as Dagster assets: every staging view and mart
is an asset with lineage from the raw landing assets, its dbt tests are asset checks (``error`` severity
= blocking, so a failing test stops the marts and the snapshot after it), and its column descriptions,
written once in the dbt YAML, are the asset's column schema. The flows' blocking checks upstream (other
runs) stop the build too (:mod:`sync_assets.defs.guards`).

The manifest is built at load when missing or older than the project's files (``dbt parse``, a few
seconds, guarded against concurrent loads by dagster-dbt), so a fresh clone needs no prepare step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from sync_assets.defs.guards import refuse_if_guards_fail
from sync_assets.defs.warehouse_load import raw_table_key

PROJECT_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "dbt"
GROUP = "warehouse_models"
POOL = "warehouse_writer"  # the one DuckDB writer at a time, shared with the loader (limit 1)
WAREHOUSE_ENV = "SYNC_ASSETS_DBT_WAREHOUSE"  # read by profiles.yml
SHOP_TIMEZONE_ENV = "SYNC_ASSETS_SHOP_TIMEZONE"  # read by macros/shop_day.sql: the finance marts' day
NETSUITE_TIMEZONE_ENV = "SYNC_ASSETS_NETSUITE_TIMEZONE"  # read by macros/payload.sql netsuite_ts: SuiteQL's zone

project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


def _manifest_is_stale(dbt_project: DbtProject) -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [p for p in PROJECT_DIR.rglob("*") if p.suffix in (".sql", ".yml") and "target" not in p.parts]
    return any(p.stat().st_mtime > built for p in sources)


def prepare(dbt_project: DbtProject = project) -> Path:
    """``dbt parse`` when the manifest is missing or older than a model, macro or YAML file."""
    if _manifest_is_stale(dbt_project):
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


def model_relation(name: str) -> str:
    """``analytics__orders`` -> ``analytics.orders`` (macros/naming.sql: schema from the model name)."""
    schema, _, table = name.partition("__")
    return f"{schema}.{table}"


def _model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", *model_relation(name).split(".")])


class WarehouseTranslator(DagsterDbtTranslator):
    """Keys ``warehouse/<schema>/<table>``; sources are the raw table assets (``warehouse/raw/<table>``)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":  # raw.<table>: the warehouse_load asset that merges it
            return spec.replace_attributes(key=raw_table_key(f"{props['schema']}.{props['name']}"))
        return spec

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return _model_key(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return GROUP


TRANSLATOR = WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def ensure_raw(conn) -> None:
    """The raw tables dbt reads, also on a fresh file where no flow has landed yet."""
    from sync_assets.warehouse import ensure_schema

    ensure_schema(conn)


def _point_dbt_at(database: str | os.PathLike) -> None:
    """dbt opens the file itself (profiles.yml reads WAREHOUSE_ENV); the marts' shop day is the policy's
    account.order_date_timezone, NetSuite's datetimes are read in account.netsuite_timezone."""
    from sync_assets.domain.policy import load_policy

    account = load_policy().account
    os.environ[WAREHOUSE_ENV] = str(Path(database).resolve())
    os.environ[SHOP_TIMEZONE_ENV] = account.order_date_timezone
    os.environ[NETSUITE_TIMEZONE_ENV] = account.netsuite_timezone


def dbt_cli(database: str | os.PathLike) -> DbtCliResource:
    """The dbt CLI pointed at ``database``."""
    _point_dbt_at(database)
    return DbtCliResource(project_dir=project, profiles_dir=str(PROJECT_DIR))


def run_dbt(database: str | os.PathLike, *args: str) -> None:
    """``dbt <args>`` on ``database`` outside Dagster (tests, the data-dictionary check); raises on failure."""
    import duckdb

    with duckdb.connect(str(database)) as conn:
        ensure_raw(conn)
    dbt_cli(database).cli(list(args), manifest=prepare(), raise_on_error=True).wait()


def _release_dbt_duckdb() -> None:
    """Close the DuckDB handle dbt-duckdb keeps open in this process after dagster-dbt's row-count and
    column queries: it holds the file's write lock and, with its own configuration, makes the next open
    in this run (the snapshot step) fail with "different configuration than existing connections"."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        env.close()


def build_dbt_assets(manifest: Path | None = None) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest or prepare(), project=project, dagster_dbt_translator=TRANSLATOR,
        name="warehouse_models", pool=POOL,
    )  # fmt: skip
    def warehouse_models(context, dbt: DbtCliResource, warehouse: DuckDBResource):
        refuse_if_guards_fail(context)  # the flows' blocking checks, other runs
        with warehouse.get_connection() as conn:
            ensure_raw(conn)
        # dbt opens the file itself; the resource says which one (tests and deployments point it elsewhere).
        _point_dbt_at(warehouse.database)
        try:
            yield from dbt.cli(["build"], context=context).stream().fetch_row_counts().fetch_column_metadata()
        finally:
            _release_dbt_duckdb()

    return warehouse_models


def mart_keys(assets: dg.AssetsDefinition) -> list[dg.AssetKey]:
    return sorted((k for k in assets.keys if k.path[1] == "analytics"), key=lambda k: k.to_user_string())


def definitions(models: dg.AssetsDefinition) -> dg.Definitions:
    return dg.Definitions(
        assets=[models],
        resources={"dbt": DbtCliResource(project_dir=project, profiles_dir=str(PROJECT_DIR))},
    )
