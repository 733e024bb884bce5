"""DeregisterTargets and CheckDrain: exact requests, drain decisions, computed waits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from botocore.stub import Stubber

import spotdrain.clock
import spotdrain.drain
from spotdrain import check_drain as check_drain_handler
from spotdrain import deregister_targets as deregister_targets_handler
from spotdrain.aws import client
from spotdrain.drain import check_drain, deregister_targets, next_wait_seconds
from spotdrain.errors import (
    AwsAccessDenied,
    AwsThrottled,
    DeregistrationIneffective,
    DrainTimeout,
    InvalidEvent,
    StaleNotice,
)
from spotdrain.models import (
    DrainProgress,
    DrainState,
    PollSettings,
    PollState,
    RegisteredTargets,
    Target,
    TargetGroupInfo,
    TaskInfo,
)
from spotdrain.ownership import Ownership

REGION = "us-east-1"
TG = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/0123456789abcdef"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/admin/fedcba9876543210"
T0 = datetime(2026, 11, 20, 3, 0, 0, tzinfo=UTC)
SETTINGS = PollSettings(poll_interval_seconds=5, drain_deadline_seconds=120, max_poll_attempts=30)


def at(seconds: float) -> Any:
    return mock.patch.object(spotdrain.clock, "now", return_value=T0 + timedelta(seconds=seconds))


def resolved(targets: list[Target], delay: int = 30, settings: PollSettings = SETTINGS) -> RegisteredTargets:
    return RegisteredTargets(
        outcome="Registered",
        reason="test",
        settings=settings,
        task=TaskInfo(
            task_arn="arn:aws:ecs:us-east-1:111122223333:task/default/abc",
            task_id="abc",
            cluster_arn="arn:aws:ecs:us-east-1:111122223333:cluster/default",
            cluster_name="default",
            region=REGION,
            account="111122223333",
            ipv4=["10.0.1.25"],
            event_time=T0,
        ),
        target_groups=[
            TargetGroupInfo(arn=arn, target_type="ip", deregistration_delay_seconds=delay)
            for arn in dict.fromkeys(t.target_group_arn for t in targets)
        ],
        targets=targets,
    )


APP = Target(target_group_arn=TG, id="10.0.1.25", port=8080, state="healthy")
ADMIN = Target(target_group_arn=TG, id="10.0.1.25", port=9090, state="healthy")
OUTSIDE = Target(target_group_arn=TG2, id="10.0.1.25", port=443, availability_zone="all", state="healthy")


@pytest.fixture(autouse=True)
def owned() -> Iterator[mock.MagicMock]:
    """The IP reuse guard proves ownership here; tests/test_ownership.py tests the guard itself."""
    with mock.patch.object(spotdrain.drain, "check_ownership", return_value=Ownership(proof="test")) as guard:
        yield guard


def progress_of(state: DrainState) -> DrainProgress:
    assert state.drain is not None, state.outcome
    return state.drain


@pytest.fixture(autouse=True)
def one_client(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """DeregisterTargets goes through a one-attempt client, DescribeTargetHealth through the usual
    one: here both are the same client, so that one Stubber sees every call in order. The modes
    asked for are recorded."""
    modes: list[str] = []

    def same(service: str, region: str, account: str | None = None, *, mode: str = "standard") -> Any:
        modes.append(mode)
        return client(service, region, account)

    monkeypatch.setattr(spotdrain.drain, "client", same)
    return modes


@pytest.fixture
def elbv2() -> Iterator[Stubber]:
    with Stubber(client("elbv2", REGION)) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_deregister_targets_is_sent_once_per_attempt(elbv2: Stubber, one_client: list[str]) -> None:
    """No SDK retry of DeregisterTargets long after the guard's proof: one attempt, and a failure
    fails the step (the workflow's retry runs the guard again)."""
    elbv2.add_response("deregister_targets", {})
    with at(2):
        deregister_targets(resolved([APP]))
    assert one_client == ["once"]


def health(*entries: tuple[str, int, str, str | None]) -> dict[str, Any]:
    return {
        "TargetHealthDescriptions": [
            {"Target": {"Id": i, "Port": p}, "TargetHealth": {"State": s, **({"Reason": r} if r else {})}}
            for i, p, s, r in entries
        ]
    }


# --- waits ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "delay", "expected"),
    [
        (0, 30, 5),  # early probe first
        (5, 30, 25),  # then sleep until the delay should be over
        (30, 30, 5),  # overdue: poll at the configured pace
        (5, 300, 115),  # never past the deadline (120 s after the event)
        (119.5, 300, 1),  # at least one second
        (0, 2, 2),  # a short delay is not over-waited
    ],
)
def test_next_wait_is_computed_not_fixed(now: float, delay: int, expected: int) -> None:
    assert (
        next_wait_seconds(
            now=T0 + timedelta(seconds=now),
            deregistered_at=T0,
            expected_drained_at=T0 + timedelta(seconds=delay),
            deadline=T0 + timedelta(seconds=120),
            settings=SETTINGS,
        )
        == expected
    )


