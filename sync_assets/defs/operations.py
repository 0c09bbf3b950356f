"""What operators see: the dead-letter queue, a replay job, run-failure alerts.

* ``dead_letters`` (asset, group ``operations``): open dead letters per flow as table metadata (sortable
  in the UI) plus numeric counts (plotted), refreshed every few minutes and landed for ``raw.sync_events``
  so analysts see them too (an unchanged dead letter is the same version: re-landing it adds nothing).
* ``alerts`` (asset): the ledger's recent alerts, as table metadata.
* ``sync_health`` (asset): per flow the same numeric keys every time (ledger rows done / pending /
  in flight / dead, open dead letters; zeros when nothing happened, so the UI's plots have no gaps) and
  the warehouse landing queue.
* ``replay_dead_letters`` (job): marks chosen dead letters replayed so the owning flow claims them again.
  Orders are also put in the webhook inbox: the orders flow (and its sensor) read the inbox whatever the
  watermark says, so the replayed order is fetched afresh and written on the next tick.
* ``record_run_failures`` (run-failure sensor, running by default, all jobs): an alert per failed run
  with the failed steps and their error summaries.

No ``from __future__ import annotations`` here: Dagster reads the resource and config annotations.
"""

from datetime import datetime, timezone

import dagster as dg

from sync_assets.defs.resources import LandingResource, LedgerResource
from sync_assets.defs.tables import table_metadata
from sync_assets.state.ledger import DeadLetter, Ledger

GROUP = "operations"
DEAD_LETTERS = dg.AssetKey(["operations", "dead_letters"])
ALERTS = dg.AssetKey(["operations", "alerts"])
SYNC_HEALTH = dg.AssetKey(["operations", "sync_health"])
REFRESH_JOB = "operations_refresh"
REPLAY_JOB = "replay_dead_letters"
REFRESH_CRON = "*/5 * * * *"

# Flows whose runs only look at new source versions: a replay must also nudge them through the inbox.
INBOX_NUDGE = {"orders": "orders/updated"}


DEAD_LETTER_COLUMNS = [("id", "int"), ("flow", "string"), ("source_id", "string"), ("reason", "string"),
                       ("field_path", "string"), ("occurrences", "int"), ("since", "string"), ("updated", "string")]
ALERT_COLUMNS = [("id", "int"), ("kind", "string"), ("run_id", "string"), ("message", "string"), ("at", "string")]
# Every flow the ledger keeps rows for, so sync_health has the same keys from the first tick on.
HEALTH_FLOWS = ("orders", "customers", "payments", "refunds", "inventory", "inventory_orders", "fulfillments",
                "fulfillment_tracking", "catalog")
HEALTH_STATUSES = ("done", "pending", "in_flight", "dead", "open_dead_letters")


def dead_letter_table(letters: list[DeadLetter]) -> dg.MetadataValue:
    return table_metadata(DEAD_LETTER_COLUMNS, ({
        "id": d.id, "flow": d.flow, "source_id": d.source_id, "reason": d.reason, "field_path": d.field_path,
        "occurrences": d.occurrences, "since": d.created_at, "updated": d.updated_at} for d in letters))  # fmt: skip


def land_dead_letters(landing, letters: list[DeadLetter], run_id: str) -> int:
    """Open dead letters as ``dead_lettered`` rows for ``raw.sync_events``."""
    from sync_assets.flows.landing import event_frame

    events = [{"flow": d.flow, "source_id": d.source_id, "status": "dead_lettered",
               "reason": f"{d.reason}" + (f" (at {d.field_path})" if d.field_path else ""),
               "event_at": d.updated_at} for d in letters]  # fmt: skip
    if not events:
        return 0
    return sum(f.rows for f in landing.land({"raw.sync_events": event_frame(events)}, run_id))


@dg.asset(key=DEAD_LETTERS, group_name=GROUP, kinds={"sqlite", "parquet"},
          description="Open dead letters per flow (reason, field path, source id, occurrences); also landed for raw.sync_events.")
def dead_letters(context: dg.AssetExecutionContext, ledger: LedgerResource, landing: LandingResource):
    book = ledger.get_ledger()
    letters = book.dead_letters(status="open")
    landed = land_dead_letters(landing.get_area(book), letters, context.run.run_id)
    per_flow: dict[str, int] = {}
    for d in letters:
        per_flow[d.flow] = per_flow.get(d.flow, 0) + 1
    return dg.MaterializeResult(metadata={
        "open_total": dg.MetadataValue.int(len(letters)),
        **{f"open_{flow}": dg.MetadataValue.int(n) for flow, n in sorted(per_flow.items())},
        "landed_rows": dg.MetadataValue.int(landed),
        "dead_letters": dead_letter_table(letters),
    })  # fmt: skip


@dg.asset(key=ALERTS, group_name=GROUP, kinds={"sqlite"}, description="Alerts recorded in the ledger (run failures, …).")
def alerts(ledger: LedgerResource):
    recorded = ledger.get_ledger().alerts()
    recent = recorded[-50:][::-1]
    kinds: dict[str, int] = {}
    for a in recorded:
        kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    return dg.MaterializeResult(metadata={
        "alerts_total": dg.MetadataValue.int(len(recorded)),
        **{f"alerts_{k}": dg.MetadataValue.int(n) for k, n in sorted(kinds.items())},
        "recent": table_metadata(ALERT_COLUMNS, ({**a, "at": a["created_at"]} for a in recent)),
    })  # fmt: skip


