"""RedriveExecution for the local engine, with AWS's semantics (moto has no RedriveExecution).

AWS (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html): a Standard
execution that did not succeed (FAILED, TIMED_OUT, ABORTED), within 14 days of its end and with
fewer than 24,999 history events, can be redriven. The redrive

* keeps the execution's ARN and definition; its status goes back to RUNNING;
* resumes at the state that did not succeed, with that state's input (its retry counters fresh);
* does not run the states that succeeded again;
* appends to the same history, starting with an ``ExecutionRedriven`` event, and counts
  ``redriveCount``;
* is idempotent per client token: the same token again redrives nothing more.

Here a redrive is a second moto ``ExecutionWorker`` on the same execution object, whose program
starts at the failed state and whose environment writes into the first worker's event history.
It touches moto internals (pinned; ``tests/test_redrive.py`` pins the behaviour).
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS

REDRIVABLE_PERIOD = timedelta(days=14)
MAX_HISTORY_EVENTS = 24_999
UNSUCCESSFUL = {ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED}


class ExecutionNotRedrivable(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ExecutionNotRedrivable", message)


def history_events(execution: Any) -> list[dict[str, Any]]:
    worker = execution.exec_worker
    if worker is None or worker.env is None:
        return []
    return list(worker.env.event_manager.get_event_history())


HISTORY_DEFAULT_PAGE = 100  # GetExecutionHistory without maxResults (or with 0)
HISTORY_TOKEN = "spotdrain-history-"  # noqa: S105 - a page marker, not a secret


class InvalidToken(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidToken", message)


def history_page(response: Any) -> ActionResult:
    """GetExecutionHistory as AWS answers it: pages of ``maxResults`` (default 100, at most
    1,000) with a ``nextToken``, oldest first unless ``reverseOrder``, without the events' input
    and output when ``includeExecutionData`` is false."""
    arn = str(response._get_param("executionArn"))
    events = list(response.stepfunction_backend.get_execution_history(arn)["events"])
    size = int(response._get_param("maxResults") or 0) or HISTORY_DEFAULT_PAGE
    if not 1 <= size <= 1000:
        raise InvalidToken(f"maxResults must be between 0 and 1000, not {size}")
    token = response._get_param("nextToken")
    start = 0
    if token:
        offset = str(token).removeprefix(HISTORY_TOKEN)
        if not str(token).startswith(HISTORY_TOKEN) or not offset.isdigit():
            raise InvalidToken(f"Invalid Token: {str(token)[:64]}")
        start = int(offset)
    if response._get_param("reverseOrder"):
        events.reverse()
    page = events[start : start + size]
    if response._get_param("includeExecutionData") is False:
        page = [_without_data(event) for event in page]
    answer: dict[str, Any] = {"events": page}
    if start + size < len(events):
        answer["nextToken"] = f"{HISTORY_TOKEN}{start + size}"
    return ActionResult(answer)


def _without_data(event: Any) -> Any:
    stripped = dict(event)
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            stripped[key] = {
                k: v
                for k, v in value.items()
                if k not in {"input", "output", "inputDetails", "outputDetails"}
            }
    return stripped


def failed_state(events: list[dict[str, Any]]) -> tuple[str, Any] | None:
    """The state that did not succeed (entered, never exited) and its input, in the last attempt."""
    open_state: tuple[str, Any] | None = None
    for event in events:
        kind = str(getattr(event.get("type"), "value", event.get("type", "")))
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            open_state = (str(details.get("name")), json.loads(details.get("input") or "{}"))
        elif kind.endswith("StateExited"):
            open_state = None
    return open_state


def not_redrivable(execution: Any, now: datetime) -> str | None:
    """Why the execution cannot be redriven now (None: it can)."""
    status = execution.exec_status
    if status not in UNSUCCESSFUL:
        return (
            f"Execution is {getattr(status, 'value', status)}: "
            "only FAILED, TIMED_OUT or ABORTED executions can be redriven"
        )
    if execution.stop_date is not None and now - execution.stop_date > REDRIVABLE_PERIOD:
        return "Execution ended more than 14 days ago"
    events = history_events(execution)
    if len(events) >= MAX_HISTORY_EVENTS:
        return f"Execution history has {len(events)} events (the limit for a redrive is {MAX_HISTORY_EVENTS})"
    if failed_state(events) is None:
        return "Execution has no state to resume at"
    return None


def describe_fields(execution: Any) -> dict[str, Any]:
    """The redrive fields of DescribeExecution."""
    reason = not_redrivable(execution, datetime.now(UTC))
    fields: dict[str, Any] = {
        "redriveCount": getattr(execution, "spotdrain_redrive_count", 0),
        "redriveStatus": "NOT_REDRIVABLE" if reason else "REDRIVABLE",
    }
    if reason:
        fields["redriveStatusReason"] = reason
    if getattr(execution, "spotdrain_redrive_date", None):
        fields["redriveDate"] = execution.spotdrain_redrive_date
    return fields


class _RedriveWorker(ExecutionWorker):
    """Runs the execution's program from the failed state, into the execution's own history."""

    def __init__(self, previous: ExecutionWorker, state: str, state_input: Any, count: int) -> None:
        super().__init__(
            evaluation_details=previous._evaluation_details,
            exec_comm=previous._execution_communication,
            cloud_watch_logging_session=previous._cloud_watch_logging_session,
            activity_store=previous._activity_store,
        )
        self._history = previous.env.event_manager if previous.env else None
        self._state, self._state_input, self._count = state, state_input, count

    def start(self) -> None:
        """As moto's ``start``, keeping the thread so that callers can wait for this very run."""
        self.thread = threading.Thread(target=self._execution_logic, daemon=True)
        TMP_THREADS.append(self.thread)
        self.thread.start()

    def _get_evaluation_entrypoint(self) -> Any:
        from spotdrain_cli.engine import _parse_definition

        definition = json.loads(self._evaluation_details.state_machine_details.definition)
        definition["StartAt"] = self._state
        return _parse_definition(json.dumps(definition))

    def _execution_logic(self) -> None:
        program = self._get_evaluation_entrypoint()
        env = self._get_evaluation_environment()
        if self._history is not None:
            env.event_manager = self._history
        env.states.reset(input_value=self._state_input)
        self.env = env
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            # botocore's HistoryEvent has executionRedrivenEventDetails; moto's TypedDict does not
            event_details=cast(
                EventDetails, {"executionRedrivenEventDetails": {"redriveCount": self._count}}
            ),
            update_source_event_id=False,
        )
        program.eval(env)
        self._execution_communication.terminated()


_lock = threading.Lock()


def redrive(
    execution: Any, client_token: str | None, now: datetime
) -> tuple[dict[str, Any], list[threading.Thread]]:
    """Redrive ``execution`` (or, for a client token already used on it, do nothing again)."""
    with _lock:
        tokens: dict[str, datetime] = execution.__dict__.setdefault("spotdrain_redrive_tokens", {})
        if client_token and client_token in tokens:
            return {"redriveDate": tokens[client_token]}, []
        reason = not_redrivable(execution, datetime.now(UTC))
        if reason:
            raise ExecutionNotRedrivable(f"Execution {execution.exec_arn} cannot be redriven: {reason}")
        state, state_input = failed_state(history_events(execution)) or ("", None)
        count = getattr(execution, "spotdrain_redrive_count", 0) + 1
        worker = _RedriveWorker(execution.exec_worker, state, state_input, count)
        execution.spotdrain_redrive_count = count
        execution.spotdrain_redrive_date = now
        if client_token:
            tokens[client_token] = now
        execution.exec_worker = worker
        execution.exec_status = ExecutionStatus.RUNNING
        execution.stop_date = None
        execution.error = execution.cause = None
        worker.start()
        return {"redriveDate": now}, [worker.thread]
