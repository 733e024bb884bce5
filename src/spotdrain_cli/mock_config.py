"""Step Functions Local's MockConfigFile, read by the local engine.

The format (AWS Step Functions developer guide, "Using mocked service integrations"):

    {"StateMachines": {NAME: {"TestCases": {CASE: {STATE: RESPONSE_NAME, ...}}}},
     "MockedResponses": {RESPONSE_NAME: {"0": {"Return": {...}}, "1-2": {"Throw": {...}}}}}

A test case maps states to mocked responses; a mocked response maps the invocations of its
state (counted from 0, retries included) to a ``Return`` (the integration's result; for
``lambda:invoke`` ``{"StatusCode": 200, "Payload": ...}``) or a ``Throw`` (``Error`` and
``Cause``, as the task's failure). Keys are one invocation ("0") or an inclusive range ("1-2").

The local engine answers a mocked state from the file and every other state as usual, so a test
case means the same on both engines. One deliberate strictness: an invocation that no key covers
is an error here (``MockConfigError``) rather than a guess, so a case says what every call does.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from spotdrain.models import DrainState, ParsedEvent, ResolvedTargets, describe_validation_error

# The Lambda steps and the model of what each returns (functions/spotdrain/models.py)
STEP_OUTPUT_MODELS: dict[str, type[BaseModel]] = {
    "ParseEvent": ParsedEvent,
    "ResolveTargets": ResolvedTargets,
    "DeregisterTargets": DrainState,
    "CheckDrain": DrainState,
}
RANGE = re.compile(r"^(0|[1-9][0-9]*)(?:-(0|[1-9][0-9]*))?$")


class MockConfigError(Exception):
    """The mock configuration file is unusable, or a run went beyond what it defines."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ValueError(f"duplicate keys {twice}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Answer:
    """One mocked answer: a ``Return`` value, or a ``Throw`` with error and cause."""

    returns: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def throws(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class MockedResponse:
    name: str
    ranges: tuple[tuple[int, int, Answer], ...]

    def answer(self, invocation: int) -> Answer:
        for first, last, answer in self.ranges:
            if first <= invocation <= last:
                return answer
        covered = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b, _ in self.ranges)
        raise MockConfigError(
            f"mocked response {self.name!r} has no answer for invocation {invocation} "
            f"(it defines {covered}): add one to the mock configuration file"
        )


@dataclass
class TestCase:
    state_machine: str
    name: str
    states: dict[str, MockedResponse]
    invocations: dict[str, int] = field(default_factory=dict)

    def check_returns(self) -> None:
        """Every mocked Return of a Lambda step is a result that step's handler could give: a
        ``Payload`` its output model accepts (a shape the handlers cannot produce tests nothing)."""
        for state, response in self.states.items():
            model = STEP_OUTPUT_MODELS.get(state)
            if model is None:
                continue
            for first, last, answer in response.ranges:
                if answer.throws:
                    continue
                where = f"mocked response {response.name!r} ({state}), invocation {first}-{last}"
                returns = answer.returns
                if not isinstance(returns, dict) or not isinstance(returns.get("Payload"), dict):
                    raise MockConfigError(f'{where}: a lambda:invoke result is {{"Payload": {{...}}}}')
                try:
                    model.model_validate(returns["Payload"])
                except ValidationError as exc:
                    raise MockConfigError(
                        f"{where}: not what {state} returns: {describe_validation_error(exc)}"
                    ) from exc

    def next_answer(self, state: str) -> Answer:
        """The answer to the state's next invocation (counting from 0, retries included)."""
        count = self.invocations.get(state, 0)
        self.invocations[state] = count + 1
        return self.states[state].answer(count)


def parse_range(key: str) -> tuple[int, int]:
    """ "0" → (0, 0); "1-2" → (1, 2)."""
    match = RANGE.match(key)
    if not match:
        raise MockConfigError(f'invocation key {key!r}: write a number ("0") or a range ("1-2")')
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise MockConfigError(f"invocation range {key!r} ends before it starts")
    return first, last


