"""The simulated AWS world: target groups and their targets, ECS tasks and services, faults.

A world file (YAML or JSON) is documented in the README ("World files"). Target groups and load
balancers are created in moto through the ELBv2 API; ECS DescribeTasks/DescribeServices are
answered from the world exactly as written (moto cannot return ``failures``), and faults make
chosen AWS operations fail.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import ipaddress
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal

import botocore.session
import yaml
from botocore.exceptions import UnknownServiceError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spotdrain.config import ACCOUNT_ID


@cache
def _botocore() -> botocore.session.Session:
    return botocore.session.get_session()


class WorldError(Exception):
    """The world file is unreadable or describes something the simulator cannot build."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WorldTarget(_Strict):
    id: str
    port: int | None = Field(default=None, ge=1, le=65535)
    state: Literal["healthy", "unhealthy", "initial", "unavailable", "draining"] = "healthy"
    availability_zone: str | None = Field(default=None, alias="availabilityZone")
    drain_remaining_seconds: int | None = Field(default=None, ge=0, alias="drainRemainingSeconds")


class WorldLoadBalancer(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    account: str | None = Field(default=None, pattern=ACCOUNT_ID.pattern)
    type: Literal["network", "application"] = "network"


class WorldTargetGroup(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$")
    account: str | None = Field(default=None, pattern=ACCOUNT_ID.pattern)  # default: the home account
    load_balancer: str | None = Field(default=None, alias="loadBalancer")
    protocol: Literal["TCP", "UDP", "TCP_UDP", "TLS", "HTTP", "HTTPS"] = "TCP"
    port: int = Field(default=80, ge=1, le=65535)
    target_type: Literal["ip", "instance", "lambda", "alb"] = Field(default="ip", alias="targetType")
    ip_address_type: Literal["ipv4", "ipv6"] = Field(default="ipv4", alias="ipAddressType")
    deregistration_delay_seconds: int = Field(default=300, ge=0, le=3600, alias="deregistrationDelaySeconds")
    vpc: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,32}$")  # another VPC, by name
    # e.g. {"spotdrain:drain": "true"}: the tag the deployed policy requires of discovered groups
    tags: dict[str, str] = Field(default_factory=dict)
    # NLB only: close connections at the end of the deregistration delay
    connection_termination: bool = Field(default=False, alias="connectionTermination")
    targets: list[WorldTarget] = Field(default_factory=list)


class WorldEcs(_Strict):
    tasks: list[dict[str, Any]] = Field(default_factory=list)
    services: list[dict[str, Any]] = Field(default_factory=list)
    # as DescribeTaskDefinition returns them (containerDefinitions[].stopTimeout, ...)
    task_definitions: list[dict[str, Any]] = Field(default_factory=list, alias="taskDefinitions")


TIMEOUT_ERRORS = frozenset({"ReadTimeout", "ConnectTimeout"})


@cache
def known_error_codes(operation: str) -> frozenset[str]:
    """Error codes a fault may name: those spotdrain classifies, and the operation's modelled ones."""
    from spotdrain import aws

    service, name = operation.split(":", 1)
    shapes = _botocore().get_service_model(service).operation_model(name).error_shapes
    modelled = {shape.error_code or shape.name for shape in shapes}
    return frozenset(
        TIMEOUT_ERRORS
        | aws.THROTTLING_CODES
        | aws.UNAVAILABLE_CODES
        | aws.ACCESS_DENIED_CODES
        | aws.NOT_FOUND_CODES
        | modelled
        | {"ValidationError", "InvalidParameterException", "ClientException", "InvalidTarget"}
    )


class WorldEc2(_Strict):
    """Network interfaces as DescribeNetworkInterfaces returns them (NetworkInterfaceId, SubnetId,
    PrivateIpAddress, Ipv6Addresses, Description, InterfaceType, ...), besides those of the ECS
    tasks' ENI attachments, which the simulator derives by itself."""

    network_interfaces: list[dict[str, Any]] = Field(default_factory=list, alias="networkInterfaces")
    # subnet id -> the name of the VPC it lies in (a target group's ``vpc``); default: the home VPC
    subnets: dict[str, str] = Field(default_factory=dict)


class WorldFault(_Strict):
    """Make an AWS operation fail, or silently do nothing.

    Which calls: given call numbers (1-based), the first N calls, a random share of calls
    (``rate``, drawn from the world's seeded generator, so a run is repeatable), or every call.
    What happens: ``effect: error`` answers with ``error`` (an AWS error code; ``ReadTimeout`` or
    ``ConnectTimeout`` make the call time out instead); ``effect: ignored`` answers success but
    changes nothing (a deregistration that does not take effect), for operations that return
    no data.
    """

    operation: str = Field(pattern=r"^[a-z0-9-]+:[A-Za-z0-9]+$")
    effect: Literal["error", "ignored"] = "error"
    error: str | None = None
    message: str | None = None
    status: int | None = Field(default=None, ge=400, le=599)
    calls: list[int] | None = None
    times: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0, le=1)

    @field_validator("calls")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(call < 1 for call in value):
            raise ValueError("calls are counted from 1")
        return value

    @field_validator("operation")
    @classmethod
    def _known_operation(cls, value: str) -> str:
        service, operation = value.split(":", 1)
        try:
            names = _botocore().get_service_model(service).operation_names
        except UnknownServiceError:
            raise ValueError(
                f"unknown service {service!r} (use boto3 client names: elbv2, ecs, sns, sts)"
            ) from None
        if operation not in names:
            raise ValueError(f"{service} has no operation {operation!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WorldFault:
        chosen = [name for name in ("calls", "times", "rate") if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose the calls by one of calls, times or rate, not {' and '.join(chosen)}")
        if self.effect == "error" and not self.error:
            raise ValueError(
                "an error fault needs 'error' (an AWS error code, or ReadTimeout/ConnectTimeout)"
            )
        if self.error and self.error not in known_error_codes(self.operation):
            close = difflib.get_close_matches(self.error, sorted(known_error_codes(self.operation)), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"unknown error code {self.error!r} for {self.operation}{hint}: use one of the codes "
                "spotdrain classifies (throttling, 5xx, access denied, not found), the operation's own "
                "errors, or ReadTimeout/ConnectTimeout"
            )
        if self.effect == "ignored":
            if self.error:
                raise ValueError("an ignored call answers success: drop 'error'")
            service, operation = self.operation.split(":", 1)
            output = _botocore().get_service_model(service).operation_model(operation).output_shape
            if output is not None and output.members:
                raise ValueError(f"{self.operation} returns data; only calls that return none can be ignored")
        return self

    def applies(self, call_number: int, draw: Callable[[], float]) -> bool:
        if self.calls is not None:
            return call_number in self.calls
        if self.times is not None:
            return call_number <= self.times
        if self.rate is not None:
            return draw() < self.rate
        return True


class WorldRateLimit(_Strict):
    """An API rate limit as AWS applies it: a token bucket per account and region, shared by the
    operations it names (``elbv2:Describe*`` style patterns), refilled on the simulated clock.
    A call that finds the bucket empty fails with ``error`` (Throttling) and takes no token."""

    operations: list[str] = Field(min_length=1)
    burst: float = Field(gt=0)
    refill_per_second: float = Field(alias="refillPerSecond", gt=0)
    error: str = "Throttling"

    @field_validator("operations")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        for value in values:
            service, _, operation = value.partition(":")
            if not operation:
                raise ValueError(f"{value!r}: write service:Operation, e.g. elbv2:Describe*")
            try:
                names = _botocore().get_service_model(service).operation_names
            except UnknownServiceError:
                raise ValueError(f"unknown service {service!r} in {value!r}") from None
            if not fnmatch.filter(names, operation):
                raise ValueError(f"{value!r} matches no {service} operation")
        return values

    def covers(self, operation: str) -> bool:
        return any(fnmatch.fnmatchcase(operation, pattern) for pattern in self.operations)


class World(_Strict):
    description: str | None = None
    account: str | None = Field(default=None, pattern=ACCOUNT_ID.pattern)
    parameters: dict[str, Any] = Field(default_factory=dict)
    load_balancers: list[WorldLoadBalancer] = Field(default_factory=list, alias="loadBalancers")
    target_groups: list[WorldTargetGroup] = Field(default_factory=list, alias="targetGroups")
    ecs: WorldEcs = Field(default_factory=WorldEcs)
    ec2: WorldEc2 = Field(default_factory=WorldEc2)
    faults: list[WorldFault] = Field(default_factory=list)
    rate_limits: list[WorldRateLimit] = Field(default_factory=list, alias="rateLimits")
    seed: int = 0  # of the generator that draws faults with a rate
    event: str | None = None  # the notice to run when --event is not given (relative to the world file)

    def check(self) -> None:
        for group in self.target_groups:
            seen: set[tuple[str, int]] = set()
            for target in group.targets:
                key = (target.id, target.port or group.port)
                if key in seen:
                    raise WorldError(f"target {target.id}:{key[1]} is listed twice in {group.name!r}")
                seen.add(key)
                if group.target_type == "ip":
                    try:
                        version = ipaddress.ip_address(target.id).version
                    except ValueError:
                        raise WorldError(
                            f"target {target.id!r} in ip target group {group.name!r} is not an IP address"
                        ) from None
                    if version != (6 if group.ip_address_type == "ipv6" else 4):
                        raise WorldError(
                            f"target {target.id} does not fit {group.ip_address_type} group {group.name!r}"
                        )
                if target.drain_remaining_seconds is not None and target.state != "draining":
                    raise WorldError(
                        f"target {target.id} in {group.name!r}: drainRemainingSeconds needs state: draining"
                    )
        balancers = {lb.name: lb for lb in self.load_balancers}
        for group in self.target_groups:
            if group.load_balancer and group.load_balancer not in balancers:
                raise WorldError(
                    f"target group {group.name!r} names unknown load balancer {group.load_balancer!r}"
                )
            if group.load_balancer and balancers[group.load_balancer].account != group.account:
                raise WorldError(
                    f"target group {group.name!r} and its load balancer {group.load_balancer!r} "
                    "must be in the same account"
                )
        duplicates = {
            g.name for g in self.target_groups if [x.name for x in self.target_groups].count(g.name) > 1
        }
        if duplicates:
            raise WorldError(f"target group names must be unique: {sorted(duplicates)}")


def load_world(path: Path) -> World:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorldError(f"cannot read world file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise WorldError(f"world file {path} is not UTF-8 text: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise WorldError(
            f"world file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WorldError(f"world file {path} must hold a mapping, not {type(data).__name__}")
    try:
        world = World.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:8]
        )
        raise WorldError(f"world file {path}: {problems}") from exc
    world.check()
    return world


def stable_id(*parts: str) -> str:
    """A 16-hex-digit id derived from names, so ARNs are the same on every run."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def target_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/{name}/{stable_id('tg', name)}"


def load_balancer_arn(region: str, account: str, lb: WorldLoadBalancer) -> str:
    kind = "net" if lb.type == "network" else "app"
    suffix = f"{kind}/{lb.name}/{stable_id('lb', lb.name)}"
    return f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}"
