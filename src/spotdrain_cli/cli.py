"""The ``spotdrain`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spotdrain_cli.mock_config import MockConfig, MockConfigError
from spotdrain_cli.template import TemplateError
from spotdrain_cli.world import WorldError

EXIT_OK, EXIT_EXECUTION_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
        "--mock-config",
        type=Path,
        help="a Step Functions Local MockConfigFile: answer the states of --test-case from it",
    )
    simulate.add_argument("--test-case", help="the test case of --mock-config to run")
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
    _aws_options(history, region_help="AWS region (default: the one in the ARN)")
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write one self-contained page: graph, path, inputs/outputs",
    )
    _operator_commands(commands)
    return parser


def _aws_options(parser: argparse.ArgumentParser, *, region_help: str, state_machine: bool = False) -> None:
    parser.add_argument("--region", help=region_help)
    parser.add_argument("--profile", help="AWS profile (default: the usual credential chain)")
    parser.add_argument(
        "--endpoint-url",
        help="another endpoint than AWS's: the local simulator (spotdrain serve), for one",
    )
    if state_machine:
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--stack-name", help="the stack whose state machine (output StateMachineArn) to use"
        )
        which.add_argument("--state-machine-arn", help="the state machine to use")


def _operator_commands(commands: Any) -> None:
    default_region = "AWS region (default: the profile's or AWS_REGION)"
    executions = commands.add_parser(
        "executions",
        help="list executions: status, task, outcome, failing state, error, times",
        description=(
            "List the drain state machine's executions, newest first, with the interrupted task, "
            "the outcome or error, and the state an unsuccessful one failed at. Without "
            "--stack-name or --state-machine-arn, the one state machine named *-drain is used."
        ),
    )
    _aws_options(executions, region_help=default_region, state_machine=True)
    executions.add_argument(
        "--status", action="append", type=str.upper, choices=STATUS_CHOICES, help="only these (repeatable)"
    )
    executions.add_argument(
        "--since", type=_moment, help="started at or after (ISO 8601, or 30m, 6h, 7d ago)"
    )
    executions.add_argument("--until", type=_moment, help="started at or before (same forms)")
    executions.add_argument("--task", help="only this task (its ARN or id)")
    executions.add_argument("--limit", type=_count, default=50, help="at most this many (default 50)")
    executions.add_argument("--json", action="store_true", help="print a JSON list")

    redrive = commands.add_parser(
        "redrive",
        help="redrive failed executions: resume each at the state that failed",
        description=(
            "Check that each execution can be redriven (status, age, redrive status, history size, "
            "and not ended by a final error that would only fail again), then RedriveExecution with "
            "a client token, so that a repeated command does not redrive twice. Exit status 0 if "
            "every execution was redriven (or would be, with --dry-run) and, with --wait, succeeded; "
            "1 otherwise; 2 for bad arguments."
        ),
    )
    redrive.add_argument("execution_arns", nargs="*", type=_execution_arn, metavar="EXECUTION_ARN")
    redrive.add_argument(
        "--all-failed", action="store_true", help="every FAILED or TIMED_OUT execution (see --since)"
    )
    redrive.add_argument("--since", type=_moment, help="with --all-failed: started at or after this")
    redrive.add_argument(
        "--dry-run", action="store_true", help="check and say what would be done; change nothing"
    )
    redrive.add_argument("--wait", action="store_true", help="wait for each redriven execution to end")
    _aws_options(redrive, region_help="AWS region (default: the one in the ARN)", state_machine=True)

    rerun = commands.add_parser(
        "rerun",
        help="start a new execution with a finished execution's input (when it cannot be redriven)",
        description=(
            "Start a new execution of the same state machine with the original input, named "
            "<original>-rerun-N so that it can be traced back. The notice ledger lets it through if "
            "the original ended unsuccessfully; after the drain deadline the notice is stale and "
            "nothing is deregistered."
        ),
    )
    rerun.add_argument("execution_arn", type=_execution_arn)
    rerun.add_argument("--wait", action="store_true", help="wait for the new execution to end")
    _aws_options(rerun, region_help="AWS region (default: the one in the ARN)")

    start = commands.add_parser(
        "start",
        help="start a drain by hand with an ECS event (e.g. a notice from the dead-letter queue)",
        description="StartExecution of the drain state machine with the event file as its input.",
    )
    start.add_argument("--event", type=Path, required=True, help="the EventBridge event (JSON)")
    start.add_argument("--name", type=_execution_name, help="execution name (default: Step Functions')")
    start.add_argument("--wait", action="store_true", help="wait for the execution to end")
    _aws_options(start, region_help=default_region, state_machine=True)

    serve = commands.add_parser(
        "serve",
        help="run the simulator as a local AWS endpoint whose executions persist between commands",
        description=(
            "Build the world, deploy the stack into it, and serve it as an AWS endpoint (moto's "
            "server mode) until interrupted: point the other commands at it with --endpoint-url. "
            "Starts one execution with the world's notice unless --no-start."
        ),
    )
    serve.add_argument("--world", type=Path, help="world file (default: examples/worlds/default.yaml)")
    serve.add_argument("--event", type=Path, help="the notice (default: the world's own event)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=4599, help="port (default 4599; 0 picks a free one)")
    serve.add_argument("--time-scale", type=_time_scale, default=0.1, help="as for simulate (default 0.1)")
    serve.add_argument("--no-start", action="store_true", help="do not start an execution with the notice")

    doctor = commands.add_parser(
        "doctor",
        help="check that the deployed (or simulated) set-up lets a drain finish in time",
        description=(
            "Check the state machine, its functions, the rule that starts it, and every candidate "
            "target group (deregistration delay against the drain deadline and the task's "
            "stopTimeout, NLB connection termination, target type, the tag the policy requires, "
            "ECS-managed groups). Prints each finding with its fix. Exit status 0 if nothing would "
            "make draining fail, 1 otherwise, 2 for bad arguments."
        ),
    )
    _aws_options(doctor, region_help=default_region, state_machine=True)
    doctor.add_argument("--json", action="store_true", help="print one JSON object")

    heal = commands.add_parser(
        "heal",
        help="local simulator only: clear the world's injected faults (or replace them)",
        description="Tell a running `spotdrain serve` to stop injecting faults (or to inject others).",
    )
    heal.add_argument("--endpoint-url", required=True, help="the simulator's endpoint (spotdrain serve)")
    heal.add_argument("--faults", type=Path, help="a world file whose faults replace the current ones")


STATUS_CHOICES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
RELATIVE = re.compile(r"(\d{1,6})([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _moment(text: str) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or a duration ago: 30m, 6h, 7d."""
    relative = RELATIVE.fullmatch(text.strip())
    if relative:
        return datetime.now(UTC) - timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (ISO 8601 like 2026-11-20T03:00Z, or 30m, 6h, 7d ago)"
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError("a port number from 0 to 65535")
    return int(text)