def test_a_zero_delay_is_checked_at_once_after_deregistration() -> None:
    """Regression (make bench): with deregistration_delay 0 the target is gone at once, yet the
    first check came a whole poll interval later (5 s of detection lag)."""
    common: dict[str, Any] = {
        "now": T0,
        "deregistered_at": T0,
        "expected_drained_at": T0,
        "deadline": T0 + timedelta(seconds=120),
        "settings": SETTINGS,
    }
    assert next_wait_seconds(**common, just_deregistered=True) == 0
    # targets ECS had already put to draining (nothing sent): when they started is unknown
    assert next_wait_seconds(**common) == SETTINGS.poll_interval_seconds


# --- DeregisterTargets ------------------------------------------------------------------------
def test_deregister_sends_id_port_and_zone_per_target_group(elbv2: Stubber) -> None:
    elbv2.add_response(
        "deregister_targets",
        {},
        {
            "TargetGroupArn": TG,
            "Targets": [{"Id": "10.0.1.25", "Port": 8080}, {"Id": "10.0.1.25", "Port": 9090}],
        },
    )
    elbv2.add_response(
        "deregister_targets",
        {},
        {"TargetGroupArn": TG2, "Targets": [{"Id": "10.0.1.25", "Port": 443, "AvailabilityZone": "all"}]},
    )
    with at(2):
        state = deregister_targets(resolved([APP, ADMIN, OUTSIDE]))
    assert [(t.id, t.port) for t in state.deregistered] == [
        ("10.0.1.25", 8080),
        ("10.0.1.25", 9090),
        ("10.0.1.25", 443),
    ]
    assert progress_of(state).status == "draining"
    assert progress_of(state).next_wait_seconds == 5
    assert progress_of(state).deadline == T0 + timedelta(seconds=120)
    assert progress_of(state).expected_drained_at == T0 + timedelta(seconds=32)


def test_target_already_draining_is_not_deregistered_again(elbv2: Stubber) -> None:
    draining = APP.model_copy(update={"state": "draining"})
    with at(0):
        state = deregister_targets(resolved([draining]))
    assert state.deregistered == []
    assert progress_of(state).draining == [draining]


def test_invalid_target_on_deregister_counts_as_already_gone(elbv2: Stubber) -> None:
    elbv2.add_client_error("deregister_targets", service_error_code="InvalidTarget", http_status_code=400)
    with at(0):
        state = deregister_targets(resolved([APP]))
    assert progress_of(state).status == "draining"  # CheckDrain verifies it


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("Throttling", 400, AwsThrottled), ("AccessDenied", 403, AwsAccessDenied)],
)
def test_deregister_failures_are_named(
    elbv2: Stubber, code: str, status: int, error: type[Exception]
) -> None:
    elbv2.add_client_error("deregister_targets", service_error_code=code, http_status_code=status)
    with at(0), pytest.raises(error, match="DeregisterTargets"):
        deregister_targets(resolved([APP]))


