"""Hostile and malformed inputs: each one ends in a *named* error or outcome, and touches nothing.

The corpus is data, next to this file:

- ``events/hostile/*.json``: raw EventBridge deliveries, i.e. the state machine's execution input
  (wrong types, forged ARNs and places, ambiguous or impossible addresses, control characters,
  sizes around EventBridge's 256 KB, times far away, spoofed sources, envelopes, non-objects);
- ``events/hostile/steps/*.json``: step inputs sent straight to ResolveTargets, DeregisterTargets
  and CheckDrain (named ``resolve_targets-*``, ``deregister_targets-*``, ``check_drain-*``);
- ``events/hostile/expected.json``: for every file, how it must end: ``{"outcome": NAME}`` (the
  execution succeeds in that state, or the handler returns that outcome) or ``{"error": NAME}`` (a
  class of ``spotdrain.errors``). The answers are the safe ones the design calls for, not
  whatever the code happens to do.

Raw events run through the whole workflow in the default world (``examples/worlds/default.yaml``:
the interrupted task's 10.0.1.25 and a healthy neighbour, 10.0.2.17, in one NLB target group);
step inputs run in ``STEP_WORLD`` below. The place and time are fixed, as on AWS: the stack is in
us-east-1 / 111122223333 and "now" is 2026-11-20T03:12:50Z (five seconds after the notices the
corpus is made from), whatever the event claims. (``simulate.run`` instead puts the world in the
event's region and account and starts the clock at the event's time, which is right for replaying
a real notice, but lets a hostile event pick the allow-list's answer and its own freshness.) No
input may deregister or change any target, nor write to ELBv2, ECS or EC2.

Runs share a simulated world (building one takes about a second, a run a fraction of that): a
world is reused only while runs leave no trace in it (see ``SharedWorld``), so every run starts
as in a fresh world. Each file runs once.
"""

from __future__ import annotations

import json
import traceback
import typing
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

import spotdrain.aws
import spotdrain.clock
from spotdrain import check_drain, deregister_targets, errors, parse_event, resolve_targets
from spotdrain.errors import SpotDrainError
from spotdrain.models import DrainState, ParsedEvent, ResolvedTargets
from spotdrain_cli import simulate
from spotdrain_cli.engine import Simulation, scoped_environment
from spotdrain_cli.world import World
from tests.conftest import LambdaContext, world

HOSTILE = Path(__file__).parent / "events" / "hostile"
STEPS = HOSTILE / "steps"
EXPECTED_FILE = HOSTILE / "expected.json"

REGION = "us-east-1"
ACCOUNT = "111122223333"
NOW = datetime(2026, 11, 20, 3, 12, 50, tzinfo=UTC)
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:DrainStateMachine:hostile"
ASL_SETTINGS = {"pollIntervalSeconds": "5", "drainDeadlineSeconds": "120", "maxPollAttempts": "30"}

RAW_FILES = sorted(p.name for p in HOSTILE.glob("*.json") if p != EXPECTED_FILE)
STEP_FILES = sorted(p.name for p in STEPS.glob("*.json"))
EXPECTED: dict[str, dict[str, str]] = json.loads(EXPECTED_FILE.read_text(encoding="utf-8"))

NAMED_ERRORS = frozenset(
    name
    for name, value in vars(errors).items()
    if isinstance(value, type) and issubclass(value, SpotDrainError) and value is not SpotDrainError
)
PARSE_OUTCOMES = frozenset(typing.get_args(ParsedEvent.model_fields["outcome"].annotation))
READ_ONLY_PREFIXES = ("Describe", "List", "Get")
TARGET_SERVICES = frozenset({"elbv2", "ecs", "ec2"})  # where a write could touch a target or a task

# Step handlers by file-name prefix, with the function (template logical id) whose environment
# they run with.
HANDLERS: dict[str, tuple[str, ModuleType]] = {
    "resolve_targets": ("ResolveTargetsFunction", resolve_targets),
    "deregister_targets": ("DeregisterTargetsFunction", deregister_targets),
    "check_drain": ("CheckDrainFunction", check_drain),
}

TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/5f0c1a2b3c4d5e6f708192a3b4c5d6e7"
NEIGHBOUR_TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/0123456789abcdef0123456789abcdef"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"


def _ecs_task(arn: str, ip: str, eni: str, attachment: str, desired: str) -> dict[str, Any]:
    return {
        "taskArn": arn,
        "clusterArn": CLUSTER_ARN,
        "group": "service:web",
        "launchType": "FARGATE",
        "availabilityZone": "us-east-1a",
        "desiredStatus": desired,
        "lastStatus": "RUNNING",
        "attachments": [
            {
                "id": attachment,
                "type": "ElasticNetworkInterface",
                "status": "ATTACHED",
                "details": [
                    {"name": "subnetId", "value": "subnet-0a1b2c3d4e5f60001"},
                    {"name": "networkInterfaceId", "value": eni},
                    {"name": "privateIPv4Address", "value": ip},
                ],
            }
        ],
    }


# The world of the step inputs: the interrupted task (10.0.1.25) is registered in two groups,
# already draining in one and healthy in the other; a live neighbour task (10.0.2.17) is healthy
# in both and must never be touched.
STEP_WORLD: dict[str, Any] = {
    "description": "interrupted task 10.0.1.25 and a live neighbour 10.0.2.17, two target groups",
    "account": ACCOUNT,
    "parameters": {"TargetGroupArns": ["admin-9090"]},
    "targetGroups": [
        {
            "name": "web-8080",
            "port": 8080,
            "deregistrationDelaySeconds": 30,
            "targets": [
                {"id": "10.0.1.25", "port": 8080, "state": "draining", "drainRemainingSeconds": 60},
                {"id": "10.0.2.17", "port": 8080},
            ],
        },
        {
            "name": "admin-9090",
            "port": 9090,
            "deregistrationDelaySeconds": 30,
            "targets": [{"id": "10.0.1.25", "port": 9090}, {"id": "10.0.2.17", "port": 9090}],
        },
    ],
    "ecs": {
        "tasks": [
            _ecs_task(
                TASK_ARN,
                "10.0.1.25",
                "eni-0a1b2c3d4e5f60001",
                "0a1b2c3d-1111-2222-3333-444455556666",
                "STOPPED",
            ),
            _ecs_task(
                NEIGHBOUR_TASK_ARN,
                "10.0.2.17",
                "eni-0fedcba9876543210",
                "0a1b2c3d-9999-2222-3333-444455556666",
                "RUNNING",
            ),
        ],
        "services": [
            {
                "serviceName": "web",
                "clusterArn": CLUSTER_ARN,
                "loadBalancers": [{"targetGroup": "web-8080", "containerName": "web", "containerPort": 8080}],
            }
        ],
    },
}


