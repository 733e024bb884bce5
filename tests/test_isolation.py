"""The test suite itself: fake credentials, explicit region, and no way out to the network."""

from __future__ import annotations

import os

import boto3
import pytest


def test_credentials_are_fake_and_the_region_explicit() -> None:
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_an_unmocked_aws_call_cannot_leave_the_machine() -> None:
    client = boto3.client("elbv2", region_name="us-east-1")
    with pytest.raises(Exception, match=r"network|resolve"):
        client.describe_load_balancers()