def sync_health_numbers(ledger: Ledger) -> dict[str, int]:
    """``<flow>_<status>`` for every flow and status (0 when none), plus the landing queue."""
    counts = ledger.status_counts()
    flows = [*HEALTH_FLOWS, *sorted(set(counts) - set(HEALTH_FLOWS))]
    numbers = {f"{flow}_{status}": int(counts.get(flow, {}).get(status, 0)) for flow in flows for status in HEALTH_STATUSES}
    queued = ledger.landed_summary()
    return {**numbers, "landing_files_pending": queued["files"], "landing_rows_pending": queued["rows"]}


@dg.asset(key=SYNC_HEALTH, group_name=GROUP, kinds={"sqlite"},
          description="Per flow: ledger rows done / pending / in flight / dead and open dead letters (zeros included, "
                      "so plots have no gaps), and the warehouse landing queue.")
def sync_health(ledger: LedgerResource):
    numbers = sync_health_numbers(ledger.get_ledger())
    return dg.MaterializeResult(metadata={k: dg.MetadataValue.int(v) for k, v in numbers.items()})


refresh_job = dg.define_asset_job(REFRESH_JOB, selection=dg.AssetSelection.assets(dead_letters, alerts, sync_health),
                                  executor_def=dg.in_process_executor,
                                  description="Refresh the operators' dead-letter and alert views.")
refresh_schedule = dg.ScheduleDefinition(name="operations_refresh_schedule", job=refresh_job, cron_schedule=REFRESH_CRON,
                                         default_status=dg.DefaultScheduleStatus.RUNNING)


# ------------------------------------------------------------------------------------------------ replay


class ReplayConfig(dg.Config):
    flow: str
    ids: list[int] = []  # dead letter ids; empty with all_open=True means every open one of the flow
    all_open: bool = False


def replay(ledger: Ledger, flow: str, ids: list[int], all_open: bool) -> list[DeadLetter]:
    """Mark the chosen open dead letters of ``flow`` replayed; returns them. Bad input names what is wrong."""
    if not flow:
        raise ValueError("replay_dead_letters: config 'flow' is required (e.g. orders)")
    if bool(ids) == all_open:
        raise ValueError("replay_dead_letters: give either 'ids' (dead letter ids) or all_open: true, not both/neither")
    open_letters = {d.id: d for d in ledger.dead_letters(flow, status="open")}
    if all_open:
        chosen = list(open_letters)
    else:
        unknown = [i for i in ids if i not in open_letters]
        if unknown:
            raise ValueError(f"replay_dead_letters: {unknown} are not open dead letters of flow {flow!r} "
                             f"(open ones: {sorted(open_letters)[:20]})")
        chosen = list(dict.fromkeys(ids))
    replayed = [ledger.mark_replayed(i) for i in chosen]
    topic = INBOX_NUDGE.get(flow)
    if topic:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        for d in replayed:
            if d.source_id.startswith("gid://"):  # webhook-level letters (no order id) have nothing to fetch
                ledger.inbox_put(f"replay:{d.id}:{stamp}", topic, {"admin_graphql_api_id": d.source_id})
    return replayed


@dg.op(description="Mark dead letters replayed so the owning flow claims them again on its next run.")
def replay_dead_letters_op(context: dg.OpExecutionContext, config: ReplayConfig, ledger: LedgerResource):
    replayed = replay(ledger.get_ledger(), config.flow, list(config.ids), config.all_open)
    context.log.info("replayed %d dead letter(s) of %s: %s", len(replayed), config.flow,
                     ", ".join(f"{d.id}:{d.source_id}" for d in replayed))
    context.add_output_metadata({"replayed": len(replayed)})
    return len(replayed)


@dg.job(name=REPLAY_JOB, executor_def=dg.in_process_executor,
        description="Replay dead letters after fixing their cause: run config {flow, ids | all_open}.")
def replay_dead_letters():
    replay_dead_letters_op()


# ------------------------------------------------------------------------------------------------ alerts


def failure_summary(context: dg.RunFailureSensorContext) -> str:
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:  # the user's exception, not Dagster's wrapper
            error = error.cause
        text = (error.message if error is not None else event.message or "").strip().splitlines()
        steps.append(f"{event.step_key}: {text[0] if text else 'failed'}")
    job = context.dagster_run.job_name
    return f"run of {job} failed" + (" — " + "; ".join(steps) if steps else f": {context.failure_event.message}")


@dg.run_failure_sensor(name="record_run_failures", default_status=dg.DefaultSensorStatus.RUNNING,
                       monitor_all_code_locations=False, minimum_interval_seconds=5,
                       description="Records an alert in the sync ledger for every failed run.")
def record_run_failures(context: dg.RunFailureSensorContext, ledger: LedgerResource):
    ledger.get_ledger().record_alert("run_failure", failure_summary(context), run_id=context.dagster_run.run_id)


def definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[dead_letters, alerts, sync_health],
        jobs=[refresh_job, replay_dead_letters],
        schedules=[refresh_schedule],
        sensors=[record_run_failures],
    )
