"""ResolveTargets' logic: every (target group, id, port) at which the interrupted task is registered.

Candidate target groups come from the configuration (explicit ARNs, every target group of given
load balancers, and/or the ECS service's own ``loadBalancers``). For each ``ip`` target group,
DescribeTargetHealth is called *without* a Targets filter — the only way to see every port an
address is registered on — and every entry whose Id is one of the task's addresses is kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from spotdrain import clock
from spotdrain.aws import account_of, aws_errors, client, patient
from spotdrain.config import Config
from spotdrain.errors import (
    AwsResourceNotFound,
    InvalidConfiguration,
    InvalidEvent,
    StaleNotice,
    TooManyRegistrations,
)
from spotdrain.models import (
    MAX_REGISTRATIONS,
    MAX_SKIPPED_LISTED,
    Interruption,
    ResolvedTargets,
    SkippedTargetGroup,
    Target,
    TargetGroupInfo,
    canonical_ip,
    deadline_of,
)

DESCRIBE_TARGET_GROUPS_BATCH = 20  # ARNs per DescribeTargetGroups call: the API names no maximum; stay modest
DEFAULT_DEREGISTRATION_DELAY = 300
NOT_FOUND = frozenset({"TargetGroupNotFound"})
SUBNET_NOT_FOUND = frozenset({"InvalidSubnetID.NotFound"})
GONE_STATES = frozenset({"unused"})


def service_target_groups(task_cluster: str, service: str, region: str) -> list[str]:
    """The target groups on the ECS service's own ``loadBalancers`` (DescribeServices)."""
    ecs = client("ecs", region, account_of(task_cluster))
    with aws_errors("ecs:DescribeServices"):
        response = ecs.describe_services(cluster=task_cluster, services=[service])
    for failure in response.get("failures", []):
        raise AwsResourceNotFound(
            f"ECS service {service!r} of the task is not in cluster {task_cluster} "
            f"(DescribeServices: {failure.get('reason', 'MISSING')})"
        )
    arns: list[str] = []
    for svc in response.get("services", []):
        balancers = svc.get("loadBalancers", []) if isinstance(svc, dict) else []
        for lb in balancers if isinstance(balancers, list) else []:
            if isinstance(lb, dict) and isinstance(lb.get("targetGroupArn"), str):
                arns.append(lb["targetGroupArn"])
    return arns


@patient
def load_balancer_target_groups(load_balancer_arn: str, region: str) -> list[dict[str, Any]]:
    elbv2 = client("elbv2", region, account_of(load_balancer_arn))
    groups: list[dict[str, Any]] = []
    with aws_errors("elbv2:DescribeTargetGroups"):
        for page in elbv2.get_paginator("describe_target_groups").paginate(LoadBalancerArn=load_balancer_arn):
            groups.extend(page.get("TargetGroups", []))
    return groups


def describe_target_groups(arns: list[str], region: str) -> list[dict[str, Any]]:
    """DescribeTargetGroups in batches, per owning account (cross-account groups via the role)."""
    by_account: dict[str | None, list[str]] = {}
    for arn in arns:
        by_account.setdefault(account_of(arn), []).append(arn)
    groups: list[dict[str, Any]] = []
    for account, owned in by_account.items():
        elbv2 = client("elbv2", region, account)
        for start in range(0, len(owned), DESCRIBE_TARGET_GROUPS_BATCH):
            groups.extend(_describe_batch(elbv2, owned[start : start + DESCRIBE_TARGET_GROUPS_BATCH]))
    return groups


@patient
def _describe_batch(elbv2: Any, batch: list[str]) -> list[dict[str, Any]]:
    """One batch; if any group in it does not exist, ask for each alone, so the others still count."""
    found: list[dict[str, Any]] = []
    with aws_errors("elbv2:DescribeTargetGroups", tolerate=NOT_FOUND) as tolerated:
        for page in elbv2.get_paginator("describe_target_groups").paginate(TargetGroupArns=batch):
            found.extend(page.get("TargetGroups", []))
    if not tolerated.code:
        return found
    if len(batch) == 1:
        return []
    return [group for arn in batch for group in _describe_batch(elbv2, [arn])]


