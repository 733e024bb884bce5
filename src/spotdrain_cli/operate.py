"""Operating the drain workflow: find executions, redrive or re-run the ones that failed.

Plain functions over a Step Functions client, so the same code works on AWS and on the local
simulator (``spotdrain serve``), and tests pin the exact requests with botocore's Stubber.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from spotdrain.errors import CAUGHT_ERRORS
from spotdrain_cli.history import analyse

UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")
STATUSES = ("RUNNING", "SUCCEEDED", *UNSUCCESSFUL, "PENDING_REDRIVE")
LIST_PAGE = 100  # ListExecutions page size (the API allows up to 1,000)
TAIL_PAGE = 100  # history events read from the end to tell where an execution failed
REDRIVE_PERIOD = timedelta(days=14)  # RedriveExecution: within 14 days of the stop
REDRIVE_HISTORY_LIMIT = 24_999  # RedriveExecution: fewer history events than this
NAME_LIMIT = 80  # execution names: 1-80 characters


class OperateError(Exception):
    """A request about executions could not be answered (the message says why)."""


# --- which state machine ----------------------------------------------------------------------
def state_machine_of_stack(cloudformation: Any, stack_name: str) -> str:
    """The stack output ``StateMachineArn`` (template.yaml)."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", exc)
        raise OperateError(f"stack {stack_name!r}: {message}") from exc
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == "StateMachineArn":
            return str(output["OutputValue"])
    raise OperateError(f"stack {stack_name!r} has no output StateMachineArn: is it a spotdrain stack?")


def only_drain_state_machine(sfn: Any) -> str:
    """The one state machine named ``*-drain`` (a spotdrain stack's), when there is exactly one."""
    found: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 1000}
    while True:
        page = sfn.list_state_machines(**kwargs)
        found += [m["stateMachineArn"] for m in page.get("stateMachines", []) if m["name"].endswith("-drain")]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    if len(found) == 1:
        return found[0]
    if not found:
        raise OperateError(
            "no spotdrain state machine (named *-drain) here: give --stack-name or --state-machine-arn"
        )
    raise OperateError(
        "several spotdrain state machines here, give --stack-name or --state-machine-arn: " + ", ".join(found)
    )


# --- listing ----------------------------------------------------------------------------------
@dataclass
class ExecutionRow:
    """One execution, as `spotdrain executions` shows it."""

    execution_arn: str
    name: str
    status: str
    started: datetime | None
    stopped: datetime | None
    task: str | None = None
    outcome: str | None = None
    failed_state: str | None = None
    error: str | None = None
    redrive_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started"] = self.started.astimezone(UTC).isoformat() if self.started else None
        data["stopped"] = self.stopped.astimezone(UTC).isoformat() if self.stopped else None
        return data


def _listed(
    sfn: Any, state_machine_arn: str, status: str | None, since: datetime | None
) -> Iterator[dict[str, Any]]:
    """ListExecutions, page after page, newest first; stops at the first one older than ``since``."""
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": LIST_PAGE}
    if status:
        kwargs["statusFilter"] = status
    while True:
        page = sfn.list_executions(**kwargs)
        for item in page.get("executions", []):
            if since and item.get("startDate") and item["startDate"] < since:
                return  # the rest are older still
            yield item
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _task_of(execution_input: Any) -> str | None:
    """The interrupted task's ARN from the execution's input (the ECS event)."""
    try:
        event = json.loads(execution_input) if isinstance(execution_input, str) else execution_input
    except json.JSONDecodeError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    task = detail.get("taskArn") if isinstance(detail, dict) else None
    return task if isinstance(task, str) else None


def outcome_of(described: dict[str, Any]) -> str | None:
    """The outcome in a finished execution's output (Drained, AlreadyHandled, ...)."""
    return _outcome(described)


def _outcome(described: dict[str, Any]) -> str | None:
    try:
        output = json.loads(described.get("output") or "null")
    except json.JSONDecodeError:
        return None
    return str(output["outcome"]) if isinstance(output, dict) and output.get("outcome") else None


