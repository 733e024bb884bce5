"""The results as a table (stdout), ``docs/benchmarks.md`` and the plot ``docs/benchmarks.png``."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.cold_start import ColdStart
from benchmarks.mass import MassRun
from benchmarks.scenarios import EngineSpeed, Run

IMPORT_TARGET = 1.3
HOPS_TARGET = 3
TRANSITIONS_AT_300_TARGET = 20
LAG_TARGET = 5.0


@dataclass
class Results:
    cold: ColdStart | None = None
    to_deregistration: dict[str, Run] = field(default_factory=dict)
    naive_to_deregistration: tuple[int, int] | None = None  # hops, calls before it
    faulty_to_deregistration: list[Run] = field(default_factory=list)
    delays: dict[int, tuple[Run, Run]] = field(default_factory=dict)  # spotdrain, fixed loop
    api_calls: dict[int, tuple[Counter[str], Counter[str]]] = field(default_factory=dict)
    mass: list[MassRun] = field(default_factory=list)
    engine: EngineSpeed | None = None
    suite: tuple[float, str] | None = None  # wall seconds, pytest's summary line
    wall_seconds: float = 0.0


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _calls(counter: Counter[str]) -> str:
    return ", ".join(f"{op.split(':', 1)[1]} {n}" for op, n in sorted(counter.items()))


def targets(results: Results) -> list[list[str]]:
    rows: list[list[str]] = []
    if results.cold:
        worst = max(results.cold.handler_ms, key=results.cold.ratio)
        ratio = results.cold.ratio(worst)
        rows.append(
            [
                f"handler import ≤ {IMPORT_TARGET}× import boto3",
                f"{ratio:.2f}× ({worst})",
                _met(ratio <= IMPORT_TARGET),
            ]
        )
    clean = results.to_deregistration.get("clean")
    if clean and clean.hops_to_deregistration is not None:
        hops = clean.hops_to_deregistration
        rows.append(
            [f"≤ {HOPS_TARGET} Lambda hops before deregistration", str(hops), _met(hops <= HOPS_TARGET)]
        )
    if 300 in results.delays:
        ours, fixed = results.delays[300]
        rows.append(
            [
                f"transitions flat in the delay, ≤ {TRANSITIONS_AT_300_TARGET} at 300 s",
                f"{ours.transitions} (fixed loop {fixed.transitions})",
                _met(ours.transitions <= TRANSITIONS_AT_300_TARGET),
            ]
        )
    lags = [ours.detection_lag for ours, _ in results.delays.values() if ours.detection_lag is not None]
    if lags:
        rows.append(
            [
                f"drain detection lag ≤ {LAG_TARGET:g} s",
                f"max {max(lags):.1f} s",
                _met(max(lags) <= LAG_TARGET),
            ]
        )
    if results.mass:
        biggest = max(results.mass, key=lambda m: m.tasks)
        rows.append(
            [
                f"{biggest.tasks} simultaneous interruptions, none failed by throttling",
                f"{biggest.failed_by_throttling} failed by throttling",
                _met(biggest.failed_by_throttling == 0),
            ]
        )
    return rows


def _cold_section(results: Results) -> list[str]:
    out: list[str] = []
    cold = results.cold
    if cold:
        out += [f"## 1. Cold start (median of {cold.rounds} fresh interpreters each)", ""]
        rows = [["`import boto3` (baseline)", f"{cold.baseline_ms:.0f}", "1.00", ""]]
        rows += [
            [f"`spotdrain.{h}`", f"{ms:.0f}", f"{cold.ratio(h):.2f}", _met(cold.ratio(h) <= IMPORT_TARGET)]
            for h, ms in cold.handler_ms.items()
        ]
        out += _table(["Module", "Import ms", "× boto3", f"≤ {IMPORT_TARGET}×"], rows)
        artifact = (
            f"Deployable artifact (`make package`): {cold.artifact_bytes / 1e6:.1f} MB in "
            f"{cold.artifact_files} files, {cold.artifact_bytes / max(1, cold.runtime_bytes):.2f}× the "
            f"boto3 + botocore that the Lambda runtime provides ({cold.runtime_bytes / 1e6:.1f} MB, "
            "not shipped)."
            if cold.artifact_files
            else "Deployable artifact: not built (`make package` builds it; `make bench` does first)."
        )
        out += ["", artifact, ""]
    return out


def _deregistration_section(results: Results) -> list[str]:
    out: list[str] = []
    if results.to_deregistration:
        out += ["## 2. Time to deregistration (1 target group)", ""]
        rows = []
        for name, run in results.to_deregistration.items():
            label = {"clean": "spotdrain"}.get(name, name)
            rows.append(
                [
                    label,
                    str(run.hops_to_deregistration),
                    str(run.calls_to_deregistration),
                    _num(run.seconds_to_deregistration),
                ]
            )
        if results.faulty_to_deregistration:
            runs = [r for r in results.faulty_to_deregistration if r.hops_to_deregistration is not None]
            if runs:
                rows.append(
                    [
                        f"spotdrain, 20% of ELBv2/ECS calls failing (mean of {len(runs)})",
                        _num(sum(r.hops_to_deregistration or 0 for r in runs) / len(runs)),
                        _num(sum(r.calls_to_deregistration or 0 for r in runs) / len(runs)),
                        _num(sum(r.seconds_to_deregistration or 0 for r in runs) / len(runs)),
                    ]
                )
        if results.naive_to_deregistration:
            hops, calls = results.naive_to_deregistration
            rows.append(["naive Lambda (lists everything)", str(hops), str(calls), "0.0"])
        out += _table(["Design", "Lambda hops", "AWS calls before DeregisterTargets", "Simulated s"], rows)
        out += [""]
    return out


def _cost_section(results: Results) -> list[str]:
    out: list[str] = []
    if results.delays:
        out += ["## 3–4. Cost and drain detection lag, by deregistration delay", ""]
        rows = []
        for delay, (ours, fixed) in sorted(results.delays.items()):
            rows.append(
                [
                    str(delay),
                    f"{ours.transitions} / {fixed.transitions}",
                    f"{fixed.transitions / max(1, ours.transitions):.1f}×",
                    f"{ours.polls} / {fixed.polls}",
                    f"${ours.dollars_per_1000:.3f} / ${fixed.dollars_per_1000:.3f}",
                    f"{_num(ours.detection_lag)} / {_num(fixed.detection_lag)}",
                    f"{ours.outcome} / {fixed.outcome}",
                ]
            )
        out += _table(
            [
                "Delay s",
                "Transitions (spotdrain / 5 s loop)",
                "Loop ÷ spotdrain",
                "Polls",
                "$ per 1,000 interruptions",
                "Detection lag s",
                "Outcome",
            ],
            rows,
        )
        out += [
            "",
            "Dollars: Standard transitions ($0.025 per 1,000, retries included) plus Lambda requests",
            "($0.20 per million) and compute at 256 MB arm64, assuming 100 ms billed per invocation.",
            "The 5 s loop polls until the target has drained, as such loops do; spotdrain stops at the",
            "Spot deadline with `DrainTimeout` (the task is gone by then; operators are notified).",
            "",
        ]
    return out


def _calls_section(results: Results) -> list[str]:
    out: list[str] = []
    if results.api_calls:
        out += ["## 5. AWS calls per interruption", ""]
        out += [
            "The account also holds 20 target groups of other services on 5 more load balancers.",
            "",
        ]
        rows = []
        for groups, (ours_calls, naive) in sorted(results.api_calls.items()):
            ours_total, naive_total = sum(ours_calls.values()), sum(naive.values())
            rows.append(
                [
                    str(groups),
                    f"{ours_total}: {_calls(ours_calls)}",
                    f"{naive_total}: {_calls(naive)}",
                    f"{naive_total / max(1, ours_total):.1f}×",
                ]
            )
        out += _table(["Target groups", "spotdrain (whole drain)", "naive Lambda", "Naive ÷ spotdrain"], rows)
        out += [
            "",
            "spotdrain's count covers the whole drain (guard, ledger, polls); the naive Lambda's only",
            "its deregistration, which it does without checking the address still belongs to the task",
            "and without waiting for the drain.",
            "",
        ]
    return out


def _mass_section(results: Results) -> list[str]:
    out: list[str] = []
    if results.mass:
        out += ["## 6. Mass interruption (ELBv2 Describe* throttled: 40 tokens, +10/s)", ""]
        rows = []
        for m in results.mass:
            rows.append(
                [
                    str(m.tasks),
                    f"{m.drained_in_time} ({m.drained_in_time / m.tasks:.0%})",
                    f"{m.deregistered_in_time} ({m.deregistered_in_time / m.tasks:.0%})",
                    ", ".join(f"{k} {v}" for k, v in sorted(m.outcomes.items())),
                    str(m.failed_by_throttling),
                    f"{m.throttled} of {m.describe_calls}",
                    f"{m.workflow_retries} / {m.sdk_retries}",
                    f"{_num(m.median_to_deregistration)} / {_num(m.percentile(0.95))}",
                    f"{m.last_end_seconds:.0f}",
                    f"{m.wall_seconds:.0f}",
                ]
            )
        out += _table(
            [
                "Tasks",
                "Drained by the deadline",
                "Deregistered by the deadline",
                "Outcomes",
                "Failed by throttling",
                "Describe* throttled",
                "Retries (workflow / SDK)",
                "s to deregistration (p50 / p95)",
                "Simulated s to last end",
                "Wall s",
            ],
            rows,
        )
        out += [
            "",
            "Failed by throttling: every execution that did not drain (the world injects no other",
            "fault), whether with `AwsThrottled` or held up past the deadline (`StaleNotice`,",
            "`DrainTimeout`). Each task is in one ALB target group (30 s delay); an execution needs",
            "three Describe* reads before it can deregister (the group, its attributes, its targets)",
            "and two drain polls after. The account's bucket yields 40 + 10 per second, about 1,240",
            "tokens in the two minutes: enough for some 400 deregistrations if they were served in",
            "order. They are not: every execution retries with jitter and all progress together, so",
            "when the demand is well above the budget most of them are still part-way at the",
            "deadline.",
            "",
        ]
    return out


def _engine_section(results: Results) -> list[str]:
    out: list[str] = []
    if results.engine or results.suite:
        out += ["## 7. Local engine", ""]
        rows = []
        if results.engine:
            e = results.engine
            rows.append(
                [
                    f"simulated executions per second, time scale 0 ({e.executions} runs)",
                    f"{e.workflow_per_second:.1f}",
                    f"{e.bare_per_second:.1f} (one Pass state on moto) → "
                    f"{e.workflow_per_second / e.bare_per_second:.2f}×",
                ]
            )
        if results.suite:
            seconds, summary = results.suite
            rows.append(["`make test` wall time", f"{seconds:.0f} s", summary])
        out += _table(["Measure", "Value", "Baseline / detail"], rows)
        out += [""]
    return out


def markdown(results: Results, plot: str | None) -> str:
    out: list[str] = ["# Benchmarks", ""]
    out += [
        "Written by `make bench` (`python -m benchmarks`); every figure comes from one run, each",
        "against a baseline measured in that same run. The workflow runs on the local engine (the",
        "real definition and handlers on moto), whose clock is simulated: simulated seconds come",
        "from Wait states, retry back-off and AWS's behaviour as modelled (draining, throttling);",
        "the engine models no network latency.",
        "",
        f"Whole run: {results.wall_seconds:.0f} s of wall time.",
        "",
        "## Targets",
        "",
        *_table(["Target", "Measured", ""], targets(results)),
        "",
    ]
    if plot:
        out += [
            f"![transitions per execution against the deregistration delay; mass interruption]({plot})",
            "",
        ]
    out += _cold_section(results)
    out += _deregistration_section(results)
    out += _cost_section(results)
    out += _calls_section(results)
    out += _mass_section(results)
    out += _engine_section(results)
    return "\n".join(out)


def plot(results: Results, path: Path) -> bool:
    if not results.delays and not results.mass:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if results.delays:
        delays = sorted(results.delays)
        left.plot(delays, [results.delays[d][0].transitions for d in delays], "o-", label="spotdrain")
        left.plot(
            delays, [results.delays[d][1].transitions for d in delays], "s--", label="fixed 5 s poll loop"
        )
        left.set_xlabel("deregistration delay (s)")
        left.set_ylabel("state transitions per execution")
        left.set_title("Cost of one drain")
        left.grid(alpha=0.3)
        left.legend()
    if results.mass:
        tasks = [m.tasks for m in results.mass]
        right.plot(
            tasks,
            [m.deregistered_in_time / m.tasks * 100 for m in results.mass],
            "o-",
            label="deregistered by the deadline",
        )
        right.plot(
            tasks,
            [m.drained_in_time / m.tasks * 100 for m in results.mass],
            "s-",
            label="drained by the deadline",
        )
        right.plot(
            tasks,
            [m.failed_by_throttling / m.tasks * 100 for m in results.mass],
            "x:",
            label="failed by throttling",
        )
        right.set_xlabel("simultaneous interruptions")
        right.set_ylabel("% of executions")
        right.set_ylim(-5, 105)
        right.set_title("Mass interruption, ELBv2 Describe* at 10/s")
        right.grid(alpha=0.3)
        right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
