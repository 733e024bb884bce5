"""`spotdrain simulate`: one Spot interruption, end to end, on the local engine."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from spotdrain.aws import arn_part
from spotdrain.models import EARLIEST, LATEST
from spotdrain_cli import PROJECT_ROOT
from spotdrain_cli.engine import Simulation, TimelineEntry, known_regions
from spotdrain_cli.history import analyse
from spotdrain_cli.mock_config import TestCase
from spotdrain_cli.world import World, load_world

DEFAULT_EVENT = PROJECT_ROOT / "examples" / "events" / "spot-interruption-awsdocs-current.json"
DEFAULT_WORLD = PROJECT_ROOT / "examples" / "worlds" / "default.yaml"
FALLBACK_REGION = "us-east-1"
FALLBACK_ACCOUNT = "123456789012"


class EventFileError(Exception):
    """The event file cannot be read as JSON."""


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def load_event(path: Path) -> Any:
    """The event file's JSON object. (Whether it is a valid interruption notice is for the
    workflow to say: that is what is being simulated.)"""
    try:
        event = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_json)
    except OSError as exc:
        raise EventFileError(f"cannot read event file {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise EventFileError(f"event file {path} is not usable JSON: {str(exc)[:200]}") from exc
    if not isinstance(event, dict):
        raise EventFileError(
            f"event file {path} holds a JSON {type(event).__name__}: EventBridge delivers an object"
        )
    return event


def _arn_field(value: Any, index: int) -> str | None:
    return arn_part(value, index) if isinstance(value, str) else None


def event_place(event: Any) -> tuple[str, str, datetime | None]:
    """Region, account and time the simulated world should have for this event."""
    region, account, when = FALLBACK_REGION, FALLBACK_ACCOUNT, None
    if isinstance(event, dict):
        detail: dict[str, Any] = event["detail"] if isinstance(event.get("detail"), dict) else {}
        arn = detail.get("taskArn") or detail.get("clusterArn")
        region = str(event.get("region") or _arn_field(arn, 3) or FALLBACK_REGION)
        account = str(event.get("account") or _arn_field(arn, 4) or FALLBACK_ACCOUNT)
        # The simulated clock starts when the notice was sent, as ParseEvent reckons it.
        for stamp in (event.get("time"), detail.get("stoppingAt"), detail.get("updatedAt")):
            if isinstance(stamp, int | float) and not isinstance(stamp, bool):
                with contextlib.suppress(ValueError, OverflowError, OSError):
                    when = datetime.fromtimestamp(stamp, tz=UTC)
                    break
            if isinstance(stamp, str):
                try:
                    when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                except ValueError:
                    continue
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                break
    if not (account.isascii() and account.isdigit() and len(account) == 12):
        account = FALLBACK_ACCOUNT
    # A world can only be built in a region AWS has; an event naming another is still run (there,
    # ParseEvent refuses it by name), and an implausible time does not set the clock.
    if region not in known_regions():
        region = FALLBACK_REGION
    if when is not None and not EARLIEST <= when <= LATEST:
        when = None
    return region, account, when


def _group_name(load_balancer: dict[str, Any]) -> str:
    if load_balancer.get("targetGroup"):
        return str(load_balancer["targetGroup"])
    arn = str(load_balancer.get("targetGroupArn", "?"))
    return arn.split("/")[-2] if arn.count("/") >= 2 else arn


def describe_world(world: World) -> str:
    """The world in one sentence."""
    parts = []
    lbs = {lb.name: lb for lb in world.load_balancers}
    groups = []
    for group in world.target_groups:
        kind = ""
        if group.load_balancer:
            kind = (
                ("NLB " if lbs[group.load_balancer].type == "network" else "ALB ")
                + group.load_balancer
                + ", "
            )
        targets = (
            ", ".join(f"{endpoint(t.id, t.port or group.port)} {t.state}" for t in group.targets)
            or "no targets"
        )
        groups.append(
            f"{group.name} ({kind}{group.protocol}:{group.port}, {group.target_type} targets, "
            f"deregistration delay {group.deregistration_delay_seconds} s; {targets})"
        )
    parts.append(f"{len(groups)} target group(s): " + "; ".join(groups) if groups else "no target groups")
    if world.ecs.tasks or world.ecs.services:
        services = ", ".join(
            f"{s.get('serviceName')} → " + ", ".join(_group_name(lb) for lb in s.get("loadBalancers", []))
            for s in world.ecs.services
        )
        parts.append(
            f"ECS knows {len(world.ecs.tasks)} task(s)" + (f" and service(s) {services}" if services else "")
        )
    if world.faults:
        parts.append("faults: " + ", ".join(f"{f.operation} → {_fault_text(f)}" for f in world.faults))
    if world.parameters:
        parts.append("parameters: " + ", ".join(f"{k}={v}" for k, v in world.parameters.items()))
    return "; ".join(parts) + "."


@dataclass
class Printer:
    out: TextIO
    seen: int = 0

    def flush(self, timeline: list[TimelineEntry]) -> None:
        while self.seen < len(timeline):
            entry = timeline[self.seen]
            self.seen += 1
            line = format_entry(entry)
            if line:
                print(line, file=self.out, flush=True)


ENTRY_MARKS = {
    "call": "    ",
    "fault": "    ✗ ",
    "throttle": "    ✗ ",
    "mock": "    ≡ ",
    "wait": "    … ",
    "retry": "    … ",
    "sdk-retry": "    … ",
    "step-retry": "    … ",
}


def format_entry(entry: TimelineEntry) -> str | None:
    stamp = f"  t+{entry.seconds:7.1f}s  "
    if entry.kind == "enter":
        return f"{stamp}▶ {entry.text} ({entry.detail.get('state_type', '')})"
    if entry.kind == "exit":
        return f"{stamp}◀ {entry.text}"
    if entry.kind == "failed":
        return f"{stamp}    ✗ failed: {entry.text[:200]}"
    if entry.kind == "end":
        return f"{stamp}■ execution {entry.text}"
    mark = ENTRY_MARKS.get(entry.kind)
    return None if mark is None else f"{stamp}{mark}{entry.text}"


@dataclass(frozen=True)
class Mark:
    """The simulation's counters before an execution, so that its summary counts only its own."""

    api_calls: Counter[str]
    faults_injected: Counter[str]
    deregistrations: int
    timeline: int
    seconds: float

    @classmethod
    def of(cls, sim: Simulation) -> Mark:
        return cls(
            Counter(sim.api_calls),
            Counter(sim.faults_injected),
            len(sim.elb.deregistrations),
            len(sim.timeline),
            sim.clock.elapsed,
        )


