"""`spotdrain doctor`: does the deployed (or simulated) set-up let a drain finish in time?

Reads the deployment as it is — the state machine, its functions' configuration, the rule that
starts it — then every candidate target group, and says what would make draining fail (a
problem: exit status 1) or weaker than it could be (a warning), with the fix for each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from spotdrain_cli.template import interruption_rule_pattern, load_definition_states

PROBLEM, WARNING, OK, INFO = "problem", "warning", "ok", "info"
DRAIN_TAG = "spotdrain:drain"
NLB_PROTOCOLS = {"TCP", "TLS", "UDP", "TCP_UDP"}
DEFAULT_STOP_TIMEOUT = 30  # ECS: seconds between SIGTERM and SIGKILL when stopTimeout is not set
MAX_STOP_TIMEOUT = 120  # Fargate's largest stopTimeout


@dataclass
class Finding:
    level: str
    subject: str
    message: str
    fix: str | None = None


@dataclass
class Candidate:
    arn: str
    sources: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    stop_timeouts: list[int] = field(default_factory=list)


@dataclass
class Report:
    state_machine_arn: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.level == PROBLEM]

    def add(self, level: str, subject: str, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding(level, subject, message, fix))

    def as_dict(self) -> dict[str, Any]:
        return {
            "stateMachineArn": self.state_machine_arn,
            "healthy": not self.problems,
            "findings": [asdict(f) for f in self.findings],
        }


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1] if arn.startswith("arn:") else arn


def diagnose(client: Callable[[str], Any], state_machine_arn: str) -> Report:
    """Every check, in order; ``client(service)`` makes a boto3 client of the deployment's place."""
    report = Report(state_machine_arn)
    described = client("stepfunctions").describe_state_machine(stateMachineArn=state_machine_arn)
    definition = json.loads(described["definition"])
    _check_state_machine(report, described, definition)
    environment, deadline = _check_functions(report, client("lambda"), definition)
    clusters = _check_rule(report, client("events"), state_machine_arn)
    candidates = _candidates(report, client("elbv2"), client("ecs"), environment, clusters)
    only_explicit = (
        bool(environment.get("TARGET_GROUP_ARNS"))
        and not environment.get("LOAD_BALANCER_ARNS")
        and environment.get("USE_SERVICE_LOAD_BALANCERS", "true") != "true"
    )
    for candidate in candidates.values():
        _check_target_group(report, client("elbv2"), candidate, deadline, tag_required=not only_explicit)
    return report


def _check_state_machine(report: Report, described: dict[str, Any], definition: dict[str, Any]) -> None:
    subject = "state machine"
    if described.get("type") != "STANDARD":
        report.add(
            PROBLEM, subject, f"is {described.get('type')}, not STANDARD", "deploy template.yaml again"
        )
    missing = sorted(set(load_definition_states()) - set(definition.get("States", {})))
    if missing:
        report.add(
            PROBLEM,
            subject,
            f"its definition lacks the states {', '.join(missing)} of statemachine/drain.asl.json",
            "deploy this version of the stack (sam deploy)",
        )
    else:
        report.add(
            OK, subject, f"{described['name']}: STANDARD, the workflow's {len(definition['States'])} states"
        )


def _check_functions(
    report: Report, functions: Any, definition: dict[str, Any]
) -> tuple[dict[str, str], int]:
    """Every Task's function exists; the configuration (ResolveTargets' environment) and the drain
    deadline (ParseEvent's settings)."""
    environment: dict[str, str] = {}
    deadline = 120
    for name, state in definition.get("States", {}).items():
        parameters = state.get("Parameters") or {}
        function = parameters.get("FunctionName")
        if state.get("Type") != "Task" or not function:
            continue
        try:
            configuration = functions.get_function_configuration(FunctionName=function)
        except functions.exceptions.ResourceNotFoundException:
            report.add(PROBLEM, name, f"its function {function} does not exist", "deploy the stack again")
            continue
        if name == "ResolveTargets":
            environment = dict(configuration.get("Environment", {}).get("Variables", {}))
        settings = (parameters.get("Payload") or {}).get("settings") or {}
        if "drainDeadlineSeconds" in settings:
            deadline = int(settings["drainDeadlineSeconds"])
    report.add(INFO, "drain deadline", f"{deadline} s after the notice (DrainDeadlineSeconds)")
    return environment, deadline


