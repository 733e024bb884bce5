"""ParseEvent's logic: is this EventBridge event a Spot interruption, and of which task?

Plain functions; the handler in ``parse_event.py`` only adapts them to Lambda.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spotdrain import clock, ledger
from spotdrain.aws import arn_part, aws_errors, client
from spotdrain.config import ACCOUNT_ID as ACCOUNT
from spotdrain.config import CLUSTER_ARN, REGION, TASK_ARN, load_config, partition_for_region
from spotdrain.errors import AccountOrRegionNotAllowed, InvalidEvent
from spotdrain.models import ParsedEvent, ParseEventInput, PollSettings, TaskInfo, describe_validation_error

ECS_SOURCE = "aws.ecs"
TASK_STATE_CHANGE = "ECS Task State Change"
INTERRUPTION_STOP_CODES = frozenset({"SpotInterruption", "TerminationNotice"})
INTERRUPTION_REASON_PREFIX = "Your Spot Task was interrupted"
# A task that has reached these statuses has released its ENI: its IP may already belong to
# another task, so acting on it could harm a healthy target. The notice arrives while RUNNING.
TOO_LATE_STATUSES = frozenset({"DEPROVISIONING", "STOPPED", "DELETED"})
# The interruption notice is the event with desiredStatus STOPPED while the task still runs. ECS
# then sends more events for the same task (DEACTIVATING, STOPPING, ...): they are ignored, so
# one interruption starts one drain. (A task whose lastStatus is missing is looked at as usual.)
NOTICE_STATUSES = frozenset({"RUNNING"})
ENI_ATTACHMENT_TYPES = frozenset({"eni", "ElasticNetworkInterface"})
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_EVENT_BYTES = 256 * 1024  # EventBridge's limit on an event  # clock skew between ECS and Lambda
IPV6_DETAIL_NAMES = frozenset({"ipv6Address", "privateIPv6Address"})


# --- parser models (Powertools parser + pydantic) -----------------------------------------------
class _Lenient(BaseModel):
    """Unknown keys are kept (AWS adds fields); known ones only under their AWS (camelCase) names."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class AttachmentDetail(_Lenient):
    name: str
    value: str | None = None


class Attachment(_Lenient):
    type: str | None = None
    status: str | None = None
    details: list[AttachmentDetail] = Field(default_factory=list)


class ContainerNetworkInterface(_Lenient):
    attachment_id: str | None = Field(default=None, alias="attachmentId")
    private_ipv4_address: str | None = Field(default=None, alias="privateIpv4Address")
    ipv6_address: str | None = Field(default=None, alias="ipv6Address")


class Container(_Lenient):
    name: str | None = None
    network_interfaces: list[ContainerNetworkInterface] = Field(
        default_factory=list, alias="networkInterfaces"
    )


class EcsTaskDetail(_Lenient):
    """The ``detail`` of an "ECS Task State Change" event (also DescribeTasks' task shape)."""

    task_arn: str = Field(alias="taskArn", min_length=1, max_length=2048)
    cluster_arn: str = Field(alias="clusterArn", min_length=1, max_length=2048)
    desired_status: str | None = Field(default=None, alias="desiredStatus")
    last_status: str | None = Field(default=None, alias="lastStatus")
    stop_code: str | None = Field(default=None, alias="stopCode")
    stopped_reason: str | None = Field(default=None, alias="stoppedReason")
    group: str | None = None
    availability_zone: str | None = Field(default=None, alias="availabilityZone")
    attachments: list[Attachment] = Field(default_factory=list)
    containers: list[Container] = Field(default_factory=list)
    version: int | None = Field(default=None, ge=0, le=2**53)
    stopping_at: datetime | None = Field(default=None, alias="stoppingAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")


class EcsTaskStateChangeEvent(_Lenient):
    """An EventBridge event. Only what ParseEvent relies on is required."""

    source: str
    detail_type: str = Field(alias="detail-type")
    account: str | None = None
    region: str | None = None
    time: datetime | None = None
    resources: list[str] = Field(default_factory=list)
    detail: dict[str, Any]


# --- plain functions ------------------------------------------------------------------------------
def short(text: str | None, limit: int = 120) -> str | None:
    """An event's text as quoted back in outputs: bounded, so outputs stay far below 256 KB."""
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text)} characters)"


