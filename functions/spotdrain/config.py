"""Deployment configuration the functions read from their environment (set by template.yaml).

Read on every invocation (it is a handful of ``os.environ`` look-ups), so that the simulator can
run several worlds in one process.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from spotdrain.errors import InvalidConfiguration

TARGET_GROUP_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
)
LOAD_BALANCER_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:loadbalancer/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$"
)
TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class Config:
    """Where candidate target groups come from."""

    target_group_arns: tuple[str, ...] = ()
    load_balancer_arns: tuple[str, ...] = ()
    use_service_load_balancers: bool = True
    allowed_account_ids: tuple[str, ...] = ()  # empty: no restriction
    allowed_regions: tuple[str, ...] = ()  # empty: no restriction

    def check_allowed(self, account: str, region: str) -> str | None:
        """Why an event from ``account``/``region`` may not be acted on, or None if it may."""
        if self.allowed_account_ids and account not in self.allowed_account_ids:
            return f"account {account} is not in ALLOWED_ACCOUNT_IDS ({', '.join(self.allowed_account_ids)})"
        if self.allowed_regions and region not in self.allowed_regions:
            return f"region {region} is not in ALLOWED_REGIONS ({', '.join(self.allowed_regions)})"
        return None

    @property
    def has_sources(self) -> bool:
        return bool(self.target_group_arns or self.load_balancer_arns or self.use_service_load_balancers)


# ASCII digits only, and matched whole (fullmatch): "$" alone would accept a trailing newline.
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
TASK_ARN = re.compile(
    r"^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):([0-9]{12}):task/(?:[A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9-]{1,64}$"
)
CLUSTER_ARN = re.compile(r"^arn:(aws[a-z-]*):ecs:([a-z0-9-]+):([0-9]{12}):cluster/[A-Za-z0-9_-]{1,255}$")


def partition_for_region(region: str) -> str:
    """The ARN partition a region belongs to."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-isof-", "aws-iso-f"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def _env_list(name: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    raw = os.environ.get(name, "")
    items = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [item for item in items if not pattern.fullmatch(item)]
    if bad:
        raise InvalidConfiguration(f"{name} has values of the wrong form: {bad}")
    return items


def load_config() -> Config:
    flag = os.environ.get("USE_SERVICE_LOAD_BALANCERS", "true").strip().lower()
    if flag not in TRUE | FALSE:
        raise InvalidConfiguration(f"USE_SERVICE_LOAD_BALANCERS must be true or false, not {flag!r}")
    return Config(
        target_group_arns=_env_list("TARGET_GROUP_ARNS", TARGET_GROUP_ARN),
        load_balancer_arns=_env_list("LOAD_BALANCER_ARNS", LOAD_BALANCER_ARN),
        use_service_load_balancers=flag in TRUE,
        allowed_account_ids=_env_list("ALLOWED_ACCOUNT_IDS", ACCOUNT_ID),
        allowed_regions=_env_list("ALLOWED_REGIONS", REGION),
    )