# --- CheckDrain -----------------------------------------------------------------------------------
def draining_state(targets: list[Target], *, attempts: int = 0, delay: int = 30) -> PollState:
    """The loop state right after DeregisterTargets sent ``targets`` at T0."""
    base = resolved(targets, delay=delay)
    return PollState(
        **base.model_dump(exclude={"outcome"}),
        outcome="Registered",
        deregistered=targets,
        drain=DrainProgress(
            status="draining",
            attempts=attempts,
            next_wait_seconds=5,
            deregistered_at=T0,
            expected_drained_at=T0 + timedelta(seconds=delay),
            deadline=T0 + timedelta(seconds=120),
            draining=targets,
        ),
    )


def test_still_draining_waits_until_the_delay_should_be_over(elbv2: Stubber) -> None:
    state = draining_state([APP])
    elbv2.add_response(
        "describe_target_health",
        health(("10.0.1.25", 8080, "draining", "Target.DeregistrationInProgress")),
        {"TargetGroupArn": TG, "Targets": [{"Id": "10.0.1.25", "Port": 8080}]},
    )
    with at(5):
        result = check_drain(state)
    assert progress_of(result).status == "draining"
    assert progress_of(result).attempts == 1
    assert progress_of(result).next_wait_seconds == 25


@pytest.mark.parametrize(
    "answer",
    [
        health(("10.0.1.25", 8080, "unused", "Target.NotRegistered")),
        health(),  # absent
    ],
)
def test_unused_or_absent_means_drained(elbv2: Stubber, answer: dict[str, Any]) -> None:
    state = draining_state([APP])
    elbv2.add_response("describe_target_health", answer)
    with at(30):
        result = check_drain(state)
    assert progress_of(result).status == "drained"
    assert progress_of(result).draining == []
    assert progress_of(result).drained_at == T0 + timedelta(seconds=30)


def test_invalid_target_on_check_means_drained(elbv2: Stubber) -> None:
    state = draining_state([APP])
    elbv2.add_client_error("describe_target_health", service_error_code="InvalidTarget", http_status_code=400)
    with at(30):
        assert progress_of(check_drain(state)).status == "drained"


def test_only_the_targets_still_draining_are_polled_next_time(elbv2: Stubber) -> None:
    state = draining_state([APP, ADMIN])
    elbv2.add_response(
        "describe_target_health",
        health(("10.0.1.25", 8080, "unused", "Target.NotRegistered"), ("10.0.1.25", 9090, "draining", None)),
    )
    with at(30):
        result = check_drain(state)
    assert progress_of(result).status == "draining"
    assert [(t.id, t.port) for t in progress_of(result).draining] == [("10.0.1.25", 9090)]


@pytest.mark.parametrize(
    ("state_name", "reason"), [("healthy", None), ("unused", "Target.NotInUse"), ("initial", None)]
)
def test_target_still_in_service_after_deregistration_is_never_drained(
    elbv2: Stubber, state_name: str, reason: str | None
) -> None:
    state = draining_state([APP])
    # still in service: deregistered once more with the registration ELBv2 reports (zone too)
    reported = health(("10.0.1.25", 8080, state_name, reason))
    reported["TargetHealthDescriptions"][0]["Target"]["AvailabilityZone"] = "us-east-1a"
    elbv2.add_response("describe_target_health", reported)
    elbv2.add_response(
        "deregister_targets",
        {},
        {
            "TargetGroupArn": TG,
            "Targets": [{"Id": "10.0.1.25", "Port": 8080, "AvailabilityZone": "us-east-1a"}],
        },
    )
    with at(5):
        second = check_drain(state)
    assert second.outcome == "Registered"
    assert [(t.id, t.port, t.availability_zone) for t in progress_of(second).retried] == [
        ("10.0.1.25", 8080, "us-east-1a")
    ]
    assert progress_of(second).next_wait_seconds <= SETTINGS.poll_interval_seconds
    # still in service after the second attempt: a named error, never "drained"
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, state_name, reason)))
    with at(10), pytest.raises(DeregistrationIneffective, match=r"second attempt.*10\.0\.1\.25:8080"):
        check_drain(PollState.model_validate(second.dump()))


def test_second_deregistration_that_works_ends_drained(elbv2: Stubber) -> None:
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "healthy", None)))
    elbv2.add_response("deregister_targets", {})
    with at(5):
        second = check_drain(draining_state([APP]))
    elbv2.add_response(
        "describe_target_health", health(("10.0.1.25", 8080, "unused", "Target.NotRegistered"))
    )
    with at(10):
        done = check_drain(PollState.model_validate(second.dump()))
    assert (done.outcome, progress_of(done).status) == ("Drained", "drained")


