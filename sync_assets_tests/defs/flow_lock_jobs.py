"""A flow's job for the flow-lock tests, importable so Dagster can re-execute it (``reconstructable``).

Its one asset records its execution window (run id, start, end) to ``$FLOW_LOCK_TEST_WINDOWS`` and fails
once while ``$FLOW_LOCK_TEST_FAIL_ONCE`` names a file that exists (deleting it), so a test can make a failed
run for Dagster to retry. The real ``LedgerResource`` holds the flow lock, as every flow's run does.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from sync_assets.defs.lanes import FLOW_TAG
from sync_assets.defs.resources import LedgerResource

FLOW = "inventory"
HOLD_SECONDS = 1.0


@dg.asset(required_resource_keys={"ledger"})
def flow_lock_probe(context) -> None:
    started = time.time()
    marker = Path(os.environ["FLOW_LOCK_TEST_FAIL_ONCE"])
    if marker.exists():
        marker.unlink()
        raise RuntimeError("failing once, so that Dagster has a run to retry")
    time.sleep(HOLD_SECONDS)
    with open(os.environ["FLOW_LOCK_TEST_WINDOWS"], "a") as out:
        out.write(json.dumps({"run_id": context.run.run_id, "start": started, "end": time.time()}) + "\n")


flow_lock_job = dg.define_asset_job(
    "flow_lock_job", selection=[flow_lock_probe], executor_def=dg.in_process_executor, tags={FLOW_TAG: FLOW}
)

defs = dg.Definitions(
    assets=[flow_lock_probe],
    jobs=[flow_lock_job],
    resources={
        "ledger": LedgerResource(
            path=dg.EnvVar("FLOW_LOCK_TEST_LEDGER"), flow_locks_dir=dg.EnvVar("FLOW_LOCK_TEST_LOCKS")
        )
    },
)
