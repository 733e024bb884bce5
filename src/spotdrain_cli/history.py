"""Reading executions and their histories: the path taken, timings, retries, and what failed.

Works on Step Functions' own history events (GetExecutionHistory, every page), so the same code
reads an execution on AWS and one on the local engine. The failed state is the state whose
error the execution failed with, not the failure branch that handled it (RouteFailure,
ReleaseNoticeClaim, NotifyFailure, Failed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

FAILURE_BRANCH = frozenset(
    {"CaptureParseError", "RouteFailure", "ReleaseNoticeClaim", "NotifyFailure", "Failed"}
)
HISTORY_PAGE = 1000  # GetExecutionHistory's largest page
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ExecutionNotFound(Exception):
    """The execution does not exist (any more: Step Functions keeps them 90 days)."""


@dataclass
class StateVisit:
    """One entry into a state, as the history tells it."""

    name: str
    type: str
    entered: datetime
    exited: datetime | None = None
    input: Any = None
    output: Any = None
    attempts: int = 0  # Task invocations (1 + retries)
    errors: list[dict[str, str]] = field(default_factory=list)  # each failed attempt
    result: str = "running"  # succeeded | failed | caught | ended (terminal state) | running

    @property
    def seconds(self) -> float | None:
        return (self.exited - self.entered).total_seconds() if self.exited else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["entered"] = self.entered.isoformat()
        data["exited"] = self.exited.isoformat() if self.exited else None
        data["seconds"] = self.seconds
        data["retries"] = max(0, self.attempts - 1)
        return data


def read_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of the execution, all pages, oldest first."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": HISTORY_PAGE}
    try:
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page.get("events", []))
            token = page.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token
    except sfn.exceptions.ExecutionDoesNotExist as exc:
        raise ExecutionNotFound(
            f"no execution {execution_arn}: it never existed, or Step Functions no longer keeps it "
            "(executions are kept for 90 days after they end)"
        ) from exc


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _details(event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def analyse(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The path taken, state by state, and how the execution ended."""
    visits: list[StateVisit] = []
    current: StateVisit | None = None
    ended_at: datetime | None = None
    ending: dict[str, Any] = {"status": "RUNNING"}
    for event in events:
        kind = str(event.get("type", ""))
        details = _details(event)
        raw = event.get("timestamp")
        stamp: datetime = raw if isinstance(raw, datetime) else EPOCH
        if kind.endswith("StateEntered"):
            current = StateVisit(
                name=str(details.get("name")),
                type=kind.removesuffix("StateEntered"),
                entered=stamp,
                input=_json(details.get("input")),
            )
            visits.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited = stamp
            current.output = _json(details.get("output"))
            if current.result == "running":
                current.result = "succeeded"
        elif kind == "TaskScheduled" and current is not None:
            current.attempts += 1
        elif (
            kind in {"TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed"}
            and current is not None
        ):
            current.errors.append(
                {"error": str(details.get("error", kind)), "cause": str(details.get("cause", ""))}
            )
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            ended_at = stamp
            ending = {
                "status": kind.removeprefix("Execution").upper().replace("TIMEDOUT", "TIMED_OUT"),
                "error": details.get("error"),
                "cause": details.get("cause"),
                "output": _json(details.get("output")),
            }
    for visit in visits:
        if visit.exited is None and ended_at is not None:  # Succeed/Fail states have no exit event
            visit.exited, visit.result = ended_at, "ended"
        if visit.errors and visit.exited is not None:
            # errors on the last attempt that was not followed by success: the state failed and
            # its Catch took over ("caught"); errors followed by success were retried
            next_index = visits.index(visit) + 1
            handled = next_index < len(visits) and visits[next_index].name in FAILURE_BRANCH
            visit.result = "caught" if handled else "succeeded"
    failed = next(
        (v for v in reversed(visits) if v.result == "caught" and v.name not in FAILURE_BRANCH), None
    )
    if failed is None and ending["status"] == "FAILED":
        failed = next((v for v in reversed(visits) if v.name not in FAILURE_BRANCH), None)
    if failed is not None and ending["status"] == "FAILED":
        failed.result = "failed"
    terminal = next((v.name for v in reversed(visits) if v.type in {"Succeed", "Fail"}), None)
    return {
        **ending,
        "outcome": terminal,
        "failed_state": failed.name if failed is not None and ending["status"] == "FAILED" else None,
        "states": [visit.as_dict() for visit in visits],
        "retries": sum(max(0, v.attempts - 1) for v in visits),
        "history_events": len(events),
    }


def _short(text: Any, limit: int = 160) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _message(cause: Any) -> str:
    parsed = _json(cause)
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return str(cause or "")


def render(execution_arn: str, result: dict[str, Any], out: TextIO) -> None:
    """The path taken, a line per state visit, and how the execution ended."""
    print(f"Execution: {execution_arn}", file=out)
    head = f"Status: {result['status']}"
    if result.get("failed_state"):
        head += f" — {result['error']} at {result['failed_state']}: {_short(_message(result['cause']))}"
    elif result.get("outcome"):
        head += f" at {result['outcome']}"
    print(head, file=out)
    states = result["states"]
    start = datetime.fromisoformat(states[0]["entered"]) if states else None
    for state in states:
        at = (datetime.fromisoformat(state["entered"]) - start).total_seconds() if start else 0.0
        took = f"{state['seconds']:.1f} s" if state["seconds"] is not None else "…"
        line = f"  t+{at:7.1f}s  {state['name']:<20} {state['result']:<9} {took:>8}"
        if state["retries"]:
            line += f"  {state['attempts']} attempts"
        print(line, file=out)
        for error in state["errors"]:
            print(f"      ✗ {error['error']}: {_short(_message(error['cause']))}", file=out)
    print(f"History: {result['history_events']} events, {result['retries']} retries", file=out)
