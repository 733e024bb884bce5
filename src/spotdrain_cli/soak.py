"""The soak run: many interruptions, one after another, with AWS failing transiently all along.

Every execution must end in the outcome its case calls for, and no target that does not belong
to an interrupted task may ever be deregistered. The world (built here, seeded, repeatable) has
two target groups (an NLB and an ALB group) holding every interrupted task's address and healthy
neighbours, and ECS tasks and network interfaces; the cases cycle through:

- ``Drained``: registered in one or both groups; proven by the task's ENI (most), or with the ENI
  gone and nobody else holding the address (ECS ListTasks/DescribeTasks scan);
- ``SkippedIpReassigned``: the address now belongs to a running replacement task, whose healthy
  registration must survive;
- ``NotRegistered``: registered nowhere;
- ``AlreadyHandled``: the previous case's notice delivered again.

A share (``fault_rate``) of every ELBv2 and ECS call fails with a transient error (throttling,
503, 500, read timeout), drawn from the world's seeded generator.
"""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spotdrain_cli import PROJECT_ROOT
from spotdrain_cli.engine import Simulation
from spotdrain_cli.simulate import Mark, summarise
from spotdrain_cli.world import World

TEMPLATE_EVENT = PROJECT_ROOT / "examples" / "events" / "spot-interruption-with-eni.json"
REGION, ACCOUNT = "us-east-1", "111122223333"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"
SUBNET = "subnet-0a1b2c3d4e5f60001"
NEIGHBOURS = 20
FAULTY_OPERATIONS = (
    "elbv2:DescribeTargetGroups",
    "elbv2:DescribeTargetHealth",
    "elbv2:DescribeTargetGroupAttributes",
    "elbv2:DeregisterTargets",
    "ecs:DescribeServices",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
)
TRANSIENT_ERRORS = ("Throttling", "ServiceUnavailable", "InternalFailure", "ReadTimeout")
# the template event's own identifiers, replaced per case
EVENT_TASK_ID = "5f0c1a2b3c4d5e6f708192a3b4c5d6e7"
EVENT_IP = "10.0.1.25"
EVENT_ENI = "eni-0a1b2c3d4e5f60001"
EVENT_ATTACHMENT = "0a1b2c3d-1111-2222-3333-444455556666"


@dataclass(frozen=True)
class Case:
    index: int
    expected: str
    task_id: str
    ip: str
    groups: tuple[str, ...]  # target groups the address is registered in
    eni_present: bool = True
    duplicate_of: int | None = None


@dataclass
class SoakReport:
    executions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    harmed: list[str] = field(default_factory=list)
    faults_injected: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    sdk_retries: int = 0
    api_calls: int = 0
    faultable_calls: int = 0  # ELBv2 and ECS calls, the ones faults are drawn for
    deregistrations: int = 0
    wall_seconds: float = 0.0
    simulated_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.wrong and not self.harmed

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        injected = sum(self.faults_injected.values())
        return [
            f"executions: {self.executions} ({outcomes})",
            f"wrong outcomes: {len(self.wrong)}; healthy targets deregistered: {len(self.harmed)}",
            f"injected faults: {injected} of {self.faultable_calls} ELBv2/ECS calls "
            f"({injected / max(1, self.faultable_calls):.0%}; "
            f"{', '.join(f'{op} {n}' for op, n in sorted(self.faults_injected.items()))}); "
            f"{self.api_calls} AWS calls in all",
            f"retries: {self.retries} by the workflow, {self.sdk_retries} by the SDK in-process",
            f"deregistrations: {self.deregistrations}",
            f"simulated time: {self.simulated_seconds:.0f} s; wall time: {self.wall_seconds:.1f} s",
        ]


def task_ip(index: int) -> str:
    return f"10.0.{1 + index // 200}.{10 + index % 200}"


def cases(count: int) -> list[Case]:
    built: list[Case] = []
    for index in range(count):
        kind = index % 10
        task_id = f"{index:032x}"
        if kind == 9 and built:
            previous = built[-1]
            built.append(
                Case(
                    index,
                    "AlreadyHandled",
                    previous.task_id,
                    previous.ip,
                    previous.groups,
                    duplicate_of=index - 1,
                )
            )
        elif kind == 3:
            built.append(
                Case(index, "SkippedIpReassigned", task_id, task_ip(index), ("soak-nlb",), eni_present=False)
            )
        elif kind == 6:
            built.append(Case(index, "NotRegistered", task_id, task_ip(index), ()))
        else:
            groups = ("soak-nlb", "soak-alb") if index % 2 == 0 else ("soak-nlb",)
            built.append(Case(index, "Drained", task_id, task_ip(index), groups, eni_present=kind != 7))
    return built


def eni_attachment(task_id: str, ip: str, eni: str) -> dict[str, Any]:
    return {
        "id": f"att-{task_id}",
        "type": "ElasticNetworkInterface",
        "status": "ATTACHED",
        "details": [
            {"name": "subnetId", "value": SUBNET},
            {"name": "networkInterfaceId", "value": eni},
            {"name": "privateIPv4Address", "value": ip},
        ],
    }


def interrupted_task(case: Case) -> dict[str, Any]:
    """The case's task as ECS describes it: reclaimed (desired STOPPED), still running, its ENI."""
    return {
        "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{case.task_id}",
        "clusterArn": CLUSTER,
        "group": "service:web",
        "desiredStatus": "STOPPED",
        "lastStatus": "RUNNING",
        "attachments": [eni_attachment(case.task_id, case.ip, f"eni-{case.index:017x}")],
    }


