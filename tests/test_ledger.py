"""The notice ledger (spotdrain.ledger) on moto's DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from spotdrain import ledger
from spotdrain.aws import client
from spotdrain.models import TaskInfo

REGION = "us-east-1"
TABLE = "NoticeLedger"
EXECUTION_A = "arn:aws:states:us-east-1:111122223333:execution:DrainStateMachine:a"
EXECUTION_B = "arn:aws:states:us-east-1:111122223333:execution:DrainStateMachine:b"


def task(version: int | None) -> TaskInfo:
    return TaskInfo(
        task_arn="arn:aws:ecs:us-east-1:111122223333:task/default/abc",
        task_id="abc",
        cluster_arn="arn:aws:ecs:us-east-1:111122223333:cluster/default",
        cluster_name="default",
        region=REGION,
        account="111122223333",
        ipv4=["10.0.1.25"],
        event_time=datetime(2026, 11, 20, tzinfo=UTC),
        detail_version=version,
    )


@pytest.fixture
def table(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(ledger.TABLE_VARIABLE, TABLE)
    monkeypatch.setenv("AWS_REGION", REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "taskArn", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "taskArn", "KeyType": "HASH"}],
    )
    return dynamodb


def test_first_notice_is_claimed_and_recorded(table: Any) -> None:
    assert ledger.claim(task(3), EXECUTION_A).handled_by is None
    item = table.get_item(TableName=TABLE, Key={"taskArn": {"S": task(3).task_arn}})["Item"]
    assert (item["handledVersion"]["N"], item["executionArn"]["S"]) == ("3", EXECUTION_A)
    assert int(item["expiresAt"]["N"]) > datetime.now(UTC).timestamp()


def holder_is(status: str | None, error: str | None = None) -> Stubber:
    """Step Functions' answer about the claim's holder: a status, or an error code."""
    stub = Stubber(client("stepfunctions", REGION, mode="quick"))
    if error:
        stub.add_client_error("describe_execution", error, expected_params={"executionArn": EXECUTION_A})
    else:
        stub.add_response(
            "describe_execution",
            {
                "executionArn": EXECUTION_A,
                "stateMachineArn": "arn:aws:states:us-east-1:111122223333:stateMachine:DrainStateMachine",
                "status": status,
                "startDate": datetime(2026, 11, 20, tzinfo=UTC),
            },
            {"executionArn": EXECUTION_A},
        )
    return stub


def holder_of(table: Any) -> str:
    item = table.get_item(TableName=TABLE, Key={"taskArn": {"S": task(3).task_arn}})["Item"]
    return str(item["executionArn"]["S"])


@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"])
def test_the_same_version_again_is_a_duplicate(table: Any, status: str) -> None:
    ledger.claim(task(3), EXECUTION_A)
    with holder_is(status) as stub:
        again = ledger.claim(task(3), EXECUTION_B)
        stub.assert_no_pending_responses()
    assert again.handled_by == EXECUTION_A
    assert "duplicate" in again.reason
    assert holder_of(table) == EXECUTION_A


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_a_claim_whose_holder_ended_without_success_is_taken_over(table: Any, status: str) -> None:
    """The holder failed at a step (so it stays redrivable and kept its claim): a re-delivered
    notice, or a `spotdrain rerun`, drains again."""
    ledger.claim(task(3), EXECUTION_A)
    with holder_is(status):
        again = ledger.claim(task(3), EXECUTION_B)
    assert again.handled_by is None
    assert again.reason == f"notice version 3 taken over from execution {EXECUTION_A} ({status})"
    assert holder_of(table) == EXECUTION_B


def test_a_holder_step_functions_no_longer_knows_is_taken_over(table: Any) -> None:
    ledger.claim(task(3), EXECUTION_A)
    with holder_is(None, error="ExecutionDoesNotExist"):
        again = ledger.claim(task(3), EXECUTION_B)
    assert (again.handled_by, holder_of(table)) == (None, EXECUTION_B)
    assert again.reason.endswith("(gone)")


@pytest.mark.parametrize("error", ["AccessDeniedException", "ThrottlingException"])
def test_a_holder_that_cannot_be_asked_about_keeps_the_claim(table: Any, error: str) -> None:
    """It may still be running: a duplicate drain is not started on a guess."""
    ledger.claim(task(3), EXECUTION_A)
    with holder_is(None, error=error):
        again = ledger.claim(task(3), EXECUTION_B)
    assert (again.handled_by, holder_of(table)) == (EXECUTION_A, EXECUTION_A)


def test_two_contenders_for_a_failed_holders_claim_cannot_both_win(table: Any) -> None:
    """Between asking about the holder and taking over, another execution took the claim: the
    conditional write refuses, and this one is the duplicate."""
    ledger.claim(task(3), EXECUTION_A)
    execution_c = EXECUTION_A[:-1] + "c"

    def someone_else_took_it(**_: Any) -> None:
        table.put_item(
            TableName=TABLE,
            Item={
                "taskArn": {"S": task(3).task_arn},
                "handledVersion": {"N": "3"},
                "executionArn": {"S": execution_c},
            },
        )

    sfn = client("stepfunctions", REGION, mode="quick")
    sfn.meta.events.register("after-call.sfn.DescribeExecution", someone_else_took_it)
    try:
        with holder_is("FAILED"):
            again = ledger.claim(task(3), EXECUTION_B)
    finally:
        sfn.meta.events.unregister("after-call.sfn.DescribeExecution", someone_else_took_it)
    assert again.handled_by == execution_c
    assert holder_of(table) == execution_c


def test_an_older_version_is_recognised_and_a_newer_one_claims(table: Any) -> None:
    ledger.claim(task(5), EXECUTION_A)
    older = ledger.claim(task(4), EXECUTION_B)
    assert older.handled_by == EXECUTION_A
    assert "older than notice version 5" in older.reason
    assert ledger.claim(task(6), EXECUTION_B).handled_by is None


def test_the_claiming_execution_may_claim_again_on_its_own_retry(table: Any) -> None:
    ledger.claim(task(3), EXECUTION_A)
    assert ledger.claim(task(3), EXECUTION_A).handled_by is None


def test_no_table_configured_means_no_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ledger.TABLE_VARIABLE, raising=False)
    claim = ledger.claim(task(3), EXECUTION_A)
    assert (claim.handled_by, claim.reason) == (None, "no notice ledger configured")


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "AccessDeniedException", "ResourceNotFoundException"]
)
def test_the_ledger_fails_open(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """A ledger that cannot be written never stops a drain."""
    monkeypatch.setenv(ledger.TABLE_VARIABLE, TABLE)
    monkeypatch.setenv("AWS_REGION", REGION)
    with Stubber(client("dynamodb", REGION, mode="quick")) as stub:
        stub.add_client_error("update_item", code)
        claim = ledger.claim(task(3), EXECUTION_A)
    assert claim.handled_by is None
    assert code in claim.reason


def test_too_little_time_left_for_the_ledger_is_no_reason_to_stop(table: Any) -> None:
    """The time budget refuses the call: the ledger still fails open."""
    from spotdrain import aws

    aws.start_invocation(1000)
    try:
        claim = ledger.claim(task(3), EXECUTION_A)
    finally:
        aws.start_invocation(None)
    assert (claim.handled_by, claim.reason) == (None, "notice ledger unavailable (AwsUnavailable)")
