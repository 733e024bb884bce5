"""Least privilege in template.yaml: no wildcard action anywhere, every mutating action scoped to
named resources (or narrowed by a condition), and "*" resources only where AWS offers no
resource-level permissions — and then the statement says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from spotdrain_cli.template import load_template

TEMPLATE = load_template()
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|List|Get)[A-Za-z]*$")
SAM_POLICY_TEMPLATES = {"LambdaInvokePolicy"}  # scoped by the function it names


def branches(statement: Any) -> Iterator[dict[str, Any]]:
    """A statement, or each branch of an !If between statements."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        for branch in statement["Fn::If"][1:]:
            yield from branches(branch)
    elif isinstance(statement, dict) and statement.get("Ref") != "AWS::NoValue":
        yield statement


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource logical id, kind of policy, statement) for every policy statement in the stack."""
    for logical_id, resource in TEMPLATE["Resources"].items():
        properties = resource.get("Properties", {})
        for policy in properties.get("Policies", []):
            if isinstance(policy, dict) and set(policy) & SAM_POLICY_TEMPLATES:
                continue
            assert isinstance(policy, dict), (
                f"{logical_id}: a managed policy by name ({policy}) is not reviewed here"
            )
            for statement in policy.get("Statement", []):
                for branch in branches(statement):
                    yield logical_id, "identity", branch
        for key in ("PolicyDocument", "KeyPolicy"):
            for statement in properties.get(key, {}).get("Statement", []):
                for branch in branches(statement):
                    yield logical_id, "key" if key == "KeyPolicy" else "resource", branch


def text(resource: Any) -> str:
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return str(sub if isinstance(sub, str) else sub[0])
    return ""  # !Ref / !GetAtt of a resource or parameter: one named thing


def named(resource: Any) -> bool:
    """Names particular resources: an ARN whose resource part is not all wildcards."""
    arn = re.sub(r"\$\{[^}]+\}", "X", text(resource))  # a substitution names one thing
    if not text(resource):
        return True
    if arn == "*":
        return False
    resource_part = arn.split(":", 5)[-1]
    return bool(re.sub(r"[*/:]", "", resource_part.split("/", 1)[-1]))


ALL = list(statements())


def test_the_stack_has_the_statements_this_test_reviews() -> None:
    kinds = {kind for _, kind, _ in ALL}
    assert kinds == {"identity", "resource", "key"}
    assert len(ALL) > 20


@pytest.mark.parametrize(("where", "kind", "statement"), ALL, ids=[f"{w}:{s.get('Sid')}" for w, _, s in ALL])
def test_no_wildcard_action(where: str, kind: str, statement: dict[str, Any]) -> None:
    for action in listed(statement.get("Action", [])):
        assert "*" not in str(action), f"{where} {statement.get('Sid')}: wildcard action {action}"
    assert "NotAction" not in statement


@pytest.mark.parametrize(("where", "kind", "statement"), ALL, ids=[f"{w}:{s.get('Sid')}" for w, _, s in ALL])
def test_mutating_actions_are_scoped(where: str, kind: str, statement: dict[str, Any]) -> None:
    mutating = [a for a in listed(statement.get("Action", [])) if not READ_ONLY.match(str(a))]
    if not mutating or kind == "key":  # in a key policy the resource "*" is the key itself
        return
    sid = str(statement.get("Sid", ""))
    for resource in listed(statement.get("Resource", [])):
        if named(resource) or "Condition" in statement:
            continue
        assert sid.endswith("NoResourceLevelPermissions"), (
            f"{where} {sid}: {mutating} on {text(resource)} with no condition"
        )


@pytest.mark.parametrize(("where", "kind", "statement"), ALL, ids=[f"{w}:{s.get('Sid')}" for w, _, s in ALL])
def test_a_star_resource_says_why(where: str, kind: str, statement: dict[str, Any]) -> None:
    if kind == "key" or "*" not in listed(statement.get("Resource", [])):
        return
    sid = str(statement.get("Sid", ""))
    assert sid.endswith("NoResourceLevelPermissions") or "Condition" in statement, (
        f"{where} {sid}: Resource '*' must say that AWS offers no resource-level permissions"
    )


def test_deregistration_is_limited_to_the_configured_or_tagged_target_groups() -> None:
    found = [
        (where, s)
        for where, kind, s in ALL
        if "elasticloadbalancing:DeregisterTargets" in listed(s.get("Action", []))
    ]
    assert {where for where, _ in found} == {"DeregisterTargetsFunction", "CheckDrainFunction"}
    for _, statement in found:
        resource = statement["Resource"]
        if resource == {"Ref": "TargetGroupArns"}:
            assert "Condition" not in statement
        else:
            assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/spotdrain:drain": "true"}}


def test_the_state_machine_invokes_only_its_own_functions_and_publishes_nothing() -> None:
    policies = TEMPLATE["Resources"]["DrainStateMachine"]["Properties"]["Policies"]
    invoked = {p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in policies if "LambdaInvokePolicy" in p}
    assert invoked == {
        "ParseEventFunction",
        "ResolveTargetsFunction",
        "DeregisterTargetsFunction",
        "CheckDrainFunction",
    }
    actions = {a for where, _, s in ALL if where == "DrainStateMachine" for a in listed(s.get("Action", []))}
    assert not {a for a in actions if a.startswith(("sns:", "lambda:"))}


def test_cross_account_access_is_only_the_configured_role() -> None:
    assumed = [s for _, _, s in ALL if "sts:AssumeRole" in listed(s.get("Action", []))]
    assert len(assumed) == 4  # one per function, each under HasCrossAccountRole
    for statement in assumed:
        assert text(statement["Resource"]) == "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"
