"""The pieces `make bench` stands on: the concurrent clock, the rate limits, the baselines, the
mass run and the report. (The figures themselves are measured by `make bench`, not asserted.)"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from benchmarks import baselines, report, scenarios, worlds
from benchmarks.cold_start import ColdStart
from benchmarks.mass import run_mass
from botocore.config import Config
from botocore.exceptions import ClientError

from spotdrain_cli.aws_model import SimClock
from spotdrain_cli.engine import Simulation
from spotdrain_cli.world import World, WorldError

DEFINITION = Path(__file__).parent.parent / "statemachine" / "drain.asl.json"
T0 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


# --- the concurrent (discrete-event) clock --------------------------------------------------------
def test_concurrent_actors_overlap_in_simulated_time() -> None:
    clock = SimClock(T0, 0, concurrent=True)
    woke: list[tuple[str, float]] = []

    def actor(name: str, waits: list[float]) -> None:
        for seconds in waits:
            clock.sleep(seconds)
            woke.append((name, clock.elapsed))
        clock.actor_ended()

    threads = [
        threading.Thread(target=actor, args=("a", [10, 10])),
        threading.Thread(target=actor, args=("b", [15])),
    ]
    with clock.holding():  # both start at 0 before the clock may move
        for thread in threads:
            clock.actor_started()
            thread.start()
    for thread in threads:
        thread.join(10)
    # sequential sleeps would have ended at 35 s; side by side the last wakes at 20 s
    assert woke == [("a", 10.0), ("b", 15.0), ("a", 20.0)]


def test_the_clock_waits_for_an_actor_that_is_awake() -> None:
    clock = SimClock(T0, 0, concurrent=True)
    clock.actor_started()  # busy, never sleeps
    sleeper_done = threading.Event()

    def sleeper() -> None:
        clock.sleep(5)
        sleeper_done.set()
        clock.actor_ended()

    clock.actor_started()
    threading.Thread(target=sleeper, daemon=True).start()
    assert not sleeper_done.wait(0.2)
    assert clock.elapsed == 0
    clock.actor_ended()  # the busy one ends: now every actor left is asleep
    assert sleeper_done.wait(5)
    assert clock.elapsed == 5


def test_a_sequential_clock_just_advances() -> None:
    clock = SimClock(T0, 0)
    clock.sleep(2.5)
    assert clock.elapsed == 2.5


# --- rate limits ----------------------------------------------------------------------------------
def _limited_world(burst: float, refill: float) -> World:
    data = worlds.world(groups=1, other_groups=False).model_dump(by_alias=True, exclude_none=True)
    data["rateLimits"] = [{"operations": ["elbv2:Describe*"], "burst": burst, "refillPerSecond": refill}]
    return World.model_validate(data)


def test_a_token_bucket_throttles_describe_calls_and_refills_on_the_simulated_clock() -> None:
    with Simulation(_limited_world(2, 1), region="us-east-1", account="111122223333", start=T0) as sim:
        sim.recording = True
        elbv2 = boto3.client(
            "elbv2", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1})
        )
        arn = sim.target_group_arns["web-0"]
        outcomes: list[str] = []

        def call() -> None:
            try:
                elbv2.describe_target_health(TargetGroupArn=arn)
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        for _ in range(3):
            call()
        elbv2.register_targets(
            TargetGroupArn=arn, Targets=[{"Id": "10.9.9.9", "Port": 8080}]
        )  # not Describe*
        sim.clock.advance(1.0)
        call()
        sim.recording = False
    assert outcomes == ["ok", "ok", "Throttling", "ok"]
    assert sim.throttled == Counter({"elbv2:DescribeTargetHealth": 1})


@pytest.mark.parametrize(
    ("limit", "problem"),
    [
        (
            {"operations": ["elbv2:Nothing*"], "burst": 40, "refillPerSecond": 10},
            "matches no elbv2 operation",
        ),
        ({"operations": ["elbv2"], "burst": 40, "refillPerSecond": 10}, "write service:Operation"),
        ({"operations": ["elbv2:Describe*"], "burst": 0, "refillPerSecond": 10}, "greater than 0"),
    ],
)
def test_a_bad_rate_limit_is_named(limit: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        World.model_validate({"rateLimits": [limit]})


def test_a_concurrent_simulation_refuses_a_time_scale() -> None:
    with pytest.raises(ValueError, match="time scale 0"):
        Simulation(worlds.world(), region="us-east-1", account="111122223333", time_scale=1, concurrent=True)


# --- baselines ------------------------------------------------------------------------------------
def test_the_fixed_loop_changes_only_the_wait() -> None:
    states = json.loads(DEFINITION.read_text(encoding="utf-8"))["States"]
    edited = baselines.fixed_poll_loop({"StartAt": "ParseEvent", "States": states})["States"]
    assert edited["WaitForDrain"]["Seconds"] == 5
    assert "SecondsPath" not in edited["WaitForDrain"]
    assert {k: v for k, v in edited.items() if k != "WaitForDrain"} == {
        k: v for k, v in states.items() if k != "WaitForDrain"
    }


def test_the_naive_lambda_lists_everything_and_removes_the_address_everywhere() -> None:
    calls, removed = scenarios.run_naive(worlds.world(groups=3))
    assert sorted(arn.split("/")[1] for arn, _, _ in removed) == ["web-0", "web-1", "web-2"]
    assert calls["elbv2:DescribeLoadBalancers"] == 1
    assert calls["elbv2:DescribeTargetHealth"] == 3 + 20  # every group of the account


def test_the_fixed_loop_grows_with_the_delay_where_the_workflow_does_not() -> None:
    short = worlds.world(groups=1, delay=10)
    long = worlds.world(groups=1, delay=120)
    ours = [scenarios.run_workflow(w, delay=d) for w, d in ((short, 10), (long, 120))]
    fixed = [scenarios.run_workflow(w, fixed_loop=True, delay=d) for w, d in ((short, 10), (long, 120))]
    assert [r.outcome for r in ours + fixed] == ["Drained"] * 4
    assert ours[0].transitions == ours[1].transitions
    assert fixed[1].transitions > fixed[0].transitions + 30
    assert all(r.detection_lag is not None and 0 <= r.detection_lag <= 5 for r in ours)
    assert ours[0].hops_to_deregistration == 3


# --- the mass run ---------------------------------------------------------------------------------
def test_a_small_mass_interruption_is_throttled_and_still_drains_every_task() -> None:
    run = run_mass(20)
    assert run.throttled > 0  # 20 tasks, 4 Describe* calls at once exceed the burst of 40
    assert run.outcomes == Counter({"Drained": 20})
    assert run.failed_by_throttling == 0
    assert run.deregistered_in_time == run.drained_in_time == 20


# --- the report -----------------------------------------------------------------------------------
def test_a_missed_target_says_so() -> None:
    results = report.Results(
        cold=ColdStart(
            rounds=1,
            baseline_ms=100,
            handler_ms={"check_drain": 150, "parse_event": 120},
            artifact_bytes=1,
            artifact_files=1,
            runtime_bytes=2,
        )
    )
    (row,) = report.targets(results)
    assert row == ["handler import ≤ 1.3× import boto3", "1.50× (check_drain)", "**missed**"]
    assert "| `spotdrain.parse_event` | 120 | 1.20 | met |" in report.markdown(results, None)


def test_a_world_for_the_benchmarks_is_valid_and_holds_what_it_says() -> None:
    world = worlds.world(groups=2, tasks=3, delay=0)
    groups = {g.name: g for g in world.target_groups}
    assert len(groups) == 2 + 20
    assert {t.id for t in groups["web-1"].targets} >= {worlds.case(i).ip for i in range(3)}
    assert world.parameters["TargetGroupArns"] == ["web-0", "web-1"]
    with pytest.raises(WorldError):
        World.model_validate({"targetGroups": [{"name": "x", "port": 1}, {"name": "x", "port": 1}]}).check()


def test_an_artifact_not_built_is_said_not_measured_as_zero() -> None:
    cold = ColdStart(
        rounds=1,
        baseline_ms=100,
        handler_ms={"check_drain": 120},
        artifact_bytes=0,
        artifact_files=0,
        runtime_bytes=5,
    )
    text = report.markdown(report.Results(cold=cold), None)
    assert "Deployable artifact: not built" in text
    assert "0.0 MB" not in text
