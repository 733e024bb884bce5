"""The operator commands: executions, redrive, rerun, start, serve, heal."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from spotdrain_cli import cli, operate
from spotdrain_cli.cli import (
    EXIT_EXECUTION_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    UsageError,
    _state_machine,
)

WAIT_TIMEOUT = 3600.0  # --wait gives up after an hour (a drain is bounded well below that)


def run(args: argparse.Namespace) -> int:
    command = {
        "executions": executions,
        "redrive": redrive,
        "rerun": rerun,
        "start": start,
        "serve": serve,
        "heal": heal,
        "doctor": doctor,
    }[args.command]
    try:
        return command(args)
    except UsageError as exc:
        print(f"spotdrain {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (CommandError, operate.OperateError) as exc:
        print(f"spotdrain {args.command}: {exc}", file=sys.stderr)
    except ClientError as exc:
        print(f"spotdrain {args.command}: {cli.client_error_text(exc)}", file=sys.stderr)
    except (BotoCoreError, ResponseParserError) as exc:
        print(f"spotdrain {args.command}: {cli.short_error(exc)}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"spotdrain {args.command}: interrupted (executions already started go on)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_EXECUTION_FAILED


def _region(args: argparse.Namespace, arn: str | None = None) -> str | None:
    return str(args.region) if args.region else (arn.split(":")[3] if arn else None)


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if moment else "-"


def _short_task(task: str | None) -> str:
    if not task:
        return "-"
    resource = task.split(":", 5)[-1]
    return resource.removeprefix("task/")


# --- executions --------------------------------------------------------------------------------
def executions(args: argparse.Namespace) -> int:
    sfn = cli.aws_client("stepfunctions", _region(args), args.profile, args.endpoint_url)
    state_machine = _state_machine(args, sfn)
    rows = operate.list_executions(
        sfn,
        state_machine,
        statuses=tuple(dict.fromkeys(args.status or [])),
        since=args.since,
        until=args.until,
        task=args.task,
        limit=args.limit,
    )
    if args.json:
        json.dump([row.as_dict() for row in rows], sys.stdout, indent=2)
        print()
        return EXIT_OK
    print(f"State machine: {state_machine}")
    if not rows:
        print("no executions match")
        return EXIT_OK
    header = ("STARTED (UTC)", "STOPPED (UTC)", "STATUS", "RESULT", "FAILED AT", "TASK", "EXECUTION")
    table = [
        (
            _when(row.started),
            _when(row.stopped),
            row.status + (f" (redriven ×{row.redrive_count})" if row.redrive_count else ""),
            row.outcome or row.error or "-",
            row.failed_state or "-",
            _short_task(row.task),
            row.name,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *table]) for i in range(len(header))]
    for line in [header, *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    print(
        f"{len(rows)} execution(s), newest first"
        + (f" (at most {args.limit})" if len(rows) == args.limit else "")
    )
    return EXIT_OK


# --- redrive -----------------------------------------------------------------------------------
def redrive(args: argparse.Namespace) -> int:
    if bool(args.execution_arns) == bool(args.all_failed):
        raise UsageError("name the executions to redrive, or give --all-failed (not both)")
    if args.since and not args.all_failed:
        raise UsageError("--since goes with --all-failed")
    first = args.execution_arns[0] if args.execution_arns else None
    sfn = cli.aws_client("stepfunctions", _region(args, first), args.profile, args.endpoint_url)
    arns: list[str] = list(dict.fromkeys(args.execution_arns))
    if args.all_failed:
        state_machine = _state_machine(args, sfn)
        rows = operate.list_executions(
            sfn, state_machine, statuses=("FAILED", "TIMED_OUT"), since=args.since, limit=10_000
        )
        arns = [row.execution_arn for row in reversed(rows)]  # oldest first
        print(
            f"{len(arns)} failed or timed-out execution(s) of {state_machine}"
            + (" (dry run)" if args.dry_run else "")
        )
    outcomes: Counter[str] = Counter()
    redriven: list[str] = []
    for number, arn in enumerate(arns, 1):
        result = operate.redrive_one(sfn, arn, dry_run=args.dry_run)
        line = f"[{number}/{len(arns)}] {arn.rsplit(':', 1)[-1]}: {result.action} — {result.detail}"
        if result.rerun_instead:
            line += f"\n      a new execution with the same input instead: spotdrain rerun {arn}"
        print(line, flush=True)
        outcomes[result.action] += 1
        if result.action == "redriven":
            redriven.append(arn)
    # all redriven first, then waited for: each drain has its own two-minute deadline
    ended: Counter[str] = Counter()
    for arn in redriven if args.wait else []:
        described = operate.wait_until_done(sfn, arn, timeout=WAIT_TIMEOUT, sleep=time.sleep)
        ended[described["status"]] += 1
        print(f"{arn.rsplit(':', 1)[-1]}: ended {_ending(described)}", flush=True)
    summary = ", ".join(f"{action} {count}" for action, count in sorted(outcomes.items())) or "nothing to do"
    if ended:
        summary += " (then " + ", ".join(f"{status} {count}" for status, count in sorted(ended.items())) + ")"
    print(f"Summary: {summary}")
    bad = (
        outcomes["not redrivable"] + outcomes["error"] + sum(n for s, n in ended.items() if s != "SUCCEEDED")
    )
    return EXIT_EXECUTION_FAILED if bad else EXIT_OK


def _ending(described: dict[str, Any]) -> str:
    """SUCCEEDED (outcome Drained), or FAILED: AwsAccessDenied."""
    if described.get("error"):
        return f"{described['status']}: {described['error']}"
    outcome = operate.outcome_of(described)
    return str(described["status"]) + (f" (outcome {outcome})" if outcome else "")


# --- rerun, start --------------------------------------------------------------------------------
def rerun(args: argparse.Namespace) -> int:
    sfn = cli.aws_client("stepfunctions", _region(args, args.execution_arn), args.profile, args.endpoint_url)
    new_arn, _name = operate.rerun(sfn, args.execution_arn)
    print(f"started {new_arn}")
    print(f"  (a rerun of {args.execution_arn}, with its input)")
    return _maybe_wait(args, sfn, new_arn)


def start(args: argparse.Namespace) -> int:
    try:
        text = args.event.read_text(encoding="utf-8")
        event = json.loads(text)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot use event file {args.event}: {exc}") from exc
    if not isinstance(event, dict):
        raise UsageError(
            f"event file {args.event} holds a JSON {type(event).__name__}: EventBridge delivers an object"
        )
    sfn = cli.aws_client("stepfunctions", _region(args), args.profile, args.endpoint_url)
    # the name Step Functions would give (a UUID), said aloud so the simulator gives the same
    kwargs: dict[str, Any] = {
        "stateMachineArn": _state_machine(args, sfn),
        "input": text,
        "name": args.name or str(uuid.uuid4()),
    }
    arn = str(sfn.start_execution(**kwargs)["executionArn"])
    print(f"started {arn}")
    return _maybe_wait(args, sfn, arn)


def _maybe_wait(args: argparse.Namespace, sfn: Any, arn: str) -> int:
    if not args.wait:
        return EXIT_OK
    described = operate.wait_until_done(sfn, arn, timeout=WAIT_TIMEOUT, sleep=time.sleep)
    print(f"ended {_ending(described)}")
    return EXIT_OK if described["status"] == "SUCCEEDED" else EXIT_EXECUTION_FAILED


# --- the local simulator as an endpoint --------------------------------------------------------------
def serve(args: argparse.Namespace) -> int:
    from spotdrain_cli import serve as local

    return local.serve(args)


def heal(args: argparse.Namespace) -> int:
    from spotdrain_cli import serve as local

    return local.heal(args.endpoint_url, args.faults)


# --- doctor ------------------------------------------------------------------------------------------
def doctor(args: argparse.Namespace) -> int:
    from spotdrain_cli import doctor as checks

    sfn = cli.aws_client("stepfunctions", _region(args), args.profile, args.endpoint_url)
    state_machine = _state_machine(args, sfn)
    region = _region(args, state_machine)
    report = checks.diagnose(
        lambda service: cli.aws_client(service, region, args.profile, args.endpoint_url), state_machine
    )
    if args.json:
        json.dump(report.as_dict(), sys.stdout, indent=2)
        print()
    else:
        print("\n".join(checks.render(report)))
    return EXIT_EXECUTION_FAILED if report.problems else EXIT_OK
