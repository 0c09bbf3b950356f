"""The analyst snapshot asset through Dagster's own test APIs, on real files, with a reader in another process."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import yaml
from dagster_dbt import DbtProject
from dagster_duckdb import DuckDBResource

from sync_assets.defs import warehouse_export, warehouse_models
from sync_assets.domain.policy import load_policy
from sync_assets.warehouse import append_frame, ensure_schema, open_current
from sync_assets_tests.warehouse.conftest import orders_frame

NODE = "warehouse__analyst_snapshot"


def _export(asset, live, root, models=None, docs=False, instance=None):
    """One real export run; with ``models``, the dbt build and tests first, as the warehouse_export job runs.
    The docs site (tens of seconds of dbt) only where a test looks at it."""
    resources = {"warehouse": DuckDBResource(database=str(live))}
    if models is not None:
        resources |= warehouse_models.definitions(models).resources
    config = {"snapshot_dir": str(root), "grace_seconds": 3600, "docs": docs}
    return dg.materialize(
        [asset] if models is None else [models, asset], resources=resources,
        run_config={"ops": {NODE: {"config": config}}}, instance=instance,
    )  # fmt: skip


def _inlined(page: Path, name: str) -> dict:
    """The manifest or catalog ``dbt docs generate --static`` inlined into the page (``{manifest:{…},catalog:{…}}``)."""
    text = page.read_text()
    return json.JSONDecoder().raw_decode(text, text.index(f"{name}:{{") + len(name) + 1)[0]


MODELS = warehouse_models.build_dbt_assets()


def _asset():
    d = warehouse_export.definitions(load_policy().entity("warehouse_export"), MODELS)
    return d, next(a for a in d.assets if warehouse_export.SNAPSHOT in a.keys)


def test_export_builds_the_marts_then_exports_a_complete_set_of_a_fresh_warehouse(tmp_path):
    d, asset = _asset()
    root = tmp_path / "snap"
    # a fresh install: the live file does not exist yet
    result = _export(asset, tmp_path / "live.duckdb", root, models=MODELS)
    assert result.success
    meta = result.asset_materializations_for_node(NODE)[0].metadata
    assert meta["parquet_files"].value >= 1 and meta["lock_held_seconds"].value >= 0
    folder, manifest = open_current(root)
    assert manifest["version"] == meta["version"].value
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM main.snapshot_info").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM analytics.daily_sales").fetchone()[0] == 0  # empty, complete
    assert [s.name for s in d.schedules] == ["warehouse_export_schedule"]


def test_each_export_publishes_the_dbt_docs_site_of_its_own_snapshot_switched_with_the_rest(tmp_path):
    _, asset = _asset()
    live, root = tmp_path / "live.duckdb", tmp_path / "snap"
    described = yaml.safe_load((warehouse_models.PROJECT_DIR / "models/analytics/_analytics.yml").read_text())
    orders = next(m for m in described["models"] if m["name"] == "analytics__orders")
    column = next(c for c in orders["columns"] if c.get("description"))
    with duckdb.connect(str(live)) as conn:
        ensure_schema(conn)
        append_frame(conn, "raw.shopify_orders", orders_frame(ns=[0]), "r0")
    first = _export(asset, live, root, models=MODELS, docs=True)
    assert first.success
    folder, manifest = open_current(root)
    assert manifest["docs"] == "docs/index.html"
    page = folder / "docs" / "index.html"
    nodes = _inlined(page, "manifest")["nodes"]
    assert {"model.sync_assets.analytics__daily_sales", "model.sync_assets.analytics__orders"} <= set(nodes)
    described_there = nodes["model.sync_assets.analytics__orders"]["columns"][column["name"]]["description"]
    assert described_there == column["description"]  # from the dbt YAML
    catalog = _inlined(page, "catalog")["nodes"]["model.sync_assets.analytics__orders"]
    assert catalog["metadata"]["type"] == "BASE TABLE"  # read from the snapshot (live file: a view)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as conn:
        columns = [r[0] for r in conn.execute("DESCRIBE analytics.orders").fetchall()]
    assert sorted(catalog["columns"]) == sorted(columns)
    assert catalog["stats"]["row_count"]["value"] == manifest["tables"]["analytics.orders"] == 1
    first_page = page.read_bytes()
    meta = first.asset_materializations_for_node(NODE)[0].metadata
    assert meta["docs_pages"].value == 1 and meta["docs"].value == str(page)

    with duckdb.connect(str(live)) as conn:
        append_frame(conn, "raw.shopify_orders", orders_frame(ns=[1, 2]), "r1")
    assert _export(asset, live, root, docs=True).success  # the marts are views: no dbt build needed
    second, manifest2 = open_current(root)
    assert second != folder and manifest2["docs"] == "docs/index.html"
    catalog = _inlined(second / "docs" / "index.html", "catalog")["nodes"]["model.sync_assets.analytics__orders"]
    assert catalog["stats"]["row_count"]["value"] == manifest2["tables"]["analytics.orders"] == 3
    # the stable path follows `current`: the new version's page, beside the DuckDB file it describes
    assert Path(os.path.realpath(root / "docs" / "index.html")) == second / "docs" / "index.html"
    assert (folder / "docs" / "index.html").read_bytes() == first_page  # a reader of the old version keeps it


def _broken_dbt_project(tmp_path, monkeypatch) -> None:
    """The docs are built from a copy of the dbt project holding a model that does not compile (it refers to a
    model that does not exist): ``dbt docs generate`` really runs and really fails. The marts in the live file
    were built from the good project, so only the docs step meets it."""
    broken = tmp_path / "broken_dbt"
    shutil.copytree(warehouse_models.PROJECT_DIR, broken, ignore=shutil.ignore_patterns("target", "logs"))
    (broken / "models" / "analytics" / "analytics__broken.sql").write_text("select * from {{ ref('no_such_model') }}\n")
    monkeypatch.setattr(warehouse_models, "PROJECT_DIR", broken)
    monkeypatch.setattr(warehouse_models, "project", DbtProject(project_dir=broken, profiles_dir=broken))


def _warnings(instance, result) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]


def test_docs_that_fail_to_build_leave_a_whole_current_snapshot_and_the_last_good_docs(tmp_path, monkeypatch):
    _, asset = _asset()
    live, root = tmp_path / "live.duckdb", tmp_path / "snap"
    with duckdb.connect(str(live)) as conn:
        ensure_schema(conn)
        append_frame(conn, "raw.shopify_orders", orders_frame(ns=[0]), "r0")
    assert _export(asset, live, root, models=MODELS, docs=True).success
    good, good_manifest = open_current(root)
    good_page = (good / "docs" / "index.html").read_bytes()

    _broken_dbt_project(tmp_path, monkeypatch)
    with duckdb.connect(str(live)) as conn:
        append_frame(conn, "raw.shopify_orders", orders_frame(ns=[1, 2]), "r1")
    instance = dg.DagsterInstance.ephemeral()
    result = _export(asset, live, root, docs=True, instance=instance)
    assert result.success  # the analysts get their data
    meta = result.asset_materializations_for_node(NODE)[0].metadata
    folder, manifest = open_current(root)
    # complete and current: this run's version, every mart in DuckDB and in Parquet, agreeing
    assert folder != good and manifest["version"] == meta["version"].value
    assert manifest["tables"]["analytics.orders"] == meta["rows_analytics_orders"].value == 3
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT version FROM snapshot_info").fetchall() == [(manifest["version"],)]
        for name, rel in manifest["parquet"].items():
            in_file = conn.execute(f"SELECT count(*) FROM read_parquet('{folder / rel}')").fetchall()[0][0]
            assert in_file == manifest["tables"][name], name
    # the failure is visible: a warning in the run's log, and the materialization's metadata
    assert meta["docs_failed"].value == 1 and "dbt" in meta["docs_error"].value
    assert manifest["docs_error"] == meta["docs_error"].value
    warned = [w for w in _warnings(instance, result) if "dbt docs" in w]
    assert len(warned) == 1 and manifest["version"] in warned[0] and good_manifest["version"] in warned[0]
    # the previous version's docs are untouched, and the docs path opens the last good page, saying whose it is
    assert (good / "docs" / "index.html").read_bytes() == good_page
    assert Path(os.path.realpath(root / "docs" / "index.html")) == folder / "docs" / "index.html"
    assert (root / "docs" / "index.html").read_bytes() == good_page
    assert manifest["docs"] == "docs/index.html" and manifest["docs_version"] == good_manifest["version"]
    assert meta["docs_version"].value == good_manifest["version"] and meta["docs_pages"].value == 1

    # a snapshot whose docs never built: no docs in the version and no `docs` link to a missing page
    fresh = tmp_path / "fresh"
    instance = dg.DagsterInstance.ephemeral()
    result = _export(asset, live, fresh, docs=True, instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node(NODE)[0].metadata
    _, manifest = open_current(fresh)
    assert manifest["docs"] is None and manifest["docs_version"] is None and manifest["tables"]["analytics.orders"] == 3
    assert not (fresh / "docs").exists() and not (fresh / "docs").is_symlink()
    assert meta["docs_failed"].value == 1 and meta["docs_pages"].value == 0 and "docs" not in meta
    assert any("no docs to keep" in w for w in _warnings(instance, result))


READER = textwrap.dedent(
    """
    import duckdb, json, os, sys
    root, stop = sys.argv[1], sys.argv[2]
    checks, errors, versions = 0, [], set()
    while not os.path.exists(stop):
        try:
            folder = os.path.realpath(os.path.join(root, "current"))  # resolved once: one version
            with duckdb.connect(os.path.join(folder, "warehouse.duckdb"), read_only=True) as c:
                parquet = sorted(os.listdir(os.path.join(folder, "parquet")))
                if not parquet:
                    errors.append(f"{folder}: no parquet files")
                for name in parquet:
                    table = name.removesuffix(".parquet")
                    in_db = c.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                    path = os.path.join(folder, "parquet", name)
                    in_file = c.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
                    if in_db != in_file:
                        errors.append(f"{folder} {table}: duckdb {in_db} rows, parquet {in_file}")
                orders = c.execute("SELECT count(*) FROM analytics.orders").fetchall()[0][0]
                versions.add((os.path.basename(folder), orders))
                checks += 1
        except Exception as exc:
            errors.append(repr(exc))
    print(json.dumps({"checks": checks, "errors": errors[:5], "n_errors": len(errors),
                      "orders_seen": sorted({n for _, n in versions}), "versions": len(versions)}))
    """
)


def test_reader_opening_the_documented_path_during_real_export_runs_always_gets_a_whole_set(tmp_path):
    _, asset = _asset()
    live, root, stop = tmp_path / "live.duckdb", tmp_path / "snap", tmp_path / "stop"
    warehouse_models.run_dbt(live, "run")  # the marts, as views; each export below materialises them
    with duckdb.connect(str(live)) as conn:
        ensure_schema(conn)
        append_frame(conn, "raw.shopify_orders", orders_frame(ns=[0]), "r0")
    assert _export(asset, live, root).success
    reader = subprocess.Popen([sys.executable, "-c", READER, str(root), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        for i in range(1, 6):
            with duckdb.connect(str(live)) as conn:  # the loader's merge between exports
                append_frame(conn, "raw.shopify_orders", orders_frame(ns=range(i * 10, i * 10 + 10)), f"r{i}")
            assert _export(asset, live, root).success
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=120)
    report = json.loads(out)
    assert report["n_errors"] == 0, report["errors"]
    assert report["checks"] > 5 and report["versions"] >= 3  # the reader really did see several switches
    assert report["orders_seen"][-1] <= 51