def place(event: EcsTaskStateChangeEvent, detail: EcsTaskDetail) -> tuple[str, str]:
    """The task's region and account: from the event, else its ARNs; they must agree."""
    arn_region = arn_part(detail.task_arn, 3) or arn_part(detail.cluster_arn, 3)
    arn_account = arn_part(detail.task_arn, 4) or arn_part(detail.cluster_arn, 4)
    region = event.region or arn_region
    account = event.account or arn_account
    if not region or not account:
        raise InvalidEvent(
            "cannot tell the task's region and account: the event has no 'region'/'account' "
            f"and taskArn {short(detail.task_arn, 80)!r} is not an ARN"
        )
    if not REGION.fullmatch(region) or not ACCOUNT.fullmatch(account):
        raise InvalidEvent(f"region {short(region, 40)!r} / account {short(account, 40)!r} are not AWS ones")
    for name, arn, pattern in (
        ("taskArn", detail.task_arn, TASK_ARN),
        ("clusterArn", detail.cluster_arn, CLUSTER_ARN),
    ):
        match = pattern.fullmatch(arn)
        if match is None:
            raise InvalidEvent(f"{name} {short(arn, 80)!r} is not an ECS {name.removesuffix('Arn')} ARN")
        partition = partition_for_region(region)
        if match.group(1) != partition:
            raise InvalidEvent(
                f"{name} is in partition {match.group(1)!r}, but region {region} is in {partition!r}"
            )
    for name, arn in (("task", detail.task_arn), ("cluster", detail.cluster_arn)):
        arn_region, arn_account = arn_part(arn, 3), arn_part(arn, 4)
        if (arn_region and arn_region != region) or (arn_account and arn_account != account):
            raise InvalidEvent(
                f"the event says {region}/{account} but the {name} ARN says {arn_region}/{arn_account}"
            )
    return region, account


def is_spot_interruption(detail: EcsTaskDetail) -> tuple[bool, str]:
    """Decide from the event alone; the reason says why not, for the ``Ignored`` outcome."""
    if detail.desired_status != "STOPPED":
        return False, f"desiredStatus is {detail.desired_status!r}, not 'STOPPED'"
    if detail.stop_code is not None:
        if detail.stop_code not in INTERRUPTION_STOP_CODES:
            return False, f"stopCode {short(detail.stop_code)!r} is not a Spot interruption"
    elif not (detail.stopped_reason or "").startswith(INTERRUPTION_REASON_PREFIX):
        return (
            False,
            f"no stopCode and stoppedReason {short(detail.stopped_reason)!r} is not a Spot interruption",
        )
    status = (detail.last_status or "").upper() or None
    if status in TOO_LATE_STATUSES:
        return False, (
            f"task is already {status}: its network interface is released and its "
            "address may belong to another task now"
        )
    if status is not None and status not in NOTICE_STATUSES:
        return False, (
            f"lastStatus {short(detail.last_status, 40)!r}: a later event of an interruption, whose notice "
            "(lastStatus RUNNING) starts the drain"
        )
    return True, f"Spot interruption ({short(detail.stop_code or detail.stopped_reason)})"


def _one_address(found: list[str], family: int, where: str) -> list[str]:
    """The task's single address of a family, validated; several different ones are ambiguous."""
    distinct: dict[str, str] = {}
    for raw in found:
        try:
            parsed = ipaddress.ip_address(raw)
        except ValueError:
            raise InvalidEvent(f"{where}: {short(raw, 60)!r} is not an IP address") from None
        if parsed.version != family:
            raise InvalidEvent(f"{where}: {short(raw, 60)!r} is not an IPv{family} address")
        special = special_address(parsed)
        if special:
            raise InvalidEvent(f"{where}: {short(raw, 60)!r} is a {special} address, not a task's")
        distinct.setdefault(str(parsed), raw)
    if len(distinct) > 1:
        raise InvalidEvent(
            f"{where}: {len(distinct)} different IPv{family} addresses ({', '.join(list(distinct)[:4])}); "
            "an awsvpc task has one, so spotdrain will not guess which is the task's"
        )
    return list(distinct.values())


