"""Every AWS call a step makes is allowed by that step's function policy in template.yaml.

moto does not check IAM, so a missing permission would only show on AWS. Here the calls each
state makes in a set of simulated runs that reach every code path of the handlers (DescribeTasks
fallback, IP reuse guard by ENI and by ECS scan, VPC from the ENI, second deregistration,
cross-account role) are checked against the actions of the function the state invokes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spotdrain_cli.engine import Simulation
from spotdrain_cli.simulate import event_place
from spotdrain_cli.template import load_template
from tests.conftest import load_event, world

IAM_PREFIX = {"elbv2": "elasticloadbalancing"}


def without_subnet(event: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(event)
    for attachment in changed["detail"]["attachments"]:
        attachment["details"] = [d for d in attachment["details"] if d["name"] != "subnetId"]
    return changed


RUNS = [
    ("spot-interruption-awsdocs-current.json", "default.yaml", False),  # DescribeTasks, ENI proof
    ("spot-interruption-with-eni.json", "ip-reassigned.yaml", False),
    ("spot-interruption-with-eni.json", "two-groups-two-ports.yaml", False),  # ECS scan
    ("spot-interruption-with-eni.json", "default.yaml", True),  # VPC from the ENI
    ("spot-interruption-with-eni.json", "deregister-ignored-once.yaml", False),  # second attempt
    ("spot-interruption-with-eni.json", "cross-account.yaml", False),  # sts:AssumeRole
    ("spot-interruption-with-eni.json", "load-balancer-source.yaml", False),
]


def calls_by_state() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for event_name, world_name, strip_subnet in RUNS:
        event = load_event(event_name)
        if strip_subnet:
            event = without_subnet(event)
        region, account, when = event_place(event)
        with Simulation(world(world_name), region=region, account=account, start=when) as sim:
            arn = sim.start(event, name="policies")
            assert sim.wait(arn)["status"] == "SUCCEEDED", (event_name, world_name)
            state = None
            for entry in sim.timeline:
                if entry.kind == "enter":
                    state = entry.text
                elif entry.kind == "call" and state:
                    found.setdefault(state, set()).add(entry.detail["operation"])
    return found


def allowed_actions(function: str) -> set[str]:
    actions: set[str] = set()
    for policy in load_template()["Resources"][function]["Properties"]["Policies"]:
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            candidates = [statement]
            if "Fn::If" in statement:  # the cross-account statement
                candidates = [s for s in statement["Fn::If"][1:] if isinstance(s, dict)]
            for candidate in candidates:
                action = candidate.get("Action", [])
                actions.update([action] if isinstance(action, str) else action)
    return actions


@pytest.fixture(scope="module")
def observed() -> dict[str, set[str]]:
    return calls_by_state()


def test_the_runs_reach_every_guarded_path(observed: dict[str, set[str]]) -> None:
    assert {"ecs:ListTasks", "ec2:DescribeNetworkInterfaces", "elbv2:DeregisterTargets"} <= observed[
        "DeregisterTargets"
    ]
    assert {"ec2:DescribeSubnets", "ec2:DescribeNetworkInterfaces", "sts:AssumeRole"} <= observed[
        "ResolveTargets"
    ]
    assert "elbv2:DeregisterTargets" in observed["CheckDrain"]
    assert {"ecs:DescribeTasks", "dynamodb:UpdateItem"} <= observed["ParseEvent"]


@pytest.mark.parametrize("state", ["ParseEvent", "ResolveTargets", "DeregisterTargets", "CheckDrain"])
def test_every_call_of_a_step_is_in_its_functions_policy(observed: dict[str, set[str]], state: str) -> None:
    allowed = allowed_actions(f"{state}Function")
    for operation in sorted(observed.get(state, set())):
        service, name = operation.split(":", 1)
        action = f"{IAM_PREFIX.get(service, service)}:{name}"
        assert action in allowed, f"{state} calls {operation}, but {state}Function may not ({action})"
