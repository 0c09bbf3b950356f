"""The one mechanism that turns the sync policy into triggers: a sensor for a real-time entity, a schedule
for a batch one. Every flow registers a :class:`Flow`; none builds its own sensor.

Real-time sensors follow three rules learnt the hard way (DESIGN.md, dagster-1.13-practices.md B5):

* **Coalesce.** At most one run per flow in flight, whatever launched it (this sensor, the webhook
  receiver, an operator). A burst becomes a few runs that each take everything pending, not a run per
  record: 200 one-order runs took minutes to drain where one run took seconds.
* **The ledger is the cursor.** The watermark lives in the sync ledger and only the run advances it, after
  its work is durable. The sensor's own cursor is informational, so a failed or killed run never loses
  records (DESIGN.md: "a naive sensor whose cursor moved on before the run failed loses that run's orders").
* **Deterministic run keys.** The key is the flow, a fingerprint of the pending work and how many runs for
  that same work already finished: a resumed daemon tick never launches twice, and work still pending after
  a run (it failed, or a record hit a transient error) is retried on a fresh key instead of being silently
  deduplicated away by Dagster's run-key check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from sync_assets.domain.errors import PolicyError
from sync_assets.domain.policy import EntityPolicy, load_policy

FLOW_TAG = "sync_assets/flow"
FINGERPRINT_TAG = "sync_assets/fingerprint"
TRIGGER_TAG = "sync_assets/trigger"
SENSOR_TRIGGER = "sensor"

IN_FLIGHT_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass(frozen=True)
class PendingWork:
    """What a probe found: enough to name the work (fingerprint) and say it in the UI (summary)."""

    fingerprint: str
    summary: str
    count: int


# A probe looks, cheaply and read-only, for work the flow has not done yet. It gets the sensor's context
# (resources under ``context.resources``) and its entity policy; None means nothing to do.
Probe = Callable[[dg.SensorEvaluationContext, EntityPolicy], "PendingWork | None"]


def time_slot_probe(label: str, minimum_seconds: float = 60.0) -> Probe:
    """A probe for a flow with no source to poll (an export, a reconciliation) moved to the real-time lane:
    work once per slot of the sensor interval, never more often than ``minimum_seconds``."""

    def probe(context: dg.SensorEvaluationContext, policy: EntityPolicy) -> PendingWork:
        slot = str(int(time.time() // max(minimum_seconds, policy.interval_seconds or minimum_seconds)))
        return PendingWork(slot, f"{label} slot {slot}", 1)

    return probe


@dataclass(frozen=True)
class Flow:
    """One entity's sync: the job that does it and the probe that says when there is work."""

    entity: str
    job: dg.UnresolvedAssetJobDefinition
    probe: Probe
    resource_keys: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    # A partitioned job's trigger asks this for the partitions to run (a schedule: a run each, e.g. yesterday
    # and the days with open findings; a sensor: the last one). Gets the trigger's context.
    partition_keys: Callable[[Any], list[str]] | None = None


def flow_tags(entity: str, trigger: str, fingerprint: str | None = None) -> dict[str, str]:
    tags = {FLOW_TAG: entity, TRIGGER_TAG: trigger}
    if fingerprint:
        tags[FINGERPRINT_TAG] = fingerprint
    return tags


def lane_of_run(tags: Mapping[str, str] | None) -> str:
    """The lane whose share of the API budget a run spends: its flow's lane in the sync policy. No run (a
    sensor's probe) is real-time; a run of no flow (an operator's ad-hoc job) is batch."""
    if tags is None:
        return "realtime"
    flow = tags.get(FLOW_TAG)
    if not flow:
        return "batch"
    try:
        return load_policy().entity(flow).lane
    except PolicyError:  # a flow the policy does not name (the definitions' own load would have failed first)
        return "batch"


def runs_in_flight(instance: dg.DagsterInstance, entity: str) -> list[dg.DagsterRun]:
    return list(
        instance.get_runs(filters=dg.RunsFilter(tags={FLOW_TAG: entity}, statuses=IN_FLIGHT_STATUSES), limit=5)
    )


def finished_attempts(instance: dg.DagsterInstance, entity: str, fingerprint: str) -> int:
    return instance.get_runs_count(
        filters=dg.RunsFilter(
            tags={FLOW_TAG: entity, FINGERPRINT_TAG: fingerprint},
            statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED],
        )
    )


