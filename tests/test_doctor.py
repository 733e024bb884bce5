"""`spotdrain doctor` on the local simulator: what would make draining fail, with the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spotdrain_cli import doctor
from spotdrain_cli.engine import Simulation
from spotdrain_cli.simulate import event_place
from spotdrain_cli.world import World
from tests.conftest import load_event, world

GROUP = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web-8080/"


def diagnose(world_model: World, prepare: Any = None) -> doctor.Report:
    region, account, when = event_place(load_event("spot-interruption-with-eni.json"))
    with Simulation(world_model, region=region, account=account, start=when) as sim:
        if prepare:
            prepare(sim)
        return doctor.diagnose(sim.client, sim.state_machine_arn)


def changed(name: str, **group: Any) -> World:
    data = copy.deepcopy(world(name).model_dump(by_alias=True, exclude_none=True))
    data["targetGroups"][0].update(group)
    return World.model_validate(data)


def levels(report: doctor.Report) -> list[tuple[str, str]]:
    return [(f.level, f.subject.split(" (")[0]) for f in report.findings]


def test_a_healthy_set_up_is_healthy() -> None:
    report = diagnose(world("default.yaml"))
    assert report.problems == []
    assert [f for f in report.findings if f.level == doctor.WARNING] == []
    assert ("ok", "state machine") in levels(report)
    assert ("ok", "rule spotdrain-drain-spot-interruption") in levels(report)
    (group_ok,) = [
        f for f in report.findings if f.level == doctor.OK and f.subject.startswith("target group")
    ]
    assert "deregistration delay 30 s < deadline 120 s" in group_ok.message
    assert "healthy; 0 warning(s)" in doctor.render(report)[-1]


def test_a_300_second_delay_is_a_problem_with_its_fix() -> None:
    report = diagnose(world("doctor-300s-delay.yaml"))
    (problem,) = report.problems
    assert problem.subject.startswith("target group targetgroup/web-8080/")
    assert "deregistration delay 300 s is not shorter than the drain deadline 120 s" in problem.message
    assert problem.fix is not None
    assert problem.fix.startswith(f"aws elbv2 modify-target-group-attributes --target-group-arn {GROUP}")
    assert problem.fix.endswith("--attributes Key=deregistration_delay.timeout_seconds,Value=30")
    # the task's 30 s stopTimeout is shorter still: said too, as a warning
    (warning,) = [f for f in report.findings if f.level == doctor.WARNING]
    assert "longer than the task's stopTimeout 30 s" in warning.message


def test_a_discovered_group_without_the_tag_is_a_problem() -> None:
    report = diagnose(changed("default.yaml", tags={}))
    (problem,) = report.problems
    assert "is not tagged spotdrain:drain=true" in problem.message
    assert problem.fix is not None
    assert problem.fix.endswith("--tags Key=spotdrain:drain,Value=true")


def test_an_nlb_without_connection_termination_is_a_warning() -> None:
    report = diagnose(changed("default.yaml", connectionTermination=False))
    assert report.problems == []
    (warning,) = [f for f in report.findings if f.level == doctor.WARNING]
    assert "connections are not closed" in warning.message
    assert warning.fix is not None
    assert "deregistration_delay.connection_termination.enabled,Value=true" in warning.fix


def test_a_missing_rule_means_nothing_is_drained() -> None:
    def without_rule(sim: Simulation) -> None:
        events = sim.client("events")
        name = "spotdrain-drain-spot-interruption"
        events.remove_targets(Rule=name, Ids=["DrainStateMachine"])
        events.delete_rule(Name=name)

    report = diagnose(world("default.yaml"), without_rule)
    assert [(f.level, f.subject) for f in report.problems] == [("problem", "rule")]


def test_a_rule_edited_by_hand_is_a_problem() -> None:
    def loosened(sim: Simulation) -> None:
        sim.client("events").put_rule(
            Name="spotdrain-drain-spot-interruption", EventPattern='{"source": ["aws.ecs"]}', State="ENABLED"
        )

    report = diagnose(world("default.yaml"), loosened)
    (problem,) = report.problems
    assert "differs from template.yaml's" in problem.message


def test_instance_target_groups_are_skipped_with_a_warning() -> None:
    report = diagnose(world("mixed-target-types.yaml"))
    warnings = [
        f for f in report.findings if f.level == doctor.WARNING and "spotdrain drains ip targets" in f.message
    ]
    assert warnings


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_command_exits_non_zero_on_a_problem(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from spotdrain_cli import cli

    region, account, when = event_place(load_event("spot-interruption-with-eni.json"))
    with Simulation(world("doctor-300s-delay.yaml"), region=region, account=account, start=when) as sim:
        monkeypatch.setattr(cli, "aws_client", lambda service, *_: sim.client(service))
        code = cli.main(["doctor", "--region", region, *(["--json"] if fmt == "json" else [])])
    out = capsys.readouterr().out
    assert code == 1
    if fmt == "json":
        assert json.loads(out)["healthy"] is False
    else:
        assert "✗ target group" in out
        assert out.rstrip().endswith("1 problem(s) would make draining fail; 1 warning(s)")


def test_services_named_without_arn_or_cluster_are_found() -> None:
    """access-denied.yaml lists its service by name and cluster only, as a world may."""
    report = diagnose(world("access-denied.yaml"))
    subjects = {f.subject.split(" (")[0] for f in report.findings}
    assert any(s.startswith("target group targetgroup/web-8080/") for s in subjects)
    assert "target groups" not in subjects  # not "no candidate target group"


def test_ecs_listings_are_read_to_the_last_page() -> None:
    pages = {None: {"serviceArns": ["a"], "nextToken": "2"}, "2": {"serviceArns": ["b"]}}
    asked: list[Any] = []

    def list_services(**kwargs: Any) -> Any:
        asked.append(kwargs.get("nextToken"))
        return pages[kwargs.get("nextToken")]

    assert doctor._pages(list_services, "serviceArns", cluster="c") == ["a", "b"]
    assert asked == [None, "2"]
