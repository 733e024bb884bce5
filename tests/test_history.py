"""Reading an execution's history: path, timings, retries, and the state that really failed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from spotdrain_cli.engine import Simulation
from spotdrain_cli.history import ExecutionNotFound, analyse, read_history
from spotdrain_cli.simulate import event_place
from tests.conftest import load_event, world

ARN = "arn:aws:states:us-east-1:111122223333:execution:DrainStateMachine:x"


def history_of(
    world_name: str, event: str = "spot-interruption-with-eni.json"
) -> tuple[list[dict[str, Any]], int]:
    notice = load_event(event)
    region, account, when = event_place(notice)
    with Simulation(world(world_name), region=region, account=account, start=when) as sim:
        arn = sim.start(notice, name="history")
        sim.wait(arn)
        events = read_history(sim.client("stepfunctions"), arn)
        return events, len(sim.history(arn))


def visit(result: dict[str, Any], name: str) -> dict[str, Any]:
    return next(state for state in result["states"] if state["name"] == name)


def test_the_failed_state_is_the_one_that_failed_not_the_failure_branch() -> None:
    events, _ = history_of("access-denied.yaml")
    result = analyse(events)
    assert (result["status"], result["error"], result["failed_state"]) == (
        "FAILED",
        "AwsAccessDenied",
        "DeregisterTargets",
    )
    assert visit(result, "DeregisterTargets")["result"] == "failed"
    assert visit(result, "DeregisterTargets")["errors"][0]["error"] == "AwsAccessDenied"
    assert result["states"][-1]["name"] == "DeregisterTargets"  # not caught: redrivable there
    assert visit(result, "ResolveTargets")["result"] == "succeeded"


def test_a_caught_error_names_the_state_it_came_from_not_the_failure_branch() -> None:
    events, _ = history_of("deregister-never-effective.yaml")
    result = analyse(events)
    assert (result["status"], result["error"], result["failed_state"], result["outcome"]) == (
        "FAILED",
        "DeregistrationIneffective",
        "CheckDrain",
        "Failed",
    )
    assert [s["name"] for s in result["states"]][-4:] == [
        "CheckDrain",
        "RouteFailure",
        "ReleaseNoticeClaim",
        "Failed",
    ]
    assert [s["result"] for s in result["states"]][-4:] == ["caught", "succeeded", "succeeded", "ended"]


def test_retries_are_counted_and_a_retried_state_succeeded() -> None:
    events, _ = history_of("throttled-deregister.yaml")
    result = analyse(events)
    assert (result["status"], result["outcome"], result["failed_state"]) == ("SUCCEEDED", "Drained", None)
    deregister = visit(result, "DeregisterTargets")
    assert (deregister["attempts"], deregister["retries"], deregister["result"]) == (5, 4, "succeeded")
    assert [e["error"] for e in deregister["errors"]] == ["AwsThrottled"] * 4
    assert result["retries"] == 4
    wait = visit(result, "WaitForDrain")
    assert wait["seconds"] == pytest.approx(30, abs=1)


def test_an_execution_still_running_ends_in_a_running_state() -> None:
    events, _ = history_of("default.yaml")
    cut = next(i for i, e in enumerate(events) if e["type"] == "WaitStateEntered") + 1
    result = analyse(events[:cut])
    assert (result["status"], result["outcome"], result["failed_state"]) == ("RUNNING", None, None)
    assert result["states"][-1]["name"] == "WaitForDrain"
    assert result["states"][-1]["result"] == "running"
    assert result["states"][-1]["exited"] is None


def test_a_long_history_is_read_over_every_page() -> None:
    notice = load_event("spot-interruption-with-eni.json")
    region, account, when = event_place(notice)
    with Simulation(world("never-drains.yaml"), region=region, account=account, start=when) as sim:
        arn = sim.start(notice, name="long")
        sim.wait(arn)
        sfn = sim.client("stepfunctions")
        pages: list[int] = []
        sfn.meta.events.register(
            "after-call.sfn.GetExecutionHistory", lambda parsed, **_: pages.append(len(parsed["events"]))
        )
        events = read_history(sfn, arn)
        total = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=1)["events"][0][
            "id"
        ]
    assert total > 1000  # more than one page of GetExecutionHistory (1,000 at most)
    assert pages[:2] == [1000, total - 1000]
    assert len(events) == total
    assert [e["id"] for e in events] == list(range(1, total + 1))
    result = analyse(events)
    assert (result["status"], result["error"], result["failed_state"]) == (
        "FAILED",
        "DrainTimeout",
        "CheckDrain",
    )
    assert sum(1 for s in result["states"] if s["name"] == "CheckDrain") == 200


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def event(number: int) -> dict[str, Any]:
    return {
        "id": number,
        "type": "PassStateEntered",
        "timestamp": datetime(2026, 11, 20, tzinfo=UTC) + timedelta(seconds=number),
        "stateEnteredEventDetails": {"name": f"S{number}"},
    }


def test_every_page_is_asked_for_with_the_token_it_was_given(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "get_execution_history",
        {"events": [event(1), event(2)], "nextToken": "page-2"},
        {"executionArn": ARN, "maxResults": 1000},
    )
    stub.add_response(
        "get_execution_history",
        {"events": [event(3)]},
        {"executionArn": ARN, "maxResults": 1000, "nextToken": "page-2"},
    )
    assert [e["id"] for e in read_history(client, ARN)] == [1, 2, 3]


def test_an_execution_that_no_longer_exists_is_a_clear_message(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_client_error("get_execution_history", "ExecutionDoesNotExist", "Execution Does Not Exist")
    with pytest.raises(ExecutionNotFound, match="kept for 90 days"):
        read_history(client, ARN)


# --- spotdrain history --------------------------------------------------------------------------
def run_history(
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    pages: list[list[dict[str, Any]]] | None = None,
    error: str | None = None,
) -> tuple[int, Any]:
    from spotdrain_cli import cli

    client = boto3.client("stepfunctions", region_name="us-east-1")
    stub = Stubber(client)
    if error:
        stub.add_client_error("get_execution_history", error, "Execution Does Not Exist")
    for index, page in enumerate(pages or []):
        response: dict[str, Any] = {"events": page}
        expected: dict[str, Any] = {"executionArn": ARN, "maxResults": 1000}
        if index + 1 < len(pages or []):
            response["nextToken"] = f"t{index + 1}"
        if index:
            expected["nextToken"] = f"t{index}"
        stub.add_response("get_execution_history", response, expected)
    stub.activate()
    asked: list[tuple[str, Any, Any]] = []

    def fake_client(region: str, profile: str | None, endpoint_url: str | None) -> Any:
        asked.append((region, profile, endpoint_url))
        return client

    monkeypatch.setattr(cli, "stepfunctions_client", fake_client)
    code = cli.main(["history", ARN, *args])
    stub.assert_no_pending_responses()
    return code, asked


def test_history_prints_the_path_and_the_state_that_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events, _ = history_of("deregister-never-effective.yaml")
    code, asked = run_history(monkeypatch, "--profile", "ops", pages=[events[:20], events[20:]])
    out = capsys.readouterr().out
    assert (code, asked) == (0, [("us-east-1", "ops", None)])
    assert (
        "Status: FAILED — DeregistrationIneffective at CheckDrain: deregistration did not take effect" in out
    )
    assert "CheckDrain           caught" in out
    assert "RouteFailure         succeeded" in out
    assert "Failed               ended" in out
    assert f"History: {len(events)} events, 0 retries" in out


def test_history_json_is_the_analysis(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events, _ = history_of("throttled-deregister.yaml")
    code, _ = run_history(monkeypatch, "--json", "--region", "eu-west-1", pages=[events])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (result["status"], result["outcome"], result["retries"]) == ("SUCCEEDED", "Drained", 4)
    assert result["execution_arn"] == ARN


def test_history_of_an_unknown_execution_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_history(monkeypatch, error="ExecutionDoesNotExist")
    err = capsys.readouterr().err
    assert code == 1
    assert "no execution" in err
    assert "90 days" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "arn", ["not-an-arn", "arn:aws:states:us-east-1:111122223333:stateMachine:DrainStateMachine"]
)
def test_history_refuses_what_is_not_an_execution_arn(arn: str, capsys: pytest.CaptureFixture[str]) -> None:
    from spotdrain_cli import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["history", arn])
    assert exit_info.value.code == 2
    assert "execution ARN" in capsys.readouterr().err


def test_history_of_an_execution_still_running_says_where_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events, _ = history_of("default.yaml")
    cut = next(i for i, e in enumerate(events) if e["type"] == "WaitStateEntered") + 1
    code, _ = run_history(monkeypatch, pages=[events[:5], events[5:cut]])
    out = capsys.readouterr().out
    assert code == 0
    assert "Status: RUNNING" in out
    assert "WaitForDrain         running          …" in out
