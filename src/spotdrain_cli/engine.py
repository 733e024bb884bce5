"""The local engine: the real definition and the real handlers on moto's ASL interpreter.

No Docker engine runs here, so ``amazon/aws-stepfunctions-local`` cannot; moto (pinned in
pyproject.toml) interprets the Amazon States Language instead. The engine

* deploys ``statemachine/drain.asl.json`` with the DefinitionSubstitutions of template.yaml;
* answers every Lambda task by calling the real handler in-process (``Handler`` from the
  template, environment from the template), and reports a handler exception the way Lambda does
  (``X-Amz-Function-Error`` + errorType/errorMessage), so Retry/Catch match by error name;
* runs on a ``SimClock``: Wait states and retry back-off advance simulated time and really sleep
  only ``seconds × time_scale`` (0: not at all); history timestamps are simulated time;
* builds the AWS world of a world file, with ELBv2 behaving as AWS does (``aws_model``), ECS
  DescribeTasks/DescribeServices answered from the world, and the world's faults injected;
* records every AWS call the workflow makes, and a timeline of states, calls and waits.

It touches moto internals; the moto version is pinned and ``tests/test_engine.py`` pins the
behaviours relied on.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import random
import re
import sys
import threading
import time
import traceback
import uuid
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from unittest import mock
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3
import botocore.endpoint
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from moto.core.config import DefaultConfig
from moto.core.responses import ActionResult
from moto.elbv2.models import elbv2_backends
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sns,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

import spotdrain.aws
import spotdrain.clock
from spotdrain.aws import arn_part
from spotdrain.models import canonical_ip
from spotdrain.observability import logger, metrics
from spotdrain_cli import aws_model, sim_redrive
from spotdrain_cli.aws_model import ElbTargets, SimClock
from spotdrain_cli.mock_config import MockConfigError, TestCase
from spotdrain_cli.template import StackModel, stack_model, substitute, transform_input
from spotdrain_cli.world import (
    World,
    WorldError,
    WorldFault,
    WorldRateLimit,
    WorldTargetGroup,
    load_balancer_arn,
    target_group_arn,
)

MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
SERVICE_NAMES = {
    "elastic-load-balancing-v2": "elbv2",
    "ecs": "ecs",
    "sns": "sns",
    "sqs": "sqs",
    "lambda": "lambda",
    "sfn": "stepfunctions",
    "ec2": "ec2",
    "sts": "sts",
    "dynamodb": "dynamodb",
}
NOT_WORKFLOW_CALLS = {"lambda:Invoke"}  # the engine's own Lambda hops: counted as states
JSON_PROTOCOL = {"ecs", "stepfunctions", "lambda", "dynamodb"}
ERROR_STATUS = {
    "Throttling": 400,
    "ThrottlingException": 400,
    "AccessDenied": 403,
    "AccessDeniedException": 400,
    "InternalFailure": 500,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "ServerException": 500,
}
EXECUTION_TIMEOUT_REAL_SECONDS = 600
ECS_FROM_WORLD = frozenset(
    {
        "DescribeTasks",
        "DescribeServices",
        "ListTasks",
        "ListClusters",
        "ListServices",
        "DescribeTaskDefinition",
    }
)
ACCOUNT_HEADER = "x-moto-account-id"
ENGINE_HEADER = "x-spotdrain-engine"  # a call AWS itself makes (a rule's target), not the workflow
HISTORY_LIMIT = 25_000  # events in one execution's history (Standard workflows)
MOCK_FUNCTION_PREFIX = "spotdrain-mock-"  # + the state's name: answered from the mock file
CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


@dataclass
class TimelineEntry:
    seconds: float
    kind: str  # "enter", "exit", "call", "fault", "wait", "retry", "end"
    text: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeLambdaContext:
    function_name: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def _error_response(service: str, code: str, message: str, status: int, url: str) -> AWSResponse:
    request_id = str(uuid.uuid4())
    code, message = escape(code), escape(message)
    if service in JSON_PROTOCOL:
        body = json.dumps({"__type": code, "message": message})
        headers = {
            "x-amzn-ErrorType": code,
            "x-amzn-RequestId": request_id,
            "Content-Type": "application/x-amz-json-1.1",
        }
    elif service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        )
        headers = {"Content-Type": "text/xml"}
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = {"Content-Type": "text/xml"}
    return AWSResponse(url, status, headers, MockRawResponse(body))


def _empty_response(service: str, operation: str, url: str) -> AWSResponse:
    """A successful answer with no data, in the service's protocol."""
    request_id = str(uuid.uuid4())
    if service in JSON_PROTOCOL:
        return _json_response({}, url)
    body = (
        f"<{operation}Response><{operation}Result/><ResponseMetadata><RequestId>{request_id}</RequestId>"
        f"</ResponseMetadata></{operation}Response>"
    )
    return AWSResponse(url, 200, {"Content-Type": "text/xml"}, MockRawResponse(body))


def _query(body: Any) -> dict[str, list[str]]:
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    return parse_qs(text, keep_blank_values=True)


def _ec2_interfaces_response(interfaces: list[dict[str, Any]], url: str) -> AWSResponse:
    """DescribeNetworkInterfaces' answer in EC2's XML, for the fields spotdrain reads."""

    def text(tag: str, value: Any) -> str:
        return f"<{tag}>{escape(str(value))}</{tag}>" if value is not None else ""

    items = []
    for eni in interfaces:
        private = eni.get("PrivateIpAddresses") or (
            [{"PrivateIpAddress": eni["PrivateIpAddress"], "Primary": True}]
            if eni.get("PrivateIpAddress")
            else []
        )
        items.append(
            "<item>"
            + text("networkInterfaceId", eni.get("NetworkInterfaceId"))
            + text("subnetId", eni.get("SubnetId"))
            + text("vpcId", eni.get("VpcId"))
            + text("description", eni.get("Description"))
            + text("interfaceType", eni.get("InterfaceType"))
            + text("status", eni.get("Status", "in-use"))
            + text("privateIpAddress", eni.get("PrivateIpAddress"))
            + "<privateIpAddressesSet>"
            + "".join(
                "<item>"
                + text("privateIpAddress", a.get("PrivateIpAddress"))
                + text("primary", str(bool(a.get("Primary"))).lower())
                + "</item>"
                for a in private
            )
            + "</privateIpAddressesSet><ipv6AddressesSet>"
            + "".join(
                "<item>" + text("ipv6Address", a.get("Ipv6Address")) + "</item>"
                for a in eni.get("Ipv6Addresses") or []
            )
            + "</ipv6AddressesSet></item>"
        )
    body = (
        '<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>{uuid.uuid4()}</requestId><networkInterfaceSet>{''.join(items)}</networkInterfaceSet>"
        "</DescribeNetworkInterfacesResponse>"
    )
    return AWSResponse(url, 200, {"Content-Type": "text/xml"}, MockRawResponse(body))


