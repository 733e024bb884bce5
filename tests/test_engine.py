"""The local engine: the moto behaviours it relies on, and the fixes it makes to them."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

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


def test_waits_and_back_off_run_on_the_simulated_clock(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-with-eni.json", "throttled-deregister.yaml")
    # 30 s of drain plus two jittered back-offs, all simulated: the test itself takes ~1 s.
    assert 30 <= result["simulated_seconds"] < 30 + 1 + 2 + 1
    assert result["retries"] == 2


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
