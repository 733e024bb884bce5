"""The designs users compare spotdrain with, run in the same simulated worlds.

* **Fixed 5-second poll loop**: the same steps, but the drain loop waits a fixed 5 s between
  polls and polls until the target has drained, however long its deregistration delay (no
  computed first wait, no deadline): ``fixed_poll_loop`` edits the definition accordingly.
* **One naive Lambda**: on every event, list the account's load balancers and their target
  groups, look for the task's address in each, deregister it where found; no guard, no waiting.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3

FIXED_POLL_SECONDS = 5
# the loop runs until drained: the deadline and the attempt limit far out of its way
FIXED_LOOP_PARAMETERS = {"DrainDeadlineSeconds": 3600, "MaxPollAttempts": 200}


def fixed_poll_loop(definition: dict[str, Any]) -> dict[str, Any]:
    """The workflow with ``WaitForDrain`` a fixed 5-second Wait instead of the computed one."""
    edited = copy.deepcopy(definition)
    wait = edited["States"]["WaitForDrain"]
    wait.pop("SecondsPath", None)
    wait["Seconds"] = FIXED_POLL_SECONDS
    wait["Comment"] = "Baseline: a fixed 5-second poll interval."
    return edited


def naive_lambda(event: dict[str, Any]) -> list[tuple[str, str, int]]:
    """One Lambda that finds the task's IP by listing everything, and deregisters it.

    Returns what it deregistered: (target group ARN, id, port)."""
    detail = event["detail"]
    ip = next(
        d["value"]
        for attachment in detail["attachments"]
        for d in attachment["details"]
        if d["name"] == "privateIPv4Address"
    )
    elbv2 = boto3.client("elbv2", region_name=event["region"])
    removed: list[tuple[str, str, int]] = []
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for balancer in page["LoadBalancers"]:
            groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])
            for group in groups["TargetGroups"]:
                arn = group["TargetGroupArn"]
                health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
                mine = [h["Target"] for h in health if h["Target"]["Id"] == ip]
                for target in mine:
                    elbv2.deregister_targets(
                        TargetGroupArn=arn, Targets=[{"Id": target["Id"], "Port": target["Port"]}]
                    )
                    removed.append((arn, target["Id"], int(target["Port"])))
    return removed
