"""Whole-workflow tests: the real definition and handlers on the local engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Runner

NEIGHBOUR = {"id": "10.0.2.17", "port": 8080, "state": "healthy"}


def targets_after(result: dict[str, Any], group: str) -> list[dict[str, Any]]:
    (entry,) = [g for g in result["targets_after"] if g["targetGroup"] == group]
    targets: list[dict[str, Any]] = entry["targets"]
    return targets


def test_drains_when_the_delay_is_over_and_never_touches_the_neighbour(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json")
    assert result["status"] == "SUCCEEDED"
    assert result["outcome"] == "Drained"
    assert result["states"] == [
        "ParseEvent",
        "RouteEvent",
        "ResolveTargets",
        "RouteTargets",
        "DeregisterTargets",
        "RouteDeregistration",
        "WaitForDrain",  # an NLB group drains for its whole delay: one look when it is over
        "CheckDrain",
        "RouteDrain",
        "Drained",
    ]
    assert [(d["targetGroup"], d["id"], d["port"]) for d in result["deregistered"]] == [
        ("web-8080", "10.0.1.25", 8080)
    ]
    assert targets_after(result, "web-8080") == [
        {"id": "10.0.1.25", "port": 8080, "state": "unused"},
        NEIGHBOUR,
    ]
    assert result["api_calls"]["elbv2:DeregisterTargets"] == 1
    # The 30 s delay elapses at t+30: detected then, not later, and never after the deadline.
    assert result["simulated_seconds"] == 30
    assert result["output"]["drain"]["status"] == "drained"
    assert result["output"]["outcome"] == "Drained"
    assert result["output"]["reason"].endswith(
        "all drained 30 s after deregistration, 90 s before the deadline"
    )
    assert result["notifications"] == []


def test_event_without_network_details_uses_describe_tasks(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-awsdocs-current.json")
    assert result["outcome"] == "Drained"
    assert result["api_calls"]["ecs:DescribeTasks"] == 1
    assert result["output"]["task"]["networkSource"] == "DescribeTasks"
    assert result["output"]["task"]["ipv4"] == ["10.0.1.25"]


def test_task_ecs_no_longer_knows_ends_task_not_found(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-unknown-task.json")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "TaskNotFound")
    assert "elbv2:DeregisterTargets" not in result["api_calls"]


def test_target_ecs_already_deregistered_is_waited_for_not_deregistered_again(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "ecs-already-deregistered.yaml")
    assert result["outcome"] == "Drained"
    assert "elbv2:DeregisterTargets" not in result["api_calls"]
    assert result["deregistered"] == []
    assert "1 already draining (deregistered by ECS or another tool)" in result["output"]["reason"]
    # 12 s of drain were left; polled at the configured pace rather than a whole delay.
    assert 12 <= result["simulated_seconds"] <= 17
    assert targets_after(result, "web-8080") == [
        {"id": "10.0.1.25", "port": 8080, "state": "unused"},
        NEIGHBOUR,
    ]


def test_task_registered_nowhere_ends_not_registered(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "registered-nowhere.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "NotRegistered")
    assert "elbv2:DeregisterTargets" not in result["api_calls"]
    assert targets_after(result, "web-8080") == [NEIGHBOUR]


@pytest.mark.parametrize(
    "event", ["fargate-task-running-awsdocs.json", "fargate-spot-service-task-pending.json"]
)
def test_non_interruption_events_are_ignored_without_touching_aws(run_workflow: Runner, event: str) -> None:
    result = run_workflow(event)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Ignored")
    assert result["states"] == ["ParseEvent", "RouteEvent", "Ignored"]
    assert result["api_calls"] == {}
    assert "desiredStatus" in result["output"]["reason"]


def test_throttled_elbv2_call_is_retried_to_success(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "throttled-deregister.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert result["faults_injected"] == {"elbv2:DeregisterTargets": 4}
    assert result["api_calls"]["elbv2:DeregisterTargets"] == 5
    # DeregisterTargets goes out once per attempt (never long after the guard's proof): four
    # workflow retries, each running the guard again, and the fifth attempt succeeds
    assert (result["retries"], result["sdk_retries"]) == (4, 0)
    assert result["api_calls"]["ec2:DescribeNetworkInterfaces"] == 5
    assert len(result["deregistered"]) == 1
    assert result["notifications"] == []


def test_permanent_failure_fails_at_the_state_so_it_can_be_redriven(run_workflow: Runner) -> None:
    """Not caught: the execution fails in DeregisterTargets itself, which is what lets
    RedriveExecution resume there once the permission is fixed. The status rule notifies."""
    result = run_workflow("spot-interruption-with-eni.json", "access-denied.yaml")
    assert (result["status"], result["outcome"], result["failed_state"]) == (
        "FAILED",
        "Failed",
        "DeregisterTargets",
    )
    assert result["error"] == "AwsAccessDenied"
    assert "not authorized" in result["cause"]
    assert result["states"][-2:] == ["RouteTargets", "DeregisterTargets"]
    assert result["api_calls"]["elbv2:DeregisterTargets"] == 1  # permanent: not retried
    assert "sns:Publish" not in result["api_calls"]  # the workflow itself publishes nothing
    assert result["retries"] == 0
    (notice,) = result["notifications"]
    assert notice["subject"] is None
    assert (notice["message"]["status"], notice["message"]["error"]) == ("FAILED", "AwsAccessDenied")
    assert "not authorized" in notice["message"]["cause"]
    assert notice["message"]["execution"] == result["execution_arn"]
    arn = result["execution_arn"]
    assert (
        notice["message"]["next"] == f"spotdrain history {arn}; fix the cause, then spotdrain redrive {arn}"
    )
    # nothing was deregistered, the task is still in service: an operator must act
    assert targets_after(result, "web-8080")[0] == {"id": "10.0.1.25", "port": 8080, "state": "healthy"}


def test_drain_that_outlasts_the_deadline_is_bounded_and_notified(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "slow-drain.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "DrainTimeout")
    assert result["simulated_seconds"] <= 120  # never polls past the deadline
    assert result["states"].count("CheckDrain") <= 3
    assert result["history_events"] < 100
    assert result["notifications"][0]["message"]["error"] == "DrainTimeout"


def test_every_registration_in_every_group_is_drained(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "two-groups-two-ports.yaml")
    assert result["outcome"] == "Drained"
    assert sorted((d["targetGroup"], d["port"]) for d in result["deregistered"]) == [
        ("admin-9090", 9090),
        ("web-8080", 8080),
        ("web-8080", 8443),
    ]
    assert targets_after(result, "web-8080") == [
        {"id": "10.0.1.25", "port": 8080, "state": "unused"},
        {"id": "10.0.1.25", "port": 8443, "state": "unused"},
        NEIGHBOUR,
    ]
    assert {"id": "10.0.2.17", "port": 9090, "state": "healthy"} in targets_after(result, "admin-9090")


def test_malformed_event_fails_fast_without_retries(run_workflow: Runner) -> None:
    result = run_workflow("malformed-detail-as-string.json")
    assert (result["status"], result["error"]) == ("FAILED", "InvalidEvent")
    assert result["retries"] == 0
    assert result["states"] == ["ParseEvent", "CaptureParseError", "Failed"]
    assert "detail" in result["cause"]
    assert [n["message"]["error"] for n in result["notifications"]] == ["InvalidEvent"]


def test_failure_and_success_are_told_apart_from_the_json_alone(run_workflow: Runner) -> None:
    happy = run_workflow("spot-interruption-with-eni.json")
    failed = run_workflow("spot-interruption-with-eni.json", "access-denied.yaml")
    assert (happy["status"], happy["outcome"], happy["error"]) == ("SUCCEEDED", "Drained", None)
    assert (failed["status"], failed["outcome"], failed["error"]) == ("FAILED", "Failed", "AwsAccessDenied")
    assert (happy["failed_state"], failed["failed_state"]) == (None, "DeregisterTargets")
    assert happy["notifications"] == []


def test_event_from_a_region_not_allowed_fails_before_any_call(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "other-region-refused.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "AccountOrRegionNotAllowed")
    assert "us-east-1" in result["cause"]
    assert result["retries"] == 0
    assert result["deregistered"] == []
    assert result["api_calls"] == {}
    assert [n["message"]["error"] for n in result["notifications"]] == ["AccountOrRegionNotAllowed"]
    assert targets_after(result, "web-8080") == [{"id": "10.0.1.25", "port": 8080, "state": "healthy"}]


def test_by_default_only_the_stacks_own_account_and_region_are_allowed(run_workflow: Runner) -> None:
    """The simulated stack lives in the event's account and region, so the default allows it."""
    result = run_workflow("spot-interruption-with-eni.json")
    assert result["outcome"] == "Drained"


def test_odd_faults_keep_their_names_in_the_execution_and_the_notice(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "odd-faults.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "AwsRequestFailed")
    assert "ValidationError: Weird<Code>& a < b & c" in result["cause"]
    assert result["failed_state"] == "DeregisterTargets"
    assert [n["message"]["error"] for n in result["notifications"]] == ["AwsRequestFailed"]
    assert "Weird<Code>& a < b & c" in result["notifications"][0]["message"]["cause"]
