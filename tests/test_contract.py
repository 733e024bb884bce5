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
