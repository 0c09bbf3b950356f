"""Resources built from settings: unset variables give the sandbox's real values, set ones stay EnvVars."""

from __future__ import annotations

import dagster as dg
import pytest

from sync_assets import settings
from sync_assets.defs.resources import build_resources
from sync_assets.sandbox import credentials as C

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
    # One budget per shop: the bucket report lives under the data dir, where every run process finds it.
    assert resources["shopify"].get_client().shared_state_dir == f"{tmp_path}/state/shopify"


def test_a_batch_flow_gets_a_batch_lane_client_and_webhook_runs_are_recognised() -> None:
    from sync_assets.flows.orders import WEBHOOK_TRIGGER
    from sync_assets.webhooks.launcher import TRIGGER

    shopify = build_resources()["shopify"]
    client = shopify.get_client(lane="batch")
    assert client.lane.name == "batch" and client.lane.reserve_fraction == 0.3 and client.lane.wait_for_bulk_slot
    assert TRIGGER == WEBHOOK_TRIGGER  # the tag the receiver launches with is the one the flow reads


def test_values_from_the_environment_reach_dagster_as_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_SHOP_URL", "https://example-shop.myshopify.com")
    monkeypatch.setenv("SHOPIFY_CLIENT_ID", "their-client-id")
    monkeypatch.setenv("SHOPIFY_CLIENT_SECRET", "not-shown-either")
    monkeypatch.setenv("NETSUITE_TOKEN_SECRET", "not-shown")
    resources = build_resources()
    assert resources["shopify"].shop_url == dg.EnvVar("SHOPIFY_SHOP_URL")
    assert resources["shopify"].client_secret == dg.EnvVar("SHOPIFY_CLIENT_SECRET")
    assert resources["netsuite"].token_secret == dg.EnvVar("NETSUITE_TOKEN_SECRET")


@pytest.mark.parametrize(("variables", "named"), [
    ({"SHOPIFY_SHOP_URL": "https://example-shop.myshopify.com"}, "SHOPIFY_CLIENT_ID, SHOPIFY_CLIENT_SECRET, SHOPIFY_WEBHOOK_SECRET"),
    ({"SHOPIFY_SHOP_URL": "https://example-shop.myshopify.com", "SHOPIFY_CLIENT_ID": "theirs",
      "SHOPIFY_CLIENT_SECRET": "theirs-too"}, None),  # the webhook secret follows the client secret
    ({"SHOPIFY_SHOP_URL": "example-shop.myshopify.com", "SHOPIFY_ACCESS_TOKEN": "shpat_theirs",
      "SHOPIFY_WEBHOOK_SECRET": "theirs"}, None),
    ({"NETSUITE_BASE_URL": "https://1234567.suitetalk.api.netsuite.com", "NETSUITE_ACCOUNT_ID": "1234567",
      "NETSUITE_TOKEN_SECRET": "theirs"}, "NETSUITE_CONSUMER_KEY, NETSUITE_CONSUMER_SECRET, NETSUITE_TOKEN_ID"),
    ({"NETSUITE_BASE_URL": "https://1234567.suitetalk.api.netsuite.com", "NETSUITE_AUTH_METHOD": "m2m"},
     "NETSUITE_ACCOUNT_ID, NETSUITE_CLIENT_ID, NETSUITE_CERTIFICATE_ID, NETSUITE_PRIVATE_KEY_PATH"),
    ({"SHOPIFY_SHOP_URL": "http://localhost:9999", "NETSUITE_BASE_URL": "http://127.0.0.1:1"}, None),  # sandboxes
])  # fmt: skip
def test_sandbox_credentials_are_refused_for_a_real_service(monkeypatch, variables, named) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    if named is None:
        assert build_resources()["shopify"] is not None
        return
    with pytest.raises(settings.SettingError) as refused:
        build_resources()
    message = str(refused.value)
    assert named in message and "not the sandbox" in message
    assert C.SHOPIFY_CLIENT_SECRET not in message and C.NETSUITE_TOKEN_SECRET not in message


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
