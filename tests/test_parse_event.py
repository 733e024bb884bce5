"""ParseEvent: which events are interruptions, what is extracted, and how bad input fails."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from botocore.stub import Stubber

import spotdrain.clock
from spotdrain import parse_event
from spotdrain.aws import client
from spotdrain.errors import AccountOrRegionNotAllowed, AwsThrottled, InvalidConfiguration, InvalidEvent
from spotdrain.events import parse_interruption
from spotdrain.models import ParseEventInput, PollSettings
from tests.conftest import load_event

DOCS_TASK = "arn:aws:ecs:us-east-1:111122223333:task/b99d40b3-5176-4f71-9a52-9dbd6fEXAMPLE"
DOCS_CLUSTER = "arn:aws:ecs:us-east-1:111122223333:cluster/default"


def request(event: Any) -> ParseEventInput:
    return ParseEventInput(event=event, execution="arn:aws:states:us-east-1:111122223333:execution:m:e")


NOTICE_TIME = datetime(2026, 11, 20, 3, 12, 50, tzinfo=UTC)  # 5 s after the with-eni notice


@pytest.fixture(autouse=True)
def clock_at_the_notice() -> Iterator[None]:
    with mock.patch.object(spotdrain.clock, "now", return_value=NOTICE_TIME):
        yield


@pytest.fixture
def ecs_stub() -> Iterator[Stubber]:
    with Stubber(client("ecs", "us-east-1")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def described_task(ip: str = "10.0.1.25", last_status: str = "RUNNING") -> dict[str, Any]:
    return {
        "taskArn": DOCS_TASK,
        "clusterArn": DOCS_CLUSTER,
        "group": "service:web",
        "lastStatus": last_status,
        "desiredStatus": "STOPPED",
        "availabilityZone": "us-east-1b",
        "attachments": [
            {"id": "ebs-1", "type": "AmazonElasticBlockStorage", "status": "ATTACHED", "details": []},
            {
                "id": "eni-att",
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": [
                    {"name": "networkInterfaceId", "value": "eni-0123"},
                    {"name": "privateIPv4Address", "value": ip},
                ],
            },
        ],
    }


def test_full_notice_extracts_task_from_the_event_itself() -> None:
    result = parse_interruption(request(load_event("spot-interruption-with-eni.json")))
    assert result.outcome == "Interruption"
    task = result.task
    assert task is not None
    assert task.ipv4 == ["10.0.1.25"]
    assert task.eni_id == "eni-0a1b2c3d4e5f60001"
    assert task.service_name == "web"
    assert task.cluster_name == "default"
    assert task.task_id == "5f0c1a2b3c4d5e6f708192a3b4c5d6e7"
    assert (task.region, task.account) == ("us-east-1", "111122223333")
    assert task.event_time == datetime(2026, 11, 20, 3, 12, 45, tzinfo=UTC)
    assert task.detail_version == 3
    assert task.network_source == "event"


@pytest.mark.parametrize(
    "name", ["spot-interruption-awsdocs-current.json", "spot-interruption-awsdocs-2019.json"]
)
def test_docs_notices_without_network_details_fall_back_to_describe_tasks(
    name: str, ecs_stub: Stubber
) -> None:
    ecs_stub.add_response(
        "describe_tasks",
        {"tasks": [described_task()], "failures": []},
        {"cluster": DOCS_CLUSTER, "tasks": [DOCS_TASK]},
    )
    result = parse_interruption(request(load_event(name)))
    assert result.outcome == "Interruption"
    assert result.task is not None
    assert result.task.ipv4 == ["10.0.1.25"]
    assert result.task.eni_id == "eni-0123"
    assert result.task.service_name == "web"
    assert result.task.network_source == "DescribeTasks"
    # The docs events have no "region"/"account": both come from the task ARN.
    assert result.task.region == "us-east-1"


def test_task_ecs_no_longer_knows_is_a_named_outcome(ecs_stub: Stubber) -> None:
    ecs_stub.add_response(
        "describe_tasks",
        {"tasks": [], "failures": [{"arn": DOCS_TASK, "reason": "MISSING"}]},
        {"cluster": DOCS_CLUSTER, "tasks": [DOCS_TASK]},
    )
    result = parse_interruption(request(load_event("spot-interruption-awsdocs-current.json")))
    assert result.outcome == "TaskNotFound"
    assert "MISSING" in result.reason
    assert result.task is None


def test_describe_tasks_showing_task_already_stopped_is_ignored(ecs_stub: Stubber) -> None:
    ecs_stub.add_response(
        "describe_tasks", {"tasks": [described_task(last_status="STOPPED")], "failures": []}
    )
    result = parse_interruption(request(load_event("spot-interruption-awsdocs-current.json")))
    assert result.outcome == "Ignored"
    assert "STOPPED" in result.reason


def test_task_without_awsvpc_interface_is_ignored_with_reason(ecs_stub: Stubber) -> None:
    bridge = described_task()
    bridge["attachments"] = []
    ecs_stub.add_response("describe_tasks", {"tasks": [bridge], "failures": []})
    result = parse_interruption(request(load_event("spot-interruption-awsdocs-current.json")))
    assert result.outcome == "Ignored"
    assert "awsvpc" in result.reason


def test_describe_tasks_throttled_is_retryable_by_name(ecs_stub: Stubber) -> None:
    ecs_stub.add_client_error(
        "describe_tasks", service_error_code="ThrottlingException", http_status_code=400
    )
    with pytest.raises(AwsThrottled, match="ecs:DescribeTasks"):
        parse_interruption(request(load_event("spot-interruption-awsdocs-current.json")))


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("fargate-spot-service-task-pending.json", "desiredStatus is 'RUNNING'"),
        ("fargate-task-running-awsdocs.json", "desiredStatus is 'RUNNING'"),
        ("task-stopped-essential-container.json", "stopCode 'EssentialContainerExited'"),
        ("spot-interruption-already-stopped.json", "already STOPPED"),
    ],
)
def test_events_that_are_not_interruption_notices_are_ignored(name: str, why: str) -> None:
    result = parse_interruption(request(load_event(name)))
    assert result.outcome == "Ignored"
    assert why in result.reason
    assert result.task is None


def test_stopped_reason_alone_identifies_an_interruption_when_there_is_no_stop_code() -> None:
    result = parse_interruption(request(load_event("spot-interruption-reason-only.json")))
    assert result.outcome == "Interruption"


def test_other_sources_are_ignored() -> None:
    event = load_event("spot-interruption-with-eni.json")
    event["source"] = "aws.ec2"
    result = parse_interruption(request(event))
    assert result.outcome == "Ignored"
    assert "aws.ec2" in result.reason


def test_eni_attachment_is_found_by_type_in_any_order() -> None:
    event = load_event("spot-interruption-with-eni.json")
    eni = event["detail"]["attachments"][0]
    event["detail"]["attachments"] = [
        {
            "id": "sc",
            "type": "ServiceConnect",
            "status": "ATTACHED",
            "details": [{"name": "privateIPv4Address", "value": "169.254.0.9"}],
        },
        eni,
    ]
    event["detail"]["containers"] = []
    result = parse_interruption(request(event))
    assert result.task is not None
    assert result.task.ipv4 == ["10.0.1.25"]


def test_detail_given_as_a_json_string_is_a_named_error() -> None:
    with pytest.raises(InvalidEvent, match="detail"):
        parse_interruption(request(load_event("malformed-detail-as-string.json")))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("detail"), "detail"),
        (lambda e: e["detail"].pop("taskArn"), "taskArn"),
        (lambda e: e["detail"].update(taskArn=42), "taskArn"),
        (lambda e: e["detail"].update(version="three"), "version"),
        (lambda e: e.update(time="yesterday"), "time"),
    ],
)
def test_malformed_events_fail_fast_with_what_was_wrong(mutate: Any, message: str) -> None:
    event = copy.deepcopy(load_event("spot-interruption-with-eni.json"))
    mutate(event)
    with pytest.raises(InvalidEvent, match=message):
        parse_interruption(request(event))


def test_handler_returns_the_model_dump(lambda_context: Any) -> None:
    result = parse_event.handler(
        {"event": load_event("spot-interruption-with-eni.json"), "settings": {"pollIntervalSeconds": "7"}},
        lambda_context,
    )
    assert result["outcome"] == "Interruption"
    assert result["task"]["ipv4"] == ["10.0.1.25"]
    assert result["settings"]["pollIntervalSeconds"] == 7
    json.dumps(result)  # JSON-ready


@pytest.mark.parametrize(
    "payload",
    [
        load_event("spot-interruption-with-eni.json"),  # not wrapped by the state machine
        "a string",
        ["a", "list"],
        {"event": "not an object"},
    ],
)
def test_handler_rejects_bad_input_by_name(payload: Any, lambda_context: Any) -> None:
    with pytest.raises(InvalidEvent):
        parse_event.handler(payload, lambda_context)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ALLOWED_ACCOUNT_IDS", "999999999999", "account 111122223333"),
        ("ALLOWED_REGIONS", "eu-west-1,eu-north-1", "region us-east-1"),
    ],
)
def test_events_outside_the_allow_list_fail_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(AccountOrRegionNotAllowed, match=message):
        parse_interruption(request(load_event("spot-interruption-with-eni.json")))


def test_events_on_the_allow_list_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ACCOUNT_IDS", "123456789012,111122223333")
    monkeypatch.setenv("ALLOWED_REGIONS", "us-east-1")
    assert (
        parse_interruption(request(load_event("spot-interruption-with-eni.json"))).outcome == "Interruption"
    )


@pytest.mark.parametrize(
    ("name", "ipv4", "ipv6"),
    [
        ("spot-interruption-dual-stack.json", ["10.0.1.25"], ["2600:1f18:abcd:1::25"]),
        ("spot-interruption-ipv6-only.json", [], ["2600:1f18:abcd:1::25"]),
    ],
)
def test_ipv6_addresses_are_extracted(name: str, ipv4: list[str], ipv6: list[str]) -> None:
    task = parse_interruption(request(load_event(name))).task
    assert task is not None
    assert (task.ipv4, task.ipv6) == (ipv4, ipv6)


@pytest.mark.parametrize("status", ["DEACTIVATING", "STOPPING", "PENDING"])
def test_later_events_of_an_interruption_do_not_start_a_second_drain(status: str) -> None:
    event = load_event("spot-interruption-with-eni.json")
    event["detail"]["lastStatus"] = status
    result = parse_interruption(request(event))
    assert result.outcome == "Ignored"
    assert status in result.reason


def with_eni(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("spot-interruption-with-eni.json"))
    for key, value in changes.items():
        event["detail"][key] = value
    return event


NEIGHBOUR = {"name": "privateIPv4Address", "value": "10.0.2.17"}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        # Regressions: each of these made spotdrain deregister the healthy neighbour 10.0.2.17.
        (
            lambda e: e["detail"]["attachments"].insert(0, copy.deepcopy(e["detail"]["attachments"][0])),
            "2 ENI attachments",
        ),
        (lambda e: e["detail"]["attachments"][0]["details"].append(NEIGHBOUR), "2 different IPv4 addresses"),
        (
            lambda e: (
                e["detail"].update(attachments=[]),
                e["detail"]["containers"].append(
                    {"name": "sidecar", "networkInterfaces": [{"privateIpv4Address": "10.0.2.17"}]}
                ),
            ),
            "2 different IPv4 addresses",
        ),
        (
            lambda e: e["detail"]["attachments"][0]["details"].append(
                {"name": "ipv6Address", "value": "10.0.0.1"}
            ),
            "not an IPv6",
        ),
        (
            lambda e: e["detail"]["attachments"][0]["details"][4].update(value="not-an-ip"),
            "not an IP address",
        ),
        (lambda e: e.update(region="us-west-2"), "the task ARN says us-east-1"),
        (lambda e: e.update(region="US-EAST-1"), "not AWS ones"),
        (lambda e: e.update(time="9999-12-31T23:59:00Z"), "in the future"),
    ],
)
def test_ambiguous_or_contradictory_events_are_refused(mutate: Any, message: str) -> None:
    event = with_eni()
    mutate(event)
    with pytest.raises(InvalidEvent, match=message):
        parse_interruption(request(event))


def test_same_address_spelled_twice_is_not_ambiguous() -> None:
    event = with_eni()
    event["detail"]["attachments"][0]["details"].append({"name": "privateIPv4Address", "value": "10.0.1.25"})
    task = parse_interruption(request(event)).task
    assert task is not None
    assert task.ipv4 == ["10.0.1.25"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        # Regression: a day-old notice (a DLQ or archive replay) deregistered whoever held the IP.
        ({"time": "2026-11-19T03:12:45Z"}, "stale notice: 86405 s old"),
        ({"time": 0}, "stale notice"),
    ],
)
def test_stale_notices_are_not_acted_on(event: dict[str, Any], message: str) -> None:
    stale = with_eni()
    stale.update(event)
    result = parse_interruption(request(stale))
    assert result.outcome == "Ignored"
    assert message in result.reason


def test_released_eni_is_not_acted_on() -> None:
    event = with_eni()
    event["detail"]["attachments"][0]["status"] = "DELETED"
    result = parse_interruption(request(event))
    assert result.outcome == "Ignored"
    assert "ENI" in result.reason


def test_lowercase_status_is_still_recognised() -> None:
    result = parse_interruption(request(with_eni(lastStatus="stopped")))
    assert (result.outcome, "already STOPPED" in result.reason) == ("Ignored", True)


def test_an_event_larger_than_eventbridge_allows_is_refused_by_name() -> None:
    event = with_eni(stoppedReason="x" * 300_000)
    with pytest.raises(InvalidEvent, match=r"more than the 262144"):
        parse_interruption(request(event))


def test_cluster_in_another_account_than_the_task_is_refused() -> None:
    """Regression: such an event got past the allow-list and drained another account's target."""
    event = with_eni(clusterArn="arn:aws:ecs:us-east-1:444455556666:cluster/shared")
    with pytest.raises(InvalidEvent, match="cluster ARN says us-east-1/444455556666"):
        parse_interruption(request(event))


@pytest.mark.parametrize(("given", "expected"), [("1e1", 10), ("120.5", 121), (7, 7)])
def test_poll_settings_written_as_cloudformation_numbers_are_whole_units(given: Any, expected: int) -> None:
    assert PollSettings.model_validate({"pollIntervalSeconds": given}).poll_interval_seconds == min(
        expected, 300
    )


def test_unusable_poll_settings_are_a_configuration_error(lambda_context: Any) -> None:
    with pytest.raises(InvalidConfiguration, match="pollIntervalSeconds"):
        parse_event.handler({"event": {}, "settings": {"pollIntervalSeconds": 0}}, lambda_context)