def realtime_sensor(flow: Flow, policy: EntityPolicy) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{flow.entity}_sensor",
        job=flow.job,
        minimum_interval_seconds=policy.interval_seconds or 1,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys=set(flow.resource_keys) | {"ledger"},  # the launch lease
        description=f"Real-time lane: {flow.description or flow.entity}. Polls every "
        f"{policy.interval_seconds or 1} s; one run in flight at most.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        in_flight = runs_in_flight(context.instance, flow.entity)
        if in_flight:
            return dg.SkipReason(
                f"run {in_flight[0].run_id[:8]} for {flow.entity} is in flight; it or the next one takes what arrived"
            )
        work = flow.probe(context, policy)
        if work is None:
            return dg.SkipReason(f"nothing new for {flow.entity}")
        ledger = context.resources.ledger.get_ledger()
        if not ledger.take_launch_lease(flow.entity, SENSOR_TRIGGER):
            holder = ledger.launch_lease_holder(flow.entity) or "another trigger"
            return dg.SkipReason(f"{holder} is launching a run for {flow.entity}; it takes what arrived")
        attempt = finished_attempts(context.instance, flow.entity, work.fingerprint)
        partition = flow.partition_keys(context)[-1:] if flow.partition_keys else []
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{flow.entity}:{work.fingerprint}:{attempt}",
                    tags=flow_tags(flow.entity, SENSOR_TRIGGER, work.fingerprint),
                    partition_key=partition[0] if partition else None,
                )
            ],
            cursor=work.summary,
        )

    return _sensor


def batch_schedule(flow_entity: str, job: dg.UnresolvedAssetJobDefinition, policy: EntityPolicy) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{flow_entity}_schedule",
        job=job,
        cron_schedule=policy.cron,
        execution_timezone=policy.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        tags=flow_tags(flow_entity, "schedule"),
        description=f"Batch lane: {flow_entity} on '{policy.cron}' ({policy.timezone}).",
    )


def partitioned_schedule(flow: Flow, policy: EntityPolicy) -> dg.ScheduleDefinition:
    """:func:`batch_schedule` for a partitioned job: one run per partition ``flow.partition_keys`` names, keyed
    by partition and tick so a resumed daemon tick launches none twice."""
    assert flow.partition_keys is not None

    @dg.schedule(name=f"{flow.entity}_schedule", job=flow.job, cron_schedule=policy.cron,
                 execution_timezone=policy.timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"Batch lane: {flow.entity} on '{policy.cron}' ({policy.timezone}), a run per partition.",
                 required_resource_keys=set(flow.resource_keys))  # fmt: skip
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "now"
        keys = flow.partition_keys(context)
        if not keys:
            return dg.SkipReason(f"no {flow.entity} partition to run")
        return [dg.RunRequest(run_key=f"{flow.entity}:{key}:{tick}", partition_key=key,
                              tags=flow_tags(flow.entity, "schedule")) for key in keys]

    return _schedule


def trigger_for(flow: Flow, policy: EntityPolicy) -> dg.SensorDefinition | dg.ScheduleDefinition:
    """The entity's trigger as its policy says: a sensor in the real-time lane, a schedule in the batch lane."""
    if policy.is_realtime:
        return realtime_sensor(flow, policy)
    if flow.partition_keys is not None:
        return partitioned_schedule(flow, policy)
    return batch_schedule(flow.entity, flow.job, policy)


def flow_definitions(flow: Flow, policy: EntityPolicy, assets: list) -> dg.Definitions:
    """A flow's assets, its job and the trigger its lane calls for, as one ``Definitions``. Its runs' rows for
    ``raw.flow_runs`` come from the assembly point (:func:`sync_assets.defs.run_record.record_runs`)."""
    trigger = trigger_for(flow, policy)
    triggers = {"sensors": [trigger]} if isinstance(trigger, dg.SensorDefinition) else {"schedules": [trigger]}
    return dg.Definitions(assets=assets, jobs=[flow.job], **triggers)


def lane_group(policy: EntityPolicy) -> str:
    """Asset group of an entity: the UI's asset graph is grouped by lane."""
    return f"{policy.lane}_lane"


def run_metadata(**values: Any) -> dict[str, dg.MetadataValue]:
    """Numeric metadata the UI plots (records, lag seconds, API calls, throttle waits)."""
    out: dict[str, dg.MetadataValue] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            out[key] = dg.MetadataValue.int(value)
        elif isinstance(value, float):
            out[key] = dg.MetadataValue.float(round(value, 3))
    return out
