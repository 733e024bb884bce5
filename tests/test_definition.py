"""The ASL definition: linted by a real ASL linter, consistent with the template and handlers."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spotdrain import errors
from spotdrain_cli import DEFINITION
from spotdrain_cli.template import PLACEHOLDER, TemplateError, load_template, stack_model, substitute

REGION, ACCOUNT = "us-east-1", "111122223333"
AWS_ERROR_PREFIXES = ("States.", "Lambda.", "Sandbox.", "SNS.", "DynamoDB.")
PASCAL = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+$")


def definition() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFINITION.read_text(encoding="utf-8"))
    return data


def states() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = definition()["States"]
    return result


def test_substituted_definition_passes_statelint(tmp_path: Path) -> None:
    model = stack_model(region=REGION, account=ACCOUNT)
    path = tmp_path / "drain.json"
    path.write_text(substitute(model.definition, model.substitutions), encoding="utf-8")
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("statelint")), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_statelint_does_catch_a_broken_definition(tmp_path: Path) -> None:
    broken = definition()
    del broken["States"]["Drained"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("statelint")), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode != 0
    assert "Drained" in linted.stdout


def test_every_substitution_is_defined_by_the_template_and_none_is_unused() -> None:
    template = load_template()
    machine = template["Resources"]["DrainStateMachine"]["Properties"]
    defined = set(machine["DefinitionSubstitutions"])
    used = set(PLACEHOLDER.findall(DEFINITION.read_text(encoding="utf-8")))
    assert used == defined
    assert (DEFINITION.parent.parent / machine["DefinitionUri"]).resolve() == DEFINITION


def test_an_undefined_substitution_is_refused() -> None:
    with pytest.raises(TemplateError, match="Missing"):
        substitute('{"a": "${Missing}"}', {})


def test_workflow_has_the_contracted_states() -> None:
    names = set(states())
    assert {
        "ParseEvent",
        "ResolveTargets",
        "DeregisterTargets",
        "WaitForDrain",
        "CheckDrain",
        "Drained",
        "Ignored",
        "NotRegistered",
        "TaskNotFound",
        "Failed",
    } <= names
    assert "NotifyFailure" not in names  # the EventBridge rule on the execution's status notifies
    assert definition()["StartAt"] == "ParseEvent"
    assert states()["WaitForDrain"]["SecondsPath"] == "$.drain.nextWaitSeconds"
    assert states()["Failed"]["ErrorPath"] == "$.error.Error"
    assert states()["Failed"]["CausePath"] == "$.error.Cause"


def test_state_names_are_pascal_case_verb_noun() -> None:
    for name in states():
        assert PASCAL.match(name) or name in {"Drained", "Ignored", "Failed"}, name


def test_each_lambda_state_matches_its_module_resource_and_substitution() -> None:
    model = stack_model(region=REGION, account=ACCOUNT)
    lambda_states = {
        n: s for n, s in states().items() if s.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert set(lambda_states) == {"ParseEvent", "ResolveTargets", "DeregisterTargets", "CheckDrain"}
    for name, state in lambda_states.items():
        assert state["Parameters"]["FunctionName"] == f"${{{name}FunctionArn}}"
        module = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        assert model.functions[f"{name}Function"].handler == f"spotdrain.{module}.handler"
        assert callable(importlib.import_module(f"spotdrain.{module}").handler)


def _named_errors() -> set[str]:
    return {cls.__name__ for cls in errors.SpotDrainError.__subclasses__()}


def test_every_error_name_in_retry_and_catch_exists() -> None:
    for name, state in states().items():
        for rule in state.get("Retry", []) + state.get("Catch", []):
            for error in rule["ErrorEquals"]:
                assert error.startswith(AWS_ERROR_PREFIXES) or error in _named_errors(), (name, error)


def test_tasks_retry_transient_errors_only_with_backoff_cap_and_full_jitter() -> None:
    for name, state in states().items():
        if state["Type"] != "Task":
            continue
        assert state.get("TimeoutSeconds"), name
        for retry in state["Retry"]:
            assert "States.ALL" not in retry["ErrorEquals"], name
            assert retry["BackoffRate"] > 1
            # throttling waits its turn at the account's bucket (a mass interruption): up to 30 s
            assert retry["MaxDelaySeconds"] <= (30 if retry["ErrorEquals"] == ["AwsThrottled"] else 10)
            assert retry["JitterStrategy"] == "FULL"
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        assert not retried & set(errors.PERMANENT_ERRORS), name
    lambda_retried = {e for r in states()["DeregisterTargets"]["Retry"] for e in r["ErrorEquals"]}
    assert set(errors.RETRYABLE_ERRORS) <= lambda_retried


def test_only_final_errors_are_caught_so_the_others_can_be_redriven() -> None:
    """A Catch sends the execution to the Fail state, where a redrive would fail again. So only
    the final errors (bad notice, safety stops) are caught; any other error fails the execution at
    the step itself, where RedriveExecution resumes once the cause is fixed."""
    caught = set(errors.CAUGHT_ERRORS)
    assert caught == {
        "InvalidEvent",
        "AccountOrRegionNotAllowed",
        "DeregistrationIneffective",
        "StaleNotice",
        "TooManyRegistrations",
        "DrainTimeout",
    }
    assert not caught & {"AwsAccessDenied", "AwsThrottled", "AwsUnavailable", "InvalidConfiguration"}
    for name in ("ResolveTargets", "DeregisterTargets", "CheckDrain"):
        (catch,) = states()[name]["Catch"]
        assert catch == {
            **catch,
            "ErrorEquals": list(errors.CAUGHT_ERRORS),
            "ResultPath": "$.error",
            "Next": "RouteFailure",
        }
    for state in states().values():
        for catch in state.get("Catch", []):
            if state.get("Type") == "Task" and state["Resource"].endswith("lambda:invoke"):
                assert "States.ALL" not in catch["ErrorEquals"]
    # a caught failure gives its notice back to the ledger (only the claim this execution holds)
    route = states()["RouteFailure"]
    assert route["Choices"] == [
        {"Variable": "$.task.taskArn", "IsPresent": True, "Next": "ReleaseNoticeClaim"}
    ]
    assert route["Default"] == "Failed"
    release = states()["ReleaseNoticeClaim"]
    assert release["Resource"] == "arn:aws:states:::dynamodb:deleteItem"
    assert release["Parameters"]["ConditionExpression"] == "executionArn = :execution"
    assert release["Parameters"]["ExpressionAttributeValues"] == {":execution": {"S.$": "$$.Execution.Id"}}
    assert (release["Next"], release["Catch"][0]["Next"], release["ResultPath"]) == ("Failed", "Failed", None)
    assert release["Catch"][0]["ResultPath"] not in {"$", "$.error"}
    # ParseEvent's input is the raw event (up to 256 KB, maybe not an object): the error replaces
    # it and a Pass state puts it at $.error, so the failure branch never overflows or breaks
    (catch,) = states()["ParseEvent"]["Catch"]
    assert catch == {
        **catch,
        "ErrorEquals": list(errors.CAUGHT_ERRORS),
        "ResultPath": "$",
        "Next": "CaptureParseError",
    }
    capture = states()["CaptureParseError"]
    assert (capture["Type"], capture["Parameters"], capture["Next"]) == ("Pass", {"error.$": "$"}, "Failed")


def test_every_unsuccessful_end_is_notified_by_the_status_rule() -> None:
    resources = load_template()["Resources"]
    rule = resources["ExecutionEndedRule"]["Properties"]
    assert rule["EventPattern"]["detail"] == {
        "status": ["FAILED", "TIMED_OUT", "ABORTED"],
        "stateMachineArn": [{"Ref": "DrainStateMachine"}],
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "FailureTopic"}
    assert set(target["InputTransformer"]["InputPathsMap"]) >= {"execution", "status", "error", "cause"}
    statement, alarms = resources["FailureTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}  # the stack's alarms
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": ["ExecutionEndedRule", "Arn"]
    }


def test_poll_loop_is_wait_check_route_and_the_guard_can_stop_it() -> None:
    skip = {"Variable": "$.outcome", "StringEquals": "SkippedIpReassigned", "Next": "SkippedIpReassigned"}
    assert states()["DeregisterTargets"]["Next"] == "RouteDeregistration"
    assert states()["RouteDeregistration"]["Choices"] == [skip]
    assert states()["RouteDeregistration"]["Default"] == "WaitForDrain"
    assert states()["WaitForDrain"]["Next"] == "CheckDrain"
    assert states()["CheckDrain"]["Next"] == "RouteDrain"
    route = states()["RouteDrain"]
    assert route["Default"] == "WaitForDrain"
    assert route["Choices"] == [
        {"Variable": "$.drain.status", "StringEquals": "drained", "Next": "Drained"},
        skip,
    ]
    assert states()["SkippedIpReassigned"]["Type"] == "Succeed"


def test_definition_uses_no_jsonata_and_no_variables() -> None:
    text = DEFINITION.read_text(encoding="utf-8")
    assert "JSONata" not in text
    assert '"Assign"' not in text
    assert "QueryLanguage" not in text


def worst_case_events(state: dict[str, Any]) -> int:
    """History events a state can add on one visit with every retry taken (Standard workflows):
    a Task 5 (entered, scheduled, started, succeeded, exited) + 3 per retry (failed, scheduled,
    started); any other state 2 (entered, exited)."""
    if state["Type"] != "Task":
        return 2
    return 5 + 3 * sum(int(retrier["MaxAttempts"]) for retrier in state.get("Retry", []))


def test_worst_case_history_stays_far_below_the_service_limit() -> None:
    """Whatever the target does, and with every retry taken, the loop cannot approach 25,000."""
    from spotdrain.models import PollSettings

    ceiling = PollSettings.model_fields["max_poll_attempts"].metadata
    most_polls = next(m.le for m in ceiling if hasattr(m, "le"))
    assert load_template()["Parameters"]["MaxPollAttempts"]["MaxValue"] == most_polls
    all_states = states()
    once = [
        "ParseEvent",
        "RouteEvent",
        "ResolveTargets",
        "RouteTargets",
        "DeregisterTargets",
        "RouteDeregistration",
    ]
    loop = ["WaitForDrain", "CheckDrain", "RouteDrain"]
    ending = ["RouteFailure", "ReleaseNoticeClaim", "Failed"]
    total = 2 + sum(worst_case_events(all_states[name]) for name in once + ending)
    total += most_polls * sum(worst_case_events(all_states[name]) for name in loop)
    assert total < 25_000 // 2, total


def test_a_cluster_wide_list_tasks_is_allowed_on_star_scoped_by_cluster() -> None:
    """ecs:ListTasks without a container instance is authorised on "*" (a container-instance ARN
    would deny it on AWS, which moto cannot show): the cluster condition scopes it instead."""
    resources = load_template()["Resources"]
    found = 0
    for name in ("DeregisterTargetsFunction", "CheckDrainFunction"):
        for policy in resources[name]["Properties"]["Policies"]:
            for statement in policy.get("Statement", []):
                if isinstance(statement, dict) and statement.get("Action") == "ecs:ListTasks":
                    found += 1
                    assert statement["Resource"] == "*"
                    assert "ecs:cluster" in statement["Condition"]["ArnLike"]
    assert found == 2
