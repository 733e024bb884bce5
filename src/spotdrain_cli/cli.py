"""The ``spotdrain`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from spotdrain_cli.template import TemplateError
from spotdrain_cli.world import WorldError

EXIT_OK, EXIT_EXECUTION_FAILED, EXIT_USAGE = 0, 1, 2


def _time_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not math.isfinite(value) or value < 0 or value > 10:
        raise argparse.ArgumentTypeError("time scale must be between 0 and 10")
    return value


def _execution_name(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", text):
        raise argparse.ArgumentTypeError(
            "1 to 80 letters, digits, '-' or '_' (a Step Functions execution name)"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotdrain",
        description="Drain interrupted Fargate Spot tasks from ELBv2 target groups: operator tools.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    simulate = commands.add_parser(
        "simulate",
        help="run the real workflow and handlers on an embedded AWS (moto), offline",
        description=(
            "Run statemachine/drain.asl.json with the real Lambda handlers on moto's ASL "
            "interpreter, in a simulated AWS world. Exit status: 0 if the execution succeeded, "
            "1 if it failed, 2 for bad arguments, event or world files."
        ),
    )
    simulate.add_argument(
        "--event", type=Path, help="EventBridge event JSON (default: the AWS docs Spot interruption notice)"
    )
    simulate.add_argument(
        "--world", type=Path, help="world file, YAML or JSON (default: examples/worlds/default.yaml)"
    )
    simulate.add_argument(
        "--time-scale",
        type=_time_scale,
        default=0.1,
        help="real seconds per simulated second (default 0.1; 0 runs instantly, 1 is real time)",
    )
    simulate.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    simulate.add_argument("--name", type=_execution_name, help="execution name (default: random)")
    simulate.add_argument(
        "--log-level",
        default="ERROR",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the handlers' own (Powertools) logs, written to stderr (default ERROR)",
    )
    soak = commands.add_parser(
        "soak",
        help="run many simulated interruptions with AWS failing transiently; check every outcome",
        description=(
            "Run COUNT interruptions one after another on the local engine while a share of all "
            "ELBv2 and ECS calls fail transiently (throttling, 5xx, timeouts). Checks that every "
            "execution ends in the outcome its case calls for and that no healthy target is "
            "deregistered; prints the counts. Exit status 0 if all is well, 1 otherwise."
        ),
    )
    soak.add_argument("--count", type=_count, default=200, help="interruptions to simulate (default 200)")
    soak.add_argument(
        "--fault-rate", type=_rate, default=0.2, help="share of ELBv2/ECS calls that fail (default 0.2)"
    )
    soak.add_argument("--seed", type=int, default=1, help="seed of the fault generator (default 1)")
    history = commands.add_parser(
        "history",
        help="an execution's path on AWS: states, timings, retries, and the state that failed",
        description=(
            "Read the whole history of an execution (every page of GetExecutionHistory) and print "
            "the path it took: each state with its timing, attempts and errors, and the state "
            "that actually failed (not the failure branch after it). Exit status 0 if the history "
            "was read, 1 if it could not be (unknown or expired execution, AWS error), 2 for bad "
            "arguments."
        ),
    )
    history.add_argument("execution_arn", type=_execution_arn, help="the execution's ARN")
    history.add_argument("--region", help="AWS region (default: the one in the ARN)")
    history.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    history.add_argument("--endpoint-url", help="a Step Functions endpoint other than AWS's")
    history.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _execution_arn(text: str) -> str:
    if not re.fullmatch(
        r"arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}", text
    ):
        raise argparse.ArgumentTypeError(
            "a Step Functions execution ARN (arn:aws:states:REGION:ACCOUNT:execution:...)"
        )
    return text


def stepfunctions_client(region: str, profile: str | None, endpoint_url: str | None) -> Any:
    import boto3

    session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    return session.client("stepfunctions", region_name=region, endpoint_url=endpoint_url)


def cmd_history(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from spotdrain_cli import history

    region = args.region or args.execution_arn.split(":")[3]
    try:
        sfn = stepfunctions_client(region, args.profile, args.endpoint_url)
        events = history.read_history(sfn, args.execution_arn)
    except history.ExecutionNotFound as exc:
        print(f"spotdrain history: {exc}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    except (ClientError, BotoCoreError) as exc:
        print(f"spotdrain history: could not read the history: {exc}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    result = history.analyse(events)
    if args.json:
        json.dump({"execution_arn": args.execution_arn, **result}, sys.stdout, indent=2, default=str)
        print()
    else:
        history.render(args.execution_arn, result, sys.stdout)
    return EXIT_OK


def _count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 10_000:
        raise argparse.ArgumentTypeError("a whole number from 1 to 10000")
    return int(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("a share from 0 up to (not including) 1")
    return value


def cmd_soak(args: argparse.Namespace) -> int:
    from spotdrain_cli.soak import run_soak

    report = run_soak(args.count, fault_rate=args.fault_rate, seed=args.seed)
    for line in report.lines():
        print(line)
    for problem in [*report.wrong, *report.harmed][:20]:
        print(f"  ✗ {problem}")
    return EXIT_OK if report.ok else EXIT_EXECUTION_FAILED


def cmd_simulate(args: argparse.Namespace) -> int:
    from spotdrain_cli import simulate

    try:
        event, world, event_file, world_file = simulate.load_inputs(args.event, args.world)
    except (simulate.EventFileError, WorldError) as exc:
        print(f"spotdrain simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    live = None if args.json else sys.stdout
    if live:
        print(f"Event: {event_file}", file=live)
        print(f"World: {world_file.name}: {simulate.describe_world(world)}", file=live)
        print(f"Time scale: {args.time_scale:g} real s per simulated s", file=live)
        print("", file=live)
    try:
        result = simulate.run(
            event,
            world,
            time_scale=args.time_scale,
            live=live,
            handler_log_level=args.log_level,
            execution_name=args.name,
        )
    except (WorldError, TemplateError) as exc:
        print(f"spotdrain simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TimeoutError as exc:
        print(f"spotdrain simulate: {exc}; try a smaller --time-scale", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
    else:
        simulate.render_summary(result)
    return EXIT_OK if result["status"] == "SUCCEEDED" else EXIT_EXECUTION_FAILED


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "soak":
            return cmd_soak(args)
        if args.command == "history":
            return cmd_history(args)
    except BrokenPipeError:  # e.g. `spotdrain simulate | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_EXECUTION_FAILED
    return EXIT_USAGE  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":
    sys.exit(main())
