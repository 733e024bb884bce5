"""``python -m benchmarks`` (``make bench``): measure, print the table, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import cold_start, mass, report, scenarios, worlds
from spotdrain_cli.soak import FAULTY_OPERATIONS, TRANSIENT_ERRORS
from spotdrain_cli.world import World

ROOT = Path(__file__).resolve().parent.parent
DELAYS = (0, 10, 30, 120, 300)
GROUP_COUNTS = (1, 3, 10)
MASS_SIZES = (50, 200, 500)


def _faulty_world(seed: int) -> World:
    base = worlds.world(groups=1, delay=30)
    per_error = 1 - (1 - 0.2) ** (1 / len(TRANSIENT_ERRORS))
    faults = [
        {"operation": op, "error": error, "rate": per_error}
        for op in FAULTY_OPERATIONS
        for error in TRANSIENT_ERRORS
    ]
    data = base.model_dump(by_alias=True, exclude_none=True)
    return World.model_validate({**data, "faults": faults, "seed": seed})


def _suite() -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        ["make", "-s", "test"],  # noqa: S607 - make from PATH, as the README runs it
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    found = re.findall(r"=+ (.*(?:passed|failed).*) in [0-9.]+s", done.stdout)
    summary = found[-1] if found else f"exit status {done.returncode}"
    return seconds, summary if done.returncode == 0 else f"FAILED: {summary}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--mass",
        default=",".join(map(str, MASS_SIZES)),
        help="mass interruption sizes, comma separated (default 50,200,500)",
    )
    parser.add_argument("--rounds", type=int, default=9, help="fresh interpreters per import measurement")
    parser.add_argument("--no-suite", action="store_true", help="do not time `make test` (7 min or so)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.md/png go")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.mass.split(",") if n.strip()]
    results = report.Results()
    started = time.monotonic()

    def step(text: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {text}", file=sys.stderr, flush=True)

    step("cold start: importing each handler against import boto3")
    results.cold = cold_start.measure(args.rounds)
    step("time to deregistration")
    results.to_deregistration["clean"] = scenarios.run_workflow(worlds.world(groups=1, delay=30), delay=30)
    results.faulty_to_deregistration = [
        scenarios.run_workflow(_faulty_world(seed), delay=30) for seed in range(1, 11)
    ]
    naive_calls, _ = scenarios.run_naive(worlds.world(groups=1, delay=30))
    results.naive_to_deregistration = (1, sum(naive_calls.values()) - naive_calls["elbv2:DeregisterTargets"])
    for delay in DELAYS:
        step(f"cost and lag at a {delay} s deregistration delay: spotdrain and the fixed 5 s loop")
        world = worlds.world(groups=1, delay=delay)
        results.delays[delay] = (
            scenarios.run_workflow(world, delay=delay),
            scenarios.run_workflow(world, fixed_loop=True, delay=delay),
        )
    for groups in GROUP_COUNTS:
        step(f"API calls with {groups} target group(s): spotdrain and the naive Lambda")
        world = worlds.world(groups=groups, delay=30)
        ours = scenarios.run_workflow(world, delay=30)
        naive, _ = scenarios.run_naive(world)
        results.api_calls[groups] = (ours.api_calls, naive)
    for size in sizes:
        step(f"mass interruption: {size} tasks at once, ELBv2 Describe* throttled")
        results.mass.append(mass.run_mass(size))
    step("local engine speed")
    results.engine = scenarios.engine_speed()
    if not args.no_suite:
        step("timing make test")
        results.suite = _suite()
    results.wall_seconds = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    png = args.out / "benchmarks.png"
    text = report.markdown(results, png.name if report.plot(results, png) else None)
    (args.out / "benchmarks.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    step(f"wrote {args.out / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
