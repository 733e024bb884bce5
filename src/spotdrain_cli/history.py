"""Reading executions and their histories: the path taken, timings, retries, and what failed.

Works on Step Functions' own history events (GetExecutionHistory, every page), so the same code
reads an execution on AWS and one on the local engine. The failed state is the state whose
error the execution failed with, not the failure branch that handled it (RouteFailure,
ReleaseNoticeClaim, Failed).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

FAILURE_BRANCH = frozenset({"CaptureParseError", "RouteFailure", "ReleaseNoticeClaim", "Failed"})
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
    result: str = "running"  # succeeded | failed | caught | timed out | aborted | ended | running
    run: int = 0  # 0: the first run; n: the n-th redrive

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


ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}


# A Task with a service integration (``arn:aws:states:::lambda:invoke``) logs Task* events; one
# whose Resource is a plain Lambda function ARN logs LambdaFunction* events instead.
SCHEDULED = frozenset({"TaskScheduled", "LambdaFunctionScheduled"})
TASK_FAILURES = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "TaskStartFailed",
        "TaskSubmitFailed",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "LambdaFunctionStartFailed",
        "LambdaFunctionScheduleFailed",
    }
)


def analyse(events: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: C901 - one branch per event kind
    """The path taken, state by state, and how the execution ended.

    A redriven execution has several runs in one history (``ExecutionRedriven`` starts each one
    after the first); every visit says which run it belongs to, and ``runs`` how each ended."""
    visits: list[StateVisit] = []
    runs: list[dict[str, Any]] = []
    current: StateVisit | None = None
    run = 0
    for event in events:
        kind = str(event.get("type", ""))
        details = _details(event)
        raw = event.get("timestamp")
        stamp: datetime = raw if isinstance(raw, datetime) else EPOCH
        if kind in {"ExecutionStarted", "ExecutionRedriven"}:
            run = len(runs)
            runs.append({"run": run, "started": stamp.isoformat(), "status": "RUNNING"})
        elif kind.endswith("StateEntered"):
            current = StateVisit(
                name=str(details.get("name")),
                type=kind.removesuffix("StateEntered"),
                entered=stamp,
                input=_json(details.get("input")),
                run=run,
            )
            visits.append(current)
        elif kind.endswith("StateExited") and current is not None:
            current.exited = stamp
            current.output = _json(details.get("output"))
            if current.result == "running":
                current.result = "succeeded"
            current = None
        elif kind in SCHEDULED and current is not None:
            current.attempts += 1
        elif kind in TASK_FAILURES and current is not None:
            current.errors.append(
                {"error": str(details.get("error", kind)), "cause": str(details.get("cause", ""))}
            )
        elif kind in ENDINGS:
            status = ENDINGS[kind]
            if current is not None:  # the state the execution ended in
                current.exited = stamp
                if current.type in {"Succeed", "Fail"}:
                    current.result = "ended"
                else:
                    current.result = {"FAILED": "failed", "TIMED_OUT": "timed out"}.get(status, "aborted")
                current = None
            if not runs:
                runs.append({"run": 0, "started": None})
            runs[-1].update(
                status=status,
                ended=stamp.isoformat(),
                error=details.get("error"),
                cause=details.get("cause"),
                output=_json(details.get("output")),
            )
    for index, visit in enumerate(visits):
        if visit.errors and visit.result == "succeeded":
            # errors, then an exit: retried until it succeeded, or caught by its Catch (the next
            # state is the failure branch)
            following = visits[index + 1] if index + 1 < len(visits) else None
            caught = following is not None and following.run == visit.run and following.name in FAILURE_BRANCH
            visit.result = "caught" if caught else "succeeded"
    last = runs[-1] if runs else {"status": "RUNNING"}
    for entry in runs:
        entry["failed_state"] = _failed_state(visits, entry) if entry["status"] == "FAILED" else None
    return {
        "status": last["status"],
        "error": last.get("error"),
        "cause": last.get("cause"),
        "output": last.get("output"),
        "outcome": next(
            (v.name for v in reversed(visits) if v.type in {"Succeed", "Fail"} and v.run == last.get("run")),
            None,
        ),
        "failed_state": last.get("failed_state"),
        "redrives": max(0, len(runs) - 1),
        "runs": runs,
        "states": [visit.as_dict() for visit in visits],
        "retries": sum(max(0, v.attempts - 1) for v in visits),
        "history_events": len(events),
    }


def _failed_state(visits: list[StateVisit], run: dict[str, Any]) -> str | None:
    """The state a failed run failed at: the state it stopped in (not caught), else the last
    state whose error was caught by the failure branch, else the last state of the run."""
    mine = [v for v in visits if v.run == run["run"]]
    for result in ("failed", "caught"):
        found = next((v for v in reversed(mine) if v.result == result and v.name not in FAILURE_BRANCH), None)
        if found is not None:
            return found.name
    return next((v.name for v in reversed(mine) if v.name not in FAILURE_BRANCH), None)


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
    run = 0
    for state in states:
        if state.get("run", 0) != run:
            run = state["run"]
            print(f"  ── redrive {run}: resumed at {state['name']}", file=out)
        at = (datetime.fromisoformat(state["entered"]) - start).total_seconds() if start else 0.0
        took = f"{state['seconds']:.1f} s" if state["seconds"] is not None else "…"
        line = f"  t+{at:7.1f}s  {state['name']:<20} {state['result']:<9} {took:>8}"
        if state["retries"]:
            line += f"  {state['attempts']} attempts"
        print(line, file=out)
        for error in state["errors"]:
            print(f"      ✗ {error['error']}: {_short(_message(error['cause']))}", file=out)
    redrives = (
        f", {result['redrives']} redrive{'s' if result['redrives'] != 1 else ''}"
        if result.get("redrives")
        else ""
    )
    print(f"History: {result['history_events']} events, {result['retries']} retries{redrives}", file=out)
    for entry in result.get("runs", [])[:-1]:
        where = f" at {entry['failed_state']}" if entry.get("failed_state") else ""
        print(f"  run {entry['run']} ended {entry['status']}{where}: {entry.get('error') or ''}", file=out)
