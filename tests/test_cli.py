"""`spotdrain simulate`: the acceptance runs, the output contract, and bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spotdrain_cli.cli import main
from tests.conftest import EVENTS

SHARED_EVENTS = {
    "spot-interruption-awsdocs-current.json": "Drained",
    "spot-interruption-awsdocs-2019.json": "Drained",
    "fargate-task-running-awsdocs.json": "Ignored",
    "fargate-spot-service-task-pending.json": "Ignored",
}
JSON_KEYS = {
    "status",
    "outcome",
    "error",
    "cause",
    "states",
    "deregistered",
    "targets_after",
    "transitions",
    "api_calls",
    "simulated_seconds",
}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["simulate", "--json", "--time-scale", "0", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("event", "outcome"), SHARED_EVENTS.items())
def test_public_events_give_the_expected_outcome(
    capsys: pytest.CaptureFixture[str], event: str, outcome: str
) -> None:
    code, result = run_json(capsys, "--event", str(EVENTS / event))
    assert code == 0
    assert result["outcome"] == outcome
    assert result["status"] == "SUCCEEDED"
    assert set(result) >= JSON_KEYS
    if outcome == "Drained":
        assert result["deregistered"] == [
            {
                "targetGroupArn": result["targets_after"][0]["targetGroupArn"],
                "targetGroup": "web-8080",
                "id": "10.0.1.25",
                "port": 8080,
                "atSeconds": 0.0,
            }
        ]
        # Parse, Route, Resolve, Route, Deregister, Route, Wait (the NLB's 30 s delay), Check,
        # Route, Drained: one check suffices
        assert result["transitions"] == 10
        assert result["api_calls"]["elbv2:DeregisterTargets"] == 1


def test_failure_branch_exits_non_zero_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    world = Path(__file__).parent.parent / "examples" / "worlds" / "access-denied.yaml"
    code, result = run_json(
        capsys, "--world", str(world), "--event", str(EVENTS / "spot-interruption-with-eni.json")
    )
    assert code == 1
    assert (result["status"], result["outcome"], result["error"]) == ("FAILED", "Failed", "AwsAccessDenied")


def test_timeline_shows_every_step_and_the_final_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--time-scale", "0"]) == 0
    out = capsys.readouterr().out
    assert "World: default.yaml: 1 target group(s): web-8080 (NLB web-nlb" in out
    for line in (
        "▶ ParseEvent",
        "ecs:DescribeTasks",
        "▶ ResolveTargets",
        "ec2:DescribeNetworkInterfaces",
        "elbv2:DeregisterTargets",
        "… wait 30 s",
        "▶ Drained",
        "SUCCEEDED at Drained",
    ):
        assert line in out
    assert out.count("▶ CheckDrain") == 1


def test_console_script_is_installed_and_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("spotdrain")
    done = subprocess.run(
        [
            str(script),
            "simulate",
            "--json",
            "--time-scale",
            "0",
            "--event",
            str(EVENTS / "fargate-task-running-awsdocs.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "Ignored"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"event.json": "{not json"}, "is not usable JSON"),
        ({"world.yaml": "targetGroups: [{name: web, port: eighty}]"}, "targetGroups.0.port"),
        ({"world.yaml": "targetGroups: [{name: web, colour: blue}]"}, "colour"),
        ({"world.yaml": "- just\n- a list"}, "must hold a mapping"),
        ({"world.yaml": "targetGroups: [{name: web, loadBalancer: nope}]"}, "unknown load balancer"),
        ({"world.yaml": "parameters: {NoSuchParameter: 1}"}, "NoSuchParameter"),
        ({"world.yaml": "parameters: {UseServiceLoadBalancers: perhaps}"}, "UseServiceLoadBalancers"),
        ({"world.yaml": "faults: [{operation: DeregisterTargets, error: Throttling}]"}, "faults.0.operation"),
        ({"event.json": "[]"}, "EventBridge delivers an object"),
        ({"event.json": '{"source": NaN}'}, "NaN is not JSON"),
        ({"event.json": "[" * 100_000}, "not usable JSON"),
        (
            {"world.yaml": "targetGroups: [{name: w, targets: [{id: 10.0.0.1}, {id: 10.0.0.1}]}]"},
            "listed twice",
        ),
        ({"world.yaml": "targetGroups: [{name: w, targets: [{id: not-an-ip}]}]"}, "is not an IP address"),
        (
            {"world.yaml": "targetGroups: [{name: w, ipAddressType: ipv6, targets: [{id: 10.0.0.1}]}]"},
            "does not fit ipv6",
        ),
        ({"event.json": "null"}, "EventBridge delivers an object"),
        ({"world.yaml": "parameters: {PollIntervalSeconds: 0}"}, "PollIntervalSeconds=0 is outside 1..300"),
        ({"world.yaml": "parameters: {CrossAccountRoleName: 'bad role/name'}"}, "CrossAccountRoleName"),
        (
            {"world.yaml": "faults: [{operation: 'elbv2:NoSuchOp', error: Throttling}]"},
            "no operation 'NoSuchOp'",
        ),
        ({"world.yaml": "faults: [{operation: 'nosuch:Describe', error: Throttling}]"}, "unknown service"),
        ({"world.yaml": "region: eu-west-1"}, "region"),
        (
            {"world.yaml": "targetGroups: [{name: w, targets: [{id: 10.0.0.1, drainRemainingSeconds: 3}]}]"},
            "drainRemainingSeconds needs state: draining",
        ),
        (
            {
                "world.yaml": "loadBalancers: [{name: a, type: application}]\n"
                "targetGroups: [{name: t, loadBalancer: a}]"
            },
            "cannot build this world",
        ),
        ({"world.yaml": "targets: {"}, "not valid"),
    ],
)
def test_bad_files_are_named_errors_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], message: str
) -> None:
    args = ["simulate", "--time-scale", "0"]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        args += ["--event" if name.endswith(".json") else "--world", str(tmp_path / name)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_file_is_a_named_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--event", str(tmp_path / "nope.json")]) == 2
    assert "cannot read event file" in capsys.readouterr().err


def test_boolean_parameters_may_be_written_as_yaml_booleans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = tmp_path / "w.yaml"
    world.write_text("parameters: {UseServiceLoadBalancers: false, TargetGroupArns: []}", encoding="utf-8")
    code, result = run_json(
        capsys, "--world", str(world), "--event", str(EVENTS / "spot-interruption-with-eni.json")
    )
    assert code == 1
    assert result["error"] == "InvalidConfiguration"  # no source of target groups left


@pytest.mark.parametrize("name", ["bad name!", "x" * 81, ""])
def test_execution_names_step_functions_would_refuse_are_refused(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--name", name])
    assert "execution name" in capsys.readouterr().err


def test_failure_summary_shows_the_error_message_not_the_lambda_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = Path(__file__).parent.parent / "examples" / "worlds" / "access-denied.yaml"
    event = EVENTS / "spot-interruption-with-eni.json"
    assert main(["simulate", "--time-scale", "0", "--world", str(world), "--event", str(event)]) == 1
    out = capsys.readouterr().out
    assert "  cause: elbv2:DeregisterTargets failed: AccessDenied: User is not authorized" in out
    assert "stackTrace" not in out


@pytest.mark.parametrize("scale", ["-1", "fast", "11", "nan", "inf"])
def test_bad_time_scale_is_refused_by_argparse(scale: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--time-scale", scale])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "time scale" in err or "not a number" in err


def test_multi_group_multi_port_world_drains_every_pair(capsys: pytest.CaptureFixture[str]) -> None:
    world = Path(__file__).parent.parent / "examples" / "worlds" / "two-groups-two-ports.yaml"
    code, result = run_json(
        capsys, "--world", str(world), "--event", str(EVENTS / "spot-interruption-with-eni.json")
    )
    assert code == 0
    pairs = {(d["targetGroup"], d["id"], d["port"]) for d in result["deregistered"]}
    assert pairs == {
        ("web-8080", "10.0.1.25", 8080),
        ("web-8080", "10.0.1.25", 8443),
        ("admin-9090", "10.0.1.25", 9090),
    }
    after = {
        (g["targetGroup"], t["id"], t["port"]): t["state"]
        for g in result["targets_after"]
        for t in g["targets"]
    }
    assert all(after[pair] == "unused" for pair in pairs)
    assert after[("web-8080", "10.0.2.17", 8080)] == "healthy"


def test_an_event_from_an_unknown_region_is_run_and_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The world cannot be built there, so it is built in the default region; ParseEvent then
    refuses the event, as it would on AWS (exit 1, InvalidEvent), instead of a usage error."""
    event = json.loads((EVENTS / "spot-interruption-with-eni.json").read_text(encoding="utf-8"))
    event["region"] = "xx-nowhere-1"
    (tmp_path / "event.json").write_text(json.dumps(event), encoding="utf-8")
    code, result = run_json(capsys, "--event", str(tmp_path / "event.json"))
    assert (code, result["status"], result["error"]) == (1, "FAILED", "InvalidEvent")
    assert "xx-nowhere-1" in result["cause"]