def _answer(name: str, key: str, entry: Any) -> Answer:
    where = f"mocked response {name!r}, invocation {key!r}"
    if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in ("Return", "Throw"):
        raise MockConfigError(f"{where}: needs exactly one of Return or Throw")
    kind, value = next(iter(entry.items()))
    if kind == "Return":
        return Answer(returns=value)
    if not isinstance(value, dict) or not isinstance(value.get("Error"), str) or not value["Error"]:
        raise MockConfigError(f"{where}: Throw needs an Error (a string) and may have a Cause")
    if value["Error"].startswith("States."):
        raise MockConfigError(
            f"{where}: the local engine cannot throw {value['Error']!r} (moto's interpreter refuses "
            "error names starting with 'States.' from a task): throw a Lambda.* error or one of "
            "spotdrain's errors instead"
        )
    unknown = set(value) - {"Error", "Cause"}
    if unknown:
        raise MockConfigError(f"{where}: Throw has unknown fields {sorted(unknown)}")
    cause = value.get("Cause")
    if cause is not None and not isinstance(cause, str):
        raise MockConfigError(f"{where}: Cause must be a string")
    return Answer(error=value["Error"], cause=cause)


def _response(name: str, data: Any) -> MockedResponse:
    if not isinstance(data, dict) or not data:
        raise MockConfigError(f"mocked response {name!r}: needs at least one invocation key")
    ranges = sorted(
        ((*parse_range(key), _answer(name, key, entry)) for key, entry in data.items()),
        key=lambda item: (item[0], item[1]),
    )
    for (_, last, _), (first, _, _) in itertools.pairwise(ranges):
        if first <= last:
            raise MockConfigError(f"mocked response {name!r}: invocation ranges overlap")
    return MockedResponse(name, tuple(ranges))


@dataclass(frozen=True)
class MockConfig:
    test_cases: dict[str, dict[str, dict[str, str]]]  # state machine → case → state → response
    responses: dict[str, MockedResponse]

    @classmethod
    def from_dict(cls, data: Any) -> MockConfig:
        if not isinstance(data, dict) or set(data) - {"StateMachines", "MockedResponses"}:
            raise MockConfigError("a mock configuration holds StateMachines and MockedResponses only")
        machines = data.get("StateMachines")
        if not isinstance(machines, dict) or not machines:
            raise MockConfigError("StateMachines: needs at least one state machine")
        raw_responses = data.get("MockedResponses") or {}
        if not isinstance(raw_responses, dict):
            raise MockConfigError("MockedResponses must be an object")
        responses = {name: _response(name, value) for name, value in raw_responses.items()}
        cases: dict[str, dict[str, dict[str, str]]] = {}
        for machine, body in machines.items():
            if not isinstance(body, dict) or not isinstance(body.get("TestCases"), dict):
                raise MockConfigError(f"state machine {machine!r}: needs TestCases")
            cases[machine] = {}
            for case, states in body["TestCases"].items():
                if not isinstance(states, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in states.items()
                ):
                    raise MockConfigError(f"test case {case!r}: map each state to a mocked response name")
                missing = sorted(v for v in states.values() if v not in responses)
                if missing:
                    raise MockConfigError(f"test case {case!r} names unknown mocked responses {missing}")
                cases[machine][case] = dict(states)
        return cls(cases, responses)

    @classmethod
    def load(cls, path: Path) -> MockConfig:
        try:
            data = json.loads(
                path.read_text(encoding="utf-8"),
                object_pairs_hook=_no_duplicates,
                parse_constant=_no_constant,
            )
        except OSError as exc:
            raise MockConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            raise MockConfigError(f"{path} is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise MockConfigError(f"{path} is nested too deeply to be a mock configuration") from exc
        try:
            return cls.from_dict(data)
        except MockConfigError as exc:
            raise MockConfigError(f"{path}: {exc}") from exc

    def case_names(self) -> list[tuple[str, str]]:
        return [(machine, case) for machine, cases in self.test_cases.items() for case in cases]

    def test_case(self, name: str, state_machine: str | None = None) -> TestCase:
        """The test case ``name`` (of ``state_machine``, needed only if several have one so named);
        ``MACHINE#CASE``, as Step Functions Local runs it, names both."""
        if "#" in name and state_machine is None:
            state_machine, name = name.split("#", 1)
        found = [
            (machine, case)
            for machine, case in self.case_names()
            if case == name and state_machine in (None, machine)
        ]
        if not found:
            known = ", ".join(f"{m}#{c}" for m, c in self.case_names())
            raise MockConfigError(f"no test case {name!r} in the mock configuration (it has {known})")
        if len(found) > 1:
            raise MockConfigError(f"test case {name!r} is in several state machines: name one")
        machine, case = found[0]
        states = self.test_cases[machine][case]
        return TestCase(machine, case, {state: self.responses[r] for state, r in states.items()})
