"""Dagster resources: thin `ConfigurableResource`s that build the plain clients from settings.

Every field's value comes from the environment variable of the same name (see ``sync_assets.settings``);
an unset variable falls back to the sandbox's value, so the quick start needs no configuration. Values set
in the environment are passed as ``EnvVar`` so the Dagster UI shows the variable's name, never a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from sync_assets import settings
from sync_assets.connectors.netsuite import (
    ClientCredentialsAuth,
    NetSuiteClient,
    TokenBasedAuth,
    realm_for,
    token_url_for,
)
from sync_assets.connectors.netsuite.account_slots import REALTIME, AccountSlots
from sync_assets.connectors.shopify import ShopifyClient
from sync_assets.connectors.shopify.auth import token_provider_for
from sync_assets.connectors.shopify.throttle import lane_pacing
from sync_assets.defs.lanes import FLOW_TAG, lane_of_run
from sync_assets.state.flow_lock import FlowLock
from sync_assets.state.ledger import Ledger


def from_env(name: str) -> str | dg.EnvVar:
    """``EnvVar(name)`` when the variable is set, else the sandbox default (public, harmless to show)."""
    setting = settings.BY_NAME[name]
    return setting.value() if setting.is_default() else dg.EnvVar(name)


class ShopifyResource(dg.ConfigurableResource):
    """The storefront: Shopify Admin GraphQL API.

    A Dev Dashboard app authenticates with ``client_id`` + ``client_secret`` (the client credentials grant,
    its token shared by every run through ``token_cache_dir``); a legacy custom app with its fixed
    ``access_token``, which wins when set.
    """

    shop_url: str
    api_version: str
    shared_state_dir: str = ""  # "" keeps the bucket estimate to the run
    batch_reserve_fraction: float = 0.3
    batch_throttle_deadline_seconds: float = 1800.0
    access_token: str = ""
    client_id: str = ""
    client_secret: str = ""
    token_cache_dir: str = ""

    _client: ShopifyClient | None = PrivateAttr(default=None)

    def get_client(self, lane: str = "realtime") -> ShopifyClient:
        """One client per run (its lane is the first caller's: a run belongs to one flow). Its bucket estimate
        lives in ``shared_state_dir``, so every run and sensor of the shop paces against one budget."""
        if self._client is None:
            pacing = lane_pacing(lane, reserve_fraction=self.batch_reserve_fraction,
                                 throttle_deadline_s=self.batch_throttle_deadline_seconds)
            tokens = token_provider_for(self.shop_url, access_token=self.access_token, client_id=self.client_id,
                                        client_secret=self.client_secret,
                                        cache_dir=self.token_cache_dir or settings.get("SHOPIFY_TOKEN_CACHE_DIR"))  # fmt: skip
            self._client = ShopifyClient(self.shop_url, tokens, api_version=self.api_version,
                                         shared_state_dir=self.shared_state_dir or None, lane=pacing)
        return self._client

    def client_stats(self) -> dict[str, float]:
        """What this run's client spent so far (calls, cost, throttled answers, waits); empty when the run
        never talked to the storefront."""
        return self._client.stats.snapshot() if self._client is not None else {}


class NetSuiteResource(dg.ConfigurableResource):
    """The ERP: NetSuite REST web services (record API + SuiteQL)."""

    base_url: str
    account_id: str
    auth_method: str = "tba"
    consumer_key: str = ""
    consumer_secret: str = ""
    token_id: str = ""
    token_secret: str = ""
    client_id: str = ""
    certificate_id: str = ""
    private_key_path: str = ""
    max_concurrency: int = 5
    slots_dir: str = ""  # the account-wide budget's lock files; empty = this client's own cap only

    _client: NetSuiteClient | None = PrivateAttr(default=None)
    _lane: str = PrivateAttr(default=REALTIME)  # sensors' probes serve the real-time lane
    _auth_handler: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run takes the account's slots for its flow's lane: batch gives way to real-time.
        self._lane = lane_of_run(context.run.tags if context.run else None)
        # A bad credential (an empty TBA token, a missing M2M key) stops the run here, before any step
        # spends API budget elsewhere, naming what is wrong; the failure sensor records the run.
        self._auth_handler = self._auth()

    def _auth(self):
        method = self.auth_method.strip().lower()
        if method == "tba":
            return TokenBasedAuth(
                self.account_id, self.consumer_key, self.consumer_secret, self.token_id, self.token_secret
            )
        if method == "m2m":
            key_path = Path(self.private_key_path)
            if not key_path.is_file():
                raise ValueError(
                    f"NETSUITE_PRIVATE_KEY_PATH: no private key file at {key_path} (the PEM key whose certificate "
                    "is uploaded under NETSUITE_CERTIFICATE_ID in NetSuite's OAuth 2.0 client credentials setup)"
                )
            return ClientCredentialsAuth(
                token_url_for(self.base_url), self.client_id, self.certificate_id, key_path.read_bytes()
            )
        raise ValueError(f"NETSUITE_AUTH_METHOD must be 'tba' or 'm2m', got {self.auth_method!r}")

    def get_client(self) -> NetSuiteClient:
        # One client per run; the account slots keep every run and process together under the account's limit.
        if self._client is None:
            slots = AccountSlots(self.slots_dir, realm_for(self.account_id), self.max_concurrency) if self.slots_dir else None
            self._client = NetSuiteClient(
                self.base_url, self.account_id, self._auth_handler or self._auth(), max_concurrency=self.max_concurrency,
                account_slots=slots, lane=self._lane,
            )  # fmt: skip
        return self._client

    def client_stats(self) -> dict[str, float]:
        """What this run's client spent so far (calls, throttled answers, waits); empty when the run never
        talked to NetSuite."""
        return self._client.stats.snapshot() if self._client is not None else {}


class LedgerResource(dg.ConfigurableResource):
    """The sync ledger (SQLite): what was sent where, watermarks, dead letters, the webhook inbox."""

    path: str
    flow_locks_dir: str = ""  # empty: no flow lock (tests of a single run)

    _ledger: Ledger | None = PrivateAttr(default=None)
    _flow_lock: FlowLock | None = PrivateAttr(default=None)

    def get_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.path)
        return self._ledger

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A flow's run has started: Dagster lists it in flight now, so the trigger's launch lease can go.
        flow = (context.run.tags if context.run else {}).get(FLOW_TAG)
        if flow:
            self.get_ledger().release_launch_lease(flow)
            if self.flow_locks_dir:
                self._take_flow_lock(context, flow)

    def _take_flow_lock(self, context: dg.InitResourceContext, flow: str) -> None:
        """One run of a flow executes at a time, whoever launched it (a retry included): wait for the other."""
        lock = FlowLock(self.flow_locks_dir, flow)
        run_id = context.run.run_id if context.run else "?"

        def waiting(holder: str, waited: float) -> None:
            context.log.info(
                f"{flow}: waiting for {holder} to finish ({waited:.0f} s so far); one run of a flow executes at a"
                " time, and this one then takes whatever is still pending"
            )

        waited = lock.acquire(f"run {run_id}", on_wait=waiting)
        if waited >= 0.5:
            context.log.info(f"{flow}: took the flow lock after waiting {waited:.1f} s")
        self._flow_lock = lock

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._flow_lock is not None:
            self._flow_lock.release()
            self._flow_lock = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


class LandingResource(dg.ConfigurableResource):
    """The landing area: run-scoped Parquet files sync runs write instead of the warehouse (never locked)."""

    path: str

    def get_area(self, ledger: Ledger):
        from sync_assets.warehouse.landing_area import LandingArea

        return LandingArea(self.path, ledger)


def build_resources() -> dict[str, dg.ConfigurableResource]:
    from dagster_duckdb import DuckDBResource

    # Loading the definitions (dagster dev, every run, dg check) stops here, naming the variable to set.
    settings.refuse_sandbox_credentials_for_real_services()
    return {
        "shopify": ShopifyResource(
            shop_url=from_env("SHOPIFY_SHOP_URL"),
            access_token=from_env("SHOPIFY_ACCESS_TOKEN"),
            client_id=from_env("SHOPIFY_CLIENT_ID"),
            client_secret=from_env("SHOPIFY_CLIENT_SECRET"),
            token_cache_dir=settings.get("SHOPIFY_TOKEN_CACHE_DIR"),
            api_version=from_env("SHOPIFY_API_VERSION"),
            shared_state_dir=settings.get("SHOPIFY_SHARED_STATE_DIR"),
            batch_reserve_fraction=settings.get_float("SHOPIFY_BATCH_RESERVE_FRACTION", minimum=0.0, maximum=0.9),
            batch_throttle_deadline_seconds=settings.get_float("SHOPIFY_BATCH_THROTTLE_DEADLINE_SECONDS", minimum=1.0),
        ),
        "netsuite": NetSuiteResource(
            base_url=from_env("NETSUITE_BASE_URL"),
            account_id=from_env("NETSUITE_ACCOUNT_ID"),
            auth_method=from_env("NETSUITE_AUTH_METHOD"),
            consumer_key=from_env("NETSUITE_CONSUMER_KEY"),
            consumer_secret=from_env("NETSUITE_CONSUMER_SECRET"),
            token_id=from_env("NETSUITE_TOKEN_ID"),
            token_secret=from_env("NETSUITE_TOKEN_SECRET"),
            client_id=from_env("NETSUITE_CLIENT_ID"),
            certificate_id=from_env("NETSUITE_CERTIFICATE_ID"),
            private_key_path=from_env("NETSUITE_PRIVATE_KEY_PATH"),
            max_concurrency=settings.get_int("NETSUITE_MAX_CONCURRENCY", minimum=1),
            slots_dir=settings.get("NETSUITE_SLOTS_DIR"),
        ),
        "warehouse": DuckDBResource(database=settings.get("WAREHOUSE_PATH")),
        "ledger": LedgerResource(path=settings.get("LEDGER_PATH"), flow_locks_dir=settings.get("FLOW_LOCKS_DIR")),
        "landing": LandingResource(path=settings.get("WAREHOUSE_LANDING_DIR")),
    }
