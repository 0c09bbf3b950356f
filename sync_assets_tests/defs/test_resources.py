"""Resources built from settings: unset variables give the sandbox's real values, set ones stay EnvVars."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_assets import settings
from sync_assets.defs.resources import build_resources

PLACEHOLDER_SETTINGS = [s.name for s in settings.SETTINGS if "{" in s.default]


def test_defaults_resolve_their_placeholders(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in PLACEHOLDER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SANDBOX_PORT", "9911")
    monkeypatch.setenv("SYNC_ASSETS_DATA_DIR", str(tmp_path))
    resources = build_resources()

    assert resources["shopify"].shop_url == "http://127.0.0.1:9911"
    assert resources["netsuite"].base_url == "http://127.0.0.1:9911"
    assert resources["netsuite"].private_key_path == f"{tmp_path}/sandbox/netsuite_m2m_private.pem"
    assert resources["ledger"].path == f"{tmp_path}/state/ledger.sqlite"
    # The clients accept them (a placeholder left in would fail here, as it did in every sensor tick).
    assert resources["shopify"].get_client() is not None
    assert resources["netsuite"].get_client() is not None


def test_values_from_the_environment_reach_dagster_as_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_SHOP_URL", "https://example-shop.myshopify.com")
    monkeypatch.setenv("NETSUITE_TOKEN_SECRET", "not-shown")
    resources = build_resources()
    assert resources["shopify"].shop_url == dg.EnvVar("SHOPIFY_SHOP_URL")
    assert resources["netsuite"].token_secret == dg.EnvVar("NETSUITE_TOKEN_SECRET")


def test_a_run_spends_its_flows_lane_of_the_netsuite_account_budget(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from sync_assets.defs.lanes import FLOW_TAG, lane_of_run

    assert lane_of_run({FLOW_TAG: "orders"}) == "realtime"
    assert lane_of_run({FLOW_TAG: "catalog"}) == "batch"
    assert lane_of_run({}) == "batch"  # an operator's ad-hoc job of no flow gives way to the real-time lane
    assert lane_of_run(None) == "realtime"  # a sensor's probe serves the real-time lane

    monkeypatch.setenv("SYNC_ASSETS_DATA_DIR", str(tmp_path))
    netsuite = build_resources()["netsuite"]
    with dg.instance_for_test() as instance:
        run = instance.create_run_for_job(dg.GraphDefinition("g").to_job(), tags={FLOW_TAG: "catalog"})
        with dg.build_resources({"netsuite": netsuite}, instance=instance, dagster_run=run) as built:
            client = built.netsuite.get_client()
    assert client.lane == "batch"
    assert client.account_slots is not None and client.account_slots.limit == 5
    assert str(client.account_slots.directory) == f"{tmp_path}/state/netsuite_slots/1234567_SB1"
