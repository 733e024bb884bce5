"""Never harm a healthy target: IP reuse, ineffective deregistrations, endless drains, duplicates.

Whole executions on the local engine (the real definition and handlers on moto).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spotdrain_cli import simulate
from spotdrain_cli.world import World
from tests.conftest import Runner, load_event, world

NOTICE = "spot-interruption-with-eni.json"
HISTORY_LIMIT = 25_000


def states_of(result: dict[str, Any]) -> dict[tuple[str, int], str]:
    return {
        (target["id"], target["port"]): target["state"]
        for group in result["targets_after"]
        for target in group["targets"]
    }


def with_version(event: dict[str, Any], version: int) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    changed["detail"]["version"] = version
    return changed


# --- IP reuse guard ---------------------------------------------------------------------------
def test_replacement_task_holding_the_address_is_never_touched(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "ip-reassigned.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "SkippedIpReassigned")
    assert result["deregistered"] == []
    assert "elbv2:DeregisterTargets" not in result["api_calls"]
    assert result["api_calls"]["ec2:DescribeNetworkInterfaces"] == 1
    assert states_of(result) == {("10.0.1.25", 8080): "healthy", ("10.0.2.17", 8080): "healthy"}
    assert "eni-0replacement00000a" in result["output"]["reason"]


def test_the_guard_runs_again_on_every_retry(run_workflow: Runner) -> None:
    """The first DeregisterTargets attempt is throttled at the guard; the retried attempt runs the
    guard again (never a cached answer) and still refuses."""
    data = world("ip-reassigned.yaml").model_dump(by_alias=True, exclude_none=True)
    data["faults"] = [
        {"operation": "ec2:DescribeNetworkInterfaces", "error": "Throttling", "calls": [1, 2, 3]}
    ]
    result = simulate.run(load_event(NOTICE), World.model_validate(data), time_scale=0)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "SkippedIpReassigned")
    assert result["retries"] == 1
    assert result["api_calls"]["ec2:DescribeNetworkInterfaces"] == 4
    assert "elbv2:DeregisterTargets" not in result["api_calls"]
    assert set(states_of(result).values()) == {"healthy"}


def test_the_tasks_own_eni_is_the_proof_in_the_default_world(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert "still held by the task's ENI eni-0a1b2c3d4e5f60001" in result["output"]["reason"]
    assert "ecs:ListTasks" not in result["api_calls"]  # the ENI settles it


# --- effectiveness -----------------------------------------------------------------------------
def test_a_deregistration_that_silently_did_not_take_effect_is_sent_again(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "deregister-ignored-once.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert result["api_calls"]["elbv2:DeregisterTargets"] == 2
    # looked at when the NLB's delay was over (still healthy: sent again), 5 s later (draining
    # now), and when the delay was over again: drained
    assert result["states"].count("CheckDrain") == 3
    assert result["simulated_seconds"] == 60
    # the second call carried the registration's zone, as ELBv2 reported it
    assert [(d["id"], d["port"], d.get("availabilityZone")) for d in result["deregistered"]] == [
        ("10.0.1.25", 8080, "us-east-1a")
    ]
    assert states_of(result)[("10.0.2.17", 8080)] == "healthy"


def test_a_deregistration_that_never_takes_effect_fails_by_name_not_drained(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "deregister-never-effective.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "DeregistrationIneffective")
    assert "Drained" not in result["states"]
    assert result["states"][-4:] == ["CheckDrain", "RouteFailure", "ReleaseNoticeClaim", "Failed"]
    assert result["failed_state"] == "CheckDrain"
    assert result["api_calls"]["elbv2:DeregisterTargets"] == 2  # once, then once more: no more
    assert [n["message"]["error"] for n in result["notifications"]] == ["DeregistrationIneffective"]
    assert states_of(result)[("10.0.1.25", 8080)] == "healthy"  # reported as it is, never "drained"


# --- bounded drain ------------------------------------------------------------------------------
def test_a_target_that_never_finishes_draining_is_bounded(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "never-drains.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "DrainTimeout")
    assert "attempts exhausted after 200 check(s)" in result["cause"]
    assert result["states"].count("CheckDrain") == 200
    assert [n["message"]["error"] for n in result["notifications"]] == ["DrainTimeout"]
    # about 9 history events per poll: far below the service's limit
    assert result["history_events"] < 2_000 < HISTORY_LIMIT
    assert result["simulated_seconds"] < 3600


def test_a_drain_longer_than_the_spot_warning_ends_at_the_deadline(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "slow-drain.yaml")
    assert (result["status"], result["error"]) == ("FAILED", "DrainTimeout")
    assert "deadline passed" in result["cause"]
    assert result["simulated_seconds"] <= 120 + 1
    assert result["states"].count("CheckDrain") <= 3


def test_the_first_wait_follows_an_nlb_groups_delay(run_workflow: Runner) -> None:
    """NLB (TCP) group, delay 30 s: one check when the delay is over, no early probe."""
    result = run_workflow(NOTICE)
    waits = [state for state in result["states"] if state == "WaitForDrain"]
    assert len(waits) == 1
    assert 30 <= result["simulated_seconds"] < 31


# --- idempotency --------------------------------------------------------------------------------
def test_the_same_notice_twice_drains_once() -> None:
    notice = load_event(NOTICE)
    first, second = simulate.run_sequence([notice, notice], world("default.yaml"))
    assert (first["outcome"], second["outcome"]) == ("Drained", "AlreadyHandled")
    assert second["status"] == "SUCCEEDED"
    assert "duplicate of the notice already handled by execution" in second["output"]["reason"]
    assert first["execution_arn"] in second["output"]["reason"]
    assert "elbv2:DeregisterTargets" not in second["api_calls"]


def test_a_newer_notice_for_the_same_task_runs_without_extra_harm() -> None:
    notice = load_event(NOTICE)
    first, second = simulate.run_sequence(
        [with_version(notice, 3), with_version(notice, 4)], world("default.yaml")
    )
    assert first["outcome"] == "Drained"
    assert (second["status"], second["outcome"]) == ("SUCCEEDED", "NotRegistered")  # already gone
    assert second["deregistered"] == []
    assert states_of(second)[("10.0.2.17", 8080)] == "healthy"


def test_an_older_notice_after_a_newer_one_is_recognised() -> None:
    notice = load_event(NOTICE)
    newer, older = simulate.run_sequence(
        [with_version(notice, 5), with_version(notice, 3)], world("default.yaml")
    )
    assert newer["outcome"] == "Drained"
    assert older["outcome"] == "AlreadyHandled"
    assert "older than notice version 5" in older["output"]["reason"]


def test_a_rerun_after_success_ends_without_error_or_harm() -> None:
    notice = load_event(NOTICE)
    results = simulate.run_sequence(
        [notice, notice], world("default.yaml"), names=["original", "rerun-original"]
    )
    assert [r["status"] for r in results] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(results[0]["deregistered"]) + len(results[1]["deregistered"]) == 1


def test_a_notice_arriving_after_the_task_has_long_stopped_is_stale() -> None:
    (late,) = simulate.run_sequence([load_event(NOTICE)], world("default.yaml"), start_delay_seconds=600)
    assert (late["status"], late["outcome"]) == ("SUCCEEDED", "Ignored")
    assert late["output"]["reason"].startswith("stale notice: 600 s old")
    assert late["deregistered"] == []


@pytest.mark.parametrize("world_name", ["ecs-already-deregistered.yaml", "default.yaml"])
def test_a_target_ecs_already_removed_needs_no_second_deregistration(world_name: str) -> None:
    notice = load_event(NOTICE)
    result = simulate.run(notice, world(world_name), time_scale=0)
    assert result["status"] == "SUCCEEDED"
    calls = result["api_calls"].get("elbv2:DeregisterTargets", 0)
    assert calls == (0 if world_name == "ecs-already-deregistered.yaml" else 1)


def test_the_same_address_in_another_vpcs_target_group_is_another_host(run_workflow: Runner) -> None:
    result = run_workflow(NOTICE, "other-vpc-same-address.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert [(d["targetGroup"], d["id"]) for d in result["deregistered"]] == [("web-8080", "10.0.1.25")]
    after = {(g["targetGroup"], t["id"]): t["state"] for g in result["targets_after"] for t in g["targets"]}
    assert after[("partner-8080", "10.0.1.25")] == "healthy"
    (skip,) = result["output"]["skipped"]
    assert "there the address is another host" in skip["reason"]


def test_a_new_execution_may_retry_a_notice_whose_drain_failed() -> None:
    """The first execution fails at DeregisterTargets, still holding the notice's claim (it stays
    redrivable); a second delivery asks Step Functions, sees the holder FAILED, takes over."""
    data = world("default.yaml").model_dump(by_alias=True, exclude_none=True)
    data["faults"] = [{"operation": "elbv2:DeregisterTargets", "error": "AccessDenied", "calls": [1]}]
    notice = load_event(NOTICE)
    failed, again = simulate.run_sequence([notice, notice], World.model_validate(data))
    assert (failed["status"], failed["error"]) == ("FAILED", "AwsAccessDenied")
    assert (failed["states"][-1], failed["failed_state"]) == ("DeregisterTargets", "DeregisterTargets")
    assert "ReleaseNoticeClaim" not in failed["states"]
    assert (again["status"], again["outcome"]) == ("SUCCEEDED", "Drained")
    assert again["api_calls"]["dynamodb:UpdateItem"] == 2  # the claim refused, then taken over


def without_subnet(event: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    for attachment in changed["detail"]["attachments"]:
        attachment["details"] = [d for d in attachment["details"] if d["name"] != "subnetId"]
    return changed


def test_an_unknown_task_vpc_with_registrations_in_several_vpcs_is_refused() -> None:
    """No subnet in the event and no ENI left: which 10.0.1.25 is the task's cannot be told."""
    result = simulate.run(
        without_subnet(load_event(NOTICE)), world("other-vpc-same-address.yaml"), time_scale=0
    )
    assert (result["status"], result["error"]) == ("FAILED", "InvalidEvent")
    assert "cannot tell the task's VPC" in result["cause"]
    assert result["deregistered"] == []


def test_the_task_vpc_comes_from_its_eni_when_the_event_names_no_subnet() -> None:
    data = world("other-vpc-same-address.yaml").model_dump(by_alias=True, exclude_none=True)
    data["ecs"]["tasks"] = world("default.yaml").model_dump(by_alias=True, exclude_none=True)["ecs"]["tasks"]
    result = simulate.run(without_subnet(load_event(NOTICE)), World.model_validate(data), time_scale=0)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert [(d["targetGroup"], d["id"]) for d in result["deregistered"]] == [("web-8080", "10.0.1.25")]


def test_a_long_skip_reason_is_cut_not_fatal() -> None:
    data = world("other-vpc-same-address.yaml").model_dump(by_alias=True, exclude_none=True)
    partner = next(g for g in data["targetGroups"] if g["name"] == "partner-8080")
    partner["targets"] = [{"id": "10.0.1.25", "port": 9000 + i} for i in range(30)]
    result = simulate.run(load_event(NOTICE), World.model_validate(data), time_scale=0)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    (skip,) = result["output"]["skipped"]
    assert "and 25 more" in skip["reason"]
