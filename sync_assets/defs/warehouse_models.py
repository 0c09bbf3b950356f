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
import re
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_duckdb import DuckDBResource
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from sync_assets.defs.guards import refuse_if_guards_fail
from sync_assets.defs.warehouse_load import raw_table_key
from sync_assets.warehouse.dbt_plugin import READ_ONLY_ENV, WAREHOUSE_ENV

PROJECT_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "dbt"
GROUP = "warehouse_models"
POOL = "warehouse_writer"  # the one DuckDB writer at a time, shared with the loader (limit 1)
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
    """``dbt parse`` when the manifest is missing or older than a model, macro or YAML file.

    The parse it saves (``target/partial_parse.msgpack``) is copied by dagster-dbt into every invocation's
    target folder; it holds while the profile and the env vars the models read are the same, so they are
    set here as the builds set them (the warehouse file is not part of it: see warehouse/dbt_plugin.py)."""
    if _manifest_is_stale(dbt_project):
        os.environ.update(model_env())
        dbt_project.preparer.prepare(dbt_project)
    return dbt_project.manifest_path


# The folders dagster-dbt (``<op>-<run id>-<uuid>``) and run_dbt (``run_dbt-<uuid>``) give each invocation.
_INVOCATION_DIR = re.compile(r"^(warehouse_models-[0-9a-f]{7}-[0-9a-f]{7}|run_dbt-[0-9a-f]{8})$")


def prune_targets(keep: int = 3, min_age_seconds: float = 3600.0, target: Path | None = None) -> int:
    """Remove old per-invocation dbt target folders (each holds a manifest, compiled SQL and logs, ~1 MB),
    keeping the newest ``keep`` and any younger than ``min_age_seconds`` (a concurrent run may be using it:
    dagster-dbt reads run_results.json from it when dbt ends). Returns how many went."""
    target = target or PROJECT_DIR / project.target_path
    if not target.is_dir():
        return 0
    dirs = sorted((p for p in target.iterdir() if p.is_dir() and _INVOCATION_DIR.match(p.name)),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    now = time.time()
    removed = 0
    for path in dirs[keep:]:
        if now - path.stat().st_mtime > min_age_seconds:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


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


def model_env() -> dict[str, str]:
    """The env vars the models read: the marts' shop day is the policy's account.order_date_timezone,
    NetSuite's datetimes are read in account.netsuite_timezone."""
    from sync_assets.domain.policy import load_policy

    account = load_policy().account
    return {SHOP_TIMEZONE_ENV: account.order_date_timezone, NETSUITE_TIMEZONE_ENV: account.netsuite_timezone}


def _point_dbt_at(database: str | os.PathLike) -> None:
    """dbt opens the file itself (the profile's plugin attaches WAREHOUSE_ENV), with the models' env."""
    os.environ[WAREHOUSE_ENV] = str(Path(database).resolve())
    os.environ.update(model_env())


def dbt_cli(database: str | os.PathLike) -> DbtCliResource:
    """The dbt CLI pointed at ``database``."""
    _point_dbt_at(database)
    return DbtCliResource(project_dir=project, profiles_dir=str(PROJECT_DIR))


@contextmanager
def _invocation(database: str | os.PathLike, *, read_only: bool = False) -> Iterator[tuple[DbtCliResource, Path]]:
    """The dbt CLI on ``database`` with a target folder of its own (pruned afterwards); the env it set
    (dagster-dbt hands dbt a copy of ``os.environ``) is put back after."""
    target = PROJECT_DIR / project.target_path / f"run_dbt-{uuid.uuid4().hex[:8]}"
    saved = {name: os.environ.get(name) for name in (WAREHOUSE_ENV, READ_ONLY_ENV)}
    os.environ[READ_ONLY_ENV] = "1" if read_only else ""
    try:
        yield dbt_cli(database), target
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        prune_targets()


def run_dbt(database: str | os.PathLike, *args: str) -> Path:
    """``dbt <args>`` on ``database`` outside Dagster (tests, the data-dictionary check); raises on failure.
    Returns the invocation's target folder (its ``dbt.log``, run results)."""
    import duckdb

    with duckdb.connect(str(database)) as conn:
        ensure_raw(conn)
    manifest = prepare()
    with _invocation(database) as (dbt, target):
        dbt.cli(list(args), manifest=manifest, raise_on_error=True, target_path=target).wait()
    return target


DOCS_PAGE = "index.html"


def generate_docs(database: str | os.PathLike, out_dir: Path) -> Path:
    """dbt's docs site for ``database`` (opened read-only) as ``out_dir/index.html``: ``dbt docs generate
    --static`` inlines the manifest and the catalog (every relation's columns and types, read from that
    file) into one page, which opens from the file system without a server."""
    manifest = prepare()
    with _invocation(database, read_only=True) as (dbt, target):
        dbt.cli(["docs", "generate", "--static"], manifest=manifest, raise_on_error=True, target_path=target).wait()
        out_dir.mkdir(parents=True, exist_ok=True)
        page = out_dir / DOCS_PAGE
        shutil.copyfile(target / "static_index.html", page)
        shutil.rmtree(target, ignore_errors=True)  # its own manifest and catalog: inlined in the page
    return page


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
            prune_targets()

    return warehouse_models


def mart_keys(assets: dg.AssetsDefinition) -> list[dg.AssetKey]:
    return sorted((k for k in assets.keys if k.path[1] == "analytics"), key=lambda k: k.to_user_string())


def definitions(models: dg.AssetsDefinition) -> dg.Definitions:
    return dg.Definitions(
        assets=[models],
        resources={"dbt": DbtCliResource(project_dir=project, profiles_dir=str(PROJECT_DIR))},
    )
