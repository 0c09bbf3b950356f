"""API economy of the orders flow: what a synced order costs in Shopify cost points and NetSuite calls.

A steady stream, compressed in time: one order placed, then one orders run (the polling safety net), many
times over, so every run's polling window (300 s of overlap) holds all the orders synced before it — the
case that used to re-read 160-200 full orders per run. Then the same with webhook-triggered runs (the
inbox names the new order; the watermark is fresh). Points come from the sandbox's own per-operation cost
counters, NetSuite calls from the client's stats. Printed, never asserted.

    uv run python bench/run.py economy            # 40 orders per phase
    uv run python bench/run.py --quick economy    # 8

Target (issue 7): Shopify points per synced order ≤ 2× the cost of reading that order once.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _harness import Context, Figure  # noqa: E402

from sync_assets.connectors.http import Backoff  # noqa: E402
from sync_assets.connectors.netsuite import NetSuiteClient, TokenBasedAuth  # noqa: E402
from sync_assets.connectors.shopify import ShopifyClient  # noqa: E402
from sync_assets.domain.policy import load_policy  # noqa: E402
from sync_assets.flows.orders import SYNCED, WEBHOOK_TRIGGER, OrdersFlowConfig, run_orders_flow  # noqa: E402
from sync_assets.sandbox import credentials as C  # noqa: E402
from sync_assets.sandbox.process import running_sandbox  # noqa: E402
from sync_assets.state.ledger import Ledger  # noqa: E402

CATALOG = {"seed": 7, "products": 40, "variants_per_product": 3, "customers": 30, "locations": 3}
CONFIG = OrdersFlowConfig(initial_lookback_seconds=600)


def figures(ctx: Context) -> list[Figure]:
    orders = ctx.size(40, 8)
    samples: dict[str, list[float]] = {}
    with running_sandbox(ctx.workdir / "sandbox-economy", CATALOG) as sandbox:
        for repeat in range(ctx.repeats):
            for name, value in _one_stream(sandbox, orders, repeat).items():
                samples.setdefault(name, []).append(value)
    note = f"{orders} orders per phase, one run per order, a 300 s overlap holding every earlier order"
    return [
        Figure("economy", "shopify points to read one order once", "points", samples["full_read"], note=note),
        Figure("economy", "shopify points per synced order, polling runs", "points", samples["polling"],
               target="≤ 2× one read", note=note),
        Figure("economy", "polling points per order / one read", "ratio", samples["polling_ratio"],
               target="≤ 2", note=note),
        Figure("economy", "shopify points per run, window all synced", "points", samples["idle_run"],
               note=f"a polling run over {orders} already-synced orders: keys only"),
        Figure("economy", "shopify points per synced order, webhook runs", "points", samples["webhook"],
               target="≤ 2× one read", note="the inbox names the order; the watermark is fresh"),
        Figure("economy", "webhook points per order / one read", "ratio", samples["webhook_ratio"],
               target="≤ 2", note="one read = what fetching those same orders by id cost"),
        Figure("economy", "netsuite calls per synced order", "calls", samples["netsuite"], note=note),
    ]


def _one_stream(sandbox, orders: int, repeat: int) -> dict[str, float]:
    sandbox.control.reset(**CATALOG)
    policy = replace(load_policy().entity("orders"), safety_lag_seconds=0)
    shopify = ShopifyClient(sandbox.url, C.SHOPIFY_ACCESS_TOKEN, api_version=C.SHOPIFY_API_VERSION)
    auth = TokenBasedAuth(C.NETSUITE_ACCOUNT_ID, C.NETSUITE_CONSUMER_KEY, C.NETSUITE_CONSUMER_SECRET,
                          C.NETSUITE_TOKEN_ID, C.NETSUITE_TOKEN_SECRET)
    netsuite = NetSuiteClient(sandbox.url, C.NETSUITE_ACCOUNT_ID, auth,
                              backoff=Backoff(max_attempts=8, base_seconds=0.02, cap_seconds=0.5))
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        out: dict[str, float] = {}
        # Polling: place one, run once; the window's overlap holds every order synced before.
        sandbox.control.reset_counters()
        ns_calls = synced = 0
        for n in range(orders):
            sandbox.control.place_orders(1, seed=1000 * repeat + n)
            result = run_orders_flow(shopify, netsuite, ledger, policy, config=CONFIG)
            synced += result.count(SYNCED)
            ns_calls += result.numbers()["netsuite_api_calls"]
        spent = _spent(sandbox)
        out["full_read"] = spent.get("OrdersById", 0) / max(1, _calls(sandbox).get("OrdersById", 0))
        out["polling"] = sum(spent.values()) / max(1, synced)
        out["polling_ratio"] = out["polling"] / max(out["full_read"], 1e-9)
        out["netsuite"] = ns_calls / max(1, synced)
        sandbox.control.reset_counters()
        run_orders_flow(shopify, netsuite, ledger, policy, config=CONFIG)
        out["idle_run"] = float(sum(_spent(sandbox).values()))
        # Webhooks: the receiver put the event in the inbox; the run fetches that order only.
        sandbox.control.reset_counters()
        synced = 0
        for n in range(orders):
            (placed,) = sandbox.control.place_orders(1, seed=1000 * repeat + 500 + n)
            # An orders/create payload's updated_at is the creation time.
            ledger.inbox_put(f"bench-{repeat}-{n}", "orders/create",
                             {"admin_graphql_api_id": placed["id"], "updated_at": placed["createdAt"]})
            result = run_orders_flow(shopify, netsuite, ledger, policy, config=CONFIG, trigger=WEBHOOK_TRIGGER)
            synced += result.count(SYNCED)
        spent = _spent(sandbox)
        out["webhook"] = sum(spent.values()) / max(1, synced)
        out["webhook_ratio"] = sum(spent.values()) / max(1e-9, spent.get("OrdersById", 0))
        ledger.close()
    return out


def _counters(sandbox, prefix: str) -> dict[str, float]:
    counters = sandbox.control.counters()["counters"]
    return {k.removeprefix(prefix): v for k, v in counters.items() if k.startswith(prefix)}


def _spent(sandbox) -> dict[str, float]:
    return _counters(sandbox, "shopify.cost.")


def _calls(sandbox) -> dict[str, float]:
    return _counters(sandbox, "shopify.calls.")
