"""Settings: sandbox defaults, environment overrides, and a clear error for an unusable value."""

import pytest

from sync_assets import settings
from sync_assets.cli import main
from sync_assets.sandbox import credentials


def test_defaults_are_the_sandbox_and_data_paths_follow_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SHOPIFY_SHOP_URL", raising=False)
    monkeypatch.delenv("WAREHOUSE_PATH", raising=False)
    monkeypatch.setenv("SYNC_ASSETS_DATA_DIR", str(tmp_path))
    assert settings.get("SHOPIFY_SHOP_URL") == credentials.SANDBOX_URL
    assert settings.get("WAREHOUSE_PATH") == f"{tmp_path}/warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", "/elsewhere/w.duckdb")
    assert settings.get("WAREHOUSE_PATH") == "/elsewhere/w.duckdb"


@pytest.mark.parametrize("raw", ["abc", "0", "-3"])
def test_a_bad_number_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("NETSUITE_MAX_CONCURRENCY", raw)
    with pytest.raises(settings.SettingError, match="NETSUITE_MAX_CONCURRENCY must be"):
        settings.get_int("NETSUITE_MAX_CONCURRENCY", minimum=1)


@pytest.mark.parametrize("raw", ["abc", "-0.1", "0.95"])
def test_a_bad_fraction_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("SHOPIFY_BATCH_RESERVE_FRACTION", raw)
    with pytest.raises(settings.SettingError, match="SHOPIFY_BATCH_RESERVE_FRACTION must be"):
        settings.get_float("SHOPIFY_BATCH_RESERVE_FRACTION", minimum=0.0, maximum=0.9)


def test_settings_command_masks_secrets_set_in_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", "shpat_real_secret_value")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "shpat_real_secret_value" not in out and "SHOPIFY_ACCESS_TOKEN" in out and "(environment)" in out


def test_sandbox_subcommand_hands_its_flags_to_the_sandbox(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "--help"])
    assert exit_info.value.code == 0
    assert "--orders-per-minute" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "secrets"),
    [
        ("only-one", ("only-one",)),
        ("newest,older", ("newest", "older")),
        (" newest , older ", ("newest", "older")),
        (["newest", "older"], ("newest", "older")),
    ],
)
def test_secret_list_newest_first(raw, secrets):
    assert settings.parse_secret_list("SHOPIFY_WEBHOOK_SECRET", raw) == secrets


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "is empty"),
        ([], "is empty"),
        ("top-secret,,other-secret", "#2 of 3 is empty"),
        ("top-secret,", "#2 of 2 is empty"),
        ("top-secret other-secret", "#1 of 1 contains whitespace"),
        ("top-secret,other-secret,top-secret", "#3 of 3 repeats secret #1"),
    ],
)
def test_a_bad_secret_list_names_the_variable_and_position_not_the_value(monkeypatch, raw, problem):
    with pytest.raises(settings.SettingError, match=problem) as error:
        settings.parse_secret_list("SHOPIFY_WEBHOOK_SECRET", raw)
    message = str(error.value)
    assert "SHOPIFY_WEBHOOK_SECRET" in message and "top-secret" not in message and "other-secret" not in message
    if isinstance(raw, str):
        monkeypatch.setenv("SHOPIFY_WEBHOOK_SECRET", raw)
        with pytest.raises(settings.SettingError, match=problem):
            settings.get_secret_list("SHOPIFY_WEBHOOK_SECRET")


@pytest.mark.parametrize(("name", "raw", "argv"), [
    ("WEBHOOKS_MAX_AGE_HOURS", "two days", ["webhooks", "--port", "1"]),
    ("WEBHOOKS_PORT", "eighty", ["webhooks"]),
])  # fmt: skip
def test_commands_stop_on_a_bad_setting_with_one_line_naming_it(monkeypatch, capsys, name, raw, argv):
    monkeypatch.setenv(name, raw)
    assert main(argv) == 2  # before anything binds a port
    err = capsys.readouterr().err
    assert err.startswith(f"sync-assets: {name} must be") and raw in err and "Traceback" not in err
