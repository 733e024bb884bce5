"""Shared fixtures: fake credentials, an explicit region, moto, a Lambda context, files."""

from __future__ import annotations

import json
import socket
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
    spotdrain.aws.start_invocation(None)
    yield
    spotdrain.aws.reset_clients()
    spotdrain.aws.start_invocation(None)


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


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach the network: any connection other than to this machine fails loudly."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (
            host.startswith("127.") or host in {"localhost", "::1"} or host.startswith("/")
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    def no_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in {"localhost", "127.0.0.1", "::1", None}:
            raise RuntimeError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
