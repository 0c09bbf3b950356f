"""One run of a flow executes at a time, whoever launched it — Dagster's automatic retries included.

Through Dagster: a run fails, and its retry (a re-execution from failure with the retry tags, as the
run-retry daemon makes it) starts at the same moment as a sensor-launched run of the same flow. The
execution windows the runs record never overlap, and the one that waited says so in its log.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg
import pytest

from sync_assets.defs.lanes import SENSOR_TRIGGER, TRIGGER_TAG
from sync_assets.state.flow_lock import FlowLock
from sync_assets_tests.defs import flow_lock_jobs


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    p = {"windows": tmp_path / "windows.jsonl", "fail_once": tmp_path / "fail-once", "locks": tmp_path / "locks"}
    monkeypatch.setenv("FLOW_LOCK_TEST_WINDOWS", str(p["windows"]))
    monkeypatch.setenv("FLOW_LOCK_TEST_FAIL_ONCE", str(p["fail_once"]))
    monkeypatch.setenv("FLOW_LOCK_TEST_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("FLOW_LOCK_TEST_LOCKS", str(p["locks"]))
    return p


def test_a_retry_and_a_sensor_launched_run_of_one_flow_never_overlap(paths) -> None:
    with dg.instance_for_test() as instance:
        paths["fail_once"].touch()
        failed = dg.execute_job(dg.reconstructable(_job), instance, raise_on_error=False)
        assert not failed.success

        # Each run in its own process, as the run launcher starts them, released at the same moment.
        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(2)
        with ProcessPoolExecutor(2, mp_context=ctx, initializer=_share_barrier, initargs=(start,)) as pool:
            retry = pool.submit(_run_retry, instance.get_ref(), failed.run_id)
            sensor = pool.submit(_run_sensor_launched, instance.get_ref())
            retry_id, sensor_id = retry.result(180), sensor.result(180)

        for run_id in (retry_id, sensor_id):
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.SUCCESS
        retry_run = instance.get_run_by_id(retry_id)
        assert retry_run.parent_run_id == failed.run_id  # a real re-execution of the failure
        windows = sorted((json.loads(line) for line in paths["windows"].read_text().splitlines()),
                         key=lambda w: w["start"])  # fmt: skip
        assert {w["run_id"] for w in windows} == {retry_id, sensor_id}
        first, second = windows
        assert first["end"] <= second["start"], windows  # executed one after the other, never together

        logs = [e.message for e in instance.all_logs(second["run_id"]) if e.message]
        assert any(f"waiting for run {first['run_id']}" in m for m in logs), logs


_barrier = None


def _share_barrier(barrier) -> None:
    global _barrier
    _barrier = barrier


def _run_retry(instance_ref, failed_run_id: str) -> str:
    """What the run-retry daemon launches: a re-execution from failure, tagged as retry number 1."""
    instance = dg.DagsterInstance.from_ref(instance_ref)
    options = dg.ReexecutionOptions.from_failure(failed_run_id, instance)
    _barrier.wait()
    with dg.execute_job(dg.reconstructable(_job), instance, reexecution_options=options,
                        tags={"dagster/retry_number": "1"}) as result:  # fmt: skip
        return result.run_id


def _run_sensor_launched(instance_ref) -> str:
    instance = dg.DagsterInstance.from_ref(instance_ref)
    _barrier.wait()
    with dg.execute_job(dg.reconstructable(_job), instance, tags={TRIGGER_TAG: SENSOR_TRIGGER}) as result:
        return result.run_id


def _job():
    return flow_lock_jobs.defs.resolve_job_def("flow_lock_job")


def test_a_killed_holder_leaves_no_lock_and_the_holder_is_named(tmp_path: Path) -> None:
    first = FlowLock(tmp_path, "orders")
    assert first.try_acquire("run abc")
    second = FlowLock(tmp_path, "orders")
    assert not second.try_acquire("run def") and second.holder() == "run abc"
    first.release()  # as the kernel does when the holding process dies
    assert second.try_acquire("run def")
    second.release()
    with pytest.raises(ValueError, match="not a flow name"):
        FlowLock(tmp_path, "../x")