def _json_response(data: dict[str, Any], url: str) -> AWSResponse:
    body = json.dumps(data, default=str)
    headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": str(uuid.uuid4())}
    return AWSResponse(url, 200, headers, MockRawResponse(body))


@cache
def _parse_definition(definition: str) -> Any:
    return AmazonStateLanguageParser.parse(definition)[0]


def _parsed_once(worker: Any) -> Any:
    """moto parses the definition again for every execution (ANTLR, ~0.2 s). The parsed program
    keeps no execution state (that lives in each execution's environment), so parse it once."""
    return _parse_definition(worker._evaluation_details.state_machine_details.definition)


def _function_error(response_headers: dict[str, str], error_type: str, message: str, **more: Any) -> bytes:
    """A function error as Lambda reports it: the header, and errorType/errorMessage, which
    Step Functions matches Retry and Catch against."""
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps({"errorType": error_type, "errorMessage": message, **more}).encode()


def _settling(described: dict[str, Any], deadline: float) -> bool:
    """moto marks an execution FAILED a moment before it records the error: wait for the error."""
    return described["status"] == "FAILED" and "error" not in described and time.monotonic() < deadline


@cache
def known_regions() -> frozenset[str]:
    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("elbv2", partition_name=partition)
    )


@contextmanager
def scoped_environment(values: dict[str, str]) -> Iterator[None]:
    """Set some environment variables for a handler call, then put back exactly those.

    Unlike ``mock.patch.dict(os.environ)``, this never clears the environment: that would make
    it briefly empty for the engine's other threads (moto reads MOTO_ACCOUNT_ID on every call).
    """
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Simulation:
    """One simulated AWS world with the workflow deployed in it. Use as a context manager."""

    def __init__(
        self,
        world: World,
        *,
        region: str,
        account: str,
        start: datetime | None = None,
        time_scale: float = 0.0,
        handler_log_level: str = "ERROR",
        concurrent: bool = False,
        definition_edit: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        mock_case: TestCase | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time scale must be >= 0")
        if concurrent and time_scale > 0:
            raise ValueError("a concurrent simulation runs at time scale 0")
        if region not in known_regions():
            raise WorldError(f"unknown AWS region {region!r} (the event's region)")
        self.world = world
        self.region = region
        self.account = world.account or account
        # concurrent: executions overlap in simulated time (a discrete-event clock, see SimClock),
        # and the handlers run side by side, as Lambda runs them, in one shared environment
        self.concurrent = concurrent
        self.definition_edit = definition_edit  # another workflow on the same stack (benchmarks)
        self.mock_case = mock_case  # states answered from a Step Functions Local mock file
        self.history_limit = HISTORY_LIMIT
        self.clock = SimClock(start or datetime.now(UTC), time_scale, concurrent=concurrent)
        self.elb = ElbTargets(self.clock)
        self.timeline: list[TimelineEntry] = []
        self.api_calls: Counter[str] = Counter()
        self.faults_injected: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()  # calls refused by the world's rate limits
        self._buckets = [[limit.burst, 0.0] for limit in world.rate_limits]  # tokens, refilled at
        self._bucket_lock = threading.Lock()
        self.recording = False
        self.handler_log_level = handler_log_level
        self._call_numbers: Counter[str] = Counter()
        self._execution_threads: dict[str, list[threading.Thread]] = {}
        self._interpreter_clients: dict[tuple[str, str], Any] = {}
        self._random = random.Random(world.seed)  # noqa: S311 - repeatable fault draws, not secrets
        self._handler_lock = threading.RLock()
        self._stack = ExitStack()
        self._clients: dict[tuple[str, str], Any] = {}
        self._vpcs: dict[str, str] = {}
        self._other_vpcs: dict[tuple[str, str], str] = {}
        self._subnets: dict[str, list[str]] = {}
        self.stack: StackModel | None = None
        self.state_machine_arn = ""
        self.topic_arns: dict[str, str] = {}
        self.queue_url = ""
        self.target_group_arns: dict[str, str] = {}
        self.load_balancer_arns: dict[str, str] = {}

    # --- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> Simulation:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._join_engine_threads()
        self._stack.close()

    @staticmethod
    def _join_engine_threads(timeout: float = 10.0) -> None:
        """Let moto's execution threads finish before the world is torn down (and forget them)."""
        deadline = time.monotonic() + timeout
        for thread in list(TMP_THREADS):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        # forget only threads that ran and ended: one appended but not yet started is not alive either
        TMP_THREADS[:] = [t for t in TMP_THREADS if t.ident is None or t.is_alive()]

    def _start(self) -> None:
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",  # the world needs a VPC, not 5,000 AMIs
        }
        self._stack.enter_context(mock.patch.dict(os.environ, env))
        # moto's interpreter logs every failed state at ERROR; the timeline already shows them.
        moto_logger = logging.getLogger("moto")
        self._stack.callback(moto_logger.setLevel, moto_logger.level)
        moto_logger.setLevel(logging.DEBUG if self.handler_log_level == "DEBUG" else logging.CRITICAL)
        self._stack.enter_context(mock_aws(config=MOTO_CONFIG))
        for owner, name, replacement in aws_model.PATCHES:
            self._stack.enter_context(mock.patch.object(owner, name, replacement))
        aws_model.activate(self.elb)
        self._stack.callback(aws_model.activate, None)
        self._patch_engine()
        spotdrain.aws.reset_clients()
        self._stack.callback(spotdrain.aws.reset_clients)
        try:
            self._build_world()
        except ClientError as exc:
            raise WorldError(f"the simulator cannot build this world: {exc}") from exc
        self._deploy()
        if self.concurrent:
            self._stack.enter_context(scoped_environment(self._shared_environment()))
            self._stack.enter_context(self._handler_logging())

    def _shared_environment(self) -> dict[str, str]:
        """One environment for every function at once (concurrent handlers cannot each have
        their own in one process): the functions' variables, which must agree."""
        assert self.stack is not None
        shared: dict[str, str] = {}
        for logical_id, spec in self.stack.functions.items():
            for key, value in spec.environment.items():
                if shared.setdefault(key, value) != value:
                    raise WorldError(
                        f"a concurrent simulation needs one environment for all functions: {key} "
                        f"differs in {logical_id}"
                    )
        return {**shared, **self._handler_overrides()}

    def _handler_overrides(self) -> dict[str, str]:
        """What the engine sets over the functions' environment: no metrics or traces sent,
        and the region Lambda would give."""
        return {
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "AWS_REGION": self.region,
        }

    def _patch_engine(self) -> None:
        sim = self

        def invoke(
            _backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            return sim._invoke_handler(function_name, body, response_headers)

        def wait_interval(_self: Any, env: Any, wait_seconds: int) -> None:
            sim._timeline("wait", f"wait {wait_seconds:g} s", seconds=wait_seconds)
            if sim.clock.scale > 0 and wait_seconds > 0:
                env.program_state_event.wait(wait_seconds * sim.clock.scale)
            sim.clock.sleep(wait_seconds)

        class _SimTime:
            """Stands in for the ``time`` module where retries sleep: back-off on our clock."""

            def __init__(self, kind: str, label: str) -> None:
                self.kind, self.label = kind, label

            def __getattr__(self, name: str) -> Any:
                return getattr(time, name)

            def sleep(self, seconds: float) -> None:
                sim._timeline(self.kind, f"{self.label} {seconds:.1f} s", seconds=seconds)
                if sim.clock.scale > 0 and seconds > 0:
                    time.sleep(seconds * sim.clock.scale)
                sim.clock.sleep(seconds)

        original_publish = EventManager._publish_history_event

        def publish(
            manager: Any,
            event_id: int,
            source_event_id: int,
            event_type: Any,
            timestamp: Any,
            event_details: Any,
        ) -> None:
            ending = str(getattr(event_type, "value", event_type)).startswith("Execution")
            if event_id > sim.history_limit and not ending:  # as AWS: the execution fails
                raise RuntimeError(
                    f"the execution's history would exceed {sim.history_limit} events, the "
                    "Step Functions limit: it fails here, as it would on AWS"
                )
            original_publish(manager, event_id, source_event_id, event_type, timestamp, event_details)
            sim._history_event(str(getattr(event_type, "value", event_type)), event_details or {})

        original_stubber_call = BotocoreStubber.__call__

        def stubber_call(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            if stubber.enabled:
                sim._assign_account(request)
                answer = sim._intercept(event_name, request)
                if answer is not None:
                    return answer
            return original_stubber_call(stubber, event_name, request, **kwargs)

        patches: list[Any] = [
            *self._lifecycle_patches(),
            mock.patch.object(ExecutionWorker, "_get_evaluation_entrypoint", _parsed_once),
            mock.patch.object(lambda_eval_utils, "boto_client_for", self._interpreter_client),
            mock.patch.object(state_task_service_sns, "boto_client_for", self._interpreter_client),
            mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
            mock.patch.object(WaitFunction, "_wait_interval", wait_interval),
            mock.patch.object(retrier_decl, "time", _SimTime("retry", "retry back-off")),
            mock.patch.object(botocore.endpoint, "time", _SimTime("sdk-retry", "SDK retry back-off")),
            mock.patch.object(EventManager, "_get_current_timestamp", staticmethod(self.clock.now)),
            mock.patch.object(EventManager, "_publish_history_event", publish),
            mock.patch.object(BotocoreStubber, "__call__", stubber_call),
            mock.patch.object(spotdrain.clock, "now", self.clock.now),
            mock.patch.object(spotdrain.clock, "sleep", _SimTime("step-retry", "in-step back-off").sleep),
        ]
        for patch in patches:
            self._stack.enter_context(patch)

    def _lifecycle_patches(self) -> list[Any]:
        """What happens around an execution on AWS that moto lacks: the status-change rule when it
        ends, RedriveExecution, DescribeExecution's redrive fields, and GetExecutionHistory's
        paging (moto answers the whole history at once)."""
        sim = self
        original_terminated = BaseExecutionWorkerCommunication.terminated

        def terminated(comm: Any) -> None:
            original_terminated(comm)
            try:
                sim._execution_ended(comm.execution)
            finally:
                if sim.concurrent:
                    sim.clock.actor_ended()

        def redrive_execution(response: Any) -> ActionResult:
            backend = response.stepfunction_backend
            arn = str(response._get_param("executionArn"))
            return ActionResult(sim.redrive(backend, arn, response._get_param("clientToken")))

        original_describe = StepFunctionResponse.describe_execution

        def describe_execution(response: Any) -> ActionResult:
            result = original_describe(response)
            answer = dict(result.result)  # type: ignore[call-overload]
            execution = response.stepfunction_backend.describe_execution(answer["executionArn"])
            answer.update(sim_redrive.describe_fields(execution))
            return ActionResult(answer)

        return [
            mock.patch.object(StepFunctionResponse, "get_execution_history", sim_redrive.history_page),
            mock.patch.object(BaseExecutionWorkerCommunication, "terminated", terminated),
            mock.patch.object(StepFunctionResponse, "redrive_execution", redrive_execution, create=True),
            mock.patch.object(StepFunctionResponse, "describe_execution", describe_execution),
        ]

    def _interpreter_client(self, region: str, service: str, state_credentials: Any = None) -> Any:
        """moto's interpreter makes a new boto3 client for every Task (~20 ms): reuse them."""
        key = (region, service)
        if key not in self._interpreter_clients:
            self._interpreter_clients[key] = boto_client.boto_client_for(region, service, state_credentials)
        return self._interpreter_clients[key]

    # --- the world ------------------------------------------------------------------------------
    def client(self, service: str, account: str | None = None) -> Any:
        """The engine's own client for ``service`` in the world's region, acting in ``account``
        (default: the home account, where the stack is deployed). One per service and account."""
        account = account or self.account
        if (service, account) not in self._clients:
            made = boto3.client(service, region_name=self.region)
            made.meta.events.register(
                "before-sign.*.*", lambda request, **_: request.headers.__setitem__(ACCOUNT_HEADER, account)
            )
            self._clients[(service, account)] = made
        return self._clients[(service, account)]

    def _network(self, account: str) -> list[str]:
        """A VPC with two subnets in ``account`` (made on first use): load balancers need them."""
        if account not in self._subnets:
            ec2 = self.client("ec2", account)
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
            zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
            if not zones:
                raise WorldError(f"the simulator knows no availability zones in region {self.region!r}")
            self._vpcs[account] = vpc
            self._subnets[account] = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"][
                    "SubnetId"
                ]
                for i, zone in enumerate(zones)
            ]
        return self._subnets[account]

    def _subnet_vpc(self, account: str, subnet: str) -> str | None:
        """The VPC a task subnet lies in: a named one (ec2.subnets), else the account's own."""
        name = self.world.ec2.subnets.get(subnet)
        return self._named_vpc(account, name) if name else self._vpcs.get(account)

    def _named_vpc(self, account: str, name: str) -> str:
        """A VPC of its own for target groups that name one (overlapping addresses, another host)."""
        if (account, name) not in self._other_vpcs:
            ec2 = self.client("ec2", account)
            self._other_vpcs[(account, name)] = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        return self._other_vpcs[(account, name)]

    def _build_world(self) -> None:
        for lb in self.world.load_balancers:
            account = lb.account or self.account
            subnets = self._network(account)
            created = self.client("elbv2", account).create_load_balancer(
                Name=lb.name, Subnets=subnets, Type=lb.type, Scheme="internal"
            )
            self.load_balancer_arns[lb.name] = self._rekey(
                elbv2_backends[account][self.region].load_balancers,
                created["LoadBalancers"][0]["LoadBalancerArn"],
                load_balancer_arn(self.region, account, lb),
            )
        for group in self.world.target_groups:
            self._build_target_group(group)
        for vpc_name in self.world.ec2.subnets.values():
            self._named_vpc(self.account, vpc_name)
        sns = self.client("sns")
        sqs = self.client("sqs")
        self.queue_url = sqs.create_queue(QueueName="spotdrain-notices")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._ecs_tasks = [self._resolve_names(task) for task in self.world.ecs.tasks]
        self._ecs_services = [self._resolve_names(service) for service in self.world.ecs.services]
        self._sns_topics_client = sns
        self._queue_arn = queue_arn

    def _build_target_group(self, group: WorldTargetGroup) -> None:
        account = group.account or self.account
        elbv2 = self.client("elbv2", account)
        self._network(account)
        vpc = self._vpcs[account] if not group.vpc else self._named_vpc(account, group.vpc)
        kwargs: dict[str, Any] = {"Name": group.name, "TargetType": group.target_type}
        if group.target_type != "lambda":
            kwargs.update(
                Protocol=group.protocol,
                Port=group.port,
                VpcId=vpc,
                IpAddressType=group.ip_address_type,
            )
        created = elbv2.create_target_group(**kwargs)["TargetGroups"][0]["TargetGroupArn"]
        backend = elbv2_backends[account][self.region]
        arn = self._rekey(backend.target_groups, created, target_group_arn(self.region, account, group.name))
        self.target_group_arns[group.name] = arn
        if group.target_type != "lambda":  # Lambda target groups have no deregistration delay
            # Set directly: moto refuses 3600, which AWS allows (0-3600).
            backend.target_groups[arn].attributes["deregistration_delay.timeout_seconds"] = str(
                group.deregistration_delay_seconds
            )
            if group.protocol in {"TCP", "TLS", "UDP", "TCP_UDP"}:
                backend.target_groups[arn].attributes[
                    "deregistration_delay.connection_termination.enabled"
                ] = "true" if group.connection_termination else "false"
        if group.tags:
            elbv2.add_tags(ResourceArns=[arn], Tags=[{"Key": k, "Value": v} for k, v in group.tags.items()])
        if group.load_balancer:
            elbv2.create_listener(
                LoadBalancerArn=self.load_balancer_arns[group.load_balancer],
                Protocol=group.protocol,
                Port=group.port,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}],
            )
        tg = backend.target_groups[arn]
        for target in group.targets:
            api_target: dict[str, Any] = {"Id": target.id, "Port": target.port or group.port}
            if target.availability_zone:
                api_target["AvailabilityZone"] = target.availability_zone
            elbv2.register_targets(TargetGroupArn=arn, Targets=[api_target])
            key = (target.id, int(target.port or group.port))
            if target.state == "draining":
                remaining = target.drain_remaining_seconds
                self.elb.start_draining(
                    tg, key, group.deregistration_delay_seconds if remaining is None else remaining
                )
            else:
                self.elb.records[arn][key].state = target.state

    @staticmethod
    def _rekey(table: dict[str, Any], old: str, new: str) -> str:
        """Give a moto resource a stable ARN, so world files and outputs can name it."""
        resource = table.pop(old)
        resource.arn = new
        table[new] = resource
        return new

    def _resolve_names(self, value: Any) -> Any:
        """Let world files name target groups; ECS shapes want ARNs."""
        if isinstance(value, list):
            return [self._resolve_names(v) for v in value]
        if isinstance(value, dict):
            resolved = {k: self._resolve_names(v) for k, v in value.items()}
            if "targetGroup" in resolved and "targetGroupArn" not in resolved:
                resolved["targetGroupArn"] = self._arn_for_name(resolved.pop("targetGroup"))
            return resolved
        return value

    def _arn_for_name(self, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        if name_or_arn in self.target_group_arns:
            return self.target_group_arns[name_or_arn]
        if name_or_arn in self.load_balancer_arns:
            return self.load_balancer_arns[name_or_arn]
        raise WorldError(f"no target group or load balancer named {name_or_arn!r} in the world")

    def _parameters(self) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for key, value in self.world.parameters.items():
            if key in {"TargetGroupArns", "LoadBalancerArns"}:
                items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
                resolved[key] = [self._arn_for_name(str(item).strip()) for item in items]
            else:
                resolved[key] = value
        return resolved

    def _deploy(self) -> None:
        self.stack = stack_model(region=self.region, account=self.account, overrides=self._parameters())
        sns = self._sns_topics_client
        for logical_id in self.stack.topics:
            arn = sns.create_topic(Name=logical_id)["TopicArn"]
            self.topic_arns[logical_id] = arn
            sns.subscribe(
                TopicArn=arn,
                Protocol="sqs",
                Endpoint=self._queue_arn,
                Attributes={"RawMessageDelivery": "false"},
            )
        dynamodb = self.client("dynamodb")
        for name, properties in self.stack.tables.items():
            dynamodb.create_table(
                TableName=name,
                BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
                AttributeDefinitions=properties["AttributeDefinitions"],
                KeySchema=properties["KeySchema"],
            )
        definition = substitute(self.stack.definition, self.stack.substitutions)
        if self.definition_edit is not None:
            definition = json.dumps(self.definition_edit(json.loads(definition)))
        if self.mock_case is not None:
            definition = json.dumps(self._mocked(json.loads(definition), self.mock_case))
        sfn = self.client("stepfunctions")
        self.state_machine_arn = sfn.create_state_machine(
            name=self.stack.state_machine_name,
            definition=definition,
            roleArn=f"arn:aws:iam::{self.account}:role/DrainStateMachineRole",
            type="STANDARD",
        )["stateMachineArn"]
        self._deploy_functions_and_rule()

    def _mocked(self, definition: dict[str, Any], case: TestCase) -> dict[str, Any]:
        """Point every state the test case mocks at a mock function, whose answer is the mocked
        response as it stands (a plain Lambda ARN resource passes the result on unwrapped, so a
        ``lambda:invoke`` mock's ``{"StatusCode": ..., "Payload": ...}`` is the state's result,
        as on Step Functions Local)."""
        assert self.stack is not None
        if case.state_machine != self.stack.state_machine_name:
            raise MockConfigError(
                f"test case {case.name!r} is one of state machine {case.state_machine!r}, but the "
                f"workflow here is {self.stack.state_machine_name!r}: name it so in the mock file"
            )
        case.check_returns()
        states = definition.get("States", {})
        for name in case.states:
            state = states.get(name)
            if not isinstance(state, dict) or state.get("Type") != "Task":
                tasks = sorted(n for n, s in states.items() if s.get("Type") == "Task")
                raise MockConfigError(
                    f"test case {case.name!r} mocks {name!r}, which is not a Task state of the "
                    f"definition (its Task states: {', '.join(tasks)})"
                )
            state["Resource"] = (
                f"arn:aws:lambda:{self.region}:{self.account}:function:{MOCK_FUNCTION_PREFIX}{name}"
            )
        return definition

    def _mock_answer(self, state: str, response_headers: dict[str, str]) -> bytes:
        assert self.mock_case is not None
        try:
            answer = self.mock_case.next_answer(state)
        except MockConfigError as exc:
            return _function_error(response_headers, "MockConfigError", str(exc))
        if answer.throws:
            self._timeline("mock", f"{state} → {answer.error} (mocked)", error=answer.error)
            return _function_error(response_headers, str(answer.error), answer.cause or "")
        self._timeline("mock", f"{state} → Return (mocked)")
        return json.dumps(answer.returns).encode()

    def _deploy_functions_and_rule(self) -> None:
        """The functions (with their environment) and the interruption rule, as the stack has them,
        so that what reads the deployment (`spotdrain doctor`) finds it here as on AWS. The
        functions' code is the handlers in this process (see ``_invoke_handler``)."""
        assert self.stack is not None
        role = self.client("iam").create_role(
            RoleName="spotdrain-simulated", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as package:
            package.writestr("README", "the simulator runs the handlers in-process")
        functions = self.client("lambda")
        for logical_id, spec in self.stack.functions.items():
            functions.create_function(
                FunctionName=logical_id,
                Runtime="python3.13",
                Architectures=["arm64"],
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": archive.getvalue()},
                Environment={"Variables": spec.environment},
            )
        events = self.client("events")
        name = f"{self.stack.state_machine_name}-spot-interruption"
        events.put_rule(Name=name, EventPattern=json.dumps(self.stack.interruption_pattern), State="ENABLED")
        events.put_targets(
            Rule=name, Targets=[{"Id": "DrainStateMachine", "Arn": self.state_machine_arn, "RoleArn": role}]
        )

    # --- interception: recording, faults, ECS answers -------------------------------------------
    def _assign_account(self, request: Any) -> None:
        """Which account a request acts in, as moto will see it.

        Credentials from STS AssumeRole (access keys starting ASIA) act in the role's account:
        moto knows them. Every other request acts in the home account, unless the engine's own
        client already said otherwise. (moto's MOTO_ACCOUNT_ID would force one account for all.)
        """
        if ACCOUNT_HEADER in request.headers:
            return
        match = CREDENTIAL.search(str(request.headers.get("Authorization", "")))
        if match and match.group(1).startswith("ASIA"):
            return
        request.headers[ACCOUNT_HEADER] = self.account

    def _intercept(self, event_name: str, request: Any) -> AWSResponse | None:
        parts = event_name.split(".")
        if len(parts) < 3:
            return None
        service = SERVICE_NAMES.get(parts[1], parts[1])
        operation = f"{service}:{parts[2]}"
        workflow_call = (
            self.recording
            and service != "stepfunctions"
            and operation not in NOT_WORKFLOW_CALLS
            and ENGINE_HEADER not in request.headers
        )
        if workflow_call:
            self._call_numbers[operation] += 1
            limit = self._rate_limited(operation)
            if limit is not None:
                self.throttled[operation] += 1
                self.api_calls[operation] += 1
                self._timeline("throttle", f"{operation} → {limit.error} (rate limit)", operation=operation)
                return _error_response(service, limit.error, "Rate exceeded", 400, request.url)
            fault = self._fault_for(operation, self._call_numbers[operation])
            if fault is not None:
                return self._inject(fault, service, operation, request)
            self.api_calls[operation] += 1
            self._timeline("call", operation, operation=operation)
        if service == "ecs" and parts[2] in ECS_FROM_WORLD:
            return _json_response(self.ecs_answer(parts[2], json.loads(request.body or b"{}")), request.url)
        if operation == "ec2:DescribeNetworkInterfaces" and self.recording:
            return _ec2_interfaces_response(self._network_interfaces(_query(request.body)), request.url)
        if operation == "ec2:DescribeSubnets" and self.recording:
            return self._describe_subnets(_query(request.body), request)
        return None

    def _describe_subnets(self, query: dict[str, list[str]], request: Any) -> AWSResponse:
        """The tasks' subnets (named in events) lie in the home VPC of the account asked, unless the
        world's ec2.subnets puts them in a named VPC."""
        account = str(request.headers.get(ACCOUNT_HEADER) or self.account)
        self._network(account)
        items = []
        for subnet in (v for k, vs in query.items() if k.startswith("SubnetId.") for v in vs):
            vpc = escape(self._subnet_vpc(account, subnet) or "")
            items.append(f"<item><subnetId>{escape(subnet)}</subnetId><vpcId>{vpc}</vpcId></item>")
        body = (
            '<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
            f"<requestId>{uuid.uuid4()}</requestId><subnetSet>{''.join(items)}</subnetSet>"
            "</DescribeSubnetsResponse>"
        )
        return AWSResponse(request.url, 200, {"Content-Type": "text/xml"}, MockRawResponse(body))

    def ecs_answer(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """ECS as the world has it (moto's ECS knows none of it)."""
        if operation == "DescribeTasks":
            return self._describe_tasks(body)
        if operation == "ListTasks":
            return self._list_tasks(body)
        if operation == "DescribeServices":
            return self._describe_services(body)
        default = f"arn:aws:ecs:{self.region}:{self.account}:cluster/default"  # ECS's, when none is named
        if operation == "ListClusters":
            found = {
                str(item.get("clusterArn") or default) for item in [*self._ecs_tasks, *self._ecs_services]
            }
            return {"clusterArns": sorted(found)}
        if operation == "ListServices":
            cluster = str(body.get("cluster", "default"))
            names = {cluster, cluster.rsplit("/", 1)[-1]}
            return {
                "serviceArns": [
                    str(
                        item.get("serviceArn")
                        or f"arn:aws:ecs:{self.region}:{self.account}:service/"
                        + str(item.get("clusterArn") or default).rsplit("/", 1)[-1]
                        + f"/{item.get('serviceName')}"
                    )
                    for item in self._ecs_services
                    if {
                        str(item.get("clusterArn") or default),
                        str(item.get("clusterArn") or default).rsplit("/", 1)[-1],
                    }
                    & names
                ]
            }
        wanted = str(body.get("taskDefinition", ""))
        for definition in self.world.ecs.task_definitions:
            arn = str(definition.get("taskDefinitionArn", ""))
            if wanted in {arn, arn.rsplit("/", 1)[-1]}:
                return {"taskDefinition": definition}
        return {"taskDefinition": {"taskDefinitionArn": wanted, "containerDefinitions": []}}

    def _list_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        """ECS ListTasks over the world's tasks: by cluster and desired status, paginated."""
        cluster = str(body.get("cluster", "default"))
        desired = str(body.get("desiredStatus", "RUNNING"))
        arns = [
            str(task.get("taskArn"))
            for task in self._ecs_tasks
            if cluster in {task.get("clusterArn"), str(task.get("clusterArn", "")).rsplit("/", 1)[-1]}
            and str(task.get("desiredStatus", "RUNNING")) == desired
        ]
        size = int(body.get("maxResults") or 100)
        start = int(body.get("nextToken") or 0)
        answer: dict[str, Any] = {"taskArns": arns[start : start + size]}
        if start + size < len(arns):
            answer["nextToken"] = str(start + size)
        return answer

    def _world_interfaces(self) -> list[dict[str, Any]]:
        """The world's network interfaces: listed ones, and the ENIs of live ECS tasks."""
        interfaces = [dict(eni) for eni in self.world.ec2.network_interfaces]
        for task in self._ecs_tasks:
            if str(task.get("lastStatus", "")).upper() == "STOPPED":
                continue
            for attachment in task.get("attachments") or []:
                if not isinstance(attachment, dict) or attachment.get("type") not in {
                    "eni",
                    "ElasticNetworkInterface",
                }:
                    continue
                if str(attachment.get("status", "")).upper() in {"DELETED", "DETACHED", "PRECREATED"}:
                    continue
                details = {
                    d.get("name"): d.get("value")
                    for d in attachment.get("details") or []
                    if isinstance(d, dict)
                }
                if not details.get("networkInterfaceId"):
                    continue
                account = arn_part(str(task.get("taskArn", "")), 4) or self.account
                interfaces.append(
                    {
                        "NetworkInterfaceId": details["networkInterfaceId"],
                        "SubnetId": details.get("subnetId"),
                        "VpcId": self._subnet_vpc(account, str(details.get("subnetId") or "")),
                        "PrivateIpAddress": details.get("privateIPv4Address"),
                        "Ipv6Addresses": [
                            {"Ipv6Address": details[k]}
                            for k in ("ipv6Address", "privateIPv6Address")
                            if details.get(k)
                        ],
                        "Description": (
                            f"arn:aws:ecs:{self.region}:{account}:attachment/{attachment.get('id')}"
                        ),
                        "InterfaceType": "interface",
                        "Status": "in-use",
                    }
                )
        return interfaces

    def _network_interfaces(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """EC2 DescribeNetworkInterfaces over the world: the filters spotdrain uses."""
        filters: dict[str, set[str]] = {}
        for key, values in query.items():
            if key.startswith("Filter.") and key.endswith(".Name"):
                prefix = key.removesuffix("Name")
                filters[values[0]] = {
                    v for k, vs in query.items() if k.startswith(prefix + "Value.") for v in vs
                }
        ids = {v for k, vs in query.items() if k.startswith("NetworkInterfaceId.") for v in vs}

        def matches(eni: dict[str, Any]) -> bool:
            ipv4 = {eni.get("PrivateIpAddress")} | {
                a.get("PrivateIpAddress") for a in eni.get("PrivateIpAddresses") or []
            }
            ipv6 = {canonical_ip(str(a.get("Ipv6Address"))) for a in eni.get("Ipv6Addresses") or []}
            checks = {
                "network-interface-id": {eni.get("NetworkInterfaceId")},
                "subnet-id": {eni.get("SubnetId")},
                "vpc-id": {eni.get("VpcId")},
                "addresses.private-ip-address": ipv4,
                "private-ip-address": ipv4,
                "ipv6-addresses.ipv6-address": ipv6,
            }
            for name, values in filters.items():
                have = checks.get(name)
                if have is None:
                    raise WorldError(
                        f"the simulator does not model DescribeNetworkInterfaces filter {name!r}"
                    )
                wanted = {canonical_ip(v) for v in values} if name.startswith("ipv6") else set(values)
                if not have & wanted:
                    return False
            return not ids or eni.get("NetworkInterfaceId") in ids

        return [eni for eni in self._world_interfaces() if matches(eni)]

    def _rate_limited(self, operation: str) -> WorldRateLimit | None:
        """Take a token from every bucket that covers the operation; the limit that has none left."""
        now = self.clock.elapsed
        with self._bucket_lock:
            covering = [
                (limit, bucket)
                for limit, bucket in zip(self.world.rate_limits, self._buckets, strict=True)
                if limit.covers(operation)
            ]
            for limit, bucket in covering:
                bucket[0] = min(limit.burst, bucket[0] + (now - bucket[1]) * limit.refill_per_second)
                bucket[1] = now
            for limit, bucket in covering:
                if bucket[0] < 1:
                    return limit
            for _limit, bucket in covering:
                bucket[0] -= 1
        return None

    def _fault_for(self, operation: str, number: int) -> WorldFault | None:
        for fault in self.world.faults:
            if fault.operation == operation and fault.applies(number, self._random.random):
                return fault
        return None

    def _inject(self, fault: WorldFault, service: str, operation: str, request: Any) -> AWSResponse:
        self.faults_injected[operation] += 1
        self.api_calls[operation] += 1
        if fault.effect == "ignored":
            self._timeline("fault", f"{operation} → success, no effect (injected)", operation=operation)
            return _empty_response(service, operation.split(":", 1)[1], request.url)
        error = str(fault.error)
        self._timeline("fault", f"{operation} → {error} (injected)", operation=operation, error=error)
        if error == "ReadTimeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if error == "ConnectTimeout":
            raise ConnectTimeoutError(endpoint_url=request.url)
        status = fault.status or ERROR_STATUS.get(error, 400)
        message = fault.message or f"{error} (injected by the world file)"
        return _error_response(service, error, message, status, request.url)

    def _describe_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        found, failures = self._answer(body, "tasks", self._ecs_tasks, "taskArn", "taskArn")
        return {"tasks": found, "failures": failures}

    def _describe_services(self, body: dict[str, Any]) -> dict[str, Any]:
        found, failures = self._answer(body, "services", self._ecs_services, "serviceName", "serviceArn")
        return {"services": found, "failures": failures}

    @staticmethod
    def _answer(
        body: dict[str, Any], asked: str, known: list[dict[str, Any]], name_key: str, arn_key: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """ECS Describe*: what the world lists in that cluster (by name, id or ARN), else MISSING."""

        def last(value: Any) -> str:
            return str(value or "").rsplit("/", 1)[-1]

        cluster = str(body.get("cluster", "default"))
        found: list[dict[str, Any]] = []
        failures: list[dict[str, str]] = []
        for wanted in body.get(asked, []):
            match = next(
                (
                    item
                    for item in known
                    if (
                        wanted in {item.get(name_key), item.get(arn_key), last(item.get(arn_key))}
                        or last(wanted) == item.get(name_key)
                    )
                    and cluster in {item.get("clusterArn"), last(item.get("clusterArn"))}
                ),
                None,
            )
            if match is None:
                failures.append({"arn": str(wanted), "reason": "MISSING"})
            else:
                found.append(match)
        return found, failures

    # --- Lambda: the real handlers, in-process ----------------------------------------------------
    def _invoke_handler(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        logical_id = function_name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        if self.mock_case is not None and logical_id.startswith(MOCK_FUNCTION_PREFIX):
            return self._mock_answer(logical_id.removeprefix(MOCK_FUNCTION_PREFIX), response_headers)
        assert self.stack is not None
        spec = self.stack.functions.get(logical_id)
        if spec is None:
            return _function_error(
                response_headers, "ResourceNotFoundException", f"Function not found: {function_name}"
            )
        module_name, attribute = spec.handler.rsplit(".", 1)
        environment = {
            **spec.environment,
            **self._handler_overrides(),
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
        }
        context = FakeLambdaContext(function_name=logical_id, invoked_function_arn=function_name)
        with ExitStack() as scope:
            if not self.concurrent:  # one handler at a time, each in its function's environment
                scope.enter_context(self._handler_lock)
                scope.enter_context(scoped_environment(environment))
                scope.enter_context(self._handler_logging())
            try:
                warnings.filterwarnings("ignore", message="No application metrics to publish")
                handler: Callable[[Any, Any], Any] = getattr(importlib.import_module(module_name), attribute)
                payload = json.loads(body) if body else {}
                result = handler(payload, context)
                return json.dumps(result).encode()
            except Exception as exc:  # reported the way Lambda reports it
                return _function_error(
                    response_headers,
                    type(exc).__name__,
                    str(exc),
                    requestId=context.aws_request_id,
                    stackTrace=traceback.format_tb(exc.__traceback__)[-5:],
                )
            finally:
                # metrics are disabled here, and Powertools then keeps them instead of flushing:
                # drop them, or they pile up and spill onto stdout at 100 values
                metrics.clear_metrics()

    @contextmanager
    def _handler_logging(self) -> Iterator[None]:
        previous = logger.log_level
        handler = logger.registered_handler
        stream = getattr(handler, "stream", None)
        logger.setLevel(self.handler_log_level)
        if hasattr(handler, "setStream"):
            handler.setStream(sys.stderr)
        try:
            yield
        finally:
            logger.setLevel(previous)
            if stream is not None and hasattr(handler, "setStream"):
                handler.setStream(stream)

    # --- what AWS does around an execution: the status rule, redrive ----------------------------
    def _execution_ended(self, execution: Any) -> None:
        """EventBridge's rule on the execution's status (template.yaml): publish the transformed
        event to its topic, as AWS would after an execution ends FAILED, TIMED_OUT or ABORTED."""
        if self.stack is None or execution.state_machine_arn != self.state_machine_arn:
            return
        status = str(getattr(execution.exec_status, "value", execution.exec_status))
        event = {
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": {
                "executionArn": execution.exec_arn,
                "stateMachineArn": execution.state_machine_arn,
                "name": execution.name,
                "status": status,
                "startDate": int(self._started_at(execution).timestamp() * 1000),
                "stopDate": int(self.clock.now().timestamp() * 1000),
                "error": execution.error,
                "cause": execution.cause,
            },
        }
        for statuses, topic, transformer in self.stack.status_rules:
            if status in statuses:
                message = transform_input(transformer, event) if transformer else json.dumps(event)
                self._engine_client("sns").publish(TopicArn=self.topic_arns[topic], Message=message)

    @staticmethod
    def _started_at(execution: Any) -> datetime:
        """When the execution started on the simulated clock (its first history event)."""
        events = sim_redrive.history_events(execution)
        stamp = events[0].get("timestamp") if events else None
        return stamp if isinstance(stamp, datetime) else execution.start_date

    def _engine_client(self, service: str) -> Any:
        """A client for what AWS itself does (EventBridge rules): never recorded, never faulted."""
        key = (service, ENGINE_HEADER)
        if key not in self._clients:
            made = boto3.client(service, region_name=self.region)
            for header, value in ((ACCOUNT_HEADER, self.account), (ENGINE_HEADER, "1")):
                made.meta.events.register(
                    "before-sign.*.*",
                    lambda request, h=header, v=value, **_: request.headers.__setitem__(h, v),
                )
            self._clients[key] = made
        return self._clients[key]

    def reset_fault_counts(self) -> None:
        """Count calls from 1 again (new faults' ``calls`` and ``times`` start afresh)."""
        self._call_numbers.clear()

    def redrive(self, backend: Any, execution_arn: str, client_token: str | None) -> dict[str, Any]:
        """RedriveExecution with AWS's semantics (moto has none): see ``spotdrain_cli.sim_redrive``."""
        execution = backend.describe_execution(execution_arn)
        was_recording, self.recording = self.recording, True  # before the run's first call, not after
        try:
            answer, threads = sim_redrive.redrive(execution, client_token, self.clock.now())
        except BaseException:
            self.recording = was_recording
            raise
        if threads:
            self._execution_threads[execution_arn] = threads
        else:  # a client token already used: nothing runs
            self.recording = was_recording
        return answer

    # --- timeline -------------------------------------------------------------------------------
    def _timeline(self, kind: str, text: str, **detail: Any) -> None:
        self.timeline.append(TimelineEntry(self.clock.elapsed, kind, text, detail))

    def _history_event(self, event_type: str, details: dict[str, Any]) -> None:
        if event_type.endswith("StateEntered"):
            name = details.get("stateEnteredEventDetails", {}).get("name", "?")
            self._timeline("enter", name, state_type=event_type.removesuffix("StateEntered"))
        elif event_type.endswith("StateExited"):
            name = details.get("stateExitedEventDetails", {}).get("name", "?")
            self._timeline("exit", name)
        elif event_type == "TaskFailed":
            failed = details.get("taskFailedEventDetails", {})
            self._timeline(
                "failed", f"{failed.get('error')}: {failed.get('cause', '')}", error=failed.get("error")
            )
        elif event_type.startswith("Execution") and event_type != "ExecutionStarted":
            self._timeline("end", event_type.removeprefix("Execution").upper())

    # --- running -------------------------------------------------------------------------------
    def start(self, event: Any, name: str | None = None) -> str:
        sfn = self.client("stepfunctions")
        self.recording = True
        before = set(TMP_THREADS)
        if self.concurrent:
            self.clock.actor_started()  # until the execution ends (``terminated``)
        try:
            arn = str(
                sfn.start_execution(
                    stateMachineArn=self.state_machine_arn,
                    name=name or f"sim-{uuid.uuid4().hex[:12]}",
                    input=json.dumps(event),
                )["executionArn"]
            )
            self._execution_threads[arn] = [t for t in TMP_THREADS if t not in before]
            return arn
        except (ClientError, RecursionError, ValueError) as exc:
            if self.concurrent:
                self.clock.actor_ended()
            raise WorldError(
                f"the simulator could not start an execution with this event: {str(exc)[:200]}"
            ) from exc

    def wait(self, execution_arn: str, on_tick: Callable[[], None] | None = None) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        limit = EXECUTION_TIMEOUT_REAL_SECONDS + 5000 * self.clock.scale  # the longest drain, scaled
        deadline = time.monotonic() + limit
        if on_tick is None:  # nothing to show meanwhile: wait for the interpreter's thread itself
            for thread in self._execution_threads.pop(execution_arn, []):
                thread.join(max(0.0, deadline - time.monotonic()))
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if on_tick:
                on_tick()
            if described["status"] != "RUNNING" and not _settling(described, deadline):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {limit:.0f} real seconds")
            time.sleep(0.01)
        self.recording = False
        return dict(described)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def notifications(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        notices: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return notices
            for message in messages:
                envelope = json.loads(message["Body"])
                try:
                    content: Any = json.loads(envelope.get("Message", ""))
                except json.JSONDecodeError:
                    content = envelope.get("Message")
                notices.append({"subject": envelope.get("Subject"), "message": content})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