EXAMPLE_OUTCOMES = {
    "access-denied.yaml": ("FAILED", "AwsAccessDenied"),
    "cross-account.yaml": ("SUCCEEDED", "Drained"),
    "default.yaml": ("SUCCEEDED", "Drained"),
    "dual-stack.yaml": ("SUCCEEDED", "Drained"),
    "ec2-bridge-task.yaml": ("SUCCEEDED", "Ignored"),
    "ip-reassigned.yaml": ("SUCCEEDED", "SkippedIpReassigned"),
    "load-balancer-source.yaml": ("SUCCEEDED", "Drained"),
    "mixed-target-types.yaml": ("SUCCEEDED", "Drained"),
    "other-region-refused.yaml": ("FAILED", "AccountOrRegionNotAllowed"),
    "other-vpc-same-address.yaml": ("SUCCEEDED", "Drained"),
    "outside-vpc.yaml": ("SUCCEEDED", "Drained"),
    "sources-combined.yaml": ("SUCCEEDED", "Drained"),
    "throttled-deregister.yaml": ("SUCCEEDED", "Drained"),
    "two-groups-two-ports.yaml": ("SUCCEEDED", "Drained"),
}


def test_every_example_world_is_listed_here() -> None:
    examples = Path(__file__).parent.parent / "examples" / "worlds"
    assert sorted(p.name for p in examples.glob("*.yaml")) == sorted(EXAMPLE_OUTCOMES)


