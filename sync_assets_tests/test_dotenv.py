"""Configuration by the conventions: a .env in the project root read by every command and run process
(the environment wins), listed in full by .env.example, git-ignored; secrets never printed; the sandbox's
credentials never sent to a real service. Each command runs as its own process, as a user would start it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sync_assets import settings
from sync_assets.sandbox import credentials as C

REAL_SHOP = "https://example-shop.myshopify.com"


def _run(args: list[str], dotenv: Path, *, extra: dict[str, str] | None = None, timeout: float = 120,
         cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in settings.SETTINGS}}
    env.update({settings.ENV_FILE_VARIABLE: str(dotenv), **(extra or {})})
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd or dotenv.parent)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync_assets.cli", *args]


def test_env_example_lists_every_setting():
    text = (settings.PROJECT_ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^# ([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))
    assert listed == {s.name for s in settings.SETTINGS}


def test_dotenv_is_git_ignored():
    if shutil.which("git") is None or not (settings.PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=settings.PROJECT_ROOT).returncode == 0


def test_settings_reads_dotenv_under_the_environment_and_masks_every_secret(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("WEBHOOKS_PORT=9123\nSANDBOX_ORDERS_PER_MINUTE=2\nNETSUITE_TOKEN_SECRET=from-dotenv-secret\n")
    result = _run(_cli("settings"), dotenv, extra={"WEBHOOKS_PORT": "9124"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    line = {m.group(1): m.group(0) for m in re.finditer(r"^([A-Z][A-Z0-9_]+) .*$", out, flags=re.MULTILINE)}
    assert "9124" in line["WEBHOOKS_PORT"] and "(environment)" in line["WEBHOOKS_PORT"]  # the environment wins
    assert "2" in line["SANDBOX_ORDERS_PER_MINUTE"] and "(from .env)" in line["SANDBOX_ORDERS_PER_MINUTE"]
    assert "(from .env)" in line["NETSUITE_TOKEN_SECRET"] and "from-dotenv-secret" not in out
    for secret in (C.SHOPIFY_CLIENT_SECRET, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET, C.NETSUITE_TOKEN_ID):
        assert secret not in out  # sandbox defaults are masked too
    assert "********  (sandbox default)" in line["SHOPIFY_CLIENT_SECRET"]
    assert "REFUSED" not in out


@pytest.mark.parametrize("command", [["dev"], ["webhooks"], ["run-worker"], ["webhooks", "register"]])
def test_every_command_reads_dotenv_and_refuses_sandbox_credentials_for_a_real_store(tmp_path, command):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SHOPIFY_SHOP_URL={REAL_SHOP}\nSHOPIFY_CLIENT_ID=their-own-client-id\n")
    result = _run(_cli(*command), dotenv, extra={"SYNC_ASSETS_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2, (result.stdout, result.stderr)
    err = result.stderr.strip()
    assert err.startswith("sync-assets: SHOPIFY_SHOP_URL points at https://example-shop.myshopify.com, not the sandbox")
    assert "SHOPIFY_CLIENT_SECRET, SHOPIFY_WEBHOOK_SECRET are still the sandbox's" in err
    assert "SHOPIFY_CLIENT_ID" not in err.split("but")[1]  # set in .env, so not named
    assert C.SHOPIFY_CLIENT_SECRET not in result.stdout + err and "Traceback" not in err
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_settings_shows_the_refusal_it_would_make(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SHOPIFY_SHOP_URL={REAL_SHOP}\n")
    result = _run(_cli("settings"), dotenv)
    assert result.returncode == 0 and "REFUSED: SHOPIFY_SHOP_URL points at" in result.stdout


def test_the_sandbox_command_reads_dotenv(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("SANDBOX_PRODUCTS=lots\n")
    result = _run(_cli("sandbox"), dotenv)
    assert result.returncode == 2 and "'lots'" in result.stderr


_RUN_PROCESS = """
from sync_assets.defs.resources import build_resources
shopify = build_resources()["shopify"]
print(shopify.shop_url.get_value(), shopify.client_id.get_value())
"""


def test_run_processes_read_dotenv_and_refuse_sandbox_credentials(tmp_path):
    """What a Dagster run (and dagster dev's code server) does first: import the definitions' resources."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"SHOPIFY_SHOP_URL={REAL_SHOP}\nSHOPIFY_CLIENT_ID=theirs\nSHOPIFY_CLIENT_SECRET='their secret'\n")
    result = _run([sys.executable, "-c", _RUN_PROCESS], dotenv)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [REAL_SHOP, "theirs"]
    dotenv.write_text(f"SHOPIFY_SHOP_URL={REAL_SHOP}\n")
    refused = _run([sys.executable, "-c", _RUN_PROCESS], dotenv)
    assert refused.returncode != 0 and "set each to your own" in refused.stderr


def test_dg_check_defs_passes(tmp_path):
    dg = shutil.which("dg", path=str(Path(sys.executable).parent))
    assert dg, "dagster-dg-cli is a dev dependency"
    result = _run([dg, "check", "defs"], tmp_path / "absent.env", timeout=300, cwd=settings.PROJECT_ROOT,
                  extra={"SYNC_ASSETS_DATA_DIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr
