"""The code location loads, both through Dagster's own loader and its CLI validator."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from sync_assets.definitions import defs

ROOT = Path(__file__).resolve().parents[2]


def test_definitions_resolve_with_every_resource():
    resolved = defs()
    assert isinstance(resolved, dg.Definitions)
    assert {"shopify", "netsuite", "warehouse"} <= set(resolved.resources)


def test_dagster_definitions_validate_cli(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    dagster_bin = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster_bin), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr
