"""DeregisterTargets' and CheckDrain's logic, and how long to wait between polls.

Waiting: the first check comes after a short probe interval (a target with no open connections
finishes draining at once), then the loop sleeps until the deregistration delay of the slowest
target group should have elapsed, then polls at the configured interval. Every wait is clamped so
that no check is scheduled past the deadline (event time + drain deadline). So the number of
polls is flat in the deregistration delay instead of growing with it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from spotdrain import clock
from spotdrain.aws import account_of, aws_errors, client
from spotdrain.errors import DeregistrationIneffective, DrainTimeout, StaleNotice
from spotdrain.models import DrainProgress, DrainState, PollSettings, RegisteredTargets, Target

DEREGISTER_BATCH = 500
DRAINING = "draining"


def is_draining(state: str | None) -> bool:
    """``draining``, and combined states such as ``unhealthy.draining`` (documented by ELBv2)."""
    return bool(state) and DRAINING in str(state).split(".")


GONE_REASON = "Target.NotRegistered"
INVALID_TARGET = frozenset({"InvalidTarget"})


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def next_wait_seconds(
    *,
    now: datetime,
    deregistered_at: datetime,
    expected_drained_at: datetime,
    deadline: datetime,
    settings: PollSettings,
) -> int:
    """Seconds until the next check: no sooner than useful, never past the deadline, at least 1."""
    interval = settings.poll_interval_seconds
    probe_at = min(deregistered_at + timedelta(seconds=interval), expected_drained_at)
    if now < probe_at:
        wait = _seconds(probe_at - now)  # early probe: no connections left means drained at once
    elif now < expected_drained_at:
        wait = _seconds(expected_drained_at - now)  # sleep until the delay should be over
    else:
        wait = interval  # overdue: poll at the configured pace
    wait = min(wait, _seconds(deadline - now))
    return max(1, math.ceil(wait))


def _by_group(targets: list[Target]) -> dict[str, list[Target]]:
    grouped: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        grouped[target.target_group_arn].append(target)
    return grouped


def _api_target(target: Target) -> dict[str, Any]:
    item: dict[str, Any] = {"Id": target.id, "Port": target.port}
    if target.availability_zone:
        item["AvailabilityZone"] = target.availability_zone
    return item


def deregister_targets(request: RegisteredTargets) -> DrainState:
    """Deregister every registration (Id and Port, and zone where needed), idempotently."""
    region = request.task.region
    deadline = request.task.event_time + timedelta(seconds=request.settings.drain_deadline_seconds)
    if clock.now() > deadline:
        raise StaleNotice(
            f"not deregistering after the drain deadline {deadline.isoformat()}: task "
            f"{request.task.task_arn} is gone by now and its address may belong to another task"
        )
    sent: list[Target] = []
    for group_arn, group_targets in _by_group(request.targets).items():
        elbv2 = client("elbv2", region, account_of(group_arn))
        pending = [target for target in group_targets if not is_draining(target.state)]
        for start in range(0, len(pending), DEREGISTER_BATCH):
            batch = pending[start : start + DEREGISTER_BATCH]
            # AWS answers success for a target that is not registered; InvalidTarget means it
            # is not there (any more). Either way CheckDrain verifies the result explicitly.
            with aws_errors("elbv2:DeregisterTargets", tolerate=INVALID_TARGET):
                elbv2.deregister_targets(TargetGroupArn=group_arn, Targets=[_api_target(t) for t in batch])
            sent.extend(batch)

    now = clock.now()
    if sent:
        delay = max((g.deregistration_delay_seconds for g in request.target_groups), default=0)
        expected = now + timedelta(seconds=delay)
    else:
        # Every target was already draining (ECS deregistered it first): when that started is
        # unknown, so poll at the configured pace instead of sleeping a whole delay.
        expected = now
    progress = DrainProgress(
        status=DRAINING,
        attempts=0,
        next_wait_seconds=next_wait_seconds(
            now=now,
            deregistered_at=now,
            expected_drained_at=expected,
            deadline=deadline,
            settings=request.settings,
        ),
        deregistered_at=now,
        expected_drained_at=expected,
        deadline=deadline,
        draining=list(request.targets),
    )
    return DrainState(
        **request.model_dump(exclude={"outcome"}),
        outcome="Registered",
        deregistered=sent,
        drain=progress,
    )


def target_states(targets: list[Target], region: str) -> list[tuple[Target, str, str | None]]:
    """(target, state, reason) from DescribeTargetHealth with the explicit targets.

    InvalidTarget means a target is not registered (any more); when several targets were asked
    for at once, each is asked again alone, so that one gone target cannot hide another that is
    still draining.
    """
    result: list[tuple[Target, str, str | None]] = []
    for group_arn, group_targets in _by_group(targets).items():
        elbv2 = client("elbv2", region, account_of(group_arn))
        response: dict[str, Any] = {}
        with aws_errors("elbv2:DescribeTargetHealth", tolerate=INVALID_TARGET) as tolerated:
            response = elbv2.describe_target_health(
                TargetGroupArn=group_arn, Targets=[_api_target(t) for t in group_targets]
            )
        if tolerated.code:
            if len(group_targets) == 1:
                result.append((group_targets[0], "unused", "InvalidTarget"))
            else:
                for target in group_targets:
                    result.extend(target_states([target], region))
            continue
        seen: dict[tuple[str, int], tuple[str, str | None]] = {}
        for description in response.get("TargetHealthDescriptions", []):
            api_target = description.get("Target", {})
            health = description.get("TargetHealth", {})
            key = (api_target.get("Id"), int(api_target.get("Port", 0)))
            seen[key] = (health.get("State", "unused"), health.get("Reason"))
        for target in group_targets:
            state, reason = seen.get((target.id, target.port), ("unused", "absent"))
            result.append((target, state, reason))
    return result


def check_drain(request: DrainState) -> DrainState:
    """One poll: drained, still draining (compute the next wait), or a named error."""
    progress = request.drain
    states = target_states(progress.draining, request.task.region)
    now = clock.now()
    ineffective = [
        (t, state, reason)
        for t, state, reason in states
        if not is_draining(state)
        and not (state == "unused" and reason in {GONE_REASON, "absent", "InvalidTarget"})
    ]
    if ineffective:
        listing = ", ".join(
            f"{t.id}:{t.port} in {t.target_group_arn} is {state}" + (f" ({reason})" if reason else "")
            for t, state, reason in ineffective
        )
        raise DeregistrationIneffective(
            f"deregistration did not take effect, target(s) still in service: {listing}"
        )
    still = [t for t, state, _ in states if is_draining(state)]
    attempts = progress.attempts + 1
    if not still:
        done = progress.model_copy(
            update={
                "status": "drained",
                "attempts": attempts,
                "next_wait_seconds": 0,
                "draining": [],
                "drained_at": now,
            }
        )
        took = (now - progress.deregistered_at).total_seconds()
        reason = (
            f"{request.reason}; all drained {took:.0f} s after deregistration, "
            f"{(progress.deadline - now).total_seconds():.0f} s before the deadline"
        )
        return request.model_copy(update={"drain": done, "outcome": "Drained", "reason": reason})
    if now >= progress.deadline or attempts >= request.settings.max_poll_attempts:
        listing = ", ".join(f"{t.id}:{t.port} in {t.target_group_arn}" for t in still)
        why = "deadline passed" if now >= progress.deadline else "poll attempts exhausted"
        raise DrainTimeout(
            f"{why} after {attempts} check(s) (deadline {progress.deadline.isoformat()}): "
            f"still draining: {listing}"
        )
    wait = next_wait_seconds(
        now=now,
        deregistered_at=progress.deregistered_at,
        expected_drained_at=progress.expected_drained_at,
        deadline=progress.deadline,
        settings=request.settings,
    )
    updated = progress.model_copy(update={"attempts": attempts, "next_wait_seconds": wait, "draining": still})
    return request.model_copy(update={"drain": updated})
