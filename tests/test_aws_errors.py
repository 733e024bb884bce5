"""How AWS failures become the workflow's named errors, and the invocation's time budget."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from spotdrain import aws, clock
from spotdrain.errors import AwsAccessDenied, AwsRequestFailed, AwsThrottled, AwsUnavailable, SpotDrainError

REGION = "us-east-1"


@pytest.mark.parametrize(
    ("exc", "named"),
    [
        (ConnectionClosedError(endpoint_url="https://elb"), AwsUnavailable),
        (ResponseStreamingError(error="cut short"), AwsUnavailable),
        (ReadTimeoutError(endpoint_url="https://elb"), AwsUnavailable),
        (EndpointConnectionError(endpoint_url="https://elb"), AwsUnavailable),
        (NoCredentialsError(), AwsAccessDenied),
        (CredentialRetrievalError(provider="sso", error_msg="expired"), AwsAccessDenied),
        (ParamValidationError(report="bad"), AwsRequestFailed),
    ],
)
def test_every_botocore_failure_becomes_a_named_error(exc: Exception, named: type[SpotDrainError]) -> None:
    with (
        pytest.raises(named, match="elbv2:DescribeTargetHealth failed"),
        aws.aws_errors("elbv2:DescribeTargetHealth"),
    ):
        raise exc


def test_a_step_stops_by_name_before_its_time_runs_out(aws_mock: None) -> None:
    """Less time left than one more attempt needs: AwsUnavailable (retried by the workflow), not a
    Lambda timeout (Lambda.Unknown)."""
    elbv2 = aws.client("elbv2", REGION)
    aws.start_invocation(aws.ATTEMPT_RESERVE_SECONDS * 1000 - 500)
    try:
        with pytest.raises(AwsUnavailable, match="before the function's time runs out"):
            elbv2.describe_target_groups()
    finally:
        aws.start_invocation(None)


def test_with_time_enough_the_call_goes_out(aws_mock: None) -> None:
    elbv2 = aws.client("elbv2", REGION)
    aws.start_invocation(25_000)
    try:
        assert elbv2.describe_target_groups()["TargetGroups"] == []
    finally:
        aws.start_invocation(None)


@pytest.fixture
def aws_mock(aws: None) -> None:
    """moto answers (the check runs when a request is signed, after Stubber would have answered)."""


# --- in-step patience with throttling (aws.patient) -----------------------------------------------
def _throttled_then(answers: list[object], pauses: list[float]) -> Callable[[], object]:
    calls: list[int] = []

    @aws.patient
    def read() -> object:
        calls.append(1)
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return read


def test_a_throttled_read_is_tried_again_in_step_with_growing_jittered_pauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(clock, "sleep", pauses.append)
    read = _throttled_then([AwsThrottled("x"), AwsThrottled("x"), "done"], pauses)
    assert read() == "done"
    assert len(pauses) == 2
    assert 0 <= pauses[0] <= 1.0
    assert 0 <= pauses[1] <= 2.0


def test_in_step_patience_gives_up_after_its_tries_and_never_on_other_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(clock, "sleep", pauses.append)
    always = _throttled_then([AwsThrottled("x")] * aws.PATIENT_TRIES, pauses)
    with pytest.raises(AwsThrottled):
        always()
    assert len(pauses) == aws.PATIENT_TRIES - 1
    pauses.clear()
    denied = _throttled_then([AwsAccessDenied("no")], pauses)
    with pytest.raises(AwsAccessDenied):
        denied()
    assert pauses == []


def test_in_step_patience_stops_when_the_function_has_no_time_for_another_try(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(clock, "sleep", pauses.append)
    aws.start_invocation(int(aws.ATTEMPT_RESERVE_SECONDS * 1000))  # only the reserve is left
    try:
        with pytest.raises(AwsThrottled):
            _throttled_then([AwsThrottled("x"), "done"], pauses)()
    finally:
        aws.start_invocation(None)
    assert pauses == []