def special_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of address no awsvpc task is given (loopback, link-local, ...), or None."""
    for kind in ("unspecified", "loopback", "link_local", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None


def eni_addresses(detail: EcsTaskDetail) -> tuple[str | None, list[str], list[str]]:
    """(ENI id, IPv4s, IPv6s) of the task's ENI attachment, found by type.

    An awsvpc task has exactly one ENI with one private IPv4 address (and at most one IPv6).
    Anything else in an event is ambiguous and refused: acting on a guessed address could
    deregister a healthy neighbour. Containers' own ``networkInterfaces`` are a fallback only.
    """
    enis = [a for a in detail.attachments if a.type in ENI_ATTACHMENT_TYPES]
    if len(enis) > 1:
        raise InvalidEvent(f"{len(enis)} ENI attachments; an awsvpc task has one")
    eni_id: str | None = None
    ipv4: list[str] = []
    ipv6: list[str] = []
    for item in enis[0].details if enis else []:
        if not item.value:
            continue
        if item.name == "networkInterfaceId":
            eni_id = item.value
        elif item.name == "privateIPv4Address":
            ipv4.append(item.value)
        elif item.name in IPV6_DETAIL_NAMES:
            ipv6.append(item.value)
    where = "ENI attachment"
    if not ipv4 and not ipv6:
        where = "containers' networkInterfaces"
        for container in detail.containers:
            for nic in container.network_interfaces:
                if nic.private_ipv4_address:
                    ipv4.append(nic.private_ipv4_address)
                if nic.ipv6_address:
                    ipv6.append(nic.ipv6_address)
    return eni_id, _one_address(ipv4, 4, where), _one_address(ipv6, 6, where)


def eni_location(detail: EcsTaskDetail) -> tuple[str | None, str | None]:
    """(attachment id, subnet id) of the task's ENI attachment, for the IP reuse guard."""
    for attachment in detail.attachments:
        if attachment.type in ENI_ATTACHMENT_TYPES:
            subnet = next((d.value for d in attachment.details if d.name == "subnetId" and d.value), None)
            attachment_id = attachment.model_extra.get("id") if attachment.model_extra else None
            return (attachment_id if isinstance(attachment_id, str) else None), subnet
    return None, None


def eni_released(detail: EcsTaskDetail) -> bool:
    """The ENI attachment says the interface is gone: its address may be someone else's."""
    return any(
        a.type in ENI_ATTACHMENT_TYPES and (a.status or "").upper() in {"DELETED", "DETACHED"}
        for a in detail.attachments
    )


def describe_task(cluster_arn: str, task_arn: str, region: str) -> dict[str, Any] | None:
    """DescribeTasks for one task, in the event's region; None when ECS no longer knows it."""
    ecs = client("ecs", region, arn_part(cluster_arn, 4))
    with aws_errors("ecs:DescribeTasks"):
        response = ecs.describe_tasks(cluster=cluster_arn, tasks=[task_arn])
    for task in response.get("tasks", []):
        if task.get("taskArn") == task_arn:
            return dict(task)
    return None


