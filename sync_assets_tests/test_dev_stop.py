"""``sync-assets dev``'s stop: a run whose process it stopped before the run recorded its end is failed, so
the flow does not count it in flight at the next start (the end-to-end stop is in e2e/test_quick_start.py)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from sync_assets.cli import fail_runs_left_in_flight, install_instance_config


@dg.op
def _step() -> None:
    pass


@dg.job
def _tiny() -> None:
    _step()


def test_runs_left_in_flight_are_failed_and_finished_ones_are_left_alone(tmp_path: Path, capsys) -> None:
    home = install_instance_config(tmp_path / "home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        statuses = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.SUCCESS]
        runs = [instance.create_run_for_job(_tiny, status=status).run_id for status in statuses]

    fail_runs_left_in_flight(home)
    fail_runs_left_in_flight(home)  # a second stop finds nothing left

    with dg.DagsterInstance.from_config(str(home)) as instance:
        after = [instance.get_run_by_id(run_id).status for run_id in runs]
        messages = [e.message for e in instance.all_logs(runs[0]) if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE]
    assert after == [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS]
    assert len(messages) == 1 and "sync-assets dev stopped" in messages[0]
    assert capsys.readouterr().err.count("marked 2 run(s) stopped mid-way as failed") == 1
