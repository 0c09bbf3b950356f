"""Exactly once under NetSuite faults and a run killed mid-batch: every placed order ends up in NetSuite
once (by external id), none lost, after the faulty run and one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from sync_assets.domain.windows import Watermark
from sync_assets.flows.orders import FAILED, run_orders_flow
from sync_assets_tests.flows.orders_support import (
    CONFIG, assert_exactly_once, place_orders, ledger_at, netsuite_client, policy, sales_order_counts, shopify_client,
)  # fmt: skip

PROFILES = [
    ("server_errors", {"rate": 0.4}),
    ("throttle", {"rate": 0.4}),
    ("timeouts", {"rate": 0.3, "seconds": 1.0}),
    ("resets", {"rate": 0.4}),
    ("committed_then_failed", {"rate": 0.6, "failure": "mixed", "seconds": 1.0}),
    ("down", {"seconds": 1.5}),
]


@pytest.fixture
def sandbox(sandbox):
    yield sandbox
    sandbox.control.clear_faults()


@pytest.mark.parametrize(("profile", "params"), PROFILES, ids=[p for p, _ in PROFILES])
def test_every_order_exactly_once_under_netsuite_faults(sandbox, tmp_path, profile, params):
    gids = place_orders(sandbox, 3)
    ledger = ledger_at(tmp_path)
    netsuite = netsuite_client(sandbox, timeout=0.5)
    sandbox.control.set_faults(profile, service="netsuite", seed=1, **params)
    faulty = run_orders_flow(shopify_client(sandbox), netsuite, ledger, policy(), config=CONFIG)
    sandbox.control.clear_faults()
    failed = [g for g in gids if faulty.outcomes.get(g) is None or faulty.outcomes[g].status == FAILED]
    for gid in failed:  # what the faulty run could not finish it left for the next one: the watermark stops before it
        order = next(o for o in faulty.orders if o["id"] == gid) if faulty.orders else None
        if order is not None and faulty.watermark_after is not None:
            assert faulty.watermark_after < Watermark(order["updatedAt"], gid)
    time.sleep(CONFIG.lease_seconds)
    clean = run_orders_flow(shopify_client(sandbox), netsuite_client(sandbox), ledger, policy(), config=CONFIG)
    assert clean.count(FAILED) == 0, {g: o.reason for g, o in clean.outcomes.items()}
    assert_exactly_once(netsuite_client(sandbox), gids)
    assert not ledger.dead_letters(flow="orders"), [d.reason for d in ledger.dead_letters(flow="orders")]


_CHILD = """
import sys
from sync_assets.domain.policy import EntityPolicy
from sync_assets_tests.flows.orders_support import CONFIG, ledger_at, netsuite_client, shopify_client
from sync_assets.flows.orders import run_orders_flow
from pathlib import Path
class H: url = sys.argv[1]
print("start", flush=True)
run_orders_flow(shopify_client(H), netsuite_client(H), ledger_at(Path(sys.argv[2])),
                EntityPolicy("orders", "realtime", interval_seconds=1, overlap_seconds=300), config=CONFIG)
print("finished", flush=True)
"""


def test_a_run_killed_mid_batch_loses_and_duplicates_nothing(sandbox, tmp_path):
    gids = place_orders(sandbox, 12)
    # Slow NetSuite down so the kill lands while sales orders are being written.
    sandbox.control.set_faults("slow", service="netsuite", rate=1.0, seconds=0.3)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, sandbox.url, str(tmp_path)], cwd=os.getcwd(),
                             stdout=subprocess.PIPE, text=True)
    netsuite = netsuite_client(sandbox)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not sales_order_counts(netsuite, gids):
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    sandbox.control.clear_faults()
    written = len(sales_order_counts(netsuite, gids))
    assert 0 < written < len(gids), f"the kill should land mid-batch ({written} of {len(gids)} written)"
    time.sleep(CONFIG.lease_seconds)  # the dead run's claims expire
    result = run_orders_flow(shopify_client(sandbox), netsuite, ledger_at(tmp_path), policy(), config=CONFIG)
    assert result.count(FAILED) == 0
    assert_exactly_once(netsuite, gids)
