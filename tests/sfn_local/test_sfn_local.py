"""The same test cases on the amazon/aws-stepfunctions-local image (``make sfn-local``).

Skipped unless SFN_LOCAL_ENDPOINT names a running Step Functions Local started with
tests/statemachine/MockConfigFile.json as SFN_MOCK_CONFIG (tests/statemachine/compose.yaml).
The definition is the shipped one with the stack's substitutions; every Task of a test case is
mocked, so nothing calls Lambda or DynamoDB.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest

from spotdrain_cli.template import stack_model, substitute
from tests.mock_cases import EVENT, EXPECTED, STATE_MACHINE_NAME, check

ENDPOINT = os.environ.get("SFN_LOCAL_ENDPOINT", "")
REGION, ACCOUNT = "us-east-1", "111122223333"
pytestmark = pytest.mark.skipif(not ENDPOINT, reason="no Step Functions Local (make sfn-local starts one)")


@pytest.fixture(scope="module")
def machine() -> tuple[Any, str]:
    sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=ENDPOINT)
    stack = stack_model(region=REGION, account=ACCOUNT, overrides={})
    definition = substitute(stack.definition, stack.substitutions)
    role = f"arn:aws:iam::{ACCOUNT}:role/DrainStateMachineRole"
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"
    try:
        sfn.create_state_machine(name=STATE_MACHINE_NAME, definition=definition, roleArn=role)
    except sfn.exceptions.StateMachineAlreadyExists:
        sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
    return sfn, arn


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_the_test_case_takes_its_path_and_ends_as_expected(machine: tuple[Any, str], case: str) -> None:
    sfn, arn = machine
    started = sfn.start_execution(
        stateMachineArn=f"{arn}#{case}",
        name=f"{case}-{time.time_ns()}",
        input=EVENT.read_text(encoding="utf-8"),
    )
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=started["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{case} still running after 120 s"
        time.sleep(0.5)
    history: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": started["executionArn"], "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        history.extend(page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    check(case, described["status"], described.get("error"), history)