def _execution_arn(text: str) -> str:
    if not re.fullmatch(
        r"arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}", text
    ):
        raise argparse.ArgumentTypeError(
            "a Step Functions execution ARN (arn:aws:states:REGION:ACCOUNT:execution:...)"
        )
    return text


class CommandError(Exception):
    """What a command cannot do with its AWS answers: one line, exit status 1."""


class UsageError(CommandError):
    """Arguments that cannot be used (exit status 2, as argparse's own)."""


def short_error(exc: BaseException) -> str:
    """An error in one line: an endpoint that answered with a web page is named, not quoted."""
    text = " ".join(str(exc).split())
    if "<!doctype" in text.lower() or "<html" in text.lower():
        return "the endpoint did not answer as AWS does (it sent a web page): is --endpoint-url right?"
    return text[:300]


def client_error_text(exc: Any) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = short_error(Exception(error.get("Message") or ""))
    return (
        f"{error.get('Code') or status}: {message}" if message else f"HTTP {status} {error.get('Code') or ''}"
    )


def aws_client(service: str, region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
    """A client as the AWS CLI would make it. For a local endpoint (the simulator) without
    credentials configured, fake ones: the simulator does not check them."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
    except ProfileNotFound as exc:
        raise CommandError(str(exc)) from exc
    region = region or session.region_name
    if not region:
        raise UsageError("no AWS region: give --region (or set AWS_REGION, or a profile's region)")
    extra: dict[str, Any] = {}
    if endpoint_url and _is_local(endpoint_url) and session.get_credentials() is None:
        extra = {"aws_access_key_id": "spotdrain-local", "aws_secret_access_key": "spotdrain-local"}
    return session.client(service, region_name=region, endpoint_url=endpoint_url, **extra)


def _is_local(url: str) -> bool:
    from urllib.parse import urlparse

    host = urlparse(url).hostname or ""
    return host in {"localhost", "127.0.0.1", "::1", "0.0.0.0"} or host.startswith("127.")  # noqa: S104


def stepfunctions_client(region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
    return aws_client("stepfunctions", region, profile, endpoint_url)


def _state_machine(args: argparse.Namespace, sfn: Any) -> str:
    from spotdrain_cli import operate

    if args.state_machine_arn:
        return str(args.state_machine_arn)
    if args.stack_name:
        from botocore.parsers import ResponseParserError

        cloudformation = aws_client("cloudformation", args.region, args.profile, args.endpoint_url)
        try:
            return operate.state_machine_of_stack(cloudformation, args.stack_name)
        except ResponseParserError as exc:
            if args.endpoint_url:
                raise UsageError(
                    f"{args.endpoint_url} does not answer CloudFormation (the simulator does not deploy "
                    "stacks): give --state-machine-arn, or neither"
                ) from exc
            raise
    return operate.only_drain_state_machine(sfn)


def cmd_history(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    from spotdrain_cli import history

    region = args.region or args.execution_arn.split(":")[3]
    try:
        sfn = stepfunctions_client(region, args.profile, args.endpoint_url)
        events = history.read_history(sfn, args.execution_arn)
    except CommandError as exc:
        print(f"spotdrain history: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, UsageError) else EXIT_EXECUTION_FAILED
    except history.ExecutionNotFound as exc:
        print(f"spotdrain history: {exc}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    except ClientError as exc:
        print(f"spotdrain history: could not read the history: {client_error_text(exc)}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    except (BotoCoreError, ResponseParserError) as exc:
        print(f"spotdrain history: could not read the history: {short_error(exc)}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    result = history.analyse(events)
    if args.html:
        try:
            definition = json.loads(
                sfn.describe_state_machine_for_execution(executionArn=args.execution_arn)["definition"]
            )
            from spotdrain_cli.html_report import render_page

            args.html.write_text(
                render_page(args.execution_arn, definition, result, events), encoding="utf-8"
            )
        except (ClientError, BotoCoreError, OSError) as exc:
            print(f"spotdrain history: could not write {args.html}: {exc}", file=sys.stderr)
            return EXIT_EXECUTION_FAILED
        print(f"spotdrain history: wrote {args.html}", file=sys.stderr)
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

    if (args.mock_config is None) != (args.test_case is None):
        print("spotdrain simulate: --mock-config and --test-case go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        event, world, event_file, world_file = simulate.load_inputs(args.event, args.world)
        case = MockConfig.load(args.mock_config).test_case(args.test_case) if args.mock_config else None
    except (simulate.EventFileError, WorldError, MockConfigError) as exc:
        print(f"spotdrain simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    live = None if args.json else sys.stdout
    if live:
        print(f"Event: {event_file}", file=live)
        print(f"World: {world_file.name}: {simulate.describe_world(world)}", file=live)
        print(f"Time scale: {args.time_scale:g} real s per simulated s", file=live)
        if case:
            mocked = ", ".join(f"{state} ({r.name})" for state, r in case.states.items()) or "nothing"
            print(f"Test case: {case.state_machine}#{case.name}: mocked {mocked}", file=live)
        print("", file=live)
    try:
        result = simulate.run(
            event,
            world,
            time_scale=args.time_scale,
            live=live,
            handler_log_level=args.log_level,
            execution_name=args.name,
            mock_case=case,
        )
    except (WorldError, TemplateError, MockConfigError) as exc:
        print(f"spotdrain simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TimeoutError as exc:
        hint = "; try a smaller --time-scale" if args.time_scale > 0 else ""
        print(f"spotdrain simulate: {exc}{hint}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=str)
        print()
    else:
        simulate.render_summary(result)
    return EXIT_OK if result["status"] == "SUCCEEDED" else EXIT_EXECUTION_FAILED


def run_operator_command(args: argparse.Namespace) -> int:
    from spotdrain_cli import commands

    return commands.run(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "simulate":
            return cmd_simulate(args)
        if args.command == "soak":
            return cmd_soak(args)
        if args.command == "history":
            return cmd_history(args)
        return run_operator_command(args)
    except BrokenPipeError:  # e.g. `spotdrain simulate | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_EXECUTION_FAILED
    except KeyboardInterrupt:
        print(f"spotdrain {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
