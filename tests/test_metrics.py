"""The handlers' metrics (Powertools EMF on stdout): what the dashboard and alarms read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from spotdrain import errors
from spotdrain.observability import metrics
from spotdrain.steps import time_budget
from tests.conftest import LambdaContext, load_event


@pytest.fixture
def emf(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """Metrics on (the suite turns them off), and a reader of what was flushed."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Spotdrain")
    metrics.clear_metrics()  # what handlers of earlier tests added, unflushed with metrics off

    def flushed() -> dict[str, Any]:
        values: dict[str, Any] = {}
        for line in capsys.readouterr().out.splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                assert directive["Namespace"] == "Spotdrain"
                for metric in directive["Metrics"]:
                    values[metric["Name"]] = record[metric["Name"]]
        return values

    yield flushed
    metrics.clear_metrics()


def failing_step(error: errors.SpotDrainError) -> Any:
    @metrics.log_metrics
    @time_budget
    def handler(event: Any, context: Any) -> Any:
        raise error

    return handler


@pytest.mark.parametrize(
    ("error", "metric"),
    [(errors.AwsThrottled("slow down"), "StepRetries"), (errors.AwsAccessDenied("no"), "StepFailures")],
)
def test_a_step_counts_its_retried_and_its_final_errors(
    emf: Any, lambda_context: LambdaContext, error: errors.SpotDrainError, metric: str
) -> None:
    with pytest.raises(type(error)):
        failing_step(error)({}, lambda_context)
    assert emf() == {metric: [1.0]}


@pytest.mark.usefixtures("aws")
def test_parse_event_counts_each_outcome(emf: Any, lambda_context: LambdaContext) -> None:
    from spotdrain.parse_event import handler

    result = handler({"event": load_event("fargate-task-running-awsdocs.json")}, lambda_context)
    assert result["outcome"] == "Ignored"
    assert emf() == {"EventIgnored": [1.0]}