def _outcome(status: str, states: list[str]) -> str | None:
    """The Succeed state a successful execution ended in; ``Failed``, ``TimedOut`` or ``Aborted``
    otherwise (whether it ended in the Fail state or in the task that failed: ``failed_state``
    says which state failed)."""
    if status == "SUCCEEDED":
        return states[-1] if states else None
    return {"FAILED": "Failed", "TIMED_OUT": "TimedOut", "ABORTED": "Aborted"}.get(status)


def summarise(
    sim: Simulation, execution_arn: str, described: dict[str, Any], since: Mark | None = None
) -> dict[str, Any]:
    since = since or Mark(Counter(), Counter(), 0, 0, 0.0)
    history = sim.history(execution_arn)
    states: list[str] = []
    transitions = 0
    lambda_invocations = 0
    scheduled_in_state = 0
    retries = 0
    for event in history:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            states.append(event["stateEnteredEventDetails"]["name"])
            transitions += 1
            scheduled_in_state = 0
        elif kind == "TaskScheduled":
            scheduled_in_state += 1
            if event.get("taskScheduledEventDetails", {}).get("resourceType") == "lambda":
                lambda_invocations += 1
            if scheduled_in_state > 1:
                retries += 1
                transitions += 1  # a retry is billed as a transition
    output: Any = described.get("output")
    if isinstance(output, str):
        with contextlib.suppress(json.JSONDecodeError):
            output = json.loads(output)
    name_of = {arn: name for name, arn in sim.target_group_arns.items()}
    return {
        "execution_arn": execution_arn,
        "status": described["status"],
        "outcome": _outcome(described["status"], states),
        "failed_state": analyse(history)["failed_state"],
        "error": described.get("error"),
        "cause": described.get("cause"),
        "states": states,
        "deregistered": [
            {
                "targetGroupArn": d.target_group_arn,
                "targetGroup": name_of.get(d.target_group_arn),
                "id": d.id,
                "port": d.port,
                **({"availabilityZone": d.availability_zone} if d.availability_zone else {}),
                "atSeconds": round(d.at, 3),
            }
            for d in sim.elb.deregistrations[since.deregistrations :]
        ],
        "targets_after": [
            {"targetGroupArn": arn, "targetGroup": name_of.get(arn), "targets": targets}
            for arn, targets in sim.elb.snapshot().items()
        ],
        "transitions": transitions,
        "retries": retries,
        "sdk_retries": sum(1 for entry in sim.timeline[since.timeline :] if entry.kind == "sdk-retry"),
        "lambda_invocations": lambda_invocations,
        "history_events": len(history),
        "api_calls": dict(sorted((sim.api_calls - since.api_calls).items())),
        "faults_injected": dict(sorted((sim.faults_injected - since.faults_injected).items())),
        "simulated_seconds": round(sim.clock.elapsed - since.seconds, 3),
        "notifications": sim.notifications(),
        "output": output,
    }


