"""The ``spotdrain`` command."""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

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
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="level of the handlers' own (Powertools) logs, written to stderr (default WARNING)",
    )
    return parser


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
    except BrokenPipeError:  # e.g. `spotdrain simulate | head`: the reader has gone, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_EXECUTION_FAILED
    return EXIT_USAGE  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":
    sys.exit(main())
