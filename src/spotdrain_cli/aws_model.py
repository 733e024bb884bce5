"""Where the simulator makes moto behave like AWS, and the clock it runs on.

moto's ELBv2 differs from AWS in ways that decide whether a drain tool is right (see the design
notes, shared/DESIGN.md): it has no ``draining`` state, keys targets by Id only, raises
InvalidTarget when deregistering a target that is not registered, and removes a target
registered on another port when asked without a port. ``ElbTargets`` replaces moto's target
bookkeeping with AWS's: targets keyed by (Id, Port), ``draining`` for the target group's
deregistration delay on the simulated clock, then ``unused``/``Target.NotRegistered``.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.elbv2.exceptions import TargetGroupNotFoundError
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup


class AwsHealthStatus(FakeHealthStatus):
    """moto's health entry, plus the target's AvailabilityZone as AWS reports it."""

    def __init__(self, *args: Any, availability_zone: str | None = None) -> None:
        super().__init__(*args)
        self.availability_zone = availability_zone

    @property
    def target(self) -> dict[str, str]:
        target = dict(super().target)
        if self.availability_zone:
            target["AvailabilityZone"] = self.availability_zone
        return target


class SimClock:
    """Simulated time: advanced by Wait states and retry back-off, never by real time.

    Kept in whole microseconds (the resolution of the datetimes the handlers see), so that
    sums of waits do not drift by floating-point error against the deadlines they aim at.

    Sequential (the default), a sleep simply advances the clock: one execution at a time.
    Concurrent (``concurrent=True``: many executions at once, as in a mass interruption), it is
    a discrete-event clock: each execution is an *actor*; a sleeping actor blocks until the
    clock reaches its wake-up time, and the clock moves on, to the earliest wake-up, only when
    every actor is asleep. So executions overlap in simulated time as they would on AWS.
    """

    def __init__(self, start: datetime, scale: float, *, concurrent: bool = False) -> None:
        self.start = start
        self.scale = scale
        self.concurrent = concurrent
        self._micros = 0
        self._lock = threading.Lock()
        self._actors = 0
        # the actors asleep: (wake-up time, order, the event that wakes exactly that one)
        self._sleepers: list[tuple[int, int, threading.Event]] = []
        self._order = 0

    def sleep(self, seconds: float) -> None:
        """An actor waits ``seconds`` of simulated time (sequential: the clock just advances)."""
        if not self.concurrent:
            self.advance(seconds)
            return
        woken = threading.Event()
        with self._lock:
            wake = self._micros + max(0, round(seconds * 1_000_000))
            if wake <= self._micros:
                return
            self._order += 1
            heapq.heappush(self._sleepers, (wake, self._order, woken))
            self._move_on()
        woken.wait()

    def actor_started(self) -> None:
        with self._lock:
            self._actors += 1

    def actor_ended(self) -> None:
        with self._lock:
            self._actors -= 1
            self._move_on()

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the clock where it is (the caller counts as an actor that is awake): while many
        executions are started at the same simulated instant, say."""
        self.actor_started()
        try:
            yield
        finally:
            self.actor_ended()

    def _move_on(self) -> None:
        """(With the lock held.) If every actor is asleep, jump to the earliest wake-up and wake
        exactly the actors due then (not all of them: hundreds may be asleep)."""
        if self._sleepers and len(self._sleepers) >= self._actors:
            self._micros = max(self._micros, self._sleepers[0][0])
            while self._sleepers and self._sleepers[0][0] <= self._micros:
                heapq.heappop(self._sleepers)[2].set()

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._micros / 1_000_000

    def now(self) -> datetime:
        with self._lock:
            return self.start + timedelta(microseconds=self._micros)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._micros += max(0, round(seconds * 1_000_000))


EPSILON = 1e-6  # one simulated microsecond


