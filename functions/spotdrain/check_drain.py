"""CheckDrain: one poll of DescribeTargetHealth for the deregistered targets."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from spotdrain import clock
from spotdrain.drain import check_drain
from spotdrain.models import PollState
from spotdrain.observability import logger, metrics, traced
from spotdrain.steps import correlate, time_budget, validate


@logger.inject_lambda_context(clear_state=True)
@traced
@metrics.log_metrics
@time_budget
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = validate(PollState, event, "CheckDrain")
    correlate("CheckDrain", request.execution, request.task)
    result = check_drain(request)
    drain = result.drain or request.drain
    if result.outcome == "SkippedIpReassigned":
        metrics.add_metric(name="SkippedIpReassigned", unit=MetricUnit.Count, value=1)
        logger.warning("address reassigned, drain abandoned", extra={"reason": result.reason})
    elif drain.status == "drained" and drain.drained_at is not None:
        seconds = (drain.drained_at - drain.deregistered_at).total_seconds()
        margin = (drain.deadline - clock.now()).total_seconds()
        metrics.add_metric(name="Drained", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="DrainSeconds", unit=MetricUnit.Seconds, value=seconds)
        metrics.add_metric(name="DeadlineMarginSeconds", unit=MetricUnit.Seconds, value=margin)
    logger.info(
        "drain checked",
        extra={"status": drain.status, "attempts": drain.attempts, "next_wait": drain.next_wait_seconds},
    )
    return result.dump()
