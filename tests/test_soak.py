"""The soak run: 200 interruptions on the local engine with 20% of ELBv2 and ECS calls failing."""

from __future__ import annotations

from collections import Counter

import pytest

from spotdrain_cli.cli import main
from spotdrain_cli.soak import cases, run_soak


def test_two_hundred_interruptions_with_one_call_in_five_failing(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_soak(200, fault_rate=0.2, seed=1)
    with capsys.disabled():  # the counts are part of the result: show them
        print("\n" + "\n".join(f"  soak: {line}" for line in report.lines()))
    assert report.executions == 200
    assert report.wrong == []
    assert report.harmed == []
    assert report.outcomes == Counter(case.expected for case in cases(200))
    share = sum(report.faults_injected.values()) / report.faultable_calls
    assert 0.15 < share < 0.25, share  # the faults really were injected at about the asked rate
    assert report.sdk_retries > 0


def test_the_soak_command_prints_the_counts_and_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["soak", "--count", "12", "--fault-rate", "0.3", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("executions: 12 (")
    assert "wrong outcomes: 0; healthy targets deregistered: 0" in out
    assert "injected faults:" in out


@pytest.mark.parametrize(
    "argv", [["soak", "--count", "0"], ["soak", "--fault-rate", "1"], ["soak", "--count", "x"]]
)
def test_bad_soak_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
