"""The IP reuse guard: prove an address still belongs to the interrupted task before deregistering.

Once a Fargate task stops, its ENI is deleted and its private address returns to the subnet, where
the next task (often the service's replacement) can receive it and register it in the same target
group. Deregistering that address then removes a healthy target. So before every deregistration
(first attempt, retries, redrives, and CheckDrain's second attempt) the guard asks who holds the
address now:

1. EC2 DescribeNetworkInterfaces, filtered by the address (and the task's subnet when known):
   an address is held by at most one interface in a VPC.
   - the task's own ENI holds it: proven, go on;
   - another interface holds it: the address was reassigned; deregister nothing;
   - no interface holds it: the task's ENI is gone. Then
2. ECS ListTasks + DescribeTasks for the cluster's live tasks (desired status RUNNING): if another
   task reports the address, it was reassigned; if none does, the address is free and taking it
   out of the target group cannot harm a live task.

Step 2 runs only when step 1 finds no holder: when the task's ENI still holds the address, no other
interface in the VPC can, so scanning the cluster (up to two calls per hundred tasks) would add
calls and nothing else — which matters in a mass interruption, when ECS and EC2 throttle.
An error (e.g. access denied) is not read as "free": the guard fails with the named error, and
nothing is deregistered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spotdrain.aws import aws_errors, client
from spotdrain.models import TaskInfo, canonical_ip

LIST_TASKS_PAGE = 100
DESCRIBE_TASKS_BATCH = 100  # the DescribeTasks maximum


@dataclass(frozen=True)
class Ownership:
    """What the guard found: ``reassigned`` is None when the task may be deregistered."""

    proof: str
    reassigned: str | None = None


def _holders(task: TaskInfo) -> list[dict[str, Any]]:
    ec2 = client("ec2", task.region, task.account)
    filters: list[dict[str, Any]] = []
    if task.subnet_id:
        filters.append({"Name": "subnet-id", "Values": [task.subnet_id]})
    elif task.vpc_id:
        filters.append({"Name": "vpc-id", "Values": [task.vpc_id]})
    holders: list[dict[str, Any]] = []
    for name, values in (
        ("addresses.private-ip-address", task.ipv4),
        ("ipv6-addresses.ipv6-address", task.ipv6),
    ):
        if not values:
            continue
        with aws_errors("ec2:DescribeNetworkInterfaces"):
            pages = ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[*filters, {"Name": name, "Values": list(values)}]
            )
            for page in pages:
                holders.extend(page.get("NetworkInterfaces", []))
    return holders


def _is_tasks_interface(task: TaskInfo, interface: dict[str, Any]) -> bool:
    """The task's own ENI: by id, or by the ECS attachment named in a Fargate ENI's description.
    An interface that cannot be tied to the task counts as someone else's."""
    description = str(interface.get("Description") or "")
    named_attachment = description.rsplit(":attachment/", 1)[1] if ":attachment/" in description else None
    if task.eni_attachment_id and named_attachment and named_attachment != task.eni_attachment_id:
        return False  # an ECS interface of another attachment: another task's, whatever the event says
    if task.eni_id and interface.get("NetworkInterfaceId") == task.eni_id:
        return True
    return bool(task.eni_attachment_id) and named_attachment == task.eni_attachment_id


def _describe(interface: dict[str, Any]) -> str:
    what = interface.get("Description") or interface.get("InterfaceType") or "an interface"
    return f"{interface.get('NetworkInterfaceId', '?')} ({what})"


def _task_addresses(task: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for attachment in task.get("attachments") or []:
        if not isinstance(attachment, dict) or str(attachment.get("status", "")).upper() in {
            "DELETED",
            "DETACHED",
        }:
            continue
        for detail in attachment.get("details") or []:
            if isinstance(detail, dict) and detail.get("name") in {
                "privateIPv4Address",
                "ipv6Address",
                "privateIPv6Address",
            }:
                found.add(str(detail.get("value")))
    for container in task.get("containers") or []:
        for nic in (container.get("networkInterfaces") or []) if isinstance(container, dict) else []:
            if isinstance(nic, dict):
                found.update(str(nic[key]) for key in ("privateIpv4Address", "ipv6Address") if nic.get(key))
    return {canonical_ip(address) or address for address in found}


def _other_live_task(task: TaskInfo, wanted: set[str]) -> str | None:
    """The ARN of another live task of the cluster that reports one of ``wanted``, if any."""
    ecs = client("ecs", task.region, task.account)
    with aws_errors("ecs:ListTasks"):
        pages = ecs.get_paginator("list_tasks").paginate(
            cluster=task.cluster_arn,
            desiredStatus="RUNNING",
            PaginationConfig={"PageSize": LIST_TASKS_PAGE},
        )
        arns = [arn for page in pages for arn in page.get("taskArns", []) if arn != task.task_arn]
    for start in range(0, len(arns), DESCRIBE_TASKS_BATCH):
        with aws_errors("ecs:DescribeTasks"):
            response = ecs.describe_tasks(
                cluster=task.cluster_arn, tasks=arns[start : start + DESCRIBE_TASKS_BATCH]
            )
        for other in response.get("tasks", []):
            if other.get("taskArn") != task.task_arn and _task_addresses(other) & wanted:
                return str(other.get("taskArn"))
    return None


def check_ownership(task: TaskInfo) -> Ownership:
    """Whether the task's addresses are still its own (see the module docstring)."""
    wanted = {canonical_ip(address) or address for address in task.addresses}
    listed = ", ".join(task.addresses)
    holders = _holders(task)
    strangers = [h for h in holders if not _is_tasks_interface(task, h)]
    if strangers:
        return Ownership(
            proof="EC2 DescribeNetworkInterfaces",
            reassigned=f"{listed} now held by network interface {_describe(strangers[0])}, "
            f"not by the interrupted task's {task.eni_id or 'ENI'}",
        )
    if holders:
        return Ownership(proof=f"{listed} still held by the task's ENI {task.eni_id}")
    other = _other_live_task(task, wanted)
    if other:
        return Ownership(
            proof="ECS ListTasks/DescribeTasks",
            reassigned=f"{listed} now reported by live task {other} of cluster {task.cluster_name}",
        )
    return Ownership(
        proof=f"no network interface holds {listed} and no live task of cluster {task.cluster_name} "
        "reports it: the task's ENI is gone and the address is free"
    )
