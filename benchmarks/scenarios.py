"""One interruption at a time on the local engine: time to deregistration, cost, detection lag,
API calls (this workflow, the fixed 5-second loop, the naive Lambda), and the engine's speed."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from benchmarks import baselines, worlds
from spotdrain_cli.engine import MOTO_CONFIG, Simulation, TimelineEntry
from spotdrain_cli.simulate import Mark, summarise
from spotdrain_cli.soak import ACCOUNT, REGION
from spotdrain_cli.world import World

# Prices (us-east-1, Standard workflows, Lambda arm64), per unit
PRICE_TRANSITION = 0.025 / 1000
PRICE_LAMBDA_REQUEST = 0.20 / 1_000_000
PRICE_LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_GB = 0.25  # MemorySize 256 (template.yaml)
BILLED_SECONDS_PER_INVOCATION = 0.1  # assumed: a step is one to a few API calls


@dataclass
class Run:
    """What one execution did, read from its history and the engine's timeline."""

    outcome: str | None
    status: str
    transitions: int
    lambda_invocations: int
    history_events: int
    api_calls: Counter[str]
    hops_to_deregistration: int | None = None
    calls_to_deregistration: int | None = None
    seconds_to_deregistration: float | None = None
    detection_lag: float | None = None
    polls: int = 0
    output: dict[str, Any] = field(default_factory=dict)

    @property
    def dollars_per_1000(self) -> float:
        per_invocation = (
            PRICE_LAMBDA_REQUEST + BILLED_SECONDS_PER_INVOCATION * LAMBDA_GB * PRICE_LAMBDA_GB_SECOND
        )
        return 1000 * (self.transitions * PRICE_TRANSITION + self.lambda_invocations * per_invocation)


def _reading(sim: Simulation, arn: str, since: Mark, delay: float) -> Run:
    summary = summarise(sim, arn, sim.wait(arn), since)
    entries: list[TimelineEntry] = sim.timeline[since.timeline :]
    run = Run(
        outcome=summary["outcome"],
        status=summary["status"],
        transitions=summary["transitions"],
        lambda_invocations=summary["lambda_invocations"],
        history_events=summary["history_events"],
        api_calls=Counter(summary["api_calls"]),
        output=summary["output"] if isinstance(summary["output"], dict) else {},
    )
    hops = calls = 0
    for entry in entries:
        if entry.kind == "enter" and entry.detail.get("state_type") == "Task":
            hops += 1
        if entry.kind in ("call", "fault", "throttle"):
            if entry.detail.get("operation") == "elbv2:DeregisterTargets":
                run.hops_to_deregistration = hops
                run.calls_to_deregistration = calls
                run.seconds_to_deregistration = entry.seconds - since.seconds
                break
            calls += 1
    checks = [e for e in entries if e.kind == "exit" and e.text == "CheckDrain"]
    run.polls = len(checks)
    deregistered = sim.elb.deregistrations[since.deregistrations :]
    if run.outcome == "Drained" and deregistered and checks:
        drained_at = max(d.at for d in deregistered) + delay
        run.detection_lag = checks[-1].seconds - drained_at
    return run


def run_workflow(world: World, *, fixed_loop: bool = False, delay: float = 0.0) -> Run:
    """One interruption (task 0 of ``world``) through this workflow, or through the fixed loop."""
    if fixed_loop:
        world = world.model_copy(
            update={"parameters": {**world.parameters, **baselines.FIXED_LOOP_PARAMETERS}}
        )
    with Simulation(
        world,
        region=REGION,
        account=ACCOUNT,
        start=worlds.START,
        definition_edit=baselines.fixed_poll_loop if fixed_loop else None,
    ) as sim:
        since = Mark.of(sim)
        arn = sim.start(worlds.notice(0), name="bench")
        return _reading(sim, arn, since, delay)


def run_naive(world: World) -> tuple[Counter[str], list[tuple[str, str, int]]]:
    """The naive Lambda on the same world: its AWS calls by operation, and what it removed."""
    with Simulation(world, region=REGION, account=ACCOUNT, start=worlds.START) as sim:
        sim.recording = True
        removed = baselines.naive_lambda(worlds.notice(0))
        sim.recording = False
        return Counter(sim.api_calls), removed


@dataclass
class EngineSpeed:
    executions: int
    workflow_per_second: float
    bare_per_second: float  # moto running a one-state machine: the interpreter's own floor


def engine_speed(executions: int = 30) -> EngineSpeed:
    """Simulated executions per second at time scale 0, against moto running the smallest
    possible state machine (one Pass state) the same number of times."""
    world = worlds.world(groups=1, delay=0, tasks=executions, other_groups=False)
    with Simulation(world, region=REGION, account=ACCOUNT, start=worlds.START) as sim:
        started = time.perf_counter()
        for index in range(executions):
            arn = sim.start(worlds.notice(index, sim.clock.now()), name=f"speed-{index}")
            sim.wait(arn)
        workflow = executions / (time.perf_counter() - started)
    with mock_aws(config=MOTO_CONFIG):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="bare",
            definition=json.dumps({"StartAt": "Pass", "States": {"Pass": {"Type": "Pass", "End": True}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bare",
        )["stateMachineArn"]
        started = time.perf_counter()
        for index in range(executions):
            arn = sfn.start_execution(stateMachineArn=machine, name=f"bare-{index}")["executionArn"]
            while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
                time.sleep(0.001)
        bare = executions / (time.perf_counter() - started)
    return EngineSpeed(executions, workflow, bare)