@pytest.mark.parametrize(("name", "expected"), sorted(EXAMPLE_OUTCOMES.items()))
def test_each_example_world_runs_as_meant_without_an_event_argument(
    capsys: pytest.CaptureFixture[str], name: str, expected: tuple[str, str]
) -> None:
    """A world names its own notice: --world alone never silently ends in TaskNotFound."""
    world_file = Path(__file__).parent.parent / "examples" / "worlds" / name
    code, result = run_json(capsys, "--world", str(world_file))
    status, end = expected
    assert (result["status"], result["error"] or result["outcome"]) == (status, end)
    assert code == (0 if status == "SUCCEEDED" else 1)


def test_a_mistyped_fault_error_code_is_refused_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world_file = tmp_path / "world.yaml"
    world_file.write_text(
        "faults:\n  - {operation: elbv2:DeregisterTargets, error: Throttled}\n", encoding="utf-8"
    )
    assert main(["simulate", "--time-scale", "0", "--world", str(world_file)]) == 2
    assert "did you mean 'Throttling'?" in capsys.readouterr().err


def test_the_text_summary_shows_ipv6_targets_in_brackets_and_what_was_skipped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = Path(__file__).parent.parent / "examples" / "worlds"
    assert main(["simulate", "--time-scale", "0", "--world", str(examples / "dual-stack.yaml")]) == 0
    assert "[2600:1f18:" in capsys.readouterr().out
    assert (
        main(["simulate", "--time-scale", "0", "--world", str(examples / "other-vpc-same-address.yaml")]) == 0
    )
    assert "there the address is another host" in capsys.readouterr().out
