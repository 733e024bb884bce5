"""Step input/output models: the data contract between the states of the workflow.

Each step's output is the next step's input (``tests/test_contract.py`` checks it):

    ParseEventInput  -> ParseEvent      -> ParsedEvent
    ParsedEvent      -> ResolveTargets  -> ResolvedTargets   (outcome "Interruption" only)
    RegisteredTargets -> DeregisterTargets -> DrainState     (ResolvedTargets, "Registered" only)
    DrainState       -> CheckDrain      -> DrainState        (until drain.status is "drained")

JSON field names are camelCase (the ASL's Choice states read ``$.outcome`` and
``$.drain.status``/``$.drain.nextWaitSeconds``); Python names are snake_case.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from spotdrain.config import ACCOUNT_ID, REGION, TARGET_GROUP_ARN

EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)  # before Fargate existed
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: where it is and what is wrong, without echoing huge inputs."""
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        problems.append(f"{where}: {err['msg']}")
    more = len(exc.errors()) - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


class Model(BaseModel):
    """Base of every step model: camelCase JSON, immutable, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )

    def dump(self) -> dict[str, Any]:
        """The JSON-ready form a handler returns to Step Functions."""
        return self.model_dump(mode="json", by_alias=True)


class PollSettings(Model):
    """Poll loop settings; they come from the template through ``${...}`` substitutions.

    The ASL passes them as strings (substitutions are textual), so they are coerced here.
    """

    poll_interval_seconds: int = Field(default=5, ge=1, le=300)
    drain_deadline_seconds: int = Field(default=120, ge=10, le=3600)
    # at most 200 polls: the worst-case history stays far below Step Functions' 25,000 events
    max_poll_attempts: int = Field(default=30, ge=1, le=200)

    @field_validator("*", mode="before")
    @classmethod
    def _whole_seconds(cls, value: Any) -> Any:
        """CloudFormation Number parameters may be written 1e1 or 120.5: round up to whole units."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return math.ceil(number) if math.isfinite(number) else value


class TaskInfo(Model):
    """The interrupted task, as far as draining it is concerned."""

    task_arn: str
    task_id: str
    cluster_arn: str
    cluster_name: str
    service_name: str | None = None
    region: str = Field(pattern=REGION.pattern)
    account: str = Field(pattern=ACCOUNT_ID.pattern)
    availability_zone: str | None = None
    eni_id: str | None = None
    eni_attachment_id: str | None = None
    subnet_id: str | None = None
    vpc_id: str | None = None  # found by ResolveTargets
    ipv4: list[str] = Field(default_factory=list)
    ipv6: list[str] = Field(default_factory=list)
    event_time: AwareDatetime
    detail_version: int | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    last_status: str | None = None
    network_source: Literal["event", "DescribeTasks"] = "event"

    @property
    def addresses(self) -> list[str]:
        return [*self.ipv4, *self.ipv6]

    @field_validator("ipv4", "ipv6")
    @classmethod
    def _one_usable_address(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """An awsvpc task has at most one address per family, and an ordinary one."""
        family = 4 if info.field_name == "ipv4" else 6
        if len(value) > 1:
            raise ValueError(f"a task has at most one IPv{family} address, not {len(value)}")
        for address in value:
            try:
                parsed = ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"{address[:60]!r} is not an IP address") from None
            if parsed.version != family or any(
                getattr(parsed, f"is_{kind}")
                for kind in ("unspecified", "loopback", "link_local", "multicast")
            ):
                raise ValueError(f"{address[:60]!r} is not a task's IPv{family} address")
        return value

    @field_validator("event_time")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        """Far from today's calendar means forged or broken (and date arithmetic would overflow)."""
        if not EARLIEST <= value <= LATEST:
            raise ValueError(f"{value.isoformat()} is not a plausible notice time")
        return value


def deadline_of(task: TaskInfo, settings: PollSettings) -> datetime:
    """When the task is expected to be gone: the notice's time plus the drain deadline."""
    return task.event_time + timedelta(seconds=settings.drain_deadline_seconds)


class ParseEventInput(Model):
    """What the state machine passes to ParseEvent: the EventBridge event plus settings.

    Unknown keys are refused, so that a raw event sent without the wrapper fails by name.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, defer_build=True
    )

    event: dict[str, Any]
    settings: PollSettings = Field(default_factory=PollSettings)
    execution: str | None = None


class ParsedEvent(Model):
    """ParseEvent's output. ``outcome`` routes the workflow (Choice ``RouteEvent``)."""

    outcome: Literal["Interruption", "Ignored", "TaskNotFound", "AlreadyHandled"]
    reason: str
    task: TaskInfo | None = None
    settings: PollSettings
    execution: str | None = None


