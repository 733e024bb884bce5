"""The local engine: the moto behaviours it relies on, and the fixes it makes to them."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from spotdrain_cli import simulate
from spotdrain_cli.engine import Simulation, scoped_environment
from spotdrain_cli.world import World, WorldError
from tests.conftest import Runner, load_event

START = datetime(2026, 11, 20, 3, 12, 45, tzinfo=UTC)


def test_handler_errors_come_back_the_way_lambda_reports_them(run_workflow: Runner) -> None:
    """errorType is the exception class name: Retry/Catch match on it."""
    result = run_workflow("spot-interruption-with-eni.json", "access-denied.yaml")
    assert result["error"] == "AwsAccessDenied"
    assert (
        '"errorType": "AwsAccessDenied"' in result["cause"]
        or '"errorType":"AwsAccessDenied"' in result["cause"]
    )


def load_definition() -> dict[str, Any]:
    path = Path(__file__).parent.parent / "statemachine" / "drain.asl.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_waits_and_back_off_run_on_the_simulated_clock(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "throttled-deregister.yaml")
    # 30 s of drain plus four jittered workflow back-offs (each at most the definition's
    # AwsThrottled interval, doubled per retry, capped), all simulated: the test takes ~1 s.
    retrier = next(
        r
        for r in load_definition()["States"]["DeregisterTargets"]["Retry"]
        if r["ErrorEquals"] == ["AwsThrottled"]
    )
    ceilings = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** k, retrier["MaxDelaySeconds"])
        for k in range(4)
    ]
    assert 30 <= result["simulated_seconds"] < 30 + sum(ceilings) + 1
    assert (result["retries"], result["sdk_retries"]) == (4, 0)


def test_history_timestamps_are_simulated_time() -> None:
    with Simulation(World(), region="us-east-1", account="111122223333", start=START) as sim:
        arn = sim.start(load_event("fargate-task-running-awsdocs.json"), name="clock")
        sim.wait(arn)
        stamps = [event["timestamp"] for event in sim.history(arn)]
    assert all(stamp == START for stamp in stamps)


def test_unknown_world_names_are_a_world_error() -> None:
    world = World.model_validate({"parameters": {"TargetGroupArns": ["no-such-group"]}})
    with (
        pytest.raises(WorldError, match="no-such-group"),
        Simulation(world, region="us-east-1", account="111122223333"),
    ):
        pass


def test_negative_time_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="time scale"):
        Simulation(World(), region="us-east-1", account="111122223333", time_scale=-1)


def test_scoped_environment_never_empties_the_environment() -> None:
    """Regression: patch.dict(os.environ) cleared the environment on exit, so moto, reading
    MOTO_ACCOUNT_ID on another thread, briefly saw no account and lost the execution."""
    os.environ["SPOTDRAIN_PROBE"] = "present"
    missing: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if "SPOTDRAIN_PROBE" not in os.environ:
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(3000):
            with scoped_environment({"TARGET_GROUP_ARNS": str(i), "SPOTDRAIN_NEW": "x"}):
                pass
    finally:
        stop.set()
        watcher.join()
        del os.environ["SPOTDRAIN_PROBE"]
    assert missing == []
    assert "SPOTDRAIN_NEW" not in os.environ


def test_consecutive_simulations_do_not_leak_into_each_other(run_workflow: Runner) -> None:
    """Regression for the same race, end to end: many runs back to back all find their execution."""
    outcomes: list[Any] = [
        run_workflow("spot-interruption-with-eni.json", name)["outcome"]
        for name in ("throttled-deregister.yaml", "two-groups-two-ports.yaml") * 3
    ]
    assert outcomes == ["Drained"] * 6


# --- fault injection ------------------------------------------------------------------------------
def fault_world(*faults: dict[str, Any], seed: int = 0) -> World:
    data: dict[str, Any] = {
        "loadBalancers": [{"name": "web-nlb"}],
        "targetGroups": [
            {
                "name": "web-8080",
                "loadBalancer": "web-nlb",
                "port": 8080,
                "deregistrationDelaySeconds": 5,
                "targets": [{"id": "10.0.1.25", "port": 8080}, {"id": "10.0.2.17", "port": 8080}],
            }
        ],
        "parameters": {"TargetGroupArns": ["web-8080"], "UseServiceLoadBalancers": "false"},
        "faults": list(faults),
        "seed": seed,
    }
    return World.model_validate(data)


def test_faults_at_a_rate_are_repeatable_for_a_seed(run_workflow: Runner) -> None:
    fault = {"operation": "elbv2:DescribeTargetHealth", "error": "Throttling", "rate": 0.5}
    notice = load_event("spot-interruption-with-eni.json")
    runs = [simulate.run(notice, fault_world(fault, seed=seed), time_scale=0) for seed in (7, 7, 8)]
    assert runs[0]["faults_injected"] == runs[1]["faults_injected"]
    assert runs[0]["api_calls"] == runs[1]["api_calls"]
    assert all(run["outcome"] == "Drained" for run in runs)
    assert any(run["faults_injected"] for run in runs)


@pytest.mark.parametrize("error", ["ReadTimeout", "ConnectTimeout"])
def test_timeouts_reach_the_workflow_as_aws_unavailable(error: str) -> None:
    fault = {"operation": "elbv2:DeregisterTargets", "error": error}
    result = simulate.run(load_event("spot-interruption-with-eni.json"), fault_world(fault), time_scale=0)
    assert (result["status"], result["error"]) == ("FAILED", "AwsUnavailable")
    assert "timeout" in result["cause"].lower()
    assert result["retries"] == 6  # retried as transient, then given up
    assert result["deregistered"] == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"operation": "elbv2:DescribeTargetHealth", "effect": "ignored"}, "returns data"),
        (
            {"operation": "elbv2:DeregisterTargets", "effect": "ignored", "error": "Throttling"},
            "drop 'error'",
        ),
        ({"operation": "elbv2:DeregisterTargets"}, "needs 'error'"),
        ({"operation": "elbv2:DeregisterTargets", "error": "Throttling", "rate": 0.5, "times": 2}, "one of"),
        ({"operation": "elbv2:DeregisterTargets", "error": "Throttling", "rate": 1.5}, "less than or equal"),
    ],
)
def test_bad_faults_are_refused_with_the_reason(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fault_world(fault)
