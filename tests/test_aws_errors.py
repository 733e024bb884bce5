"""How AWS failures become the workflow's named errors, and the invocation's time budget."""

from __future__ import annotations

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

from spotdrain import aws
from spotdrain.errors import AwsAccessDenied, AwsRequestFailed, AwsUnavailable, SpotDrainError

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