DESCRIPTIONS = {
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unused": ("Target.NotRegistered", "Target is not registered to the target group"),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}


@dataclass
class TargetRecord:
    state: str = "healthy"
    availability_zone: str | None = None
    drain_until: float | None = None  # simulated seconds


@dataclass
class Deregistration:
    target_group_arn: str
    id: str
    port: int
    at: float
    availability_zone: str | None = None


@dataclass
class ElbTargets:
    """AWS's view of registered targets, per target group, on the simulated clock."""

    clock: SimClock
    records: dict[str, dict[tuple[str, int], TargetRecord]] = field(default_factory=dict)
    gone: dict[str, dict[tuple[str, int], float]] = field(default_factory=dict)
    deregistrations: list[Deregistration] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def _group(self, tg: FakeTargetGroup) -> dict[tuple[str, int], TargetRecord]:
        return self.records.setdefault(tg.arn, {})

    @staticmethod
    def _delay(tg: FakeTargetGroup) -> int:
        return int(str(tg.attributes.get("deregistration_delay.timeout_seconds", 300)))

    @staticmethod
    def _key(tg: FakeTargetGroup, target: dict[str, Any]) -> tuple[str, int]:
        port = target.get("Port")
        return str(target["Id"]), int(port if port not in (None, "") else tg.port)

    def _expire(self, tg: FakeTargetGroup) -> None:
        now = self.clock.elapsed
        group = self._group(tg)
        for key, record in list(group.items()):
            if (
                record.state == "draining"
                and record.drain_until is not None
                and record.drain_until <= now + EPSILON
            ):
                del group[key]
                self.gone.setdefault(tg.arn, {})[key] = record.drain_until

    def register(self, tg: FakeTargetGroup, targets: list[dict[str, Any]], state: str = "healthy") -> None:
        with self.lock:
            self._expire(tg)
            for target in targets:
                key = self._key(tg, target)
                self._group(tg)[key] = TargetRecord(
                    state=state, availability_zone=target.get("AvailabilityZone")
                )
                self.gone.get(tg.arn, {}).pop(key, None)

    def start_draining(self, tg: FakeTargetGroup, key: tuple[str, int], seconds: float) -> None:
        with self.lock:
            record = self._group(tg)[key]
            record.state = "draining"
            record.drain_until = self.clock.elapsed + seconds

    def deregister(self, tg: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
        """AWS: (Id, Port) exact; not registered is success; no port means the group's port."""
        with self.lock:
            self._expire(tg)
            group = self._group(tg)
            for target in targets:
                key = self._key(tg, target)
                record = group.get(key)
                if record is None or record.state == "draining":
                    continue
                self.deregistrations.append(
                    Deregistration(tg.arn, key[0], key[1], self.clock.elapsed, target.get("AvailabilityZone"))
                )
                delay = self._delay(tg)
                if delay <= 0:
                    del group[key]
                    self.gone.setdefault(tg.arn, {})[key] = self.clock.elapsed
                else:
                    record.state = "draining"
                    record.drain_until = self.clock.elapsed + delay

    def health(self, tg: FakeTargetGroup, targets: list[dict[str, Any]]) -> list[FakeHealthStatus]:
        with self.lock:
            self._expire(tg)
            group = self._group(tg)
            # unfiltered: every registered target, draining ones included
            keys = [self._key(tg, t) for t in targets] if targets else list(group)
            result: list[FakeHealthStatus] = []
            for key in keys:
                record = group.get(key)
                state = record.state if record else "unused"
                reason, description = DESCRIPTIONS.get(state, (None, None))
                result.append(
                    AwsHealthStatus(
                        key[0],
                        str(key[1]),
                        tg.health_check_port,
                        state,
                        reason,
                        description,
                        availability_zone=record.availability_zone if record else None,
                    )
                )
            return result

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every target ever seen, per target group, with its state now (gone ones ``unused``)."""
        with self.lock:
            view: dict[str, list[dict[str, Any]]] = {}
            for arn in sorted(set(self.records) | set(self.gone)):
                entries = []
                for (target_id, port), record in self.records.get(arn, {}).items():
                    if (
                        record.state == "draining"
                        and record.drain_until is not None
                        and record.drain_until <= self.clock.elapsed + EPSILON
                    ):
                        entries.append({"id": target_id, "port": port, "state": "unused"})
                    else:
                        entries.append({"id": target_id, "port": port, "state": record.state})
                for target_id, port in self.gone.get(arn, {}):
                    entries.append({"id": target_id, "port": port, "state": "unused"})
                view[arn] = sorted(entries, key=lambda e: (e["id"], e["port"]))
            return view


_active: ElbTargets | None = None
_active_lock = threading.Lock()


def activate(model: ElbTargets | None) -> None:
    global _active  # noqa: PLW0603 - one active world per process
    with _active_lock:
        _active = model


def _model() -> ElbTargets:
    if _active is None:
        raise RuntimeError("no simulated ELBv2 world is active")
    return _active


def _register(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    _model().register(self, targets)


def _deregister(self: FakeTargetGroup, targets: list[dict[str, Any]]) -> None:
    _model().deregister(self, targets)


def _describe_target_health(
    self: ELBv2Backend, target_group_arn: str, targets: list[dict[str, Any]]
) -> list[FakeHealthStatus]:
    tg = self.target_groups.get(target_group_arn)
    if tg is None:
        raise TargetGroupNotFoundError()
    return _model().health(tg, targets)


_original_describe_target_groups = ELBv2Backend.describe_target_groups


def _describe_target_groups(
    self: ELBv2Backend, load_balancer_arn: str | None, target_group_arns: list[str], names: list[str] | None
) -> Any:
    """AWS returns an empty list for a load balancer without target groups; moto raises."""
    if load_balancer_arn and load_balancer_arn in self.load_balancers:
        return sorted(
            (tg for tg in self.target_groups.values() if load_balancer_arn in tg.load_balancer_arns),
            key=lambda tg: tg.name,
        )
    return _original_describe_target_groups(self, load_balancer_arn, target_group_arns, names)


PATCHES: list[tuple[type, str, Any]] = [
    (FakeTargetGroup, "register", _register),
    (FakeTargetGroup, "deregister", _deregister),
    (ELBv2Backend, "describe_target_health", _describe_target_health),
    (ELBv2Backend, "describe_target_groups", _describe_target_groups),
]
