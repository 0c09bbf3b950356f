"""What the flows log reaches the run's event log (the Dagster UI), under the packaged instance file: the
catalog asset's progress lines appear in its run's logs, DEBUG lines do not, and the sign-up dialog is off."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import yaml

from sync_assets.defs import catalog as defs_catalog
from sync_assets.domain.policy import load_policy
from sync_assets_tests.defs.test_inventory_defs import sandbox_resources

INSTANCE_FILE = Path(__file__).resolve().parents[2] / "sync_assets" / "dagster_instance.yaml"


def _packaged(*sections: str) -> dict:
    settings = yaml.safe_load(INSTANCE_FILE.read_text(encoding="utf-8"))
    return {name: settings[name] for name in sections}


def test_flow_logs_reach_the_run_event_log_from_info_up(sandbox, tmp_path):
    defs = defs_catalog.definitions(load_policy().entity("catalog"))
    [asset] = defs.assets
    with dg.instance_for_test(overrides=_packaged("python_logs", "nux")) as instance:
        assert instance.nux_enabled is False
        logging.getLogger("sync_assets.flows.catalog").debug("a debug line no operator needs")
        result = dg.materialize([asset], resources=sandbox_resources(sandbox.url, tmp_path), instance=instance)
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    landed = [m for m in messages if m.startswith("catalog: NetSuite items landed:")]
    assert landed and "done" in landed[-1] and "pages" in landed[-1]
    assert any(m.startswith("catalog: products pushed to the storefront:") for m in messages)
    assert not any("debug line" in m for m in messages)
