"""DeregisterTargets' and CheckDrain's logic, and how long to wait between polls.

Waiting follows the target groups' deregistration delay and the time left, not a fixed interval:

- the first check comes when the slowest group's delay should be over, except that an
  Application Load Balancer's group (HTTP/HTTPS) is probed after ``PollIntervalSeconds`` first:
  an ALB completes the deregistration of a target with no in-flight requests at once, without
  waiting for the delay (ELBv2 documentation), while a Network Load Balancer waits it out;
- once the delay should be over, polls come every ``PollIntervalSeconds``;
- every wait is clamped so that no check is scheduled past the deadline (the notice's time plus
  ``DrainDeadlineSeconds``), and the loop ends after ``MaxPollAttempts`` checks.

So the number of polls is flat in the deregistration delay instead of growing with it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from spotdrain import clock
from spotdrain.aws import Tolerated, account_of, aws_errors, client, patient
from spotdrain.errors import DeregistrationIneffective, DrainTimeout, StaleNotice
from spotdrain.models import (
    DrainProgress,
    DrainState,
    PollSettings,
    PollState,
    RegisteredTargets,
    Target,
    TaskInfo,
    canonical_ip,
    deadline_of,
)
from spotdrain.ownership import Ownership, check_ownership

DEREGISTER_BATCH = 500
PROOF_FRESH = timedelta(seconds=2)  # how long the IP reuse guard's proof is trusted
# ALB target groups: a target with no in-flight requests finishes draining at once. A group whose
# protocol is unknown is treated the same way (an early look costs one poll).
EARLY_COMPLETING_PROTOCOLS = frozenset({"HTTP", "HTTPS"})
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
    early_probe: bool = True,
    just_deregistered: bool = False,
) -> int:
    """Seconds until the next check: no sooner than useful, never past the deadline, at least 1
    (0 right after a deregistration whose delay is 0: the target is gone at once)."""
    interval = settings.poll_interval_seconds
    probe_at = expected_drained_at
    if early_probe:
        probe_at = min(deregistered_at + timedelta(seconds=interval), expected_drained_at)
    if now < probe_at:
        wait = _seconds(probe_at - now)  # early probe: no connections left means drained at once
    elif now < expected_drained_at:
        wait = _seconds(expected_drained_at - now)  # sleep until the delay should be over
    else:
        wait = interval  # overdue: poll at the configured pace
    if just_deregistered and now >= expected_drained_at:
        wait = 0  # a delay of 0: look at once rather than a poll interval later
    wait = min(wait, _seconds(deadline - now))
    return max(0 if just_deregistered else 1, math.ceil(wait))


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


def guarded_deregister(
    task: TaskInfo, targets: list[Target], deadline: datetime
) -> tuple[Ownership, list[Target]]:
    """Deregister ``targets`` (Id and Port, and zone where needed) if, and only if, the task's
    addresses are still its own; returns the guard's answer and what was sent. Every
    deregistration of the workflow goes through here."""
    if clock.now() > deadline:
        raise StaleNotice.after_deadline("deregistering", deadline, task.task_arn)
    proved_at = clock.now()  # the proof is as old as the first question it asks
    ownership = check_ownership(task)
    sent: list[Target] = []
    if ownership.reassigned or not targets:
        return ownership, sent
    for group_arn, group_targets in _by_group(targets).items():
        # one attempt per call: an SDK retry could go out long after the proof; a failure fails
        # the step, and the workflow's retry runs the guard again
        elbv2 = client("elbv2", task.region, account_of(group_arn), mode="once")
        for start in range(0, len(group_targets), DEREGISTER_BATCH):
            batch = group_targets[start : start + DEREGISTER_BATCH]
            if clock.now() - proved_at > PROOF_FRESH:  # slow calls: prove it again
                proved_at = clock.now()
                ownership = check_ownership(task)
                if ownership.reassigned:
                    return ownership, sent
            # AWS answers success for a target that is not registered; InvalidTarget means it
            # is not there (any more). Either way CheckDrain verifies the result explicitly.
            with aws_errors("elbv2:DeregisterTargets", tolerate=INVALID_TARGET):
                elbv2.deregister_targets(TargetGroupArn=group_arn, Targets=[_api_target(t) for t in batch])
            sent.extend(batch)
    return ownership, sent


def skipped(request: DrainState | RegisteredTargets, ownership: Ownership, sent: list[Target]) -> DrainState:
    """The outcome when the task's address now belongs to someone else: nothing more is touched.
    ``deregistered`` keeps what was taken out before the guard said so (this step or earlier)."""
    earlier = [*(request.deregistered if isinstance(request, DrainState) else []), *sent]
    listing = ", ".join(f"{t.id}:{t.port}" for t in earlier[:5])
    more = f" and {len(earlier) - 5} more" if len(earlier) > 5 else ""
    done = (
        f"no further deregistration (deregistered before: {listing}{more})"
        if earlier
        else "nothing deregistered"
    )
    return DrainState(
        **request.model_dump(exclude={"outcome", "reason", "deregistered"}),
        outcome="SkippedIpReassigned",
        reason=f"{ownership.reassigned}; {done} (IP reuse guard: {ownership.proof})",
        deregistered=earlier,
    )


def deregister_targets(request: RegisteredTargets) -> DrainState:
    """Deregister every registration not already draining, behind the IP reuse guard."""
    deadline = deadline_of(request.task, request.settings)
    pending = [target for target in request.targets if not is_draining(target.state)]
    ownership, sent = guarded_deregister(request.task, pending, deadline)
    if ownership.reassigned:
        return skipped(request, ownership, sent)

    now = clock.now()
    sent_groups = {t.target_group_arn for t in sent}
    groups = [g for g in request.target_groups if g.arn in sent_groups]
    early_probe = any((g.protocol or "HTTP") in EARLY_COMPLETING_PROTOCOLS for g in groups)
    if sent:
        delay = max((g.deregistration_delay_seconds for g in groups), default=0)
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
            early_probe=early_probe,
            just_deregistered=bool(sent),
        ),
        deregistered_at=now,
        expected_drained_at=expected,
        deadline=deadline,
        draining=list(request.targets),
    )
    return DrainState(
        **request.model_dump(exclude={"outcome", "reason"}),
        outcome="Registered",
        reason=f"{request.reason}; ownership: {ownership.proof}",
        deregistered=sent,
        drain=progress,
    )


@patient
def _target_health(group_arn: str, targets: list[Target], region: str) -> tuple[dict[str, Any], Tolerated]:
    elbv2 = client("elbv2", region, account_of(group_arn))
    response: dict[str, Any] = {}
    with aws_errors("elbv2:DescribeTargetHealth", tolerate=INVALID_TARGET) as tolerated:
        response = elbv2.describe_target_health(
            TargetGroupArn=group_arn, Targets=[_api_target(t) for t in targets]
        )
    return response, tolerated


def target_states(targets: list[Target], region: str) -> list[tuple[Target, str, str | None]]:
    """(target, state, reason) from DescribeTargetHealth with the explicit targets; the target
    carries the zone ELBv2 reports for the registration.

    InvalidTarget means a target is not registered (any more); when several targets were asked
    for at once, each is asked again alone, so that one gone target cannot hide another that is
    still draining.
    """
    result: list[tuple[Target, str, str | None]] = []
    for group_arn, group_targets in _by_group(targets).items():
        response, tolerated = _target_health(group_arn, group_targets, region)
        if tolerated.code:
            if len(group_targets) == 1:
                result.append((group_targets[0], "unused", "InvalidTarget"))
            else:
                for target in group_targets:
                    result.extend(target_states([target], region))
            continue
        seen: dict[tuple[str, int], tuple[str, str | None, str | None]] = {}
        for description in response.get("TargetHealthDescriptions", []):
            api_target = description.get("Target", {})
            health = description.get("TargetHealth", {})
            key = (api_target.get("Id"), int(api_target.get("Port", 0)))
            seen[key] = (
                health.get("State", "unused"),
                health.get("Reason"),
                api_target.get("AvailabilityZone"),
            )
        for asked in group_targets:
            state, reason, zone = seen.get((asked.id, asked.port), ("unused", "absent", None))
            reported = asked.model_copy(update={"availability_zone": zone}) if zone else asked
            result.append((reported, state, reason))
    return result


def _is_gone(state: str, reason: str | None) -> bool:
    return state == "unused" and reason in {GONE_REASON, "absent", "InvalidTarget"}


def _listing(items: list[tuple[Target, str, str | None]]) -> str:
    return ", ".join(
        f"{t.id}:{t.port} in {t.target_group_arn} is {state}" + (f" ({reason})" if reason else "")
        for t, state, reason in items
    )


def _key(target: Target) -> tuple[str, str, int]:
    return (target.target_group_arn, canonical_ip(target.id) or target.id, target.port)


def check_drain(request: PollState) -> DrainState:
    """One poll: drained, still draining (compute the next wait), or a named error.

    A target still in service (healthy, or ``unused`` because not in use) after its
    deregistration means the call did not take effect: it is deregistered once more with the
    exact registration ELBv2 reports (id, port, zone), behind the IP reuse guard, and polled
    again; if it is still in service after that, DeregistrationIneffective.
    """
    # The deadline is recomputed from the notice, never taken from the input: a forged or stale
    # loop state cannot extend the drain or re-enable deregistration after the task is gone.
    deadline = min(request.drain.deadline, deadline_of(request.task, request.settings))
    progress = request.drain.model_copy(update={"deadline": deadline})
    states = target_states(progress.draining, request.task.region)
    now = clock.now()
    ineffective = [
        (t, state, reason)
        for t, state, reason in states
        if not is_draining(state) and not _is_gone(state, reason)
    ]
    retried_keys = {_key(t) for t in progress.retried}
    twice = [item for item in ineffective if _key(item[0]) in retried_keys]
    if twice or (ineffective and now >= progress.deadline):
        raise DeregistrationIneffective(
            "deregistration did not take effect"
            + (" after a second attempt with the exact registration" if twice else " (deadline passed)")
            + f", target(s) still in service: {_listing(twice or ineffective)}"
        )
    again = [t for t, _, _ in ineffective]
    if again:
        ownership, resent = guarded_deregister(request.task, again, progress.deadline)
        if ownership.reassigned:
            return skipped(request, ownership, resent)
        # they start draining now: the next looks are a quick one (did it take this time?), then
        # when their groups' delay should be over
        delays = {g.arn: g.deregistration_delay_seconds for g in request.target_groups}
        longest = max((delays.get(t.target_group_arn, 0) for t in again), default=0)
        expected = max(progress.expected_drained_at, now + timedelta(seconds=longest))
        progress = progress.model_copy(
            update={
                "retried": [*progress.retried, *again],
                "deregistered_at": now,
                "expected_drained_at": expected,
            }
        )
    still = [t for t, state, _ in states if is_draining(state)] + again
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
    if again:  # look again soon: the second deregistration should show as draining at once
        wait = max(1, min(wait, request.settings.poll_interval_seconds))
    updated = progress.model_copy(update={"attempts": attempts, "next_wait_seconds": wait, "draining": still})
    return request.model_copy(update={"drain": updated})
