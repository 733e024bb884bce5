"""The simulated worlds and notices the benchmarks run on (built here, repeatable)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from spotdrain_cli import soak
from spotdrain_cli.soak import TEMPLATE_EVENT, Case, task_ip
from spotdrain_cli.world import World

START = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
NEIGHBOURS = 10  # healthy targets of other tasks in each target group
OTHER_LOAD_BALANCERS = 5  # load balancers of the account that have nothing to do with the task
OTHER_GROUPS_EACH = 4
# ELBv2's documented request throttling: one bucket for the non-mutating (Describe*) actions per
# account and region, 40 tokens, refilled at 10 per second
ELBV2_DESCRIBE_LIMIT = {"operations": ["elbv2:Describe*"], "burst": 40, "refillPerSecond": 10}


def case(index: int) -> Case:
    """Interrupted task ``index``, as the soak run builds its tasks and notices."""
    return Case(index, "Drained", f"{index:032x}", task_ip(index), ())


def world(
    *,
    groups: int = 1,
    delay: int = 30,
    tasks: int = 1,
    other_groups: bool = True,
    rate_limited: bool = False,
) -> World:
    """``tasks`` interrupted tasks, each registered (port 8080) in the same ``groups`` target
    groups of the account (each on its own ALB, ``delay`` s deregistration delay, with healthy
    neighbours), which the stack is configured with (TargetGroupArns); and, unless
    ``other_groups`` is false, 20 target groups on 5 more ALBs that hold other services."""
    balancers: list[dict[str, Any]] = []
    target_groups: list[dict[str, Any]] = []
    interrupted = [{"id": task_ip(i), "port": 8080} for i in range(tasks)]
    neighbours = [{"id": f"10.1.0.{10 + n}", "port": 8080} for n in range(NEIGHBOURS)]
    for g in range(groups):
        balancers.append({"name": f"web-{g}", "type": "application"})
        target_groups.append(
            {
                "name": f"web-{g}",
                "loadBalancer": f"web-{g}",
                "protocol": "HTTP",
                "port": 8080,
                "deregistrationDelaySeconds": delay,
                "targets": interrupted + neighbours,
            }
        )
    if other_groups:
        for b in range(OTHER_LOAD_BALANCERS):
            balancers.append({"name": f"other-{b}", "type": "application"})
            for g in range(OTHER_GROUPS_EACH):
                target_groups.append(
                    {
                        "name": f"other-{b}-{g}",
                        "loadBalancer": f"other-{b}",
                        "protocol": "HTTP",
                        "port": 8080 + g,
                        "targets": [
                            {"id": f"10.2.{b}.{10 + n}", "port": 8080 + g} for n in range(NEIGHBOURS)
                        ],
                    }
                )
    return World.model_validate(
        {
            "description": f"benchmark: {tasks} task(s) in {groups} target group(s), {delay} s delay",
            "parameters": {
                "TargetGroupArns": [f"web-{g}" for g in range(groups)],
                "UseServiceLoadBalancers": "false",
            },
            "loadBalancers": balancers,
            "targetGroups": target_groups,
            "ecs": {"tasks": [soak.interrupted_task(case(i)) for i in range(tasks)]},
            "rateLimits": [ELBV2_DESCRIBE_LIMIT] if rate_limited else [],
        }
    )


@cache
def _template() -> str:
    return TEMPLATE_EVENT.read_text(encoding="utf-8")


def notice(index: int = 0, when: datetime = START) -> dict[str, Any]:
    """The Spot interruption notice of task ``index`` (the sample notice, re-addressed)."""
    return soak.notice(case(index), json.loads(_template()), when)