def failed_state(sfn: Any, execution_arn: str) -> str | None:
    """Where an unsuccessful execution failed, from the last page of its history."""
    page = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=TAIL_PAGE)
    result: str | None = analyse(list(reversed(page.get("events", []))))["failed_state"]
    return result


def _matches(task: str | None, wanted: str | None) -> bool:
    if not wanted:
        return True
    # the ARN, the id, or cluster/id as `spotdrain executions` shows it
    return task is not None and (task == wanted or task.endswith("/" + wanted))


def list_executions(
    sfn: Any,
    state_machine_arn: str,
    *,
    statuses: tuple[str, ...] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    task: str | None = None,
    limit: int = 50,
) -> list[ExecutionRow]:
    """The newest ``limit`` executions matching every filter, newest first.

    One ListExecutions listing per status (the API filters by one status at a time), merged;
    each execution is then described for its task, outcome and error, and an unsuccessful one's
    history tail read for the state it failed at."""
    listings = [_listed(sfn, state_machine_arn, status, since) for status in (statuses or (None,))]
    # each listing is newest first: merge them lazily, and read no page more than needed
    items = heapq.merge(*listings, key=lambda item: item["startDate"], reverse=True)
    rows: list[ExecutionRow] = []
    for item in items:
        if len(rows) >= limit:
            break
        if until and item["startDate"] > until:
            continue
        described = sfn.describe_execution(executionArn=item["executionArn"])
        row = ExecutionRow(
            execution_arn=item["executionArn"],
            name=item.get("name") or item["executionArn"].rsplit(":", 1)[-1],
            status=described["status"],
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
            task=_task_of(described.get("input")),
            outcome=_outcome(described),
            error=described.get("error"),
            redrive_count=int(described.get("redriveCount") or 0),
        )
        if not _matches(row.task, task):
            continue
        if row.status in UNSUCCESSFUL:
            row.failed_state = failed_state(sfn, row.execution_arn)
        rows.append(row)
    return rows


# --- redrive ----------------------------------------------------------------------------------
def client_token(execution_arn: str, redrive_count: int) -> str:
    """The same for the same execution and attempt: a repeated command (or a retried request
    whose answer was lost) does not redrive twice; the next redrive of it gets a new one."""
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:40]
    return f"spotdrain-{digest}-{redrive_count}"


def history_size(sfn: Any, execution_arn: str) -> int:
    """The number of history events: the id of the last one."""
    page = sfn.get_execution_history(
        executionArn=execution_arn, reverseOrder=True, maxResults=1, includeExecutionData=False
    )
    events = page.get("events", [])
    return int(events[0]["id"]) if events else 0


def why_not_redrivable(sfn: Any, described: dict[str, Any], now: datetime) -> str | None:
    """Why this execution cannot be redriven (None: it can). Checks what AWS checks — status,
    age, redrive status, history size — and what only spotdrain knows: an execution that ended
    with a final error in the failure branch would only fail again."""
    status = described["status"]
    if status == "SUCCEEDED":
        return "it succeeded: there is nothing to redrive"
    if status in {"RUNNING", "PENDING_REDRIVE"}:
        return f"it is {status.lower().replace('_', ' ')}"
    if described.get("redriveStatus") == "NOT_REDRIVABLE":
        why = described.get("redriveStatusReason") or "no reason given"
        return f"Step Functions says it is not redrivable: {why}"
    stopped = described.get("stopDate")
    if stopped and now - stopped > REDRIVE_PERIOD:
        return f"it ended {stopped.astimezone(UTC):%Y-%m-%d %H:%M} UTC, more than 14 days ago"
    if described.get("error") in CAUGHT_ERRORS:
        return (
            f"it ended with the final error {described['error']} (the failure branch caught it): "
            "a redrive would only fail again"
        )
    events = history_size(sfn, described["executionArn"])
    if events >= REDRIVE_HISTORY_LIMIT:
        return f"its history has {events} events; a redrive needs fewer than {REDRIVE_HISTORY_LIMIT}"
    return None


