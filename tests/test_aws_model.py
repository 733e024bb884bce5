"""The simulator's ELBv2 behaves like AWS, not like moto, where it matters for draining."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from spotdrain_cli.engine import Simulation
from spotdrain_cli.world import World

WORLD = {
    "targetGroups": [
        {
            "name": "web",
            "port": 80,
            "deregistrationDelaySeconds": 30,
            "targets": [
                {"id": "10.0.1.25", "port": 8080},
                {"id": "10.0.1.25", "port": 9090},
                {"id": "10.0.2.17", "port": 8080},
            ],
        },
        {
            "name": "instant",
            "port": 80,
            "deregistrationDelaySeconds": 0,
            "targets": [{"id": "10.0.1.25", "port": 80}],
        },
    ]
}


@pytest.fixture
def sim() -> Iterator[Simulation]:
    with Simulation(
        World.model_validate(WORLD),
        region="us-east-1",
        account="111122223333",
        start=datetime(2026, 11, 20, tzinfo=UTC),
    ) as simulation:
        yield simulation


def states(
    sim: Simulation, group: str, targets: list[dict[str, Any]] | None = None
) -> dict[tuple[str, int], str]:
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    kwargs: dict[str, Any] = {"TargetGroupArn": sim.target_group_arns[group]}
    if targets is not None:
        kwargs["Targets"] = targets
    answer = elbv2.describe_target_health(**kwargs)["TargetHealthDescriptions"]
    return {(d["Target"]["Id"], int(d["Target"]["Port"])): d["TargetHealth"]["State"] for d in answer}


def deregister(sim: Simulation, group: str, targets: list[dict[str, Any]]) -> None:
    boto3.client("elbv2", region_name="us-east-1").deregister_targets(
        TargetGroupArn=sim.target_group_arns[group], Targets=targets
    )


def test_targets_are_keyed_by_id_and_port(sim: Simulation) -> None:
    assert states(sim, "web") == {
        ("10.0.1.25", 8080): "healthy",
        ("10.0.1.25", 9090): "healthy",
        ("10.0.2.17", 8080): "healthy",
    }


def test_deregistered_target_drains_for_the_delay_then_is_gone(sim: Simulation) -> None:
    deregister(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}])
    assert states(sim, "web")[("10.0.1.25", 8080)] == "draining"
    assert states(sim, "web")[("10.0.1.25", 9090)] == "healthy"  # the other port is untouched
    sim.clock.advance(29)
    assert states(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}]) == {("10.0.1.25", 8080): "draining"}
    sim.clock.advance(1)
    assert ("10.0.1.25", 8080) not in states(sim, "web")  # absent from an unfiltered listing
    assert states(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}]) == {("10.0.1.25", 8080): "unused"}


def test_draining_reason_is_deregistration_in_progress(sim: Simulation) -> None:
    deregister(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}])
    answer = boto3.client("elbv2", region_name="us-east-1").describe_target_health(
        TargetGroupArn=sim.target_group_arns["web"], Targets=[{"Id": "10.0.1.25", "Port": 8080}]
    )["TargetHealthDescriptions"][0]["TargetHealth"]
    assert answer["Reason"] == "Target.DeregistrationInProgress"


def test_zero_delay_is_gone_at_once(sim: Simulation) -> None:
    deregister(sim, "instant", [{"Id": "10.0.1.25", "Port": 80}])
    assert states(sim, "instant") == {}


def test_deregistering_a_target_that_is_not_registered_succeeds(sim: Simulation) -> None:
    deregister(sim, "web", [{"Id": "10.9.9.9", "Port": 8080}])  # moto would raise InvalidTarget
    assert len(states(sim, "web")) == 3
    assert sim.elb.deregistrations == []


def test_portless_deregister_of_a_target_on_another_port_does_nothing(sim: Simulation) -> None:
    deregister(sim, "web", [{"Id": "10.0.1.25"}])  # group port 80: no such registration
    assert states(sim, "web")[("10.0.1.25", 8080)] == "healthy"
    assert states(sim, "web")[("10.0.1.25", 9090)] == "healthy"


def test_deregistering_twice_keeps_the_first_drain_deadline(sim: Simulation) -> None:
    deregister(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}])
    sim.clock.advance(20)
    deregister(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}])
    sim.clock.advance(10)
    assert ("10.0.1.25", 8080) not in states(sim, "web")
    assert len(sim.elb.deregistrations) == 1


def test_drain_ends_exactly_at_the_delay_after_a_fractional_start(sim: Simulation) -> None:
    """Regression: with a float clock, 1.5775036191217233 + 5 + 25 fell short of
    1.5775036191217233 + 30, so a drained target was polled once more."""
    sim.clock.advance(1.5775036191217233)  # a jittered retry back-off
    deregister(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}])
    sim.clock.advance(5)
    sim.clock.advance(25)
    assert states(sim, "web", [{"Id": "10.0.1.25", "Port": 8080}]) == {("10.0.1.25", 8080): "unused"}
