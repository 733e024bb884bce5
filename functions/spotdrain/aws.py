"""Lazily created boto3 clients, one per (service, region), and AWS error classification.

Clients are created on first use in the region the *event* names, never at import time, so a cold
start pays only for the clients a step really uses.

Retries happen at two levels. The SDK retries a throttled or failed call twice in-process
(botocore "standard" mode: exponential backoff with full jitter), which absorbs brief blips
without a state transition. A failure that outlasts that reaches the handler as a named error
(AwsThrottled, AwsUnavailable) that the workflow retries, visibly in the execution history, with
backoff, full jitter and MaxDelaySeconds (statemachine/drain.asl.json).
"""

from __future__ import annotations

import functools
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
)

from spotdrain import clock
from spotdrain.errors import (
    AwsAccessDenied,
    AwsRequestFailed,
    AwsResourceNotFound,
    AwsThrottled,
    AwsUnavailable,
    InvalidConfiguration,
    SpotDrainError,
)

SDK_ATTEMPTS = 3  # per call, in-process; the workflow's Retry comes on top
CONNECT_TIMEOUT, READ_TIMEOUT = 2, 5
# Before every attempt, at least this much of the function's time must be left (one attempt at
# its worst plus a margin), or the step stops with AwsUnavailable, which the workflow retries,
# instead of being killed by the Lambda timeout (Lambda.Unknown, outside the error contract).
ATTEMPT_RESERVE_SECONDS = CONNECT_TIMEOUT + READ_TIMEOUT + 1

_CONFIG = Config(
    retries={"total_max_attempts": SDK_ATTEMPTS, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
)
# For calls that must never hold a step up (the notice ledger, which fails open): one attempt.
QUICK = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=2)
# For calls that must go out while a proof is fresh (DeregisterTargets after the IP reuse guard):
# one attempt; a failure fails the step, and the workflow's retry runs the guard again.
ONCE = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=CONNECT_TIMEOUT,
    read_timeout=READ_TIMEOUT,
)
CONFIGS = {"standard": _CONFIG, "quick": QUICK, "once": ONCE}
_time_limit: list[float] = []  # monotonic time by which the current invocation must be done


def start_invocation(remaining_milliseconds: int | None) -> None:
    """Record the function's time budget (``context.get_remaining_time_in_millis()``)."""
    _time_limit[:] = (
        [] if remaining_milliseconds is None else [time.monotonic() + remaining_milliseconds / 1000]
    )


def _check_time_left(**_: Any) -> None:
    if _time_limit and _time_limit[0] - time.monotonic() < ATTEMPT_RESERVE_SECONDS:
        raise AwsUnavailable(
            "stopping before the function's time runs out: AWS is answering too slowly for another "
            f"attempt ({ATTEMPT_RESERVE_SECONDS} s needed)"
        )


# A read that AWS throttles is tried again in-process, a few times, with full-jitter back-off, as
# long as the function's time allows: a step that makes several reads in a row (ResolveTargets)
# then keeps the ones that succeeded, where failing the step would make its retry start over.
# In a mass interruption every execution draws on the account's ELBv2 Describe* bucket, and
# starting over wastes the tokens the others need (make bench: mass interruption).
PATIENT_TRIES = 6
PATIENT_CAP_SECONDS = 8.0
_jitter = random.Random()  # noqa: S311 - back-off jitter, not a secret

F = TypeVar("F", bound=Callable[..., Any])


