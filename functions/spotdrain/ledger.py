"""The notice ledger: recognise an interruption notice that was already handled.

EventBridge delivers at least once, and ECS may send several events for one task (each with a
higher ``detail.version``). Every one of them would start an execution. The actions are
idempotent and guarded, so a second drain does no harm, but it costs transitions and calls and
muddles the history. The ledger is a DynamoDB table keyed by task ARN holding the highest
``detail.version`` handled and the execution that claimed it (items expire after a day, TTL).
ParseEvent claims a notice with one conditional write:

- first notice for the task, or a newer version than the one handled: claimed, the drain goes on;
- the same version again (a duplicate delivery, or a re-run of a finished execution), or an older
  one (out of order): outcome ``AlreadyHandled``, with the execution that handled it;
- the same execution again (its own retry after a lost response): claimed again;
- the same version held by an execution that has since FAILED, TIMED_OUT or was ABORTED (it
  failed without releasing its claim; see ``takeover``): taken over, so that a re-delivery or a
  ``spotdrain rerun`` of the notice drains again. A holder that succeeded or is still running
  keeps it.

The ledger fails open: if the table is not configured or the write fails for any reason other
than the condition, the drain goes on (and the failure is logged): a missed duplicate costs a
little, a missed interruption costs an outage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from spotdrain import clock
from spotdrain.aws import arn_part, client
from spotdrain.errors import SpotDrainError
from spotdrain.models import TaskInfo

TABLE_VARIABLE = "NOTICE_LEDGER_TABLE"
RETENTION = timedelta(days=1)


@dataclass(frozen=True)
class Claim:
    """``handled_by`` is None when this execution may go on."""

    handled_by: str | None = None
    reason: str = ""


def claim(task: TaskInfo, execution: str | None) -> Claim:
    table = os.environ.get(TABLE_VARIABLE, "").strip()
    if not table:
        return Claim(reason="no notice ledger configured")
    version = task.detail_version or 0  # real ECS events carry one; a hand-made event counts as 0
    dynamodb = client("dynamodb", os.environ.get("AWS_REGION") or task.region, mode="quick")
    now = clock.now()
    values: dict[str, Any] = {
        ":v": {"N": str(version)},
        ":e": {"S": execution or "unknown"},
        ":at": {"S": now.isoformat()},
        ":ttl": {"N": str(int((now + RETENTION).timestamp()))},
    }
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"taskArn": {"S": task.task_arn}},
            UpdateExpression="SET handledVersion = :v, executionArn = :e, claimedAt = :at, expiresAt = :ttl",
            ConditionExpression="attribute_not_exists(taskArn) OR handledVersion < :v OR executionArn = :e",
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            return Claim(reason=f"notice ledger unavailable ({exc.response.get('Error', {}).get('Code')})")
        held = exc.response.get("Item") or {}
        taken = _takeover(dynamodb, table, task, held, values)
        return taken if taken is not None else _already_handled(task, held)
    except (BotoCoreError, SpotDrainError) as exc:  # incl. too little time left for the call
        return Claim(reason=f"notice ledger unavailable ({type(exc).__name__})")
    return Claim(reason=f"notice version {version} claimed")


ENDED_UNSUCCESSFULLY = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def _takeover(
    dynamodb: Any, table: str, task: TaskInfo, held: dict[str, Any], values: dict[str, Any]
) -> Claim | None:
    """Take over the claim on the same notice version from an execution that ended without
    success (None: the holder keeps it). The holder is asked with DescribeExecution; the claim
    changes hands with a write conditional on the holder, so two contenders cannot both win."""
    holder = held.get("executionArn", {}).get("S", "")
    if held.get("handledVersion", {}).get("N") != values[":v"]["N"] or ":execution:" not in holder:
        return None
    try:
        states = client("stepfunctions", arn_part(holder, 3) or task.region, mode="quick")
        status = str(states.describe_execution(executionArn=holder).get("status", ""))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code != "ExecutionDoesNotExist":
            return None  # cannot tell: the holder keeps the claim (it may still be running)
        status = "gone"
    except (BotoCoreError, SpotDrainError):
        return None
    if status not in ENDED_UNSUCCESSFULLY and status != "gone":
        return None
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"taskArn": {"S": task.task_arn}},
            UpdateExpression="SET handledVersion = :v, executionArn = :e, claimedAt = :at, expiresAt = :ttl",
            ConditionExpression="executionArn = :holder AND handledVersion = :v",
            ExpressionAttributeValues={**values, ":holder": {"S": holder}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            return Claim(reason=f"notice ledger unavailable ({exc.response.get('Error', {}).get('Code')})")
        return _already_handled(task, exc.response.get("Item") or held)  # another one took it first
    except (BotoCoreError, SpotDrainError) as exc:
        return Claim(reason=f"notice ledger unavailable ({type(exc).__name__})")
    return Claim(reason=f"notice version {values[':v']['N']} taken over from execution {holder} ({status})")


def _already_handled(task: TaskInfo, item: dict[str, Any]) -> Claim:
    version = task.detail_version or 0
    handled = item.get("handledVersion", {}).get("N", "?")
    execution = item.get("executionArn", {}).get("S", "unknown")
    claimed_at = item.get("claimedAt", {}).get("S", "?")
    kind = "duplicate of the notice" if handled == str(version) else f"older than notice version {handled}"
    return Claim(
        handled_by=execution,
        reason=f"notice version {version} of task {task.task_arn} is a {kind} already "
        f"handled by execution {execution} at {claimed_at}",
    )
