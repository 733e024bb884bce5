"""Operating against AWS: the exact requests, pinned with botocore's Stubber (moto cannot answer
RedriveExecution, nor page a history or a listing as AWS does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from spotdrain_cli import cli, operate

REGION = "eu-west-1"
MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:prod-drain"
# now, not a fixed day: redrives are refused 14 days after the stop, and the CLI asks the clock
NOW = datetime.now(UTC).replace(microsecond=0)
TASK = "arn:aws:ecs:eu-west-1:111122223333:task/web/0123456789abcdef0123456789abcdef"


def arn(name: str) -> str:
    return f"arn:aws:states:eu-west-1:111122223333:execution:prod-drain:{name}"


def listed(name: str, minutes_ago: int, status: str = "FAILED") -> dict[str, Any]:
    return {
        "executionArn": arn(name),
        "stateMachineArn": MACHINE,
        "name": name,
        "status": status,
        "startDate": NOW - timedelta(minutes=minutes_ago),
    }


def described(name: str, status: str = "FAILED", **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "executionArn": arn(name),
        "stateMachineArn": MACHINE,
        "name": name,
        "status": status,
        "startDate": NOW - timedelta(minutes=30),
        "input": json.dumps({"detail": {"taskArn": TASK}}),
    }
    if status != "RUNNING":
        answer["stopDate"] = NOW - timedelta(minutes=29)
    if status == "FAILED":
        answer.update(error="AwsAccessDenied", cause="not authorized", redriveStatus="REDRIVABLE")
    if status == "SUCCEEDED":
        answer["output"] = json.dumps({"outcome": "Drained"})
    answer.update(extra)
    return answer


def tail(failed_at: str = "DeregisterTargets") -> dict[str, Any]:
    """The last history events of an execution that failed at ``failed_at`` (newest first)."""
    at = NOW - timedelta(minutes=29)
    return {
        "events": [
            {
                "id": 4,
                "type": "ExecutionFailed",
                "timestamp": at,
                "executionFailedEventDetails": {"error": "E"},
            },
            {
                "id": 3,
                "type": "TaskFailed",
                "timestamp": at,
                "taskFailedEventDetails": {**_resource(), "error": "E", "cause": "c"},
            },
            {"id": 2, "type": "TaskScheduled", "timestamp": at, "taskScheduledEventDetails": _scheduled()},
            {
                "id": 1,
                "type": "TaskStateEntered",
                "timestamp": at,
                "stateEnteredEventDetails": {"name": failed_at},
            },
        ]
    }


def _resource() -> dict[str, Any]:
    return {"resourceType": "lambda", "resource": "invoke"}


def _scheduled() -> dict[str, Any]:
    return {**_resource(), "region": REGION, "parameters": "{}"}


@pytest.fixture
def sfn() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def expect_tail(stub: Stubber, name: str, failed_at: str = "DeregisterTargets") -> None:
    stub.add_response(
        "get_execution_history",
        tail(failed_at),
        {"executionArn": arn(name), "reverseOrder": True, "maxResults": 100},
    )


# --- executions ----------------------------------------------------------------------------------
def test_the_listing_follows_every_page_token_with_the_status_filter(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "list_executions",
        {"executions": [listed("c", 1)], "nextToken": "page-2"},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "FAILED"},
    )
    stub.add_response("describe_execution", described("c"), {"executionArn": arn("c")})
    expect_tail(stub, "c")
    stub.add_response(
        "list_executions",
        {"executions": [listed("b", 2)]},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "FAILED", "nextToken": "page-2"},
    )
    stub.add_response("describe_execution", described("b"), {"executionArn": arn("b")})
    expect_tail(stub, "b", "CheckDrain")
    rows = operate.list_executions(client, MACHINE, statuses=("FAILED",))
    assert [(r.name, r.status, r.error, r.failed_state, r.task) for r in rows] == [
        ("c", "FAILED", "AwsAccessDenied", "DeregisterTargets", TASK),
        ("b", "FAILED", "AwsAccessDenied", "CheckDrain", TASK),
    ]


def test_since_stops_the_listing_at_the_first_older_execution(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "list_executions",
        {"executions": [listed("new", 5, "SUCCEEDED"), listed("old", 90, "SUCCEEDED")], "nextToken": "more"},
        {"stateMachineArn": MACHINE, "maxResults": 100},
    )
    stub.add_response("describe_execution", described("new", "SUCCEEDED"), {"executionArn": arn("new")})
    rows = operate.list_executions(client, MACHINE, since=NOW - timedelta(hours=1))
    assert [(r.name, r.outcome, r.failed_state) for r in rows] == [("new", "Drained", None)]
    # no second page asked for: everything after "old" is older still


def test_several_statuses_are_listed_one_by_one_and_merged_newest_first(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "list_executions",
        {"executions": [listed("f1", 10), listed("f2", 50)]},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "FAILED"},
    )
    stub.add_response(
        "list_executions",
        {"executions": [listed("t1", 20, "TIMED_OUT")]},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "TIMED_OUT"},
    )
    for name, status in (("f1", "FAILED"), ("t1", "TIMED_OUT"), ("f2", "FAILED")):
        stub.add_response("describe_execution", described(name, status), {"executionArn": arn(name)})
        expect_tail(stub, name)
    rows = operate.list_executions(client, MACHINE, statuses=("FAILED", "TIMED_OUT"))
    assert [r.name for r in rows] == ["f1", "t1", "f2"]


def test_the_task_filter_matches_the_arn_or_the_id_and_until_skips_newer(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    other = described("other", "SUCCEEDED", input=json.dumps({"detail": {"taskArn": TASK[:-1] + "0"}}))
    stub.add_response(
        "list_executions",
        {"executions": [listed("newest", 1, "SUCCEEDED"), listed("other", 20), listed("mine", 30)]},
        {"stateMachineArn": MACHINE, "maxResults": 100},
    )
    stub.add_response("describe_execution", other, {"executionArn": arn("other")})
    stub.add_response("describe_execution", described("mine", "SUCCEEDED"), {"executionArn": arn("mine")})
    rows = operate.list_executions(
        client, MACHINE, task="0123456789abcdef0123456789abcdef", until=NOW - timedelta(minutes=10)
    )
    assert [r.name for r in rows] == ["mine"]


def test_the_limit_reads_no_more_than_it_needs(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "list_executions",
        {"executions": [listed("a", 1, "SUCCEEDED"), listed("b", 2, "SUCCEEDED")], "nextToken": "x"},
        {"stateMachineArn": MACHINE, "maxResults": 100},
    )
    stub.add_response("describe_execution", described("a", "SUCCEEDED"), {"executionArn": arn("a")})
    assert [r.name for r in operate.list_executions(client, MACHINE, limit=1)] == ["a"]


# --- which state machine ---------------------------------------------------------------------------
def test_the_stack_output_names_the_state_machine() -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "prod",
                        "CreationTime": NOW,
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "FailureTopicArn", "OutputValue": "arn:aws:sns:eu-west-1:1:t"},
                            {"OutputKey": "StateMachineArn", "OutputValue": MACHINE},
                        ],
                    }
                ]
            },
            {"StackName": "prod"},
        )
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id nope does not exist")
        assert operate.state_machine_of_stack(cloudformation, "prod") == MACHINE
        with pytest.raises(operate.OperateError, match="Stack with id nope does not exist"):
            operate.state_machine_of_stack(cloudformation, "nope")


def test_without_a_name_the_one_drain_state_machine_is_used(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    machine = {"type": "STANDARD", "creationDate": NOW}
    stub.add_response(
        "list_state_machines",
        {"stateMachines": [{"stateMachineArn": "arn:x:other", "name": "other", **machine}], "nextToken": "n"},
        {"maxResults": 1000},
    )
    stub.add_response(
        "list_state_machines",
        {"stateMachines": [{"stateMachineArn": MACHINE, "name": "prod-drain", **machine}]},
        {"maxResults": 1000, "nextToken": "n"},
    )
    assert operate.only_drain_state_machine(client) == MACHINE
    stub.add_response("list_state_machines", {"stateMachines": []}, {"maxResults": 1000})
    with pytest.raises(operate.OperateError, match="--stack-name or --state-machine-arn"):
        operate.only_drain_state_machine(client)


# --- redrive -------------------------------------------------------------------------------------
def expect_size(stub: Stubber, name: str, events: int) -> None:
    stub.add_response(
        "get_execution_history",
        {"events": [{"id": events, "type": "ExecutionFailed", "timestamp": NOW}]},
        {"executionArn": arn(name), "reverseOrder": True, "maxResults": 1, "includeExecutionData": False},
    )


def test_a_redrive_carries_a_client_token_that_is_the_same_for_the_same_attempt(
    sfn: tuple[Any, Stubber],
) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x", redriveCount=2), {"executionArn": arn("x")})
    expect_size(stub, "x", 40)
    expect_tail(stub, "x")
    token = operate.client_token(arn("x"), 2)
    stub.add_response(
        "redrive_execution", {"redriveDate": NOW}, {"executionArn": arn("x"), "clientToken": token}
    )
    result = operate.redrive_one(client, arn("x"), dry_run=False, now=NOW)
    assert (result.action, result.redrive_count) == ("redriven", 3)
    assert "resumed at DeregisterTargets" in result.detail
    assert token == operate.client_token(arn("x"), 2) != operate.client_token(arn("x"), 3)
    assert len(token) <= 64
    assert token.isascii()


def test_a_dry_run_checks_and_calls_no_redrive(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x"), {"executionArn": arn("x")})
    expect_size(stub, "x", 40)
    expect_tail(stub, "x", "ResolveTargets")
    result = operate.redrive_one(client, arn("x"), dry_run=True, now=NOW)
    assert (result.action, result.detail) == ("would redrive", "would resume at ResolveTargets")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (described("x", "SUCCEEDED"), "it succeeded: there is nothing to redrive"),
        (described("x", "RUNNING"), "it is running"),
        (
            described("x", redriveStatus="NOT_REDRIVABLE", redriveStatusReason="Execution is SUCCEEDED"),
            "Step Functions says it is not redrivable: Execution is SUCCEEDED",
        ),
        (described("x", stopDate=NOW - timedelta(days=15)), "more than 14 days ago"),
        (
            described("x", error="DrainTimeout"),
            "final error DrainTimeout (the failure branch caught it): a redrive would only fail again",
        ),
    ],
)
def test_what_cannot_be_redriven_is_said_and_not_tried(
    sfn: tuple[Any, Stubber], answer: dict[str, Any], reason: str
) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", answer, {"executionArn": arn("x")})
    result = operate.redrive_one(client, arn("x"), dry_run=False, now=NOW)
    assert result.action == "not redrivable"
    assert reason in result.detail


def test_a_history_at_the_redrive_limit_is_not_redriven(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x"), {"executionArn": arn("x")})
    expect_size(stub, "x", 24_999)
    result = operate.redrive_one(client, arn("x"), dry_run=False, now=NOW)
    assert (result.action, result.detail) == (
        "not redrivable",
        "its history has 24999 events; a redrive needs fewer than 24999",
    )


def test_an_execution_that_no_longer_exists_is_an_error_not_a_traceback(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_client_error("describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist")
    result = operate.redrive_one(client, arn("gone"), dry_run=False, now=NOW)
    assert (result.action, result.detail) == ("error", "no such execution (or no longer kept: 90 days)")


def test_a_refused_redrive_keeps_its_reason(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x"), {"executionArn": arn("x")})
    expect_size(stub, "x", 40)
    expect_tail(stub, "x")
    stub.add_client_error("redrive_execution", "ExecutionLimitExceeded", "too many open executions")
    result = operate.redrive_one(client, arn("x"), dry_run=False, now=NOW)
    assert (result.action, result.detail) == ("error", "ExecutionLimitExceeded: too many open executions")


# --- rerun ---------------------------------------------------------------------------------------
def test_a_rerun_has_the_original_input_and_a_name_that_leads_back(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    original = described("nightly")
    stub.add_response("describe_execution", original, {"executionArn": arn("nightly")})
    stub.add_client_error("start_execution", "ExecutionAlreadyExists", "exists")
    stub.add_response(
        "start_execution",
        {"executionArn": arn("nightly-rerun-2"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "name": "nightly-rerun-2", "input": original["input"]},
    )
    assert operate.rerun(client, arn("nightly")) == (arn("nightly-rerun-2"), "nightly-rerun-2")


def test_a_rerun_name_stays_within_eighty_characters() -> None:
    name = operate.rerun_name("n" * 80, 12)
    assert (len(name), name[-9:]) == (80, "-rerun-12")


def test_a_running_execution_is_not_rerun(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x", "RUNNING"), {"executionArn": arn("x")})
    with pytest.raises(operate.OperateError, match="still running"):
        operate.rerun(client, arn("x"))


# --- through the command line --------------------------------------------------------------------
@pytest.fixture
def stubbed_cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, list[tuple[Any, ...]]]]:
    client = boto3.client("stepfunctions", region_name=REGION)
    asked: list[tuple[Any, ...]] = []

    def fake(service: str, region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
        asked.append((service, region, profile, endpoint_url))
        return client

    monkeypatch.setattr(cli, "aws_client", fake)
    with Stubber(client) as stub:
        yield stub, asked
        stub.assert_no_pending_responses()


def test_redrive_all_failed_since_lists_both_statuses_then_redrives_oldest_first(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, asked = stubbed_cli
    for status, items in (("FAILED", [listed("f", 10)]), ("TIMED_OUT", [listed("t", 20, "TIMED_OUT")])):
        stub.add_response(
            "list_executions",
            {"executions": items},
            {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": status},
        )
    for name, status in (("f", "FAILED"), ("t", "TIMED_OUT")):
        stub.add_response("describe_execution", described(name, status), {"executionArn": arn(name)})
        expect_tail(stub, name)
    for name, status in (("t", "TIMED_OUT"), ("f", "FAILED")):  # oldest first
        stub.add_response("describe_execution", described(name, status), {"executionArn": arn(name)})
        expect_size(stub, name, 30)
        expect_tail(stub, name)
        stub.add_response(
            "redrive_execution",
            {"redriveDate": NOW},
            {"executionArn": arn(name), "clientToken": operate.client_token(arn(name), 0)},
        )
    code = cli.main(
        [
            "redrive",
            "--all-failed",
            "--since",
            "2026-11-01T00:00Z",
            "--state-machine-arn",
            MACHINE,
            "--region",
            REGION,
            "--profile",
            "ops",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert asked == [("stepfunctions", REGION, "ops", None)]
    assert "2 failed or timed-out execution(s)" in out
    assert "[1/2] t: redriven" in out
    assert "[2/2] f: redriven" in out
    assert "Summary: redriven 2" in out


def test_redrive_says_why_not_and_offers_rerun(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, asked = stubbed_cli
    stub.add_response("describe_execution", described("x", error="DrainTimeout"), {"executionArn": arn("x")})
    code = cli.main(["redrive", arn("x")])
    out = capsys.readouterr().out
    assert code == 1
    assert asked == [("stepfunctions", REGION, None, None)]  # the region from the ARN
    assert "not redrivable — it ended with the final error DrainTimeout" in out
    assert f"spotdrain rerun {arn('x')}" in out
    assert "Summary: not redrivable 1" in out


@pytest.mark.parametrize(
    "answer",
    [described("x", "SUCCEEDED"), described("x", "RUNNING"), described("x", error="InvalidEvent")],
    ids=["succeeded", "running", "invalid-event"],
)
def test_rerun_is_not_offered_where_it_would_not_help(
    answer: dict[str, Any],
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    stub, _ = stubbed_cli
    stub.add_response("describe_execution", answer, {"executionArn": arn("x")})
    assert cli.main(["redrive", arn("x")]) == 1
    out = capsys.readouterr().out
    assert "not redrivable" in out
    assert "spotdrain rerun" not in out


def test_all_failed_with_wait_redrives_every_one_before_waiting(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each drain has its own two-minute deadline: waiting for one before redriving the next would
    let the later ones go stale. The Stubber's order is the order of the calls."""
    stub, _ = stubbed_cli
    stub.add_response(
        "list_executions",
        {"executions": [listed("b", 1), listed("a", 2)]},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "FAILED"},
    )
    stub.add_response(
        "list_executions",
        {"executions": []},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "TIMED_OUT"},
    )
    for name in ("b", "a"):
        stub.add_response("describe_execution", described(name), {"executionArn": arn(name)})
        expect_tail(stub, name)
    for name in ("a", "b"):
        stub.add_response("describe_execution", described(name), {"executionArn": arn(name)})
        expect_size(stub, name, 30)
        expect_tail(stub, name)
        stub.add_response(
            "redrive_execution",
            {"redriveDate": NOW},
            {"executionArn": arn(name), "clientToken": operate.client_token(arn(name), 0)},
        )
    for name in ("a", "b"):
        done = described(name, "SUCCEEDED", output=json.dumps({"outcome": "Drained"}))
        stub.add_response("describe_execution", done, {"executionArn": arn(name)})
    code = cli.main(["redrive", "--all-failed", "--wait", "--state-machine-arn", MACHINE, "--region", REGION])
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("[2/2] b: redriven") < out.index("a: ended SUCCEEDED (outcome Drained)")
    assert "Summary: redriven 2 (then SUCCEEDED 2)" in out