def test_still_in_service_at_the_deadline_is_not_deregistered_again(elbv2: Stubber) -> None:
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "healthy", None)))
    with at(120), pytest.raises(DeregistrationIneffective, match="deadline passed"):
        check_drain(draining_state([APP]))


def test_second_deregistration_is_guarded_too(elbv2: Stubber, owned: mock.MagicMock) -> None:
    """The healthy target may be a replacement task's that received the address: not touched."""
    owned.return_value = Ownership(proof="EC2", reassigned="10.0.1.25 now held by eni-new")
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "healthy", None)))
    with at(5):
        result = check_drain(draining_state([APP]))
    assert result.outcome == "SkippedIpReassigned"
    assert "eni-new" in result.reason
    # the Stubber holds no DeregisterTargets response: a deregistration would have failed


def test_deregister_nothing_when_the_address_was_reassigned(elbv2: Stubber, owned: mock.MagicMock) -> None:
    owned.return_value = Ownership(proof="EC2", reassigned="10.0.1.25 now held by eni-new")
    with at(2):
        result = deregister_targets(resolved([APP, ADMIN]))
    assert (result.outcome, result.drain, result.deregistered) == ("SkippedIpReassigned", None, [])
    assert "nothing deregistered" in result.reason


def test_drain_past_the_deadline_is_a_named_timeout(elbv2: Stubber) -> None:
    state = draining_state([APP], delay=300)
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "draining", None)))
    with at(120), pytest.raises(DrainTimeout, match="deadline passed"):
        check_drain(state)


def test_attempts_are_bounded(elbv2: Stubber) -> None:
    state = draining_state([APP], attempts=29)
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "draining", None)))
    with at(40), pytest.raises(DrainTimeout, match="attempts exhausted"):
        check_drain(state)


def test_handler_round_trips_the_state(elbv2: Stubber, lambda_context: Any) -> None:
    state = draining_state([APP])
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "draining", None)))
    with at(5):
        output = check_drain_handler.handler(state.dump(), lambda_context)
    assert progress_of(DrainState.model_validate(output)).attempts == 1


def test_deregister_handler_returns_the_loop_state(elbv2: Stubber, lambda_context: Any) -> None:
    elbv2.add_response(
        "deregister_targets", {}, {"TargetGroupArn": TG, "Targets": [{"Id": "10.0.1.25", "Port": 8080}]}
    )
    with at(1):
        output = deregister_targets_handler.handler(resolved([APP]).dump(), lambda_context)
    state = DrainState.model_validate(output)
    assert [(t.id, t.port) for t in state.deregistered] == [("10.0.1.25", 8080)]
    assert output["drain"]["nextWaitSeconds"] == 5  # the early probe, 5 s after deregistration


def test_deregister_handler_refuses_a_state_that_is_not_registered(lambda_context: Any) -> None:
    payload = resolved([APP]).dump() | {"outcome": "NotRegistered"}
    with pytest.raises(InvalidEvent, match="DeregisterTargets"):
        deregister_targets_handler.handler(payload, lambda_context)


def test_invalid_target_for_a_group_asks_each_target_alone(elbv2: Stubber) -> None:
    state = draining_state([APP, ADMIN])
    elbv2.add_client_error("describe_target_health", service_error_code="InvalidTarget", http_status_code=400)
    elbv2.add_response(
        "describe_target_health",
        health(("10.0.1.25", 8080, "draining", None)),
        {"TargetGroupArn": TG, "Targets": [{"Id": "10.0.1.25", "Port": 8080}]},
    )
    elbv2.add_client_error("describe_target_health", service_error_code="InvalidTarget", http_status_code=400)
    with at(10):
        result = check_drain(state)
    assert progress_of(result).status == "draining"
    assert [(t.id, t.port) for t in progress_of(result).draining] == [("10.0.1.25", 8080)]