def _check_rule(report: Report, events: Any, state_machine_arn: str) -> list[str]:
    """The EventBridge rule that starts the workflow: present, enabled, the template's pattern.
    Returns the clusters it is limited to (none: every cluster)."""
    names: list[str] = []
    kwargs: dict[str, Any] = {"TargetArn": state_machine_arn}
    while True:
        page = events.list_rule_names_by_target(**kwargs)
        names += page.get("RuleNames", [])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    interruption = []
    for name in names:
        rule = events.describe_rule(Name=name)
        pattern = json.loads(rule.get("EventPattern") or "{}")
        if pattern.get("source") == ["aws.ecs"]:
            interruption.append((name, rule, pattern))
    if not interruption:
        report.add(
            PROBLEM,
            "rule",
            "no EventBridge rule on ECS events starts this state machine: no interruption will be drained",
            "deploy template.yaml (its SpotInterruption rule)",
        )
        return []
    name, rule, pattern = interruption[0]
    clusters = list(pattern.get("detail", {}).get("clusterArn", []))
    expected = interruption_rule_pattern({"ClusterArns": ",".join(clusters)})
    if rule.get("State") != "ENABLED":
        report.add(
            PROBLEM, f"rule {name}", f"is {rule.get('State')}", f"aws events enable-rule --name {name}"
        )
    elif pattern != expected:
        report.add(
            PROBLEM,
            f"rule {name}",
            "its event pattern differs from template.yaml's: notices may be missed or others let in",
            "deploy the stack again (do not edit the rule by hand)",
        )
    else:
        where = f"clusters {', '.join(_short(c) for c in clusters)}" if clusters else "every cluster"
        report.add(OK, f"rule {name}", f"enabled; matches interruption notices of {where}")
    return clusters


def _candidates(
    report: Report, elbv2: Any, ecs: Any, environment: dict[str, str], clusters: list[str]
) -> dict[str, Candidate]:
    found: dict[str, Candidate] = {}

    def add(arn: str, source: str) -> Candidate:
        candidate = found.setdefault(arn, Candidate(arn))
        candidate.sources.append(source)
        return candidate

    for arn in filter(None, environment.get("TARGET_GROUP_ARNS", "").split(",")):
        add(arn, "TargetGroupArns")
    for load_balancer in filter(None, environment.get("LOAD_BALANCER_ARNS", "").split(",")):
        try:
            groups = elbv2.describe_target_groups(LoadBalancerArn=load_balancer)["TargetGroups"]
        except elbv2.exceptions.ClientError as exc:
            report.add(PROBLEM, _short(load_balancer), f"cannot be read: {exc}", "fix LoadBalancerArns")
            continue
        for group in groups:
            add(group["TargetGroupArn"], f"load balancer {_short(load_balancer)}")
    if environment.get("USE_SERVICE_LOAD_BALANCERS", "true") == "true":
        _service_groups(ecs, clusters, add)
    if not found:
        report.add(
            PROBLEM,
            "target groups",
            "no candidate target group: an interruption would end NotRegistered every time",
            "set TargetGroupArns or LoadBalancerArns, or put the services behind target groups",
        )
    return found


def _pages(call: Callable[..., Any], key: str, **kwargs: Any) -> list[str]:
    """Every item of an ECS listing, following nextToken (ListServices gives 10 at a time)."""
    items: list[str] = []
    while True:
        page = call(**kwargs)
        items += page.get(key, [])
        if not page.get("nextToken"):
            return items
        kwargs["nextToken"] = page["nextToken"]


def _service_groups(ecs: Any, clusters: list[str], add: Callable[[str, str], Candidate]) -> None:
    if not clusters:
        clusters = _pages(ecs.list_clusters, "clusterArns")
    for cluster in clusters:
        services = _pages(ecs.list_services, "serviceArns", cluster=cluster)
        for start in range(0, len(services), 10):
            described = ecs.describe_services(cluster=cluster, services=services[start : start + 10])
            for service in described.get("services", []):
                stop = _stop_timeout(ecs, service.get("taskDefinition"))
                for balancer in service.get("loadBalancers", []):
                    if balancer.get("targetGroupArn"):
                        candidate = add(balancer["targetGroupArn"], f"service {service['serviceName']}")
                        candidate.services.append(service["serviceName"])
                        candidate.stop_timeouts.append(stop)