@patient
def deregistration_delay(target_group_arn: str, region: str) -> int:
    elbv2 = client("elbv2", region, account_of(target_group_arn))
    with aws_errors("elbv2:DescribeTargetGroupAttributes"):
        attributes = elbv2.describe_target_group_attributes(TargetGroupArn=target_group_arn)
    for attribute in attributes.get("Attributes", []):
        if attribute.get("Key") == "deregistration_delay.timeout_seconds":
            return int(attribute["Value"])
    return DEFAULT_DEREGISTRATION_DELAY


@patient
def registrations(target_group_arn: str, addresses: Iterable[str], region: str) -> list[Target]:
    """Every registration of any of ``addresses`` in the target group (all ports)."""
    wanted = {canonical_ip(a) for a in addresses} - {None}
    elbv2 = client("elbv2", region, account_of(target_group_arn))
    with aws_errors("elbv2:DescribeTargetHealth"):
        response = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    found: list[Target] = []
    for description in response.get("TargetHealthDescriptions", []):
        target = description.get("Target", {})
        state = description.get("TargetHealth", {}).get("State")
        if canonical_ip(str(target.get("Id", ""))) not in wanted or state in GONE_STATES:
            continue
        found.append(
            Target(
                target_group_arn=target_group_arn,
                id=target["Id"],
                port=int(target["Port"]),
                availability_zone=target.get("AvailabilityZone"),
                state=state,
            )
        )
    return found


def task_vpc(request: Interruption) -> str | None:
    """The task's VPC: that of its subnet (EC2 DescribeSubnets), else that of its ENI if it still
    exists (DescribeNetworkInterfaces); None if neither can be told."""
    task = request.task
    ec2 = client("ec2", task.region, task.account)
    if task.subnet_id:
        with aws_errors("ec2:DescribeSubnets", tolerate=SUBNET_NOT_FOUND) as tolerated:
            response = ec2.describe_subnets(SubnetIds=[task.subnet_id])
        subnets = [] if tolerated.code else response.get("Subnets", [])
        if subnets and subnets[0].get("VpcId"):
            return str(subnets[0]["VpcId"])
    if task.eni_id:
        with aws_errors("ec2:DescribeNetworkInterfaces"):
            response = ec2.describe_network_interfaces(
                Filters=[{"Name": "network-interface-id", "Values": [task.eni_id]}]
            )
        interfaces = response.get("NetworkInterfaces", [])
        if interfaces and interfaces[0].get("VpcId"):
            return str(interfaces[0]["VpcId"])
    return None


def refuse_unknown_vpc(vpc: str | None, group_vpcs: set[str]) -> None:
    """Registrations read in more than one VPC, and the task's own VPC unknown: the same private
    address may be different hosts there, and guessing could drain a stranger."""
    if vpc is None and len(group_vpcs) > 1:
        raise InvalidEvent(
            f"cannot tell the task's VPC (no subnet in the event, and its ENI is gone), and its address is "
            f"registered in target groups of {len(group_vpcs)} VPCs ({', '.join(sorted(group_vpcs)[:4])}): "
            "refusing to guess which registrations are the task's"
        )


def elsewhere(found: list[Target], group_vpc: str | None, vpc: str | None) -> list[Target]:
    """Registrations that name another host: the group is in another VPC than the task, and the
    registration is not one of an address outside the group's VPC (AvailabilityZone "all"), so
    the address is read in the group's own VPC, where it is not the task."""
    if not vpc or not group_vpc or group_vpc == vpc:
        return []
    return [target for target in found if target.availability_zone != "all"]


def candidate_target_groups(request: Interruption, config: Config) -> list[str]:
    """Explicit ARNs, load balancers' target groups and the service's, de-duplicated in order."""
    region = request.task.region
    candidates: list[str] = list(config.target_group_arns)
    for lb_arn in config.load_balancer_arns:
        candidates.extend(group["TargetGroupArn"] for group in load_balancer_target_groups(lb_arn, region))
    if config.use_service_load_balancers and request.task.service_name:
        candidates.extend(service_target_groups(request.task.cluster_arn, request.task.service_name, region))
    return list(dict.fromkeys(candidates))


