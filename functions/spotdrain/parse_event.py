"""ParseEvent: is the EventBridge event a Spot interruption, and of which task?"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spotdrain.events import parse_interruption
from spotdrain.models import ParseEventInput
from spotdrain.observability import logger, metrics, traced
from spotdrain.steps import correlate, time_budget, validate


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@time_budget
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = validate(ParseEventInput, event, "ParseEvent")
    correlate("ParseEvent", request.execution)
    result = parse_interruption(request)
    correlate("ParseEvent", request.execution, result.task)
    metrics.add_metric(name=f"Event{result.outcome}", unit=MetricUnit.Count, value=1)
    logger.info("event parsed", extra={"outcome": result.outcome, "reason": result.reason})
    return result.dump()
