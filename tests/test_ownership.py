"""The IP reuse guard (spotdrain.ownership), with the exact EC2 and ECS requests pinned by Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from spotdrain.aws import client
from spotdrain.errors import AwsAccessDenied
from spotdrain.models import TaskInfo
from spotdrain.ownership import check_ownership

REGION = "us-east-1"
CLUSTER = "arn:aws:ecs:us-east-1:111122223333:cluster/default"
TASK = "arn:aws:ecs:us-east-1:111122223333:task/default/abc"
ATTACHMENT = "0a1b2c3d-1111-2222-3333-444455556666"


def task(**changes: Any) -> TaskInfo:
    values: dict[str, Any] = {
        "task_arn": TASK,
        "task_id": "abc",
        "cluster_arn": CLUSTER,
        "cluster_name": "default",
        "region": REGION,
        "account": "111122223333",
        "eni_id": "eni-0task",
        "eni_attachment_id": ATTACHMENT,
        "subnet_id": "subnet-01",
        "ipv4": ["10.0.1.25"],
        "event_time": datetime(2026, 11, 20, tzinfo=UTC),
    }
    values.update(changes)
    return TaskInfo(**values)


def interface(eni: str, description: str = "") -> dict[str, Any]:
    return {"NetworkInterfaceId": eni, "Description": description, "PrivateIpAddress": "10.0.1.25"}


def ipv4_filters(*, subnet: bool = True) -> dict[str, Any]:
    filters = [{"Name": "subnet-id", "Values": ["subnet-01"]}] if subnet else []
    return {"Filters": [*filters, {"Name": "addresses.private-ip-address", "Values": ["10.0.1.25"]}]}


@pytest.fixture
def ec2() -> Iterator[Stubber]:
    with Stubber(client("ec2", REGION, "111122223333")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def ecs() -> Iterator[Stubber]:
    with Stubber(client("ecs", REGION, "111122223333")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_tasks_own_eni_proves_it_and_ecs_is_not_asked(ec2: Stubber, ecs: Stubber) -> None:
    ec2.add_response(
        "describe_network_interfaces", {"NetworkInterfaces": [interface("eni-0task")]}, ipv4_filters()
    )
    found = check_ownership(task())
    assert found.reassigned is None
    assert "still held by the task's ENI eni-0task" in found.proof


def test_another_interface_holding_the_address_means_reassigned(ec2: Stubber, ecs: Stubber) -> None:
    replacement = interface("eni-0new", "arn:aws:ecs:us-east-1:111122223333:attachment/ffff")
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": [replacement]}, ipv4_filters())
    found = check_ownership(task())
    assert found.reassigned is not None
    assert "eni-0new" in found.reassigned


def test_a_fargate_eni_is_recognised_by_its_attachment_when_its_id_is_unknown(
    ec2: Stubber, ecs: Stubber
) -> None:
    own = interface("eni-0task", f"arn:aws:ecs:us-east-1:111122223333:attachment/{ATTACHMENT}")
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": [own]}, ipv4_filters())
    assert check_ownership(task(eni_id=None)).reassigned is None


def test_an_interface_that_cannot_be_tied_to_the_task_counts_as_someone_elses(
    ec2: Stubber, ecs: Stubber
) -> None:
    ec2.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [interface("eni-0x")]},
        ipv4_filters(subnet=False),
    )
    found = check_ownership(task(eni_id=None, eni_attachment_id=None, subnet_id=None))
    assert found.reassigned is not None


def test_eni_gone_then_another_live_task_reporting_the_address_means_reassigned(
    ec2: Stubber, ecs: Stubber
) -> None:
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, ipv4_filters())
    page = {"cluster": CLUSTER, "desiredStatus": "RUNNING", "maxResults": 100}
    others = [f"arn:aws:ecs:us-east-1:111122223333:task/default/t{i}" for i in range(150)]
    ecs.add_response("list_tasks", {"taskArns": [TASK, *others[:99]], "nextToken": "n1"}, page)
    ecs.add_response("list_tasks", {"taskArns": others[99:]}, {**page, "nextToken": "n1"})
    ecs.add_response(
        "describe_tasks",
        {"tasks": [{"taskArn": arn} for arn in others[:100]]},
        {"cluster": CLUSTER, "tasks": others[:100]},
    )
    holder = {
        "taskArn": others[120],
        "attachments": [
            {
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": [{"name": "privateIPv4Address", "value": "10.0.1.25"}],
            }
        ],
    }
    ecs.add_response("describe_tasks", {"tasks": [holder]}, {"cluster": CLUSTER, "tasks": others[100:]})
    found = check_ownership(task())
    assert found.reassigned is not None
    assert others[120] in found.reassigned


def test_eni_gone_and_no_task_reports_the_address_means_free(ec2: Stubber, ecs: Stubber) -> None:
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": []}, ipv4_filters())
    ecs.add_response(
        "list_tasks", {"taskArns": []}, {"cluster": CLUSTER, "desiredStatus": "RUNNING", "maxResults": 100}
    )
    found = check_ownership(task())
    assert found.reassigned is None
    assert "address is free" in found.proof


def test_ipv6_addresses_are_looked_up_by_their_own_filter(ec2: Stubber, ecs: Stubber) -> None:
    ec2.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [interface("eni-0task")]},
        {
            "Filters": [
                {"Name": "subnet-id", "Values": ["subnet-01"]},
                {"Name": "ipv6-addresses.ipv6-address", "Values": ["2600:1f18::25"]},
            ]
        },
    )
    assert check_ownership(task(ipv4=[], ipv6=["2600:1f18::25"])).reassigned is None


def test_an_error_is_never_read_as_free(ec2: Stubber, ecs: Stubber) -> None:
    ec2.add_client_error("describe_network_interfaces", "UnauthorizedOperation", http_status_code=403)
    with pytest.raises(AwsAccessDenied, match="ec2:DescribeNetworkInterfaces"):
        check_ownership(task())


def test_an_eni_of_another_ecs_attachment_is_not_the_tasks_whatever_its_id(
    ec2: Stubber, ecs: Stubber
) -> None:
    other = interface("eni-0task", "arn:aws:ecs:us-east-1:111122223333:attachment/ffffffff-0000")
    ec2.add_response("describe_network_interfaces", {"NetworkInterfaces": [other]}, ipv4_filters())
    assert check_ownership(task()).reassigned is not None


def test_without_a_subnet_the_vpc_found_by_resolve_targets_narrows_the_search(
    ec2: Stubber, ecs: Stubber
) -> None:
    ec2.add_response(
        "describe_network_interfaces",
        {"NetworkInterfaces": [interface("eni-0task")]},
        {
            "Filters": [
                {"Name": "vpc-id", "Values": ["vpc-01"]},
                {"Name": "addresses.private-ip-address", "Values": ["10.0.1.25"]},
            ]
        },
    )
    assert check_ownership(task(subnet_id=None, vpc_id="vpc-01")).reassigned is None
