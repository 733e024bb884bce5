"""Every way a task sits behind a load balancer: the exact registrations drained, nothing else.

Each case is an event file plus a world file from examples/worlds/, run on the local engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spotdrain_cli import simulate
from spotdrain_cli.world import load_world
from tests.conftest import EXAMPLE_WORLDS as EXAMPLES
from tests.conftest import Runner, load_event


def deregistered(result: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(d["targetGroup"], d["id"], d["port"]) for d in result["deregistered"]}


def skipped(result: dict[str, Any]) -> list[str]:
    return [item["reason"] for item in result["output"].get("skipped", [])]


def untouched(result: dict[str, Any], address: str) -> bool:
    """Every registration of ``address`` is still in service."""
    return all(
        t["state"] == "healthy" for g in result["targets_after"] for t in g["targets"] if t["id"] == address
    )


CASES = [
    pytest.param(
        "spot-interruption-with-eni.json",
        "default.yaml",
        {("web-8080", "10.0.1.25", 8080)},
        id="service-load-balancers",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "two-groups-two-ports.yaml",
        {("web-8080", "10.0.1.25", 8080), ("web-8080", "10.0.1.25", 8443), ("admin-9090", "10.0.1.25", 9090)},
        id="several-groups-and-ports-plus-explicit",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "load-balancer-source.yaml",
        {("http-8080", "10.0.1.25", 8080), ("grpc-50051", "10.0.1.25", 50051)},
        id="alb-and-nlb-load-balancers",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "sources-combined.yaml",
        {("web-8080", "10.0.1.25", 8080)},
        id="sources-combined-deduplicated",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "outside-vpc.yaml",
        {("peered-9443", "10.0.1.25", 9443)},
        id="ip-outside-the-vpc",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "mixed-target-types.yaml",
        {("web-ip", "10.0.1.25", 8080)},
        id="non-ip-groups-skipped",
    ),
    pytest.param(
        "spot-interruption-with-eni.json",
        "cross-account.yaml",
        {("web-8080", "10.0.1.25", 8080), ("shared-8080", "10.0.1.25", 8080)},
        id="cross-account-group",
    ),
    pytest.param(
        "spot-interruption-dual-stack.json",
        "dual-stack.yaml",
        {("web-v4", "10.0.1.25", 8080), ("web-v6", "2600:1f18:abcd:1:0:0:0:25", 8080)},
        id="dual-stack",
    ),
    pytest.param(
        "spot-interruption-ipv6-only.json",
        "dual-stack.yaml",
        {("web-v6", "2600:1f18:abcd:1:0:0:0:25", 8080)},
        id="ipv6-only",
    ),
]


@pytest.mark.parametrize(("event", "world_name", "expected"), CASES)
def test_exactly_the_tasks_registrations_are_drained(
    run_workflow: Runner, event: str, world_name: str, expected: set[tuple[str, str, int]]
) -> None:
    result = run_workflow(event, world_name)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Drained")
    assert deregistered(result) == expected
    assert len(result["deregistered"]) == len(expected)  # each exactly once
    assert untouched(result, "10.0.2.17")
    assert untouched(result, "2600:1f18:abcd:2::17")
    for group in result["targets_after"]:
        for target in group["targets"]:
            if (group["targetGroup"], target["id"], target["port"]) in expected:
                assert target["state"] == "unused"


def test_outside_vpc_deregistration_carries_the_zone(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "outside-vpc.yaml")
    assert [d.get("availabilityZone") for d in result["deregistered"]] == ["all"]


def test_non_ip_groups_are_skipped_with_a_reason(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "mixed-target-types.yaml")
    assert sorted(skipped(result)) == [
        "target type 'instance': Fargate tasks are registered by IP",
        "target type 'lambda': Fargate tasks are registered by IP",
    ]


def test_a_group_not_on_a_configured_load_balancer_is_left_alone(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "load-balancer-source.yaml")
    (unrelated,) = [g for g in result["targets_after"] if g["targetGroup"] == "unrelated"]
    assert unrelated["targets"] == [{"id": "10.0.1.25", "port": 7000, "state": "healthy"}]
    assert "ecs:DescribeServices" not in result["api_calls"]


def test_a_group_of_the_other_address_family_is_skipped_with_a_reason(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "dual-stack.yaml")
    assert deregistered(result) == {("web-v4", "10.0.1.25", 8080)}
    assert skipped(result) == ["ipv6 target group, and the task has no ipv6 address"]


def test_cross_account_group_is_reached_through_the_role_in_its_account(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "cross-account.yaml")
    (shared,) = [d for d in result["deregistered"] if d["targetGroup"] == "shared-8080"]
    assert ":444455556666:targetgroup/shared-8080/" in shared["targetGroupArn"]
    assert result["api_calls"]["sts:AssumeRole"] >= 1


def test_cross_account_group_without_a_role_fails_by_name_and_touches_nothing(
    run_workflow: Runner, tmp_path: Path
) -> None:
    text = (EXAMPLES / "cross-account.yaml").read_text(encoding="utf-8")
    world_file = tmp_path / "no-role.yaml"
    world_file.write_text(text.replace("  CrossAccountRoleName: spotdrain-drainer\n", ""), encoding="utf-8")
    result = simulate.run(load_event("spot-interruption-with-eni.json"), load_world(world_file), time_scale=0)
    assert (result["status"], result["error"]) == ("FAILED", "InvalidConfiguration")
    assert "CrossAccountRoleName" in result["cause"]
    assert result["deregistered"] == []
    assert result["retries"] == 0
