"""ResolveTargets: exactly the registrations of the task, from every configured source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from spotdrain import resolve_targets as resolve_targets_handler
from spotdrain.aws import account_of, client
from spotdrain.config import Config, load_config
from spotdrain.errors import (
    AwsResourceNotFound,
    InvalidConfiguration,
    InvalidEvent,
    StaleNotice,
    TooManyRegistrations,
)
from spotdrain.models import MAX_REGISTRATIONS, Interruption, PollSettings, TaskInfo
from spotdrain.targets import resolve_targets

REGION = "us-east-1"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/default"


def interruption(
    ip: str = "10.0.1.25", service: str | None = "web", event_time: datetime | None = None
) -> Interruption:
    return Interruption(
        outcome="Interruption",
        reason="Spot interruption (SpotInterruption)",
        settings=PollSettings(),
        task=TaskInfo(
            task_arn="arn:aws:ecs:us-east-1:123456789012:task/default/abc",
            task_id="abc",
            cluster_arn=CLUSTER,
            cluster_name="default",
            service_name=service,
            region=REGION,
            account="123456789012",
            ipv4=[ip],
            event_time=event_time or datetime.now(UTC),
        ),
    )


class Elb:
    def __init__(self) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.elbv2 = boto3.client("elbv2", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            self.ec2.create_subnet(
                VpcId=self.vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}"
            )["Subnet"]["SubnetId"]
            for i, z in enumerate("ab")
        ]

    def load_balancer(self, name: str) -> str:
        lb = self.elbv2.create_load_balancer(Name=name, Subnets=self.subnets, Type="network")
        return str(lb["LoadBalancers"][0]["LoadBalancerArn"])

    def group(
        self,
        name: str,
        targets: list[tuple[str, int]],
        *,
        kind: str = "ip",
        lb: str | None = None,
        delay: int = 30,
    ) -> str:
        arn = str(
            self.elbv2.create_target_group(
                Name=name, Protocol="TCP", Port=8080, VpcId=self.vpc, TargetType=kind
            )["TargetGroups"][0]["TargetGroupArn"]
        )
        self.elbv2.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}],
        )
        if targets:
            self.elbv2.register_targets(
                TargetGroupArn=arn, Targets=[{"Id": i, "Port": p} for i, p in targets]
            )
        if lb:
            self.elbv2.create_listener(
                LoadBalancerArn=lb,
                Protocol="TCP",
                Port=8080 + len(name),
                DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
            )
        return arn


@pytest.fixture
def elb(aws: None) -> Elb:
    return Elb()


@pytest.fixture
def ecs_stub() -> Iterator[Stubber]:
    with Stubber(client("ecs", REGION)) as stubber:
        yield stubber


def service_answer(*target_groups: str) -> dict[str, Any]:
    return {
        "services": [
            {
                "serviceName": "web",
                "loadBalancers": [{"targetGroupArn": arn, "containerPort": 8080} for arn in target_groups],
            }
        ],
        "failures": [],
    }


def test_explicit_target_group_finds_the_task_and_not_its_neighbour(elb: Elb) -> None:
    arn = elb.group("web", [("10.0.1.25", 8080), ("10.0.2.17", 8080)], delay=45)
    result = resolve_targets(
        interruption(service=None), Config(target_group_arns=(arn,), use_service_load_balancers=False)
    )
    assert result.outcome == "Registered"
    assert [(t.target_group_arn, t.id, t.port) for t in result.targets] == [(arn, "10.0.1.25", 8080)]
    assert result.target_groups[0].deregistration_delay_seconds == 45


def test_service_load_balancers_are_a_source(elb: Elb, ecs_stub: Stubber) -> None:
    arn = elb.group("web", [("10.0.1.25", 8080)])
    ecs_stub.add_response("describe_services", service_answer(arn), {"cluster": CLUSTER, "services": ["web"]})
    result = resolve_targets(interruption(), Config())
    assert [t.target_group_arn for t in result.targets] == [arn]


def test_every_target_group_of_a_load_balancer_is_a_candidate(elb: Elb) -> None:
    lb = elb.load_balancer("front")
    one = elb.group("one", [("10.0.1.25", 8080)], lb=lb)
    two = elb.group("two", [("10.0.1.25", 8080)], lb=lb)
    elb.group("elsewhere", [("10.0.1.25", 8080)])  # not on this load balancer: not a candidate
    result = resolve_targets(
        interruption(service=None), Config(load_balancer_arns=(lb,), use_service_load_balancers=False)
    )
    assert sorted(t.target_group_arn for t in result.targets) == sorted([one, two])


def test_sources_combine_and_duplicates_are_removed(elb: Elb, ecs_stub: Stubber) -> None:
    arn = elb.group("web", [("10.0.1.25", 8080)])
    ecs_stub.add_response("describe_services", service_answer(arn, arn))
    result = resolve_targets(interruption(), Config(target_group_arns=(arn,)))
    assert len(result.targets) == 1
    assert len(result.target_groups) == 1


def test_non_ip_target_groups_are_skipped_with_a_reason(elb: Elb) -> None:
    arn = elb.group("instances", [], kind="instance")
    result = resolve_targets(
        interruption(service=None), Config(target_group_arns=(arn,), use_service_load_balancers=False)
    )
    assert result.outcome == "NotRegistered"
    assert result.skipped[0].arn == arn
    assert "instance" in result.skipped[0].reason


def test_task_in_no_candidate_group_is_not_registered(elb: Elb) -> None:
    arn = elb.group("web", [("10.0.2.17", 8080)])
    result = resolve_targets(
        interruption(service=None), Config(target_group_arns=(arn,), use_service_load_balancers=False)
    )
    assert result.outcome == "NotRegistered"
    assert result.targets == []
    assert "10.0.1.25" in result.reason


def test_a_resolution_after_the_deadline_stops_before_any_aws_call() -> None:
    """A throttled ResolveTargets retried past the deadline (a mass interruption) ends at once:
    no AWS call is made (there is no moto and no stub here: a call would fail differently)."""
    late = interruption(event_time=datetime.now(UTC) - timedelta(seconds=121))
    with pytest.raises(StaleNotice, match="after the drain deadline"):
        resolve_targets(late, Config(target_group_arns=("arn:aws:elasticloadbalancing:x",)))


def test_no_sources_at_all_is_a_configuration_error(elb: Elb) -> None:
    with pytest.raises(InvalidConfiguration, match="TargetGroupArns"):
        resolve_targets(interruption(service=None), Config(use_service_load_balancers=False))


def test_standalone_task_with_only_service_source_is_not_registered(elb: Elb) -> None:
    result = resolve_targets(interruption(service=None), Config())
    assert result.outcome == "NotRegistered"
    assert "no candidate target groups" in result.reason


def test_a_missing_configured_group_is_skipped_and_the_others_still_count(elb: Elb) -> None:
    """Regression: one stale ARN in TargetGroupArns made the whole DescribeTargetGroups batch
    fail, and nothing was drained at all."""
    missing = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcdef"
    real = elb.group("web", [("10.0.1.25", 8080)])
    result = resolve_targets(
        interruption(service=None),
        Config(target_group_arns=(missing, real), use_service_load_balancers=False),
    )
    assert [t.target_group_arn for t in result.targets] == [real]
    assert [(s.arn, s.reason) for s in result.skipped] == [
        (missing, "target group not found (check the configuration)")
    ]
    assert "1 candidate(s) skipped" in result.reason


def test_service_ecs_does_not_know_is_a_named_error(ecs_stub: Stubber) -> None:
    ecs_stub.add_response(
        "describe_services", {"services": [], "failures": [{"arn": "web", "reason": "MISSING"}]}
    )
    with pytest.raises(AwsResourceNotFound, match=r"service 'web'.*MISSING"):
        resolve_targets(interruption(), Config())


def test_config_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
    monkeypatch.setenv("TARGET_GROUP_ARNS", f" {arn},{arn} ,")
    monkeypatch.setenv("USE_SERVICE_LOAD_BALANCERS", "false")
    assert load_config() == Config(target_group_arns=(arn,), use_service_load_balancers=False)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TARGET_GROUP_ARNS", "web-tg"),
        ("LOAD_BALANCER_ARNS", "arn:aws:s3:::bucket"),
        ("USE_SERVICE_LOAD_BALANCERS", "maybe"),
        ("ALLOWED_ACCOUNT_IDS", "1234"),
        ("ALLOWED_REGIONS", "moon-1"),
    ],
)
def test_bad_configuration_is_a_named_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidConfiguration, match=name):
        load_config()


def test_handler_validates_its_input(lambda_context: Any) -> None:
    with pytest.raises(InvalidEvent, match="ResolveTargets"):
        resolve_targets_handler.handler({"outcome": "Ignored", "reason": "x"}, lambda_context)


@pytest.mark.parametrize(
    ("arn", "account"),
    [
        (
            "arn:aws:elasticloadbalancing:us-east-1:444455556666:targetgroup/web/0123456789abcdef",
            "444455556666",
        ),
        ("arn:aws:ecs:us-east-1:111122223333:cluster/default", "111122223333"),
        ("not-an-arn", None),
        ("arn:aws:s3:::bucket/key", None),
    ],
)
def test_account_of_an_arn(arn: str, account: str | None) -> None:
    assert account_of(arn) == account


def test_other_account_without_a_role_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_ACCOUNT_ID", "111122223333")
    monkeypatch.delenv("CROSS_ACCOUNT_ROLE_NAME", raising=False)
    with pytest.raises(InvalidConfiguration, match="444455556666"):
        client("elbv2", REGION, "444455556666")
    assert client("elbv2", REGION, "111122223333") is client("elbv2", REGION)


def tg_arn(i: int) -> str:
    return f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-{i}/{i:016x}"


def tg_answer(*indices: int) -> list[dict[str, Any]]:
    return [{"TargetGroupArn": tg_arn(i), "TargetType": "instance", "Port": 80} for i in indices]


def test_explicit_groups_are_described_in_batches() -> None:
    arns = [tg_arn(i) for i in range(25)]
    with Stubber(client("elbv2", REGION)) as stub:
        stub.add_response(
            "describe_target_groups", {"TargetGroups": tg_answer(*range(20))}, {"TargetGroupArns": arns[:20]}
        )
        stub.add_response(
            "describe_target_groups",
            {"TargetGroups": tg_answer(*range(20, 25))},
            {"TargetGroupArns": arns[20:]},
        )
        result = resolve_targets(
            interruption(service=None),
            Config(target_group_arns=tuple(arns), use_service_load_balancers=False),
        )
        stub.assert_no_pending_responses()
    # all 25 were described (two batches); the output lists the first 20 and counts them all
    assert len(result.skipped) == 20
    assert "25 candidate(s) skipped, see 'skipped' (the first 20 are listed)" in result.reason


def test_load_balancer_groups_follow_every_page() -> None:
    lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/front/0123456789abcdef"
    with Stubber(client("elbv2", REGION)) as stub:
        stub.add_response(
            "describe_target_groups",
            {"TargetGroups": tg_answer(1), "NextMarker": "page-2"},
            {"LoadBalancerArn": lb},
        )
        stub.add_response(
            "describe_target_groups",
            {"TargetGroups": tg_answer(2)},
            {"LoadBalancerArn": lb, "Marker": "page-2"},
        )
        stub.add_response(
            "describe_target_groups",
            {"TargetGroups": tg_answer(1, 2)},
            {"TargetGroupArns": [tg_arn(1), tg_arn(2)]},
        )
        result = resolve_targets(
            interruption(service=None), Config(load_balancer_arns=(lb,), use_service_load_balancers=False)
        )
        stub.assert_no_pending_responses()
    assert [s.arn for s in result.skipped] == [tg_arn(1), tg_arn(2)]


def test_more_registrations_than_one_execution_handles_is_refused_by_name() -> None:
    """Step outputs stay far below the 256 KB payload limit: a task registered more than
    MAX_REGISTRATIONS times is refused before anything is touched, not half-handled."""
    arn = tg_arn(1)
    listing = {
        "TargetHealthDescriptions": [
            {"Target": {"Id": "10.0.1.25", "Port": 1000 + i}, "TargetHealth": {"State": "healthy"}}
            for i in range(MAX_REGISTRATIONS + 1)
        ]
    }
    with Stubber(client("elbv2", REGION)) as stub:
        stub.add_response(
            "describe_target_groups",
            {"TargetGroups": [{"TargetGroupArn": arn, "TargetType": "ip", "Port": 80}]},
            {"TargetGroupArns": [arn]},
        )
        stub.add_response("describe_target_health", listing, {"TargetGroupArn": arn})
        stub.add_response(
            "describe_target_group_attributes",
            {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]},
        )
        with pytest.raises(TooManyRegistrations, match=f"registered {MAX_REGISTRATIONS + 1} times"):
            resolve_targets(
                interruption(service=None), Config(target_group_arns=(arn,), use_service_load_balancers=False)
            )