def soak_world(all_cases: list[Case], *, fault_rate: float, seed: int) -> World:
    targets: dict[str, list[dict[str, Any]]] = {"soak-nlb": [], "soak-alb": []}
    tasks: list[dict[str, Any]] = []
    for case in all_cases:
        if case.duplicate_of is not None:
            continue
        for group in case.groups:
            targets[group].append({"id": case.ip, "port": 8080})
        if case.expected == "SkippedIpReassigned":  # its replacement now holds the address
            replacement = f"r{case.task_id[1:]}"
            tasks.append(
                {
                    "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{replacement}",
                    "clusterArn": CLUSTER,
                    "group": "service:web",
                    "desiredStatus": "RUNNING",
                    "lastStatus": "RUNNING",
                    "attachments": [eni_attachment(replacement, case.ip, f"eni-r{case.index:016x}")],
                }
            )
        elif case.eni_present:
            tasks.append(interrupted_task(case))
    for listed in targets.values():
        listed.extend({"id": f"10.1.0.{10 + n}", "port": 8080} for n in range(NEIGHBOURS))
    per_error = 1 - (1 - fault_rate) ** (1 / len(TRANSIENT_ERRORS))  # overall share = fault_rate
    faults = (
        [
            {"operation": operation, "error": error, "rate": per_error}
            for operation in FAULTY_OPERATIONS
            for error in TRANSIENT_ERRORS
        ]
        if fault_rate > 0
        else []
    )
    return World.model_validate(
        {
            "description": f"soak: {len(all_cases)} interruptions, {fault_rate:.0%} of calls failing",
            "parameters": {"TargetGroupArns": ["soak-alb"], "UseServiceLoadBalancers": "true"},
            "loadBalancers": [
                {"name": "soak-nlb", "type": "network"},
                {"name": "soak-alb", "type": "application"},
            ],
            "targetGroups": [
                {
                    "name": "soak-nlb",
                    "loadBalancer": "soak-nlb",
                    "protocol": "TCP",
                    "port": 8080,
                    "deregistrationDelaySeconds": 5,
                    "targets": targets["soak-nlb"],
                },
                {
                    "name": "soak-alb",
                    "loadBalancer": "soak-alb",
                    "protocol": "HTTP",
                    "port": 8080,
                    "deregistrationDelaySeconds": 10,
                    "targets": targets["soak-alb"],
                },
            ],
            "ecs": {
                "tasks": tasks,
                "services": [
                    {
                        "serviceName": "web",
                        "clusterArn": CLUSTER,
                        "loadBalancers": [
                            {"targetGroup": "soak-nlb", "containerName": "web", "containerPort": 8080}
                        ],
                    }
                ],
            },
            "faults": faults,
            "seed": seed,
        }
    )


def notice(case: Case, template: dict[str, Any], when: datetime) -> dict[str, Any]:
    text = json.dumps(template)
    for old, new in (
        (EVENT_TASK_ID, case.task_id),
        (EVENT_ENI, f"eni-{case.index:017x}"),
        (EVENT_ATTACHMENT, f"att-{case.task_id}"),
        ("ip-10-0-1-25", f"ip-{case.ip.replace('.', '-')}"),
        (EVENT_IP, case.ip),
    ):
        text = text.replace(old, new)
    event: dict[str, Any] = json.loads(text)
    event["time"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"]["version"] = 3
    return event


def run_soak(count: int = 200, *, fault_rate: float = 0.2, seed: int = 1) -> SoakReport:
    all_cases = cases(count)
    world = soak_world(all_cases, fault_rate=fault_rate, seed=seed)
    template = json.loads(TEMPLATE_EVENT.read_text(encoding="utf-8"))
    report = SoakReport()
    started = time.monotonic()
    start = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    sent: dict[int, dict[str, Any]] = {}
    with Simulation(world, region=REGION, account=ACCOUNT, start=start, handler_log_level="ERROR") as sim:
        arn_of = {arn: name for name, arn in sim.target_group_arns.items()}
        for case in all_cases:
            if case.duplicate_of is not None:
                event = copy.deepcopy(sent[case.duplicate_of])
            else:
                event = notice(case, template, sim.clock.now())
            sent[case.index] = event
            since = Mark.of(sim)
            arn = sim.start(event, name=f"soak-{case.index:04d}")
            result = summarise(sim, arn, sim.wait(arn), since)
            report.executions += 1
            report.outcomes[result["outcome"]] += 1
            report.retries += result["retries"]
            report.sdk_retries += result["sdk_retries"]
            if (result["status"], result["outcome"]) != ("SUCCEEDED", case.expected):
                got = f"{result['status']} {result['outcome']} {result['error'] or ''}"
                cause = str(result["cause"] or "")[:200]
                report.wrong.append(f"case {case.index}: expected {case.expected}, got {got} {cause}")
        interrupted = {
            (group, case.ip) for case in all_cases if case.expected == "Drained" for group in case.groups
        }
        for item in sim.elb.deregistrations:
            if (arn_of.get(item.target_group_arn), item.id) not in interrupted:
                report.harmed.append(f"{item.id}:{item.port} in {arn_of.get(item.target_group_arn)}")
        for group, targets in sim.elb.snapshot().items():
            for target in targets:
                own = (arn_of.get(group), target["id"]) in interrupted
                if not own and target["state"] != "healthy":
                    report.harmed.append(
                        f"{target['id']}:{target['port']} in {arn_of.get(group)} is {target['state']}"
                    )
        report.faults_injected = Counter(sim.faults_injected)
        report.api_calls = sum(sim.api_calls.values())
        report.faultable_calls = sum(n for op, n in sim.api_calls.items() if op in FAULTY_OPERATIONS)
        report.deregistrations = len(sim.elb.deregistrations)
        report.simulated_seconds = sim.clock.elapsed
    report.wall_seconds = time.monotonic() - started
    return report