def _stop_timeout(ecs: Any, task_definition: str | None) -> int:
    """The shortest stopTimeout of the task's containers (SIGTERM to SIGKILL)."""
    if not task_definition:
        return DEFAULT_STOP_TIMEOUT
    definition = ecs.describe_task_definition(taskDefinition=task_definition).get("taskDefinition", {})
    timeouts = [
        int(c.get("stopTimeout") or DEFAULT_STOP_TIMEOUT) for c in definition.get("containerDefinitions", [])
    ]
    return min(timeouts, default=DEFAULT_STOP_TIMEOUT)


def _check_target_group(
    report: Report, elbv2: Any, candidate: Candidate, deadline: int, *, tag_required: bool
) -> None:
    arn = candidate.arn
    subject = f"target group {_short(arn)} ({', '.join(candidate.sources)})"
    try:
        (group,) = elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        attributes = {
            a["Key"]: a["Value"]
            for a in elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
        }
        descriptions = elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    except elbv2.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        report.add(
            PROBLEM,
            subject,
            f"cannot be read here ({error.get('Code')}): spotdrain cannot drain from it",
            "check the ARN; a group of another account needs CrossAccountRoleName",
        )
        return
    if group.get("TargetType") != "ip":
        report.add(
            WARNING,
            subject,
            f"has {group.get('TargetType')} targets: spotdrain drains ip targets (awsvpc tasks) and skips it",
            "remove it from the configuration if no task is registered there by IP",
        )
        return
    problems_before = len(report.problems)
    delay = int(attributes.get("deregistration_delay.timeout_seconds", "300"))
    suggested = max(0, min(deadline - 20, min(candidate.stop_timeouts, default=deadline - 20)))
    set_delay = (
        f"aws elbv2 modify-target-group-attributes --target-group-arn {arn} "
        f"--attributes Key=deregistration_delay.timeout_seconds,Value={suggested}"
    )
    if delay >= deadline:
        report.add(
            PROBLEM,
            subject,
            f"deregistration delay {delay} s is not shorter than the drain deadline {deadline} s: "
            "draining cannot finish before the task is killed (every drain ends DrainTimeout)",
            set_delay,
        )
    stop = min(candidate.stop_timeouts, default=None)
    if stop is not None and delay > stop:
        report.add(
            WARNING,
            subject,
            f"deregistration delay {delay} s is longer than the task's stopTimeout {stop} s: the task "
            "is killed while connections are still draining",
            f"set stopTimeout to {min(MAX_STOP_TIMEOUT, max(delay, stop))} in the task definition's "
            f"containers, or: {set_delay}",
        )
    if (
        group.get("Protocol") in NLB_PROTOCOLS
        and attributes.get("deregistration_delay.connection_termination.enabled", "false") != "true"
    ):
        report.add(
            WARNING,
            subject,
            "NLB: connections are not closed at the end of the deregistration delay; long-lived ones "
            "outlast the drain and are cut when the task dies",
            f"aws elbv2 modify-target-group-attributes --target-group-arn {arn} "
            "--attributes Key=deregistration_delay.connection_termination.enabled,Value=true",
        )
    tags = {t["Key"]: t["Value"] for d in descriptions for t in d.get("Tags", [])}
    if tag_required and tags.get(DRAIN_TAG) != "true":
        report.add(
            PROBLEM,
            subject,
            f"is not tagged {DRAIN_TAG}=true: the deployed policy lets spotdrain deregister only from "
            "tagged target groups when groups are discovered (AwsAccessDenied at DeregisterTargets)",
            f"aws elbv2 add-tags --resource-arns {arn} --tags Key={DRAIN_TAG},Value=true",
        )
    if candidate.services:
        report.add(
            INFO,
            subject,
            f"ECS deregisters tasks of service {', '.join(sorted(set(candidate.services)))} from it "
            "too; spotdrain confirms and waits for the drain",
        )
    if len(report.problems) == problems_before:
        report.add(OK, subject, f"ip targets, deregistration delay {delay} s < deadline {deadline} s")


SYMBOLS = {PROBLEM: "✗", WARNING: "!", OK: "✓", INFO: "·"}


def render(report: Report) -> list[str]:
    lines = [f"spotdrain doctor: {report.state_machine_arn}"]
    for finding in report.findings:
        lines.append(f"  {SYMBOLS[finding.level]} {finding.subject}: {finding.message}")
        if finding.fix:
            lines.append(f"      fix: {finding.fix}")
    problems = len(report.problems)
    warnings = sum(1 for f in report.findings if f.level == WARNING)
    verdict = "healthy" if not problems else f"{problems} problem(s) would make draining fail"
    lines.append(f"{verdict}; {warnings} warning(s)")
    return lines
