"""DeregisterTargets: take every registration of the task out of its target group."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spotdrain.drain import deregister_targets
from spotdrain.models import RegisteredTargets
from spotdrain.observability import logger, metrics, traced
from spotdrain.steps import correlate, time_budget, validate


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@time_budget
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = validate(RegisteredTargets, event, "DeregisterTargets")
    correlate("DeregisterTargets", request.execution, request.task)
    result = deregister_targets(request)
    if result.drain is None:
        metrics.add_metric(name="SkippedIpReassigned", unit=MetricUnit.Count, value=1)
        logger.warning("address reassigned, nothing deregistered", extra={"reason": result.reason})
        return result.dump()
    metrics.add_metric(name="TargetsDeregistered", unit=MetricUnit.Count, value=len(result.deregistered))
    logger.info(
        "targets deregistered",
        extra={
            "deregistered": [t.dump() for t in result.deregistered],
            "next_wait_seconds": result.drain.next_wait_seconds,
        },
    )
    return result.dump()
