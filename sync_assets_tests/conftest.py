"""Shared fixtures: the real sandbox server, started once per test session (per xdist worker).

Tests talk to it over real HTTP. ``sandbox`` resets it before each test to a small seeded catalog with
faults and the living shop off; tests that need other sizes call ``sandbox.control.reset(...)``.
"""

from __future__ import annotations

import os

# Before anything imports sync_assets.settings: the tests never read a developer's .env (it may point at a
# real store). Tests of .env handling pass their own file; subprocesses inherit this.
os.environ["SYNC_ASSETS_ENV_FILE"] = os.devnull

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sync_assets.sandbox.control_client import SandboxControl
from sync_assets.sandbox.process import SandboxProcess, running_sandbox

SMALL_CATALOG = {"seed": 42, "products": 20, "variants_per_product": 3, "customers": 10, "locations": 3}
_STARTUP_SECONDS = 120.0  # imports alone take 15 s+ on a loaded 2-core machine


@dataclass(frozen=True)
class SandboxHandle:
    url: str  # base URL; NetSuite under /services/rest, Shopify under /admin/api/<version>
    control: SandboxControl
    data_dir: Path  # holds NetSuite's M2M key pair (netsuite/)


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """The real server as a subprocess (``python -m sync_assets.sandbox``), once per session or xdist worker."""
    with running_sandbox(tmp_path_factory.mktemp("sandbox"), SMALL_CATALOG, startup_seconds=_STARTUP_SECONDS) as proc:
        yield proc


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess) -> SandboxHandle:
    control = SandboxControl(sandbox_server.url)
    control.reset(**SMALL_CATALOG)  # also clears faults, counters and the living shop
    return SandboxHandle(sandbox_server.url, control, sandbox_server.data_dir)


@pytest.fixture(scope="session")
def empty_warehouse(tmp_path_factory) -> Path:
    """A warehouse with every raw table and the dbt models (views) but no rows: dbt runs once per session (per
    xdist worker), and tests start from a copy named ``warehouse.duckdb`` (the views name that database)."""
    from sync_assets.defs.warehouse_models import run_dbt

    path = tmp_path_factory.mktemp("empty_warehouse") / "warehouse.duckdb"
    run_dbt(path, "run")
    return path


# --- plain-HTTP helpers for tests that speak to the emulated services directly ---------------------


def netsuite_auth():
    """TBA (OAuth 1.0a, HMAC-SHA256) for the sandbox account; requests signs every attempt afresh."""
    from requests_oauthlib import OAuth1

    from sync_assets.sandbox import credentials as c

    return OAuth1(
        c.NETSUITE_CONSUMER_KEY,
        c.NETSUITE_CONSUMER_SECRET,
        c.NETSUITE_TOKEN_ID,
        c.NETSUITE_TOKEN_SECRET,
        signature_method="HMAC-SHA256",
        realm=c.NETSUITE_ACCOUNT_ID,
    )


def shopify_graphql_url(base_url: str) -> str:
    from sync_assets.sandbox import credentials as c

    return f"{base_url}/admin/api/{c.SHOPIFY_API_VERSION}/graphql.json"


def shopify_headers() -> dict[str, str]:
    from sync_assets.sandbox import credentials as c

    return {"X-Shopify-Access-Token": c.SHOPIFY_ACCESS_TOKEN, "Content-Type": "application/json"}