class Interruption(Model):
    """ResolveTargets' input: a parsed event that is a Spot interruption (task is known)."""

    outcome: Literal["Interruption"]
    reason: str
    task: TaskInfo
    settings: PollSettings
    execution: str | None = None


class TargetGroupInfo(Model):
    arn: str = Field(pattern=TARGET_GROUP_ARN.pattern)
    target_type: str
    port: int | None = None
    protocol: str | None = None
    deregistration_delay_seconds: int = Field(default=300, ge=0, le=3600)


class Target(Model):
    """One registration of the task: (target group, id, port[, zone])."""

    target_group_arn: str = Field(pattern=TARGET_GROUP_ARN.pattern)
    id: str = Field(min_length=1, max_length=128)
    port: int = Field(ge=1, le=65535)
    availability_zone: str | None = Field(default=None, max_length=64)
    state: str | None = Field(default=None, max_length=64)


class SkippedTargetGroup(Model):
    arn: str = Field(max_length=2048)
    reason: str = Field(max_length=512)

    @field_validator("reason", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        """A reason is for people: cut a long one rather than fail the step over it."""
        return value[:509] + "..." if isinstance(value, str) and len(value) > 512 else value


# Step outputs must stay well below Step Functions' 256 KB payload limit (the loop state holds up
# to four lists of registrations; tests/test_contract.py builds the worst case). A task's
# registrations are few in practice (one per target group and port); more than this is refused
# by name (TooManyRegistrations) before anything is touched, rather than half-handled. Skipped
# candidates are listed up to a count, and counted in the reason.
MAX_REGISTRATIONS = 64
MAX_SKIPPED_LISTED = 20


class ResolvedTargets(Model):
    """ResolveTargets' output. ``outcome`` routes the workflow (Choice ``RouteTargets``)."""

    outcome: Literal["Registered", "NotRegistered"]
    reason: str
    task: TaskInfo
    settings: PollSettings
    execution: str | None = None
    target_groups: list[TargetGroupInfo] = Field(max_length=MAX_REGISTRATIONS)
    targets: list[Target] = Field(max_length=MAX_REGISTRATIONS)
    skipped: list[SkippedTargetGroup] = Field(default_factory=list, max_length=MAX_SKIPPED_LISTED)


def _check_targets_are_the_tasks(task: TaskInfo, targets: list[Target]) -> None:
    """Refuse to act on a target that is not one of the task's own addresses."""
    own = {canonical_ip(a) or a for a in task.addresses}
    strangers = [t.id for t in targets if (canonical_ip(t.id) or t.id) not in own]
    if strangers:
        raise ValueError(f"targets {strangers[:5]} are not addresses of task {task.task_arn}")


def canonical_ip(address: str) -> str | None:
    """One spelling per address (IPv6 has many), or None if it is not an IP address."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


class RegisteredTargets(ResolvedTargets):
    """DeregisterTargets' input: resolved targets of a task that is registered somewhere."""

    outcome: Literal["Registered"]

    @model_validator(mode="after")
    def _only_the_tasks_targets(self) -> RegisteredTargets:
        _check_targets_are_the_tasks(self.task, self.targets)
        return self


class DrainProgress(Model):
    status: Literal["draining", "drained"]
    attempts: int = Field(ge=0)
    next_wait_seconds: int = Field(ge=0)
    deregistered_at: AwareDatetime
    expected_drained_at: AwareDatetime
    deadline: AwareDatetime
    draining: list[Target] = Field(default_factory=list, max_length=MAX_REGISTRATIONS)
    retried: list[Target] = Field(default_factory=list, max_length=MAX_REGISTRATIONS)  # sent twice
    drained_at: AwareDatetime | None = None

    @field_validator("deregistered_at", "expected_drained_at", "deadline", "drained_at")
    @classmethod
    def _plausible_time(cls, value: datetime | None) -> datetime | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"{value.isoformat()} is not a plausible time")
        return value


class DrainState(ResolvedTargets):
    """DeregisterTargets' output and CheckDrain's input and output (the poll loop's state).

    ``outcome`` routes the workflow: "Registered" while draining, "Drained" when done,
    "SkippedIpReassigned" when the IP reuse guard found the address held by someone else (then
    nothing was deregistered by that step, and ``drain`` is absent if nothing ever was).
    """

    outcome: Literal["Registered", "Drained", "SkippedIpReassigned"]  # type: ignore[assignment]
    deregistered: list[Target] = Field(default_factory=list)
    drain: DrainProgress | None = None

    @model_validator(mode="after")
    def _only_the_tasks_targets(self) -> DrainState:
        draining = self.drain.draining + self.drain.retried if self.drain else []
        _check_targets_are_the_tasks(self.task, [*self.targets, *draining])
        return self


class PollState(DrainState):
    """CheckDrain's input: a drain in progress."""

    outcome: Literal["Registered"]
    drain: DrainProgress