def _as_utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class NotActionable(Exception):
    """Ends ParseEvent with an explicit, successful outcome (Ignored, TaskNotFound) and why."""

    def __init__(self, outcome: Literal["Ignored", "TaskNotFound"], reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


def notice_time(event: EcsTaskStateChangeEvent, detail: EcsTaskDetail, settings: PollSettings) -> datetime:
    """When the notice was sent; a notice from the future is malformed, one past the deadline stale."""
    now = clock.now()
    event_time = _as_utc(event.time or detail.stopping_at or detail.updated_at) or now
    if event_time > now + FUTURE_TOLERANCE:
        raise InvalidEvent(f"event time {event_time.isoformat()} is in the future (now {now.isoformat()})")
    age = (now - event_time).total_seconds()
    if age > settings.drain_deadline_seconds:
        raise NotActionable(
            "Ignored",
            f"stale notice: {age:.0f} s old, past the {settings.drain_deadline_seconds} s drain deadline; "
            "the task has been stopped and its address may belong to another task now",
        )
    return event_time


def complete_from_ecs(
    detail: EcsTaskDetail, region: str
) -> tuple[EcsTaskDetail, str | None, list[str], list[str]]:
    """The task as DescribeTasks knows it, for an event without network details."""
    described = describe_task(detail.cluster_arn, detail.task_arn, region)
    if described is None:
        raise NotActionable(
            "TaskNotFound",
            f"the event carries no network details and ECS no longer knows task {detail.task_arn} "
            "(DescribeTasks: MISSING)",
        )
    try:
        full = parse(event=described, model=EcsTaskDetail)
    except ValidationError as exc:
        raise InvalidEvent(f"unexpected DescribeTasks answer: {describe_validation_error(exc)}") from exc
    if (full.last_status or "").upper() in TOO_LATE_STATUSES or eni_released(full):
        raise NotActionable(
            "Ignored",
            f"task is already {full.last_status} (DescribeTasks): its address may belong to another task now",
        )
    eni_id, ipv4, ipv6 = eni_addresses(full)
    if not ipv4 and not ipv6:
        raise NotActionable(
            "Ignored",
            "task has no awsvpc network interface (bridge or host networking on EC2): its targets are "
            "registered by instance id and host port, which spotdrain does not deregister",
        )
    merged = detail.model_copy(
        update={
            "group": detail.group or full.group,
            "availability_zone": detail.availability_zone or full.availability_zone,
            "last_status": full.last_status or detail.last_status,
            "attachments": full.attachments or detail.attachments,
        }
    )
    return merged, eni_id, ipv4, ipv6


def parse_interruption(request: ParseEventInput) -> ParsedEvent:
    """The whole ParseEvent step: validate, decide, extract, fall back to DescribeTasks, and
    claim the notice in the ledger (a notice already handled ends ``AlreadyHandled``)."""
    try:
        parsed = _parse(request)
    except NotActionable as ending:
        return ParsedEvent(
            outcome=ending.outcome,
            reason=ending.reason,
            settings=request.settings,
            execution=request.execution,
        )
    assert parsed.task is not None  # an interruption always names its task
    claimed = ledger.claim(parsed.task, request.execution)
    if claimed.handled_by:
        return parsed.model_copy(update={"outcome": "AlreadyHandled", "reason": claimed.reason})
    return parsed.model_copy(update={"reason": f"{parsed.reason}; ledger: {claimed.reason}"})


def _parse(request: ParseEventInput) -> ParsedEvent:
    size = len(
        json.dumps(request.event, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
    )
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(
            f"event is {size} bytes, more than the {MAX_EVENT_BYTES} an EventBridge event may have"
        )
    try:
        event = parse(event=request.event, model=EcsTaskStateChangeEvent)
    except ValidationError as exc:
        raise InvalidEvent(f"not an EventBridge event: {describe_validation_error(exc)}") from exc
    if event.source != ECS_SOURCE or event.detail_type != TASK_STATE_CHANGE:
        raise NotActionable(
            "Ignored",
            f"not an ECS task state change (source {short(event.source)!r}, "
            f"detail-type {short(event.detail_type)!r})",
        )
    try:
        detail = parse(event=event.detail, model=EcsTaskDetail)
    except ValidationError as exc:
        raise InvalidEvent(f"bad ECS task detail: {describe_validation_error(exc)}") from exc

    interrupted, why = is_spot_interruption(detail)
    if not interrupted:
        raise NotActionable("Ignored", why)
    region, account = place(event, detail)
    refusal = load_config().check_allowed(account, region)
    if refusal:
        raise AccountOrRegionNotAllowed(f"task {detail.task_arn}: {refusal}")
    event_time = notice_time(event, detail, request.settings)
    if eni_released(detail):
        raise NotActionable(
            "Ignored",
            "the task's ENI attachment is already deleted: its address may belong to another task now",
        )
    source: Literal["event", "DescribeTasks"] = "event"
    eni_id, ipv4, ipv6 = eni_addresses(detail)
    if not ipv4 and not ipv6:
        detail, eni_id, ipv4, ipv6 = complete_from_ecs(detail, region)
        source = "DescribeTasks"

    attachment_id, subnet_id = eni_location(detail)
    service = None
    if detail.group and detail.group.startswith("service:"):
        service = detail.group.split(":", 1)[1] or None
    task = TaskInfo(
        task_arn=detail.task_arn,
        task_id=detail.task_arn.rsplit("/", 1)[-1],
        cluster_arn=detail.cluster_arn,
        cluster_name=detail.cluster_arn.rsplit("/", 1)[-1],
        service_name=service,
        region=region,
        account=account,
        availability_zone=detail.availability_zone,
        eni_id=eni_id,
        eni_attachment_id=attachment_id,
        subnet_id=subnet_id,
        ipv4=ipv4,
        ipv6=ipv6,
        event_time=event_time,
        detail_version=detail.version,
        stop_code=detail.stop_code,
        stopped_reason=short(detail.stopped_reason, 256) if detail.stopped_reason else None,
        last_status=detail.last_status,
        network_source=source,
    )
    return ParsedEvent(
        outcome="Interruption", reason=why, task=task, settings=request.settings, execution=request.execution
    )
