"""What every handler shares: input validation into a named error and correlation keys."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from spotdrain.aws import start_invocation
from spotdrain.errors import InvalidConfiguration, InvalidEvent, SpotDrainError
from spotdrain.models import TaskInfo, describe_validation_error
from spotdrain.observability import logger, metrics

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")


def validate(model: type[M], payload: Any, step: str) -> M:
    """Parse the step input; anything malformed is ``InvalidEvent`` (never retried)."""
    if not isinstance(payload, dict):
        raise InvalidEvent(f"{step} expects a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        if all(err["loc"][:1] == ("settings",) for err in exc.errors()):
            raise InvalidConfiguration(
                f"{step}: poll settings from the template are unusable: {describe_validation_error(exc)}"
            ) from exc
        raise InvalidEvent(f"{step} input: {describe_validation_error(exc)}") from exc


def time_budget(handler: Callable[[Any, Any], R]) -> Callable[[Any, Any], R]:
    """Give the AWS clients the invocation's time budget, so that a slow AWS ends the step with a
    named, retried error (AwsUnavailable) before the Lambda timeout would kill it."""

    @functools.wraps(handler)
    def wrapped(event: Any, context: Any) -> R:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        start_invocation(remaining() if callable(remaining) else None)
        try:
            return handler(event, context)
        except SpotDrainError as exc:
            # the workflow retries a retryable error (unless its attempts are used up): count it,
            # so the dashboard shows how often AWS pushed back; a permanent one ends the step
            name = "StepRetries" if exc.retryable else "StepFailures"
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            raise
        finally:
            start_invocation(None)

    return wrapped


def correlate(step: str, execution: str | None, task: TaskInfo | None = None) -> None:
    """Put the correlation keys on every log line of this invocation."""
    keys: dict[str, Any] = {"step": step, "execution": execution}
    if task is not None:
        keys.update(task_arn=task.task_arn, cluster=task.cluster_name, region=task.region)
    logger.append_keys(**keys)