def load(path: Path) -> Any:
    """A corpus file: JSON, and strictly so (no NaN or Infinity, which JSON does not have)."""

    def not_json(token: str) -> Any:
        raise ValueError(f"{path.name}: {token} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=not_json)


def writes(calls: Counter[str] | dict[str, int]) -> list[str]:
    """The AWS calls among ``calls`` that change something (anything but Describe/List/Get)."""
    return sorted(op for op in calls if not op.split(":", 1)[-1].startswith(READ_ONLY_PREFIXES))


def mutating(calls: Counter[str] | dict[str, int]) -> list[str]:
    """The writes among ``calls`` to ELBv2, ECS or EC2: those that could touch a target or a task.
    (The notice ledger's bookkeeping is not among them.)"""
    return [op for op in writes(calls) if op.split(":", 1)[0] in TARGET_SERVICES]


# --- one shared simulated world, rebuilt whenever a run left a trace --------------------------------
class SharedWorld:
    """Simulations of ``world`` at the fixed place and time, one at a time, always pristine.

    ``pristine()`` reuses the current simulation only if the last run left no trace in it: no
    deregistration, every target as built, the clock not moved, and no AWS write but DynamoDB
    bookkeeping (the notice ledger), whose tables are put back as built. (The failure notice
    comes from the status rule, which the engine does not record; ``simulate.summarise``
    consumes it.) Anything else makes it build a
    fresh world.
    """

    def __init__(self, world_model: World) -> None:
        self.world = world_model
        self.builds = 0
        self.baseline: dict[str, list[dict[str, Any]]] = {}
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._stack = ExitStack()
        self._sim: Simulation | None = None
        self._calls: Counter[str] = Counter()

    def __enter__(self) -> SharedWorld:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def pristine(self) -> Simulation:
        sim = self._sim
        if sim is not None and not self._untouched(sim):
            self._stack.close()
            self._stack = ExitStack()
            sim = None
        if sim is None:
            sim = self._stack.enter_context(Simulation(self.world, region=REGION, account=ACCOUNT, start=NOW))
            self.baseline = sim.elb.snapshot()
            self._tables = self._items(sim)
            self.builds += 1
            self._sim = sim
        self._calls = Counter(sim.api_calls)
        return sim

    def _untouched(self, sim: Simulation) -> bool:
        if sim.elb.deregistrations or sim.elb.snapshot() != self.baseline or sim.clock.elapsed != 0:
            return False
        left = set(writes(sim.api_calls - self._calls))
        if not left:
            return True
        if any(not op.startswith("dynamodb:") for op in left):
            return False
        dynamodb = sim.client("dynamodb")
        for table, items in self._items(sim).items():
            keys = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
            for item in items:
                key = {k["AttributeName"]: item[k["AttributeName"]] for k in keys}
                dynamodb.delete_item(TableName=table, Key=key)
            for item in self._tables.get(table, []):
                dynamodb.put_item(TableName=table, Item=item)
        return self._items(sim) == self._tables

    @staticmethod
    def _items(sim: Simulation) -> dict[str, list[dict[str, Any]]]:
        dynamodb = sim.client("dynamodb")
        return {
            table: dynamodb.scan(TableName=table)["Items"] for table in dynamodb.list_tables()["TableNames"]
        }


@dataclass
class StepResult:
    returned: dict[str, Any] | None
    raised: BaseException | None
    calls: Counter[str]
    deregistrations: list[Any]
    targets_after: dict[str, list[dict[str, Any]]]
    baseline: dict[str, list[dict[str, Any]]]
    trace: list[str] = field(default_factory=list)


def run_every_raw_event() -> dict[str, dict[str, Any]]:
    """Each raw event through the whole workflow, once, in a pristine default world."""
    results: dict[str, dict[str, Any]] = {}
    with SharedWorld(world("default.yaml")) as lab:
        for name in RAW_FILES:
            try:
                sim = lab.pristine()
                before = Counter(sim.api_calls)
                arn = sim.start(load(HOSTILE / name))
                summary = simulate.summarise(sim, arn, sim.wait(arn))
            except Exception as exc:  # the engine could not run it: reported by that file's test
                results[name] = {"exception": "".join(traceback.format_exception(exc)[-6:])}
                continue
            summary["api_calls"] = dict(Counter(sim.api_calls) - before)
            summary["baseline"] = lab.baseline
            results[name] = summary
    return results


def call_every_step_input() -> dict[str, StepResult]:
    """Each step input straight into its handler, in a pristine world of the step inputs."""
    results: dict[str, StepResult] = {}
    with SharedWorld(World.model_validate(STEP_WORLD)) as lab:
        for name in STEP_FILES:
            sim = lab.pristine()
            logical_id, module = HANDLERS[name.split("-", 1)[0]]
            assert sim.stack is not None
            environment = {**sim.stack.functions[logical_id].environment, "AWS_REGION": REGION}
            before = Counter(sim.api_calls)
            returned: dict[str, Any] | None = None
            raised: BaseException | None = None
            trace: list[str] = []
            sim.recording = True  # the engine records (and answers) the handler's AWS calls
            try:
                with scoped_environment(environment):
                    returned = module.handler(load(STEPS / name), LambdaContext())
            except Exception as exc:
                raised = exc
                trace = traceback.format_exception(exc)[-6:]
            finally:
                sim.recording = False
            results[name] = StepResult(
                returned=returned,
                raised=raised,
                calls=Counter(sim.api_calls) - before,
                deregistrations=list(sim.elb.deregistrations),
                targets_after=sim.elb.snapshot(),
                baseline=lab.baseline,
                trace=trace,
            )
    return results


_RESULTS: dict[str, Any] = {}


def _once(key: str, compute: Callable[[], Any]) -> Any:
    """Computed in the first test that asks (under that test's fixtures), then shared."""
    if key not in _RESULTS:
        _RESULTS[key] = compute()
    return _RESULTS[key]


@pytest.fixture
def workflow_results() -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = _once("raw", run_every_raw_event)
    return results


@pytest.fixture
def step_results() -> dict[str, StepResult]:
    results: dict[str, StepResult] = _once("steps", call_every_step_input)
    return results


# --- 1. raw events through the whole workflow ---------------------------------------------------------
def _describe(result: dict[str, Any]) -> str:
    cause = str(result.get("cause") or "")
    with suppress(ValueError, AttributeError):  # a Lambda error's cause is its JSON payload
        cause = str(json.loads(cause).get("errorMessage", cause))
    reason = result["output"].get("reason") if isinstance(result.get("output"), dict) else None
    return (
        f"{result['status']} in state {result['outcome']}"
        + (f", error {result['error']}: {cause[:300]}" if result.get("error") else "")
        + (f", reason: {str(reason)[:300]}" if reason else "")
        + (f"; deregistered {result['deregistered']}" if result.get("deregistered") else "")
        + (f"; AWS calls {result['api_calls']}" if result.get("api_calls") else "")
    )


@pytest.mark.parametrize("name", RAW_FILES)
def test_raw_event_through_the_workflow_ends_as_expected_and_touches_nothing(
    name: str, workflow_results: dict[str, dict[str, Any]]
) -> None:
    result = workflow_results[name]
    if "exception" in result:
        pytest.fail(f"{name}: the local engine could not run it:\n{result['exception']}")
    expected = EXPECTED[name]
    what = f"{name}: {_describe(result)}"

    if result["status"] == "FAILED":
        assert result["error"] in NAMED_ERRORS, f"unnamed error (not a spotdrain.errors class): {what}"
        assert [n["message"]["error"] for n in result["notifications"]] == [result["error"]], (
            f"failed without the status rule's notice: {what}"
        )
        got = {"error": result["error"]}
    else:
        assert result["status"] == "SUCCEEDED", what
        got = {"outcome": result["outcome"]}
        assert len(json.dumps(result["output"])) < 16_000, f"{name}: the execution's output is not bounded"
    assert got == expected, f"expected {expected}, got {got}: {what}"

    if expected.get("outcome") != "Drained":
        assert result["deregistered"] == [], f"a target was deregistered: {what}"
        assert mutating(result["api_calls"]) == [], f"mutating AWS call: {what}"
        assert {g["targetGroupArn"]: g["targets"] for g in result["targets_after"]} == result["baseline"], (
            f"a target changed state: {what}"
        )


# --- 2. raw events straight into ParseEvent ---------------------------------------------------------------
CONFIGURATIONS = {
    "no allow-list": {},
    "as deployed": {"ALLOWED_ACCOUNT_IDS": ACCOUNT, "ALLOWED_REGIONS": REGION, "HOME_ACCOUNT_ID": ACCOUNT},
}


@pytest.fixture
def fixed_clock() -> Iterator[None]:
    with mock.patch.object(spotdrain.clock, "now", return_value=NOW):
        yield


@pytest.mark.usefixtures("aws", "fixed_clock")
@pytest.mark.parametrize("name", RAW_FILES)
def test_parse_event_handler_returns_an_outcome_or_raises_a_named_error(
    name: str, lambda_context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = {"event": load(HOSTILE / name), "execution": EXECUTION, "settings": ASL_SETTINGS}
    for configuration, environment in CONFIGURATIONS.items():
        for key in CONFIGURATIONS["as deployed"]:
            monkeypatch.delenv(key, raising=False)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        spotdrain.aws.reset_clients()
        try:
            result = parse_event.handler(payload, lambda_context)
        except SpotDrainError:
            continue
        except Exception as exc:
            pytest.fail(
                f"{name} ({configuration}): ParseEvent raised {type(exc).__name__}, not a named error:\n"
                + "".join(traceback.format_exception(exc)[-6:])
            )
        assert isinstance(result, dict), f"{name} ({configuration}): returned {type(result).__name__}"
        assert result.get("outcome") in PARSE_OUTCOMES, (
            f"{name} ({configuration}): outcome {result.get('outcome')!r}"
        )
        json.dumps(result)  # what Lambda returns must be JSON


# --- 3. step inputs straight into their handlers ------------------------------------------------------------
@pytest.mark.parametrize("name", STEP_FILES)
def test_step_input_ends_by_name_and_changes_nothing(name: str, step_results: dict[str, StepResult]) -> None:
    result = step_results[name]
    expected = EXPECTED[f"steps/{name}"]
    if result.raised is not None:
        if not isinstance(result.raised, SpotDrainError):
            pytest.fail(
                f"{name}: the handler raised {type(result.raised).__name__}, not a named error:\n"
                + "".join(result.trace)
            )
        got = {"error": type(result.raised).__name__}
        what = f"{name}: raised {got['error']}: {str(result.raised)[:300]}"
    else:
        assert result.returned is not None
        got = {"outcome": str(result.returned.get("outcome"))}
        what = f"{name}: returned {got['outcome']}: {str(result.returned.get('reason'))[:300]}"
    drain = (result.returned or {}).get("drain") or {}
    what += f"; next wait {drain['nextWaitSeconds']} s" if "nextWaitSeconds" in drain else ""
    what += f"; AWS calls {dict(result.calls)}" if result.calls else ""
    assert got == expected, f"expected {expected}, got {got}: {what}"

    assert mutating(result.calls) == [], f"mutating AWS call: {what}"
    assert result.deregistrations == [], f"a target was deregistered: {what}; {result.deregistrations}"
    assert result.targets_after == result.baseline, f"a target changed state: {what}"
    if "nextWaitSeconds" in drain:  # the poll loop stays bounded by the drain deadline
        assert drain["nextWaitSeconds"] <= int(ASL_SETTINGS["drainDeadlineSeconds"]), what


# --- 4. the corpus itself ----------------------------------------------------------------------------------
def test_the_corpus_is_large_and_expected_json_matches_it_exactly() -> None:
    files = [*RAW_FILES, *(f"steps/{name}" for name in STEP_FILES)]
    assert len(RAW_FILES) >= 30
    assert len(files) >= 30
    assert sorted(EXPECTED) == sorted(files), (
        f"no expectation for {sorted(set(files) - set(EXPECTED))}; "
        f"stale expectations for {sorted(set(EXPECTED) - set(files))}"
    )
    definition = json.loads((Path(__file__).parent.parent / "statemachine" / "drain.asl.json").read_text())
    outcomes = {name for name, state in definition["States"].items() if state["Type"] == "Succeed"}
    for model in (ResolvedTargets, DrainState):  # what the step handlers return
        outcomes.update(typing.get_args(model.model_fields["outcome"].annotation))
    for name, expected in EXPECTED.items():
        assert len(expected) == 1, f"{name}: one of outcome or error, not {expected}"
        (kind, value), *_ = expected.items()
        known = NAMED_ERRORS if kind == "error" else outcomes if kind == "outcome" else frozenset()
        assert value in known, f"{name}: {expected} names no spotdrain error or outcome"
    for name in STEP_FILES:
        assert name.split("-", 1)[0] in HANDLERS, f"{name}: name it after its handler"
    for path in [*(HOSTILE / n for n in RAW_FILES), *(STEPS / n for n in STEP_FILES)]:
        load(path)  # valid, strict JSON