def resolve_targets(request: Interruption, config: Config) -> ResolvedTargets:
    deadline = deadline_of(request.task, request.settings)
    if clock.now() > deadline:
        # a retry (throttled, say) or a redrive that comes too late: nothing may be deregistered
        # any more (DeregisterTargets would refuse), so stop before spending any more AWS calls
        # on it: in a mass interruption they are the ones the executions still in time need
        raise StaleNotice.after_deadline("resolving targets", deadline, request.task.task_arn)
    if not config.has_sources:
        raise InvalidConfiguration(
            "no source of candidate target groups: set TargetGroupArns or LoadBalancerArns, "
            "or UseServiceLoadBalancers=true"
        )
    region = request.task.region
    candidates = candidate_target_groups(request, config)
    described = {group["TargetGroupArn"]: group for group in describe_target_groups(candidates, region)}
    vpc = task_vpc(request) if described else None
    groups: list[TargetGroupInfo] = []
    targets: list[Target] = []
    skipped: list[SkippedTargetGroup] = [
        SkippedTargetGroup(arn=arn, reason="target group not found (check the configuration)")
        for arn in candidates
        if arn not in described
    ]
    for arn in candidates:
        if arn not in described:
            continue
        group = described[arn]
        target_type = group.get("TargetType", "instance")
        if target_type != "ip":
            skipped.append(
                SkippedTargetGroup(
                    arn=arn,
                    reason=f"target type {target_type!r}: Fargate tasks are registered by IP",
                )
            )
            continue
        family = group.get("IpAddressType", "ipv4")
        addresses = request.task.ipv6 if family == "ipv6" else request.task.ipv4
        if not addresses:
            skipped.append(
                SkippedTargetGroup(
                    arn=arn, reason=f"{family} target group, and the task has no {family} address"
                )
            )
            continue
        found = registrations(arn, addresses, region)
        strangers = elsewhere(found, group.get("VpcId"), vpc)
        if strangers:
            listing = ", ".join(f"{t.id}:{t.port}" for t in strangers[:5]) + (
                f" and {len(strangers) - 5} more" if len(strangers) > 5 else ""
            )
            skipped.append(
                SkippedTargetGroup(
                    arn=arn,
                    reason=f"{listing} registered in {group.get('VpcId')}, the task is in {vpc}: "
                    "there the address is another host",
                )
            )
            found = [t for t in found if t not in strangers]
        if not found:
            continue
        groups.append(
            TargetGroupInfo(
                arn=arn,
                target_type=target_type,
                port=group.get("Port"),
                protocol=group.get("Protocol"),
                deregistration_delay_seconds=deregistration_delay(arn, region),
            )
        )
        targets.extend(found)

    refuse_unknown_vpc(
        vpc,
        {
            str(described[t.target_group_arn].get("VpcId"))
            for t in targets
            if t.availability_zone != "all" and described[t.target_group_arn].get("VpcId")
        },
    )
    if len(targets) > MAX_REGISTRATIONS:
        raise TooManyRegistrations(
            f"{', '.join(request.task.addresses)} is registered {len(targets)} times in {len(groups)} "
            f"target group(s); one execution handles at most {MAX_REGISTRATIONS}: nothing was deregistered"
        )
    listed = ", ".join(request.task.addresses)
    outcome: Literal["Registered", "NotRegistered"]
    if targets:
        draining = sum(1 for t in targets if t.state and "draining" in t.state.split("."))
        outcome, reason = (
            "Registered",
            f"{len(targets)} registration(s) of {listed} in {len(groups)} target group(s)"
            + (f", {draining} already draining (deregistered by ECS or another tool)" if draining else ""),
        )
    elif not candidates:
        outcome, reason = (
            "NotRegistered",
            "no candidate target groups: set TargetGroupArns or LoadBalancerArns, or run the task "
            "in a service with load balancers and UseServiceLoadBalancers=true",
        )
    else:
        searched = len(candidates) - len(skipped)
        outcome, reason = (
            "NotRegistered",
            f"{listed} is registered in none of the {searched} target group(s) searched"
            + (" (ECS may already have deregistered it)" if searched else "")
            + (f"; {len(skipped)} candidate(s) skipped, see 'skipped'" if skipped else ""),
        )
    if targets and skipped:
        reason += f"; {len(skipped)} candidate(s) skipped, see 'skipped'"
    if len(skipped) > MAX_SKIPPED_LISTED:
        reason += f" (the first {MAX_SKIPPED_LISTED} are listed)"
    return ResolvedTargets(
        outcome=outcome,
        reason=reason,
        task=request.task.model_copy(update={"vpc_id": vpc}) if vpc else request.task,
        settings=request.settings,
        execution=request.execution,
        target_groups=groups,
        targets=targets,
        skipped=skipped[:MAX_SKIPPED_LISTED],
    )
