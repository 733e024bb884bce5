"""Every real event shape, end to end: an event file plus a world file on the local engine."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Runner, load_event


@pytest.mark.parametrize(
    ("event", "outcome", "reason"),
    [
        ("spot-interruption-reason-only.json", "Drained", "all drained"),
        ("spot-interruption-already-stopped.json", "Ignored", "already STOPPED"),
        ("task-stopped-essential-container.json", "Ignored", "EssentialContainerExited"),
    ],
)
def test_event_shapes_end_as_they_should(run_workflow: Runner, event: str, outcome: str, reason: str) -> None:
    result = run_workflow(event)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", outcome)
    assert reason in result["output"]["reason"]
    if outcome == "Ignored":
        assert result["api_calls"] == {}
        assert result["deregistered"] == []


def test_event_wrapped_in_another_envelope_fails_fast_by_name(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-in-sqs-envelope.json")
    assert (result["status"], result["error"]) == ("FAILED", "InvalidEvent")
    assert "source: Field required" in result["cause"]
    assert result["retries"] == 0


def test_task_without_its_own_interface_is_ignored_and_nothing_touched(run_workflow: Runner) -> None:
    result = run_workflow("spot-interruption-ec2-bridge-task.json", "ec2-bridge-task.yaml")
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Ignored")
    assert "awsvpc" in result["output"]["reason"]
    assert set(result["api_calls"]) == {"ecs:DescribeTasks"}


def huge(event: dict[str, Any]) -> dict[str, Any]:
    event["detail"].pop("stopCode")
    event["detail"]["stoppedReason"] = "Your Spot Task was interrupted." + "x" * 150_000
    eni = event["detail"]["attachments"][0]
    event["detail"]["attachments"] = [
        {"id": f"vol-{i}", "type": "AmazonElasticBlockStorage", "status": "ATTACHED", "details": []}
        for i in range(500)
    ] + [eni]
    return event


def test_huge_events_give_small_outputs(run_workflow: Runner) -> None:
    result = run_workflow(huge(load_event("spot-interruption-with-eni.json")))
    assert result["outcome"] == "Drained"
    assert len(json.dumps(result["output"])) < 8_000
    assert "characters)" in result["output"]["task"]["stoppedReason"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "aws.ec2"), ("detail-type", "ECS Container Instance State Change")],
)
def test_other_sources_and_detail_types_are_ignored_with_the_reason(
    run_workflow: Runner, field: str, value: str
) -> None:
    event = load_event("spot-interruption-with-eni.json")
    event[field] = value
    result = run_workflow(event)
    assert (result["status"], result["outcome"]) == ("SUCCEEDED", "Ignored")
    assert value in result["output"]["reason"]
    assert result["api_calls"] == {}