def test_drained_state_says_so_in_its_outcome(elbv2: Stubber) -> None:
    state = draining_state([APP])
    elbv2.add_response(
        "describe_target_health", health(("10.0.1.25", 8080, "unused", "Target.NotRegistered"))
    )
    with at(30):
        result = check_drain(state)
    assert result.outcome == "Drained"
    assert result.reason == "test; all drained 30 s after deregistration, 90 s before the deadline"


def test_unhealthy_draining_is_draining(elbv2: Stubber) -> None:
    """Regression: the documented state unhealthy.draining was reported as still in service."""
    state = draining_state([APP])
    elbv2.add_response("describe_target_health", health(("10.0.1.25", 8080, "unhealthy.draining", None)))
    with at(5):
        result = check_drain(state)
    assert progress_of(result).status == "draining"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "10.0.2.17"}, "not addresses of task"),  # regression: a made-up input deregistered it
        ({"port": 0}, "greater than or equal to 1"),
    ],
)
def test_deregister_refuses_targets_that_are_not_the_tasks(
    lambda_context: Any, change: dict[str, Any], message: str
) -> None:
    payload = resolved([APP]).dump()
    payload["targets"][0].update(change)
    with pytest.raises(InvalidEvent, match=message):
        deregister_targets_handler.handler(payload, lambda_context)


def test_naive_times_in_the_loop_state_are_refused(lambda_context: Any) -> None:
    payload = draining_state([APP]).dump()
    payload["drain"]["deadline"] = "2026-11-20T03:02:00"
    with pytest.raises(InvalidEvent, match="timezone"):
        check_drain_handler.handler(payload, lambda_context)


def test_no_deregistration_after_the_deadline(elbv2: Stubber) -> None:
    """A late retry, replay or redrive of DeregisterTargets must not touch an address that may
    belong to another task by now (no DeregisterTargets call is stubbed: none may be made)."""
    with at(121), pytest.raises(StaleNotice, match="after the drain deadline"):
        deregister_targets(resolved([APP]))


@pytest.mark.parametrize(
    ("protocol", "delay", "first_wait"),
    [
        ("TCP", 30, 30),  # NLB: drains for the whole delay; the first look is when it should be over
        ("TLS", 300, 118),  # ... but never past the deadline (120 s after the notice)
        ("HTTP", 30, 5),  # ALB: a target without in-flight requests is done at once: probe early
        ("HTTPS", 3, 3),  # ... no later than the delay itself
    ],
)
def test_first_wait_follows_the_groups_delay_and_the_time_left(
    elbv2: Stubber, protocol: str, delay: int, first_wait: int
) -> None:
    request = resolved([APP], delay=delay)
    groups = [group.model_copy(update={"protocol": protocol}) for group in request.target_groups]
    elbv2.add_response("deregister_targets", {})
    with at(2):
        state = deregister_targets(request.model_copy(update={"target_groups": groups}))
    assert progress_of(state).next_wait_seconds == first_wait


def test_the_guard_proves_ownership_again_when_deregistration_is_slow(owned: mock.MagicMock) -> None:
    """Between the proof and a later group's DeregisterTargets the address may change hands: after
    a slow call the guard asks again, and stops there, keeping what it already sent."""
    owned.side_effect = [
        Ownership(proof="ENI"),
        Ownership(proof="EC2", reassigned="10.0.1.25 now held by eni-new"),
    ]
    ticks = iter(range(100))  # every look at the clock is 1.5 s later than the last
    times = (T0 + timedelta(seconds=1.5 * tick) for tick in ticks)
    with (
        Stubber(client("elbv2", REGION)) as stub,
        mock.patch.object(spotdrain.clock, "now", side_effect=lambda: next(times)),
    ):
        stub.add_response(
            "deregister_targets", {}, {"TargetGroupArn": TG, "Targets": [{"Id": "10.0.1.25", "Port": 8080}]}
        )
        result = deregister_targets(resolved([APP, OUTSIDE]))
        stub.assert_no_pending_responses()
    assert result.outcome == "SkippedIpReassigned"
    assert [(t.target_group_arn, t.port) for t in result.deregistered] == [(TG, 8080)]
    assert "no further deregistration (deregistered before: 10.0.1.25:8080)" in result.reason