def run(
    event: Any,
    world: World,
    *,
    time_scale: float = 0.0,
    live: TextIO | None = None,
    handler_log_level: str = "ERROR",
    execution_name: str | None = None,
    mock_case: TestCase | None = None,
) -> dict[str, Any]:
    """Run one execution for ``event`` in ``world``; print the timeline to ``live`` if given.
    With ``mock_case``, the states it mocks are answered from its mock configuration file."""
    region, account, when = event_place(event)
    start = when or datetime.now(UTC)
    with Simulation(
        world,
        region=region,
        account=account,
        start=start,
        time_scale=time_scale,
        handler_log_level=handler_log_level,
        mock_case=mock_case,
    ) as sim:
        printer = Printer(live) if live else None
        arn = sim.start(event, name=execution_name)
        described = sim.wait(arn, on_tick=(lambda: printer.flush(sim.timeline)) if printer else None)
        if printer:
            printer.flush(sim.timeline)
        return summarise(sim, arn, described)


def run_sequence(
    events: list[Any],
    world: World,
    *,
    time_scale: float = 0.0,
    names: list[str] | None = None,
    handler_log_level: str = "ERROR",
    start_delay_seconds: float = 0.0,
) -> list[dict[str, Any]]:
    """Run one execution per event, one after the other, in the same world (which keeps what
    each execution did: deregistrations, the notice ledger). One summary per execution.

    The simulated clock starts at the first event's time, plus ``start_delay_seconds`` (a late
    delivery)."""
    if not events:
        return []
    region, account, when = event_place(events[0])
    results: list[dict[str, Any]] = []
    with Simulation(
        world,
        region=region,
        account=account,
        start=(when or datetime.now(UTC)) + timedelta(seconds=start_delay_seconds),
        time_scale=time_scale,
        handler_log_level=handler_log_level,
    ) as sim:
        for index, event in enumerate(events):
            since = Mark.of(sim)
            arn = sim.start(event, name=names[index] if names else f"run-{index + 1}")
            results.append(summarise(sim, arn, sim.wait(arn), since))
    return results


def readable_cause(cause: str) -> str:
    """A Lambda error's message, without the JSON and stack trace around it."""
    try:
        payload = json.loads(cause)
    except json.JSONDecodeError:
        return cause[:400]
    if isinstance(payload, dict) and payload.get("errorMessage"):
        return str(payload["errorMessage"])[:400]
    return cause[:400]


def render_summary(result: dict[str, Any], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    polls = result["states"].count("CheckDrain")
    print("", file=out)
    head = f"{result['status']} at {result.get('failed_state') or result['outcome']}"
    if result["error"]:
        head += f": {result['error']}"
    print(
        f"{head} — {result['simulated_seconds']:g} simulated s, {polls} drain check(s), "
        f"{result['transitions']} state transitions, {result['lambda_invocations']} Lambda invocations",
        file=out,
    )
    if result["cause"]:
        print(f"  cause: {readable_cause(result['cause'])}", file=out)
    if isinstance(result["output"], dict) and result["output"].get("reason"):
        print(f"  reason: {result['output']['reason']}", file=out)
    for skip in result["output"].get("skipped", []) if isinstance(result["output"], dict) else []:
        print(f"  skipped {skip.get('arn')}: {skip.get('reason')}", file=out)
    for item in result["deregistered"]:
        group_name = item["targetGroup"] or item["targetGroupArn"]
        where = endpoint(item["id"], item["port"])
        print(f"  deregistered {where} from {group_name} at t+{item['atSeconds']:.1f}s", file=out)
    for group in result["targets_after"]:
        targets = (
            ", ".join(f"{endpoint(t['id'], t['port'])} {t['state']}" for t in group["targets"]) or "none"
        )
        print(f"  now in {group['targetGroup'] or group['targetGroupArn']}: {targets}", file=out)
    calls = ", ".join(f"{k} ×{v}" for k, v in result["api_calls"].items()) or "none"
    print(f"  AWS calls: {calls}", file=out)
    for notice in result["notifications"]:
        message = notice["message"]
        if isinstance(message, dict):
            text = f"{message.get('status')} {message.get('error')}; next: {message.get('next')}"
        else:
            text = str(message)
        print(f"  SNS notice (execution status rule): {text}", file=out)


def _fault_text(fault: Any) -> str:
    what = "success without effect" if fault.effect == "ignored" else str(fault.error)
    when = (
        f" on calls {fault.calls}"
        if fault.calls is not None
        else f" the first {fault.times} time(s)"
        if fault.times is not None
        else f" on {fault.rate:.0%} of calls"
        if fault.rate is not None
        else ""
    )
    return what + when


def endpoint(address: str, port: int | None) -> str:
    """address:port, with an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def load_inputs(event_path: Path | None, world_path: Path | None) -> tuple[Any, World, Path, Path]:
    """The event and world to run: ``--event`` if given, else the world's own ``event`` (a path
    relative to the world file), else the AWS docs notice."""
    world_file = world_path or DEFAULT_WORLD
    world = load_world(world_file)
    event_file = event_path or (world_file.parent / world.event if world.event else DEFAULT_EVENT)
    return load_event(event_file), world, event_file, world_file
