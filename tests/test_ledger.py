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


def test_the_same_version_again_is_a_duplicate(table: Any) -> None:
    ledger.claim(task(3), EXECUTION_A)
    again = ledger.claim(task(3), EXECUTION_B)
    assert again.handled_by == EXECUTION_A
    assert "duplicate" in again.reason


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
