"""Step Functions Local's MockConfigFile on the local engine: the workflow's test cases, and the
format's semantics checked against the documented examples."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from spotdrain_cli.cli import main
from spotdrain_cli.engine import Simulation
from spotdrain_cli.mock_config import STEP_OUTPUT_MODELS, MockConfig, MockConfigError, parse_range
from spotdrain_cli.simulate import event_place
from tests.conftest import world
from tests.mock_cases import EVENT, EXPECTED, MOCK_CONFIG, STATE_MACHINE_NAME, check

CONFIG = MockConfig.load(MOCK_CONFIG)
# The example of the AWS Step Functions developer guide ("Mock configuration file structure")
DOCUMENTED_EXAMPLE: dict[str, Any] = {
    "StateMachines": {
        "LambdaSQSIntegration": {
            "TestCases": {
                "HappyPath": {"LambdaState": "MockedLambdaSuccess", "SQSState": "MockedSQSSuccess"},
                "RetryPath": {"LambdaState": "MockedLambdaRetry", "SQSState": "MockedSQSSuccess"},
                "HybridPath": {"LambdaState": "MockedLambdaSuccess"},
            }
        }
    },
    "MockedResponses": {
        "MockedLambdaSuccess": {
            "0": {"Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}}
        },
        "LambdaMockedResourceNotReady": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            }
        },
        "MockedSQSSuccess": {
            "0": {
                "Return": {
                    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
                    "MessageId": "3bcb6e8e",
                }
            }
        },
        "MockedLambdaRetry": {
            "0": {
                "Throw": {
                    "Error": "Lambda.ResourceNotReadyException",
                    "Cause": "Lambda resource is not ready.",
                }
            },
            "1-2": {"Throw": {"Error": "Lambda.TimeoutException", "Cause": "Lambda timed out."}},
            "3": {
                "Return": {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}}
            },
        },
    },
}


def run_case(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    notice = json.loads(EVENT.read_text(encoding="utf-8"))
    region, account, when = event_place(notice)
    with Simulation(
        world("default.yaml"), region=region, account=account, start=when, mock_case=CONFIG.test_case(name)
    ) as sim:
        arn = sim.start(notice, name=name)
        described = sim.wait(arn)
        return described, sim.history(arn)


# --- the workflow's test cases ----------------------------------------------------------------------
def test_every_branch_has_a_test_case() -> None:
    assert {case for _, case in CONFIG.case_names()} == set(EXPECTED)
    assert [machine for machine, _ in CONFIG.case_names()] == [STATE_MACHINE_NAME] * len(EXPECTED)
    ends = {e["path"][-1] for e in EXPECTED.values()}
    assert {"Drained", "Ignored", "NotRegistered", "SkippedIpReassigned", "Failed"} <= ends
    assert any(e.get("retries") for e in EXPECTED.values())
    assert any(e.get("error") == "DrainTimeout" for e in EXPECTED.values())
    assert any(e["path"].count("CheckDrain") > 1 for e in EXPECTED.values())  # several polls


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_the_test_case_takes_its_path_and_ends_as_expected(case: str) -> None:
    described, history = run_case(case)
    check(case, described["status"], described.get("error"), history)


@pytest.mark.parametrize(
    ("response", "entry"),
    [
        (name, key)
        for name, response in CONFIG.responses.items()
        for key in (f"{a}" if a == b else f"{a}-{b}" for a, b, _ in response.ranges)
    ],
)
def test_every_mocked_return_is_the_steps_real_output_shape(response: str, entry: str) -> None:
    answer = CONFIG.responses[response].answer(parse_range(entry)[0])
    states = {
        state
        for cases in CONFIG.test_cases.values()
        for c in cases.values()
        for state, r in c.items()
        if r == response
    }
    for state in states:
        if answer.throws:
            continue
        if state not in STEP_OUTPUT_MODELS:  # ReleaseNoticeClaim: DynamoDB DeleteItem's answer
            assert answer.returns == {}
            continue
        assert answer.returns["StatusCode"] == 200
        STEP_OUTPUT_MODELS[state].model_validate(answer.returns["Payload"])


def test_the_cli_runs_a_test_case(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--mock-config", str(MOCK_CONFIG), "--test-case", "DrainTimeout", "--time-scale", "0"]
    assert main([*argv, "--event", str(EVENT), "--json"]) == 1  # the execution fails, as the case says
    result = json.loads(capsys.readouterr().out)
    assert (result["status"], result["error"], result["states"][-1]) == ("FAILED", "DrainTimeout", "Failed")
    assert result["api_calls"] == {}  # every Task of the case is mocked: no AWS call


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--test-case", "HappyPath"], "go together"),
        (["--mock-config", str(MOCK_CONFIG), "--test-case", "Nope"], "no test case 'Nope'"),
        (["--mock-config", "/nonexistent.json", "--test-case", "HappyPath"], "cannot read"),
    ],
)
def test_cli_mistakes_are_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--time-scale", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_a_case_that_mocks_a_state_that_is_no_task_is_refused(tmp_path: Path) -> None:
    data = {
        "StateMachines": {STATE_MACHINE_NAME: {"TestCases": {"Bad": {"RouteEvent": "R"}}}},
        "MockedResponses": {"R": {"0": {"Return": {}}}},
    }
    notice = json.loads(EVENT.read_text(encoding="utf-8"))
    region, account, when = event_place(notice)
    case = MockConfig.from_dict(data).test_case("Bad")
    with (
        pytest.raises(MockConfigError, match="'RouteEvent', which is not a Task state"),
        Simulation(world("default.yaml"), region=region, account=account, start=when, mock_case=case),
    ):
        pass


def test_an_invocation_the_file_does_not_cover_fails_the_execution_by_name() -> None:
    data = json.loads(MOCK_CONFIG.read_text(encoding="utf-8"))
    data["MockedResponses"]["CheckDrainDrainingTwiceThenDrained"].pop("2")  # polls 0-1 only
    case = MockConfig.from_dict(data).test_case("HappyPath")
    notice = json.loads(EVENT.read_text(encoding="utf-8"))
    region, account, when = event_place(notice)
    with Simulation(world("default.yaml"), region=region, account=account, start=when, mock_case=case) as sim:
        described = sim.wait(sim.start(notice, name="short"))
    assert (described["status"], described["error"]) == ("FAILED", "MockConfigError")
    assert "no answer for invocation 2" in described["cause"]


# --- the format, against the documented example -----------------------------------------------------
def test_the_documented_example_parses_and_its_retry_path_answers_in_order() -> None:
    config = MockConfig.from_dict(DOCUMENTED_EXAMPLE)
    retry = config.test_case("RetryPath")
    answers = [retry.next_answer("LambdaState") for _ in range(4)]
    assert [(a.error, a.cause) for a in answers[:3]] == [
        ("Lambda.ResourceNotReadyException", "Lambda resource is not ready."),
        ("Lambda.TimeoutException", "Lambda timed out."),
        ("Lambda.TimeoutException", "Lambda timed out."),
    ]
    assert answers[3].returns == {
        "StatusCode": 200,
        "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"},
    }
    assert retry.next_answer("SQSState").returns["MessageId"] == "3bcb6e8e"
    assert set(config.test_case("HybridPath").states) == {"LambdaState"}  # the others unmocked


@pytest.mark.parametrize(
    ("key", "expected"), [("0", (0, 0)), ("1-2", (1, 2)), ("3", (3, 3)), ("10-12", (10, 12))]
)
def test_invocation_keys(key: str, expected: tuple[int, int]) -> None:
    assert parse_range(key) == expected


@pytest.mark.parametrize("key", ["", "-1", "1-", "a", "2-1", "01", "1 - 2", "1-2-3"])
def test_bad_invocation_keys_are_named(key: str) -> None:
    with pytest.raises(MockConfigError, match="invocation"):
        parse_range(key)


@pytest.mark.parametrize(
    ("responses", "message"),
    [
        ({"R": {"0": {"Return": {}, "Throw": {"Error": "E"}}}}, "exactly one of Return or Throw"),
        ({"R": {"0": {"Throw": {"Cause": "c"}}}}, "Throw needs an Error"),
        ({"R": {"0": {"Throw": {"Error": "E", "Reason": "r"}}}}, "unknown fields"),
        ({"R": {"0-2": {"Return": {}}, "2": {"Return": {}}}}, "overlap"),
        ({"R": {}}, "at least one invocation key"),
    ],
)
def test_bad_mocked_responses_are_named(responses: dict[str, Any], message: str) -> None:
    data = {"StateMachines": {"m": {"TestCases": {"C": {"S": "R"}}}}, "MockedResponses": responses}
    with pytest.raises(MockConfigError, match=message):
        MockConfig.from_dict(data)


def test_a_case_naming_an_unknown_response_is_refused() -> None:
    data = {"StateMachines": {"m": {"TestCases": {"C": {"S": "Missing"}}}}, "MockedResponses": {}}
    with pytest.raises(MockConfigError, match="unknown mocked responses"):
        MockConfig.from_dict(data)


def test_a_file_that_is_not_json_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "MockConfigFile.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(MockConfigError, match="not JSON"):
        MockConfig.load(bad)


def test_make_sfn_local_says_plainly_that_no_docker_engine_answers(tmp_path: Path) -> None:
    """Without a Docker engine the target fails at once with the reason (a stand-in `docker`
    whose `docker info` fails, whatever this machine has)."""
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["make", "-s", "sfn-local"],
        cwd=Path(__file__).parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "no Docker engine answers here" in done.stderr
    assert "compose" not in done.stdout  # nothing was started


def _running(case_data: dict[str, Any], case: str, history_limit: int | None = None) -> dict[str, Any]:
    notice = json.loads(EVENT.read_text(encoding="utf-8"))
    region, account, when = event_place(notice)
    test_case = MockConfig.from_dict(case_data).test_case(case)
    with Simulation(
        world("default.yaml"), region=region, account=account, start=when, mock_case=test_case
    ) as sim:
        if history_limit is not None:
            sim.history_limit = history_limit
        described: dict[str, Any] = sim.wait(sim.start(notice, name="run"))
        return described


def test_a_mock_that_drains_forever_ends_at_the_history_limit_as_on_aws() -> None:
    """Regression (fresh-user review): a CheckDrain mocked to say "draining" for ever polled
    50,000 times for ten minutes; AWS ends such an execution at its history limit."""
    data = json.loads(MOCK_CONFIG.read_text(encoding="utf-8"))
    draining = data["MockedResponses"]["CheckDrainDrainingTwiceThenDrained"]["0-1"]
    data["MockedResponses"]["CheckDrainDrainingTwiceThenDrained"] = {"0-100000": draining}
    described = _running(data, "HappyPath", history_limit=300)
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "exceed 300 events" in described["cause"]


def test_a_mocked_return_the_step_could_not_give_is_refused_before_running() -> None:
    data = json.loads(MOCK_CONFIG.read_text(encoding="utf-8"))
    data["MockedResponses"]["ParseEventInterruption"]["0"]["Return"]["Payload"] = {"outcome": "Interruption"}
    with pytest.raises(MockConfigError, match="not what ParseEvent returns"):
        _running(data, "HappyPath")
    data["MockedResponses"]["ParseEventInterruption"]["0"]["Return"] = {"StatusCode": 200, "Payload": None}
    with pytest.raises(MockConfigError, match="lambda:invoke result"):
        _running(data, "HappyPath")


def test_the_state_machine_name_must_be_the_workflows_and_machine_hash_case_is_accepted() -> None:
    assert CONFIG.test_case(f"{STATE_MACHINE_NAME}#HappyPath").name == "HappyPath"
    data = json.loads(MOCK_CONFIG.read_text(encoding="utf-8"))
    data["StateMachines"] = {"other-machine": data["StateMachines"][STATE_MACHINE_NAME]}
    with pytest.raises(MockConfigError, match="state machine 'other-machine'"):
        _running(data, "Ignored")


def test_a_states_error_cannot_be_thrown_here_and_says_so() -> None:
    data = {
        "StateMachines": {"m": {"TestCases": {"C": {"S": "R"}}}},
        "MockedResponses": {"R": {"0": {"Throw": {"Error": "States.Timeout", "Cause": "slow"}}}},
    }
    with pytest.raises(MockConfigError, match=r"cannot throw 'States\.Timeout'"):
        MockConfig.from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"StateMachines": {}, "StateMachines": {}}', "duplicate keys"),
        ('{"MockedResponses": {"R": {"0": {"Return": NaN}}}}', "NaN is not JSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_json_that_is_not_plain_json_is_refused(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "MockConfigFile.json"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(MockConfigError, match=message):
        MockConfig.load(bad)
