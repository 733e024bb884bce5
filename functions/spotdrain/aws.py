"""Lazily created boto3 clients, one per (service, region), and AWS error classification.

Clients are created on first use in the region the *event* names, never at import time, so a cold
start pays only for the clients a step really uses. Client-side retries are off: the workflow owns
retries (visible in the execution history, with backoff and full jitter, bounded by the ASL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from spotdrain.errors import (
    AwsAccessDenied,
    AwsRequestFailed,
    AwsResourceNotFound,
    AwsThrottled,
    AwsUnavailable,
    SpotDrainError,
)

_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "ClusterNotFoundException",
        "ServiceNotFoundException",
    }
)


@cache
def client(service: str, region: str) -> Any:
    """A boto3 client for ``service`` in ``region``, created once per process on first use."""
    return boto3.session.Session().client(service, region_name=region, config=_CONFIG)


def reset_clients() -> None:
    """Forget every cached client (tests, and the simulator between worlds)."""
    client.cache_clear()


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def classify(exc: Exception, operation: str) -> SpotDrainError:
    """Map a botocore exception to the named error the workflow retries (or not) by name."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"{operation} failed: {code}: {message}".rstrip(": ")
        if code in THROTTLING_CODES:
            return AwsThrottled(text)
        if code in UNAVAILABLE_CODES or status >= 500:
            return AwsUnavailable(text)
        if code in ACCESS_DENIED_CODES or status == 403:
            return AwsAccessDenied(text)
        if code in NOT_FOUND_CODES:
            return AwsResourceNotFound(text)
        return AwsRequestFailed(text)
    if isinstance(exc, BotoConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return AwsUnavailable(f"{operation} failed: {type(exc).__name__}: {exc}")
    raise TypeError(f"not an AWS error: {exc!r}")  # pragma: no cover - programming error


class Tolerated:
    """What ``aws_errors`` swallowed, if anything (an error code listed in ``tolerate``)."""

    def __init__(self) -> None:
        self.code: str | None = None


@contextmanager
def aws_errors(operation: str, tolerate: frozenset[str] = frozenset()) -> Iterator[Tolerated]:
    """Re-raise AWS failures inside the block as the named errors of ``spotdrain.errors``.

    A ClientError whose code is in ``tolerate`` is swallowed and reported on the yielded object.
    """
    tolerated = Tolerated()
    try:
        yield tolerated
    except ClientError as exc:
        if error_code(exc) in tolerate:
            tolerated.code = error_code(exc)
            return
        raise classify(exc, operation) from exc
    except (BotoConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise classify(exc, operation) from exc