def test_the_redrive_time_is_said_in_utc_whatever_the_local_zone(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response("describe_execution", described("x"), {"executionArn": arn("x")})
    expect_size(stub, "x", 40)
    expect_tail(stub, "x")
    tokyo = timezone(timedelta(hours=9))
    stub.add_response("redrive_execution", {"redriveDate": datetime(2026, 11, 20, 12, 12, 45, tzinfo=tokyo)})
    result = operate.redrive_one(client, arn("x"), dry_run=False, now=NOW)
    assert result.detail.endswith("(03:12:45 UTC)")


def test_start_names_the_execution_and_refuses_what_is_not_an_event(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stub, _ = stubbed_cli
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    assert (
        cli.main(["start", "--event", str(listing), "--state-machine-arn", MACHINE, "--region", REGION]) == 2
    )
    assert "holds a JSON list: EventBridge delivers an object" in capsys.readouterr().err
    notice = tmp_path / "notice.json"
    notice.write_text('{"detail": {}}')
    stub.add_response(
        "start_execution",
        {"executionArn": arn("generated"), "startDate": NOW},
        {"stateMachineArn": MACHINE, "input": '{"detail": {}}', "name": ANY},
    )
    assert (
        cli.main(["start", "--event", str(notice), "--state-machine-arn", MACHINE, "--region", REGION]) == 0
    )
    assert f"started {arn('generated')}" in capsys.readouterr().out


def test_json_times_are_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    row = operate.ExecutionRow(arn("x"), "x", "SUCCEEDED", datetime(2026, 11, 20, 12, 0, tzinfo=tokyo), None)
    assert row.as_dict()["started"] == "2026-11-20T03:00:00+00:00"


def test_a_missing_profile_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["history", arn("x"), "--profile", "no-such-profile"]) == 1
    err = capsys.readouterr().err
    assert "spotdrain history: The config profile (no-such-profile) could not be found" in err
    assert "Traceback" not in err


def test_a_stack_name_against_an_endpoint_without_cloudformation_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.parsers import ResponseParserError

    class NoCloudFormation:
        class exceptions:
            ClientError = RuntimeError

        def describe_stacks(self, **_: Any) -> Any:
            raise ResponseParserError("Unable to parse response: <!doctype html> 500")

    monkeypatch.setattr(cli, "aws_client", lambda service, *_: NoCloudFormation())
    argv = [
        "executions",
        "--stack-name",
        "spotdrain",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        REGION,
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "does not answer CloudFormation (the simulator does not deploy stacks)" in err


def test_executions_json_is_the_rows(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, _ = stubbed_cli
    stub.add_response(
        "list_executions",
        {"executions": [listed("x", 3)]},
        {"stateMachineArn": MACHINE, "maxResults": 100, "statusFilter": "FAILED"},
    )
    stub.add_response("describe_execution", described("x"), {"executionArn": arn("x")})
    expect_tail(stub, "x")
    code = cli.main(
        ["executions", "--status", "failed", "--state-machine-arn", MACHINE, "--region", REGION, "--json"]
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (row["name"], row["status"], row["failed_state"], row["error"], row["task"]) == (
        "x",
        "FAILED",
        "DeregisterTargets",
        "AwsAccessDenied",
        TASK,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["redrive"], "name the executions to redrive, or give --all-failed"),
        (["redrive", arn("x"), "--since", "1h"], "--since goes with --all-failed"),
    ],
)
def test_redrive_argument_mistakes_are_one_line(
    argv: list[str], message: str, stubbed_cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "5w"])
def test_a_time_that_is_not_one_is_refused(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["executions", "--since", text, "--region", REGION])
    assert exit_info.value.code == 2
    assert "not a time" in capsys.readouterr().err


def test_relative_and_iso_times() -> None:
    assert cli._moment("2026-11-20T03:00Z") == datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    assert cli._moment("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    before = datetime.now(UTC)
    moment = cli._moment("6h")
    assert before - timedelta(hours=6) <= moment <= datetime.now(UTC) - timedelta(hours=6)


def test_a_rerun_of_an_execution_that_no_longer_exists_says_so(
    stubbed_cli: tuple[Stubber, list[tuple[Any, ...]]], capsys: pytest.CaptureFixture[str]
) -> None:
    stub, _ = stubbed_cli
    stub.add_client_error("describe_execution", "ExecutionDoesNotExist", "Execution Does Not Exist")
    code = cli.main(["rerun", arn("gone")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"spotdrain rerun: no execution {arn('gone')} (or no longer kept: 90 days)" in err
    assert "Traceback" not in err


def test_the_task_filter_takes_the_cluster_and_id_the_table_shows(sfn: tuple[Any, Stubber]) -> None:
    client, stub = sfn
    stub.add_response(
        "list_executions",
        {"executions": [listed("mine", 1, "SUCCEEDED")]},
        {"stateMachineArn": MACHINE, "maxResults": 100},
    )
    stub.add_response("describe_execution", described("mine", "SUCCEEDED"), {"executionArn": arn("mine")})
    rows = operate.list_executions(client, MACHINE, task="web/0123456789abcdef0123456789abcdef")
    assert [r.name for r in rows] == ["mine"]


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:4599", True),
        ("http://0.0.0.0:4599", True),
        ("http://localhost:1", True),
        ("https://states.eu-west-1.amazonaws.com", False),
    ],
)
def test_fake_credentials_only_for_a_local_endpoint(url: str, local: bool) -> None:
    assert cli._is_local(url) is local
