"""The simulator's RedriveExecution and GetExecutionHistory paging: AWS's semantics, not moto's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spotdrain_cli import sim_redrive
from spotdrain_cli.engine import Simulation
from spotdrain_cli.history import analyse, read_history
from spotdrain_cli.simulate import event_place
from tests.conftest import load_event, world

NOTICE = "spot-interruption-with-eni.json"


@pytest.fixture
def failed() -> Iterator[tuple[Simulation, Any, str]]:
    """An interruption whose DeregisterTargets is refused (AccessDenied): FAILED at that step."""
    notice = load_event(NOTICE)
    region, account, when = event_place(notice)
    with Simulation(world("access-denied.yaml"), region=region, account=account, start=when) as sim:
        arn = sim.start(notice, name="denied")
        assert sim.wait(arn)["status"] == "FAILED"
        yield sim, sim.client("stepfunctions"), arn


def redrive_and_wait(sim: Simulation, sfn: Any, arn: str, token: str) -> dict[str, Any]:
    sfn.redrive_execution(executionArn=arn, clientToken=token)
    return sim.wait(arn)


def test_a_healed_world_lets_the_redrive_resume_at_the_failed_state(
    failed: tuple[Simulation, Any, str],
) -> None:
    sim, sfn, arn = failed
    before = sfn.describe_execution(executionArn=arn)
    assert (before["redriveCount"], before["redriveStatus"]) == (0, "REDRIVABLE")
    sim.world.faults = []  # the policy is fixed
    after = redrive_and_wait(sim, sfn, arn, "token-1")
    assert (after["status"], after["redriveCount"]) == ("SUCCEEDED", 1)
    assert after["executionArn"] == arn  # the same execution, its history grown

    result = analyse(read_history(sfn, arn))
    assert result["redrives"] == 1
    assert [(run["status"], run["failed_state"]) for run in result["runs"]] == [
        ("FAILED", "DeregisterTargets"),
        ("SUCCEEDED", None),
    ]
    names = [(state["name"], state["run"]) for state in result["states"]]
    # the states that had succeeded ran once, in the first run; the redrive began at DeregisterTargets
    assert [name for name, run in names if run == 0] == [
        "ParseEvent",
        "RouteEvent",
        "ResolveTargets",
        "RouteTargets",
        "DeregisterTargets",
    ]
    assert names[5] == ("DeregisterTargets", 1)
    assert result["outcome"] == "Drained"
    assert [d.id for d in sim.elb.deregistrations] == ["10.0.1.25"]
    types = [event["type"] for event in read_history(sfn, arn)]
    assert types.count("ExecutionStarted") == 1
    assert [t for t in types if t.startswith("Execution")] == [
        "ExecutionStarted",
        "ExecutionFailed",
        "ExecutionRedriven",
        "ExecutionSucceeded",
    ]


def test_the_redrive_resumes_with_the_failed_states_input(failed: tuple[Simulation, Any, str]) -> None:
    sim, sfn, arn = failed
    sim.world.faults = []
    redrive_and_wait(sim, sfn, arn, "t")
    visits = [
        state for state in analyse(read_history(sfn, arn))["states"] if state["name"] == "DeregisterTargets"
    ]
    assert len(visits) == 2
    assert visits[1]["input"] == visits[0]["input"]


def test_the_redriven_run_is_recorded_and_faulted_from_its_first_call(
    failed: tuple[Simulation, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: recording began only after the redrive's thread had started, so its first calls
    could escape the world's faults (a permanently denied deregistration "succeeded")."""
    sim, sfn, arn = failed
    seen: list[bool] = []
    logic = sim_redrive._RedriveWorker._execution_logic

    def observed(worker: Any) -> None:
        seen.append(sim.recording)
        logic(worker)

    monkeypatch.setattr(sim_redrive._RedriveWorker, "_execution_logic", observed)
    again = redrive_and_wait(sim, sfn, arn, "t1")
    assert seen == [True]
    assert (again["status"], again.get("error")) == ("FAILED", "AwsAccessDenied")


def test_the_same_client_token_does_not_redrive_twice(failed: tuple[Simulation, Any, str]) -> None:
    sim, sfn, arn = failed
    sim.world.faults = []
    first = sfn.redrive_execution(executionArn=arn, clientToken="same")
    sim.wait(arn)
    again = sfn.redrive_execution(executionArn=arn, clientToken="same")
    assert again["redriveDate"] == first["redriveDate"]
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1


def test_a_still_failing_world_fails_again_and_counts_the_redrive(
    failed: tuple[Simulation, Any, str],
) -> None:
    sim, sfn, arn = failed
    again = redrive_and_wait(sim, sfn, arn, "t1")
    assert (again["status"], again["error"], again["redriveCount"]) == ("FAILED", "AwsAccessDenied", 1)
    result = analyse(read_history(sfn, arn))
    assert [run["failed_state"] for run in result["runs"]] == ["DeregisterTargets", "DeregisterTargets"]
    sim.world.faults = []
    assert redrive_and_wait(sim, sfn, arn, "t2")["redriveCount"] == 2


def test_a_succeeded_execution_is_not_redrivable(failed: tuple[Simulation, Any, str]) -> None:
    sim, sfn, arn = failed
    sim.world.faults = []
    redrive_and_wait(sim, sfn, arn, "t")
    described = sfn.describe_execution(executionArn=arn)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    with pytest.raises(ClientError) as caught:
        sfn.redrive_execution(executionArn=arn, clientToken="t-new")
    assert caught.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert "SUCCEEDED" in caught.value.response["Error"]["Message"]


# --- GetExecutionHistory as AWS pages it -----------------------------------------------------------
def test_history_pages_follow_max_results_and_tokens(failed: tuple[Simulation, Any, str]) -> None:
    _, sfn, arn = failed
    whole = read_history(sfn, arn)
    assert [event["id"] for event in whole] == list(range(1, len(whole) + 1))
    first = sfn.get_execution_history(executionArn=arn, maxResults=7)
    assert [event["id"] for event in first["events"]] == list(range(1, 8))
    second = sfn.get_execution_history(executionArn=arn, maxResults=7, nextToken=first["nextToken"])
    assert [event["id"] for event in second["events"]] == list(range(8, 15))
    default = sfn.get_execution_history(executionArn=arn)
    assert len(default["events"]) == min(100, len(whole))


def test_history_in_reverse_without_data(failed: tuple[Simulation, Any, str]) -> None:
    _, sfn, arn = failed
    last = sfn.get_execution_history(
        executionArn=arn, reverseOrder=True, maxResults=1, includeExecutionData=False
    )
    (event,) = last["events"]
    assert event["type"] == "ExecutionFailed"
    entered = sfn.get_execution_history(executionArn=arn, maxResults=2, includeExecutionData=False)["events"][
        1
    ]
    assert entered["type"] == "TaskStateEntered"
    assert "input" not in entered["stateEnteredEventDetails"]


def test_a_forged_history_token_is_refused(failed: tuple[Simulation, Any, str]) -> None:
    _, sfn, arn = failed
    with pytest.raises(ClientError) as caught:
        sfn.get_execution_history(executionArn=arn, nextToken="not-ours")
    assert caught.value.response["Error"]["Code"] == "InvalidToken"
