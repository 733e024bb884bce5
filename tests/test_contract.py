"""Each step's output is the next step's input: checked on what the real steps produced."""

from __future__ import annotations

import itertools
import json
from typing import Any

from pydantic import BaseModel

from spotdrain.models import (
    DrainState,
    Interruption,
    ParsedEvent,
    ParseEventInput,
    RegisteredTargets,
    ResolvedTargets,
)
from spotdrain_cli.engine import Simulation
from tests.conftest import load_event, world

STEP_INPUT: dict[str, type[BaseModel]] = {
    "ParseEvent": ParseEventInput,
    "ResolveTargets": Interruption,
    "DeregisterTargets": RegisteredTargets,
    "CheckDrain": DrainState,
}
STEP_OUTPUT: dict[str, type[BaseModel]] = {
    "ParseEvent": ParsedEvent,
    "ResolveTargets": ResolvedTargets,
    "DeregisterTargets": DrainState,
    "CheckDrain": DrainState,
}
NEXT_STEP = {
    "ParseEvent": "ResolveTargets",
    "ResolveTargets": "DeregisterTargets",
    "DeregisterTargets": "CheckDrain",
    "CheckDrain": "CheckDrain",
}


def lambda_calls(event: dict[str, Any], world_name: str) -> list[tuple[str, Any, Any]]:
    """(state, payload sent to the function, payload it returned) for each Lambda task."""
    with Simulation(world(world_name), region="us-east-1", account="111122223333") as sim:
        arn = sim.start(event, name="contract")
        sim.wait(arn)
        history = sim.history(arn)
    calls: list[tuple[str, Any, Any]] = []
    current, sent = "", None
    for item in history:
        if item["type"] == "TaskStateEntered":
            current = item["stateEnteredEventDetails"]["name"]
        elif (
            item["type"] == "TaskScheduled" and item["taskScheduledEventDetails"]["resourceType"] == "lambda"
        ):
            sent = json.loads(item["taskScheduledEventDetails"]["parameters"])["Payload"]
        elif (
            item["type"] == "TaskSucceeded" and item["taskSucceededEventDetails"]["resourceType"] == "lambda"
        ):
            returned = json.loads(item["taskSucceededEventDetails"]["output"])["Payload"]
            calls.append((current, sent, returned))
    return calls


def test_each_output_is_the_next_steps_input_on_a_real_run() -> None:
    calls = lambda_calls(load_event("spot-interruption-awsdocs-current.json"), "default.yaml")
    assert [c[0] for c in calls][:4] == ["ParseEvent", "ResolveTargets", "DeregisterTargets", "CheckDrain"]
    for (state, _sent, returned), (next_state, next_sent, _) in itertools.pairwise(calls):
        assert next_state == NEXT_STEP[state]
        assert next_sent == returned  # the ASL passes the output on unchanged
        STEP_OUTPUT[state].model_validate(returned)
        STEP_INPUT[next_state].model_validate(returned)
    for state, sent, _returned in calls:
        STEP_INPUT[state].model_validate(sent)


def test_outputs_survive_a_json_round_trip_unchanged() -> None:
    calls = lambda_calls(load_event("spot-interruption-with-eni.json"), "two-groups-two-ports.yaml")
    for state, _sent, returned in calls:
        model = STEP_OUTPUT[state].model_validate(returned)
        assert model.model_dump(mode="json", by_alias=True) == returned


def test_the_largest_step_output_stays_far_below_the_payload_limit() -> None:
    """Every list in the loop state full, with the longest real ARNs: still under half of 256 KB."""
    from datetime import UTC, datetime

    from spotdrain.models import (
        MAX_REGISTRATIONS,
        MAX_SKIPPED_LISTED,
        DrainProgress,
        DrainState,
        PollSettings,
        SkippedTargetGroup,
        Target,
        TargetGroupInfo,
        TaskInfo,
    )

    def arn(i: int) -> str:
        name = f"{'g' * 28}{i:04d}"
        return f"arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:111122223333:targetgroup/{name}/{i:016x}"

    now = datetime(2026, 11, 20, tzinfo=UTC)
    ip = "2600:1f18:0abc:0def:1234:5678:9abc:def0"
    targets = [
        Target(
            target_group_arn=arn(i),
            id=ip,
            port=1 + i,
            availability_zone="us-gov-west-1a",
            state="unhealthy.draining",
        )
        for i in range(MAX_REGISTRATIONS)
    ]
    task = TaskInfo(
        task_arn="arn:aws:ecs:us-east-1:111122223333:task/" + "c" * 255 + "/" + "f" * 32,
        task_id="f" * 32,
        cluster_arn="arn:aws:ecs:us-east-1:111122223333:cluster/" + "c" * 255,
        cluster_name="c" * 255,
        service_name="s" * 255,
        region="us-east-1",
        account="111122223333",
        ipv6=[ip],
        event_time=now,
        stopped_reason="r" * 256,
    )
    state = DrainState(
        outcome="Registered",
        reason="x" * 2000,
        task=task,
        settings=PollSettings(),
        execution="arn:aws:states:us-east-1:111122223333:execution:DrainStateMachine:" + "e" * 80,
        target_groups=[
            TargetGroupInfo(arn=arn(i), target_type="ip", port=80, protocol="HTTPS")
            for i in range(MAX_REGISTRATIONS)
        ],
        targets=targets,
        skipped=[SkippedTargetGroup(arn=arn(i), reason="r" * 512) for i in range(MAX_SKIPPED_LISTED)],
        deregistered=targets,
        drain=DrainProgress(
            status="draining",
            attempts=199,
            next_wait_seconds=5,
            deregistered_at=now,
            expected_drained_at=now,
            deadline=now,
            draining=targets,
            retried=targets,
        ),
    )
    size = len(json.dumps(state.dump()).encode())
    assert size < 256 * 1024 // 2, size
