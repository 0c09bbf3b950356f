"""dbt parses the project once for every warehouse file, and the per-invocation target folders do not pile up."""

from __future__ import annotations

import os
import time

from sync_assets.defs.warehouse_models import prune_targets, run_dbt


def test_a_build_on_another_warehouse_file_reuses_the_saved_parse(tmp_path):
    (tmp_path / "a").mkdir()
    run_dbt(tmp_path / "a" / "live.duckdb", "run")
    target = run_dbt(tmp_path / "snapshot-copy.duckdb", "run")  # another folder, another file name
    log = (target / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log  # e.g. "... because profile has changed"
    assert "Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed" in log


def test_old_invocation_folders_are_pruned_the_newest_and_young_ones_kept(tmp_path):
    now = time.time()
    names = [f"warehouse_models-abc{i:04x}-1234567" for i in range(5)] + [f"run_dbt-{i:08x}" for i in range(2)]
    for age, name in enumerate(names):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (now - 7200 - age, now - 7200 - age))  # two hours old, oldest last
    (tmp_path / "run_dbt-0000000f").mkdir()  # a concurrent run's: a minute old
    os.utime(tmp_path / "run_dbt-0000000f", (now - 60, now - 60))
    (tmp_path / "compiled").mkdir()  # dbt's own layout: never touched
    assert prune_targets(keep=3, min_age_seconds=3600, target=tmp_path) == 5
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(["compiled", "run_dbt-0000000f", *names[:2]])