@dataclass
class RedriveResult:
    execution_arn: str
    action: str  # "redriven" | "would redrive" | "not redrivable" | "error"
    detail: str
    redrive_count: int = 0
    rerun_instead: bool = False  # a rerun (new execution, same input) could do what a redrive cannot


# Final errors a new execution with the same input may overcome (a drain that ran out of time or
# met a target that would not leave); the others would end the same way, or have nothing to do.
RERUN_HELPS = {"DrainTimeout", "DeregistrationIneffective", "TooManyRegistrations"}


def redrive_one(sfn: Any, execution_arn: str, *, dry_run: bool, now: datetime | None = None) -> RedriveResult:
    """Check one execution and, unless ``dry_run``, redrive it with a client token."""
    now = now or datetime.now(UTC)
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
        reason = why_not_redrivable(sfn, described, now)
        if reason:
            rerun = described["status"] in UNSUCCESSFUL and (
                described.get("error") not in CAUGHT_ERRORS or described.get("error") in RERUN_HELPS
            )
            return RedriveResult(execution_arn, "not redrivable", reason, rerun_instead=rerun)
        count = int(described.get("redriveCount") or 0)
        where = failed_state(sfn, execution_arn)
        resume = f"at {where}" if where else "where it stopped"
        if dry_run:
            return RedriveResult(execution_arn, "would redrive", f"would resume {resume}", count)
        token = client_token(execution_arn, count)
        answer = sfn.redrive_execution(executionArn=execution_arn, clientToken=token)
    except sfn.exceptions.ExecutionDoesNotExist:
        return RedriveResult(execution_arn, "error", "no such execution (or no longer kept: 90 days)")
    except sfn.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        return RedriveResult(execution_arn, "error", f"{error.get('Code')}: {error.get('Message')}")
    return RedriveResult(
        execution_arn,
        "redriven",
        f"resumed {resume} ({answer['redriveDate'].astimezone(UTC):%H:%M:%S} UTC)",
        count + 1,
    )


def wait_until_done(
    sfn: Any, execution_arn: str, *, timeout: float, sleep: Callable[[float], None], interval: float = 2.0
) -> dict[str, Any]:
    """DescribeExecution until the execution is no longer running (or ``timeout`` seconds)."""
    waited = 0.0
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] not in {"RUNNING", "PENDING_REDRIVE"} or waited >= timeout:
            return described
        sleep(interval)
        waited += interval


# --- rerun --------------------------------------------------------------------------------------
def rerun_name(name: str, attempt: int) -> str:
    suffix = f"-rerun-{attempt}"
    return name[: NAME_LIMIT - len(suffix)] + suffix


def rerun(sfn: Any, execution_arn: str, *, attempts: int = 50) -> tuple[str, str]:
    """Start a new execution with the original's input, named ``<original>-rerun-N`` so it can be
    traced back to it. Returns (new execution ARN, its name)."""
    try:
        described = sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist as exc:
        raise OperateError(f"no execution {execution_arn} (or no longer kept: 90 days)") from exc
    if described["status"] in {"RUNNING", "PENDING_REDRIVE"}:
        raise OperateError(f"{execution_arn} is still running: a rerun would drain the same task twice")
    if described.get("input") is None:
        raise OperateError(f"{execution_arn}: Step Functions returned no input to rerun with")
    base = execution_arn.rsplit(":", 1)[-1]
    for attempt in range(1, attempts + 1):
        name = rerun_name(base, attempt)
        try:
            started = sfn.start_execution(
                stateMachineArn=described["stateMachineArn"], name=name, input=described["input"]
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            continue
        return str(started["executionArn"]), name
    raise OperateError(f"{base}: {attempts} reruns exist already")
