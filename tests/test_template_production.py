"""template.yaml's production parts: alarms that reach the topic, a dashboard CloudWatch can read,
encryption at rest, and log retention."""

from __future__ import annotations

import json
import re
from typing import Any

from spotdrain_cli.template import load_template, parameter_values

RESOURCES: dict[str, Any] = load_template()["Resources"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in RESOURCES.items() if r["Type"] == kind}


def test_alarms_watch_failures_timeouts_dead_letters_and_function_errors() -> None:
    alarms = of_type("AWS::CloudWatch::Alarm")
    watched = {(a.get("Namespace"), a.get("MetricName")) for a in alarms.values()}
    assert {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    } <= watched
    errors = alarms["FunctionErrorsAlarm"]["Metrics"]
    functions = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for m in errors if "MetricStat" in m
    }
    assert functions == {n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": "FailureTopic"}]
        assert alarm["TreatMissingData"] == "notBreaching"  # quiet days are not alarms
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-")  # the topic policy's pattern


def test_the_dashboard_body_is_json_once_substituted() -> None:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    filled = re.sub(r"\$\{[^}]+\}", "x", body)
    widgets = json.loads(filled)["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert any("Outcomes" in t for t in titles)
    assert any("Drain seconds" in t for t in titles)
    assert any("deadline" in t for t in titles)
    names = {
        m[1] for w in widgets for m in w["properties"]["metrics"] if len(m) > 1 and isinstance(m[1], str)
    }
    assert {"DrainSeconds", "DeadlineMarginSeconds", "TargetsDeregistered", "StepRetries"} <= names


def test_what_holds_data_is_encrypted_and_logs_expire() -> None:
    assert RESOURCES["FailureTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "FailureTopicKey"}
    assert RESOURCES["FailureTopicKey"]["Properties"]["EnableKeyRotation"] is True
    assert RESOURCES["SpotInterruptionDeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert RESOURCES["NoticeLedger"]["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    groups = of_type("AWS::Logs::LogGroup")
    assert len(groups) == 5  # the state machine's and one per function
    assert all(g["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())


def test_the_rule_retries_within_the_warning_and_keeps_what_it_could_not_deliver() -> None:
    event = RESOURCES["DrainStateMachine"]["Properties"]["Events"]["SpotInterruption"]["Properties"]
    assert event["RetryPolicy"] == {"MaximumEventAgeInSeconds": 120, "MaximumRetryAttempts": 10}
    assert event["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SpotInterruptionDeadLetterQueue", "Arn"]}}


def test_parameters_refuse_malformed_values() -> None:
    from spotdrain_cli.template import TemplateError

    template = load_template()
    for name, value in [
        ("ClusterArns", "web"),
        (
            "TargetGroupArns",
            "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/x/0123456789abcdef",
        ),
        ("AllowedAccountIds", "1111"),
        ("AllowedRegions", "Europe"),
        ("AlertEmail", "not-an-address"),
        ("LogRetentionDays", "10"),
    ]:
        try:
            parameter_values(template, {name: value})
        except TemplateError:
            continue
        raise AssertionError(f"{name}={value!r} was accepted")
    good = parameter_values(
        template,
        {
            "ClusterArns": ",".join(
                f"arn:aws:ecs:eu-west-1:111122223333:cluster/{n}" for n in ("web", "api")
            ),
            "AllowedRegions": "eu-west-1,us-gov-west-1",
            "AlertEmail": "oncall@example.com",
        },
    )
    assert len(good["ClusterArns"]) == 2
