"""The rule that starts the workflow, as template.yaml declares it, run through moto's EventBridge
pattern matcher (its implementation of EventBridge's pattern language: prefix, exists, $or)
against every event under tests/events/: interruption notices match, nothing else does."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from spotdrain_cli.template import interruption_rule_pattern
from tests.conftest import EVENTS

# The notices: an ECS "Task State Change" of a running task told to stop because Spot (or an
# EC2 termination notice) reclaims it. The hostile ones among them are notices with bad
# contents: the rule lets them through and ParseEvent refuses them by name (test_hostile_events).
NOTICES = {
    "spot-interruption-awsdocs-2019.json",
    "spot-interruption-awsdocs-current.json",
    "spot-interruption-dual-stack.json",
    "spot-interruption-ec2-bridge-task.json",
    "spot-interruption-ipv6-only.json",
    "spot-interruption-reason-only.json",
    "spot-interruption-unknown-task.json",
    "spot-interruption-with-eni.json",
    *(
        f"hostile/{name}.json"
        for name in [
            "account-another-not-allowed",
            "account-non-numeric",
            "account-unicode-digits",
            "address-link-local-metadata",
            "address-loopback",
            "address-multicast",
            "address-unspecified",
            "attachment-detail-value-not-a-string",
            "attachments-not-a-list",
            "cluster-arn-other-account",
            "cluster-arn-other-region",
            "deeply-nested-junk",
            "eni-two-ipv4-neighbour",
            "event-invalid-just-under-256kb",
            "event-just-under-256kb",
            "event-over-256kb",
            "event-under-256kb-in-utf8-non-ascii",
            "group-service-ecs-does-not-know",
            "ip-leading-zeros",
            "ip-not-an-ip",
            "ipv4-in-ipv6-field",
            "ipv6-link-local-with-scope-id",
            "ipv6-mapped-neighbour-in-ipv4-field",
            "region-absent-arns-in-another-region",
            "region-and-account-absent-arns-unparseable",
            "region-bogus",
            "region-with-newline-in-arns",
            "stopped-reason-lone-surrogates",
            "task-arn-not-an-arn",
            "task-arn-of-another-partition",
            "task-arn-of-another-service",
            "time-end-of-calendar",
            "time-far-future",
            "time-far-past",
            "time-not-a-date",
            "unknown-task-without-network-details",
            "version-huge",
            "version-is-a-word",
            "version-negative",
        ]
    ),
}
FILES = sorted(
    str(path.relative_to(EVENTS))
    for path in EVENTS.rglob("*.json")
    if path.name != "expected.json" and "steps" not in path.parts
)


def matches(pattern: dict[str, Any], name: str) -> bool:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    if not isinstance(event, dict):
        return False  # EventBridge events are objects: a bare string or array is never delivered
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(cast(Any, event)))


@pytest.mark.parametrize("name", FILES)
def test_only_interruption_notices_match(name: str) -> None:
    assert matches(interruption_rule_pattern(), name) is (name in NOTICES)


def test_every_listed_notice_is_a_file() -> None:
    assert set(FILES) >= NOTICES
    assert len(FILES) > 60


@pytest.mark.parametrize(
    ("clusters", "expected"),
    [
        ("arn:aws:ecs:us-east-1:111122223333:cluster/default", True),
        ("arn:aws:ecs:us-east-1:111122223333:cluster/other", False),
    ],
)
def test_the_cluster_filter_narrows_the_rule(clusters: str, expected: bool) -> None:
    pattern = interruption_rule_pattern({"ClusterArns": clusters})
    assert matches(pattern, "spot-interruption-with-eni.json") is expected