def patient(function: F) -> F:
    """``function`` (an idempotent read), tried again when it raises AwsThrottled."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        attempt = 1
        while True:
            try:
                return function(*args, **kwargs)
            except AwsThrottled:
                pause = _jitter.uniform(0, min(PATIENT_CAP_SECONDS, 0.5 * 2**attempt))
                left = _time_limit[0] - time.monotonic() if _time_limit else float("inf")
                if attempt >= PATIENT_TRIES or left < pause + ATTEMPT_RESERVE_SECONDS:
                    raise
                clock.sleep(pause)
                attempt += 1

    return cast(F, wrapped)


def _made(made: Any) -> Any:
    made.meta.events.register("before-sign.*.*", _check_time_left)
    return made


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


ROLE_SESSION_NAME = "spotdrain"
CREDENTIALS_MARGIN = timedelta(minutes=5)
_role_credentials: dict[tuple[str, str], dict[str, Any]] = {}
_assumed_clients: dict[tuple[str, str, str, str, str], tuple[Any, datetime]] = {}
_lock = threading.Lock()


_own_clients: dict[tuple[str, str, str], Any] = {}
_making = threading.Lock()  # one client per key, even when calls come from several threads


def _own_client(service: str, region: str, mode: str = "standard") -> Any:
    key = (service, region, mode)
    made = _own_clients.get(key)
    if made is None:
        with _making:
            made = _own_clients.get(key)
            if made is None:
                session = boto3.session.Session()
                made = _own_clients[key] = _made(
                    session.client(service, region_name=region, config=CONFIGS[mode])
                )
    return made


def arn_part(arn: str, index: int) -> str | None:
    """Field ``index`` of an ARN (3 = region, 4 = account), or None if it is not an ARN."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[index]:
        return parts[index]
    return None


def account_of(arn: str) -> str | None:
    """The account field of an ARN (None if it is not an ARN or has no account)."""
    return arn_part(arn, 4)


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def client(service: str, region: str, account: str | None = None, *, mode: str = "standard") -> Any:
    """A boto3 client for ``service`` in ``region``, created once per process on first use.

    For a resource of another ``account`` than the function's own (HOME_ACCOUNT_ID), the client
    uses the role named by CROSS_ACCOUNT_ROLE_NAME in that account (STS AssumeRole, cached and
    renewed before it expires). ``mode``: "standard" (SDK retries), "quick" (one attempt, short
    timeouts: the notice ledger) or "once" (one attempt: DeregisterTargets behind the guard).
    """
    home = os.environ.get("HOME_ACCOUNT_ID", "")
    if account is None or not home or account == home:
        return _own_client(service, region, mode)
    role_name = os.environ.get("CROSS_ACCOUNT_ROLE_NAME", "")
    if not role_name:
        raise InvalidConfiguration(
            f"{service} resources in account {account} are not reachable from account {home}: "
            "set CrossAccountRoleName to a role that spotdrain may assume there"
        )
    key = (service, region, account, role_name, mode)
    with _lock:
        cached = _assumed_clients.get(key)
        if cached and cached[1] - clock.now() > CREDENTIALS_MARGIN:
            return cached[0]
    credentials = _assume(account, role_name, region)
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    made = _made(session.client(service, region_name=region, config=CONFIGS[mode]))
    with _lock:
        _assumed_clients[key] = (made, credentials["Expiration"])
    return made


def _assume(account: str, role_name: str, region: str) -> dict[str, Any]:
    with _lock:
        cached = _role_credentials.get((account, role_name))
        if cached and cached["Expiration"] - clock.now() > CREDENTIALS_MARGIN:
            return cached
    role_arn = f"arn:{partition_of(region)}:iam::{account}:role/{role_name}"
    with aws_errors(f"sts:AssumeRole {role_arn}"):
        answer = _own_client("sts", region).assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME)
    credentials: dict[str, Any] = answer["Credentials"]
    with _lock:
        _role_credentials[(account, role_name)] = credentials
    return credentials


def reset_clients() -> None:
    """Forget every cached client and credential (tests, and the simulator between worlds)."""
    with _making:
        _own_clients.clear()
    with _lock:
        _role_credentials.clear()
        _assumed_clients.clear()


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
    text = f"{operation} failed: {type(exc).__name__}: {exc}"
    if isinstance(exc, NoCredentialsError | CredentialRetrievalError):
        return AwsAccessDenied(text)
    if isinstance(exc, ParamValidationError):
        return AwsRequestFailed(text)
    if isinstance(exc, BotoCoreError):
        # connection refused/closed/reset, timeouts, a response cut short: the network's fault
        return AwsUnavailable(text)
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
    except BotoCoreError as exc:
        raise classify(exc, operation) from exc
