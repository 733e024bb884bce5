"""A mass interruption: many tasks reclaimed at the same instant, ELBv2 throttling modelled.

All executions start at the same simulated instant and overlap in simulated time (the engine's
concurrent, discrete-event clock). ELBv2's Describe* actions share the account's token bucket
(40 tokens, 10 per second); a call that finds it empty gets ``Throttling`` and is retried: by the
SDK in-process, then by the workflow's Retry (``AwsThrottled``).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from benchmarks import worlds
from spotdrain_cli.engine import Simulation
from spotdrain_cli.simulate import summarise
from spotdrain_cli.soak import ACCOUNT, REGION

DELAY = 30  # deregistration delay of the target group every task is in


@dataclass
class MassRun:
    tasks: int
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    deregistered_in_time: int = 0  # DeregisterTargets before the Spot deadline
    drained_in_time: int = 0  # drained before the Spot deadline
    describe_calls: int = 0
    throttled: int = 0
    workflow_retries: int = 0
    sdk_retries: int = 0
    seconds_to_deregistration: list[float] = field(default_factory=list)
    last_end_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def failed_by_throttling(self) -> int:
        """Executions that did not drain. The mass world injects no fault but the rate limit, and
        every task drains when there is no limit, so each failure is throttling's doing: directly
        (AwsThrottled, retries used up) or by holding the execution up past the Spot deadline
        (StaleNotice: nothing may be deregistered any more; DrainTimeout: deregistered too late
        to finish draining)."""
        return sum(self.errors.values())

    def percentile(self, share: float) -> float | None:
        values = sorted(self.seconds_to_deregistration)
        if not values:
            return None
        return values[min(len(values) - 1, int(share * len(values)))]

    @property
    def median_to_deregistration(self) -> float | None:
        return statistics.median(self.seconds_to_deregistration) if self.seconds_to_deregistration else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def run_mass(tasks: int) -> MassRun:
    report = MassRun(tasks)
    started = time.monotonic()
    world = worlds.world(groups=1, delay=DELAY, tasks=tasks, other_groups=False, rate_limited=True)
    with Simulation(world, region=REGION, account=ACCOUNT, start=worlds.START, concurrent=True) as sim:
        with sim.clock.holding():  # every notice at the same instant
            arns = [sim.start(worlds.notice(i), name=f"mass-{i:04d}") for i in range(tasks)]
        ended = {arn: sim.wait(arn) for arn in arns}
        deadline = worlds.START.timestamp() + 120
        first_deregistration: dict[str, float] = {}
        for item in sim.elb.deregistrations:
            first_deregistration.setdefault(item.id, item.at)
        for index, arn in enumerate(arns):
            summary = summarise(sim, arn, ended[arn])
            # a failed execution by its error (StaleNotice, DrainTimeout, AwsThrottled, ...)
            report.outcomes[summary["error"] or summary["outcome"] or "?"] += 1
            if summary["error"]:
                report.errors[summary["error"]] += 1
            report.workflow_retries += summary["retries"]
            at = first_deregistration.get(worlds.case(index).ip)
            if at is not None:
                report.seconds_to_deregistration.append(at)
                report.deregistered_in_time += worlds.START.timestamp() + at <= deadline
            output = summary["output"] if isinstance(summary["output"], dict) else {}
            drained = _parse((output.get("drain") or {}).get("drainedAt"))
            if summary["outcome"] == "Drained" and drained and drained.timestamp() <= deadline:
                report.drained_in_time += 1
        report.describe_calls = sum(n for op, n in sim.api_calls.items() if op.startswith("elbv2:Describe"))
        report.throttled = sum(sim.throttled.values())
        report.sdk_retries = sum(1 for entry in sim.timeline if entry.kind == "sdk-retry")
        report.last_end_seconds = sim.clock.elapsed
    report.wall_seconds = time.monotonic() - started
    return report
