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

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of every step model: camelCase JSON, immutable, unknown keys ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready form a handler returns to Step Functions."""
        return self.model_dump(mode="json", by_alias=True)


class PollSettings(Model):
    """Poll loop settings; they come from the template through ``${...}`` substitutions.

    The ASL passes them as strings (substitutions are textual), so they are coerced here.
    """

    poll_interval_seconds: int = Field(default=5, ge=1, le=300)
    drain_deadline_seconds: int = Field(default=120, ge=10, le=3600)
    max_poll_attempts: int = Field(default=30, ge=1, le=1000)


class TaskInfo(Model):
    """The interrupted task, as far as draining it is concerned."""

    task_arn: str
    task_id: str
    cluster_arn: str
    cluster_name: str
    service_name: str | None = None
    region: str
    account: str
    availability_zone: str | None = None
    eni_id: str | None = None
    ipv4: list[str] = Field(default_factory=list)
    ipv6: list[str] = Field(default_factory=list)
    event_time: datetime
    detail_version: int | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    last_status: str | None = None
    network_source: Literal["event", "DescribeTasks"] = "event"

    @property
    def addresses(self) -> list[str]:
        return [*self.ipv4, *self.ipv6]


class ParseEventInput(Model):
    """What the state machine passes to ParseEvent: the EventBridge event plus settings.

    Unknown keys are refused, so that a raw event sent without the wrapper fails by name.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    event: dict[str, Any]
    settings: PollSettings = Field(default_factory=PollSettings)
    execution: str | None = None


class ParsedEvent(Model):
    """ParseEvent's output. ``outcome`` routes the workflow (Choice ``RouteEvent``)."""

    outcome: Literal["Interruption", "Ignored", "TaskNotFound"]
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
    arn: str
    target_type: str
    port: int | None = None
    protocol: str | None = None
    deregistration_delay_seconds: int = 300


class Target(Model):
    """One registration of the task: (target group, id, port[, zone])."""

    target_group_arn: str
    id: str
    port: int
    availability_zone: str | None = None
    state: str | None = None


class SkippedTargetGroup(Model):
    arn: str
    reason: str


class ResolvedTargets(Model):
    """ResolveTargets' output. ``outcome`` routes the workflow (Choice ``RouteTargets``)."""

    outcome: Literal["Registered", "NotRegistered"]
    reason: str
    task: TaskInfo
    settings: PollSettings
    execution: str | None = None
    target_groups: list[TargetGroupInfo]
    targets: list[Target]
    skipped: list[SkippedTargetGroup] = Field(default_factory=list)


class RegisteredTargets(ResolvedTargets):
    """DeregisterTargets' input: resolved targets of a task that is registered somewhere."""

    outcome: Literal["Registered"]


class DrainProgress(Model):
    status: Literal["draining", "drained"]
    attempts: int = Field(ge=0)
    next_wait_seconds: int = Field(ge=0)
    deregistered_at: datetime
    expected_drained_at: datetime
    deadline: datetime
    draining: list[Target] = Field(default_factory=list)
    drained_at: datetime | None = None


class DrainState(Model):
    """DeregisterTargets' output and CheckDrain's input and output (the poll loop's state)."""

    outcome: Literal["Registered", "Drained"]
    reason: str
    task: TaskInfo
    settings: PollSettings
    execution: str | None = None
    target_groups: list[TargetGroupInfo]
    targets: list[Target]
    skipped: list[SkippedTargetGroup] = Field(default_factory=list)
    deregistered: list[Target] = Field(default_factory=list)
    drain: DrainProgress
