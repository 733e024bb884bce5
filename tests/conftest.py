"""Shared fixtures: fake credentials, an explicit region, moto, a Lambda context, files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

import spotdrain.aws
from spotdrain_cli import simulate
from spotdrain_cli.world import World, load_world

HERE = Path(__file__).parent
EVENTS = HERE / "events"
WORLDS = HERE / "worlds"
EXAMPLE_WORLDS = HERE.parent / "examples" / "worlds"
REGION = "us-east-1"
ACCOUNT = "111122223333"


def load_event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def world(name: str) -> World:
    path = WORLDS / name if (WORLDS / name).exists() else EXAMPLE_WORLDS / name
    return load_world(path)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and an explicit region: no test can reach a real account."""
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    spotdrain.aws.reset_clients()
    yield
    spotdrain.aws.reset_clients()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    function_version: str = "$LATEST"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 25_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


Runner = Callable[..., dict[str, Any]]


@pytest.fixture
def run_workflow() -> Runner:
    """Run one whole execution on the local engine, instantly (time scale 0)."""

    def run(event: str | dict[str, Any], world_name: str = "default.yaml", **kwargs: Any) -> dict[str, Any]:
        payload = load_event(event) if isinstance(event, str) else event
        return simulate.run(payload, world(world_name), time_scale=0, **kwargs)

    return run
