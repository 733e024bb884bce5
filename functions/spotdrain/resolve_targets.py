"""ResolveTargets: every (target group, id, port) at which the interrupted task is registered."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spotdrain.config import load_config
from spotdrain.models import Interruption
from spotdrain.observability import logger, metrics, traced
from spotdrain.steps import correlate, time_budget, validate
from spotdrain.targets import resolve_targets


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@time_budget
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = validate(Interruption, event, "ResolveTargets")
    correlate("ResolveTargets", request.execution, request.task)
    result = resolve_targets(request, load_config())
    metrics.add_metric(name="TargetsFound", unit=MetricUnit.Count, value=len(result.targets))
    if not result.targets:
        metrics.add_metric(name="NotRegistered", unit=MetricUnit.Count, value=1)
    logger.info(
        "targets resolved",
        extra={
            "outcome": result.outcome,
            "targets": [t.dump() for t in result.targets],
            "skipped": [s.dump() for s in result.skipped],
        },
    )
    return result.dump()
