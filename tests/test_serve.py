"""The acceptance path on the local simulator, end to end, with the same commands as on AWS:
`spotdrain serve` runs the world as an endpoint; an interruption whose ELBv2 calls fail
permanently ends FAILED; `heal` fixes the world; `executions --status FAILED` lists it; `redrive`
brings it to SUCCEEDED without re-running the states that succeeded; `history` shows both runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spotdrain_cli import cli
from tests.conftest import EXAMPLE_WORLDS, REGION


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str]]:
    """A `spotdrain serve` of the access-denied world: (endpoint URL, the execution it started)."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spotdrain_cli.cli",
            "serve",
            "--port",
            "0",
            "--time-scale",
            "0",
            "--world",
            str(EXAMPLE_WORLDS / "access-denied.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = arn = ""
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Serving"):
                url = line.split(" at ", 1)[1].split()[0]
            if line.startswith("Started"):
                arn = line.split()[1]
                break
        why = process.stderr.read() if process.stderr and not arn else ""
        assert url, why
        assert arn, why
        yield url, arn
    finally:
        process.terminate()
        process.wait(timeout=20)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_fail_heal_list_redrive_history(
    served: tuple[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url, arn = served
    local = ["--endpoint-url", url, "--region", REGION]

    rows: list[dict[str, Any]] = []
    for _ in range(100):  # the execution runs in the server: wait for it to fail
        code, out = run(capsys, "executions", "--status", "FAILED", "--json", *local)
        rows = json.loads(out)
        if rows:
            break
        time.sleep(0.1)
    assert code == 0
    assert [(r["execution_arn"], r["error"], r["failed_state"]) for r in rows] == [
        (arn, "AwsAccessDenied", "DeregisterTargets")
    ]
    code, out = run(capsys, "executions", "--status", "FAILED", *local)
    assert "FAILED  AwsAccessDenied  DeregisterTargets" in out

    code, out = run(capsys, "history", arn, "--html", str(tmp_path / "failed.html"), *local)
    page = (tmp_path / "failed.html").read_text(encoding="utf-8")
    assert code == 0
    assert 'class="node n-failed" data-state="DeregisterTargets"' in page
    assert "✗ failed here" in page

    code, out = run(capsys, "redrive", arn, "--dry-run", *local)
    assert (code, "would resume at DeregisterTargets" in out) == (0, True)

    code, out = run(capsys, "heal", "--endpoint-url", url)
    assert (code, out.strip()) == (0, "healed: no fault is injected any more")

    code, out = run(capsys, "redrive", arn, "--wait", *local)
    assert code == 0, out
    assert "redriven — resumed at DeregisterTargets" in out
    assert "ended SUCCEEDED (outcome Drained)" in out

    code, out = run(capsys, "history", arn, "--json", *local)
    result = json.loads(out)
    assert (result["status"], result["outcome"], result["redrives"]) == ("SUCCEEDED", "Drained", 1)
    assert [(r["status"], r["failed_state"]) for r in result["runs"]] == [
        ("FAILED", "DeregisterTargets"),
        ("SUCCEEDED", None),
    ]
    names = [s["name"] for s in result["states"]]
    assert names.count("ParseEvent") == names.count("ResolveTargets") == 1  # not run again
    assert names.count("DeregisterTargets") == 2
    code, out = run(capsys, "history", arn, "--html", str(tmp_path / "drained.html"), *local)
    page = (tmp_path / "drained.html").read_text(encoding="utf-8")
    assert 'class="node n-succeeded" data-state="Drained"' in page
    assert "✗ failed here" not in page
    assert "── redrive 1: resumed at DeregisterTargets" in out
    assert "run 0 ended FAILED at DeregisterTargets: AwsAccessDenied" in out

    # the same command again: nothing redriven twice
    code, out = run(capsys, "redrive", arn, *local)
    assert code == 1
    assert "not redrivable — it succeeded" in out
    code, out = run(capsys, "executions", "--json", *local)
    assert [(r["status"], r["outcome"], r["redrive_count"]) for r in json.loads(out)] == [
        ("SUCCEEDED", "Drained", 1)
    ]

    # a rerun is a new execution, traced back by its name; the notice was handled: no harm done
    code, out = run(capsys, "rerun", arn, "--wait", *local)
    assert code == 0, out
    assert f"started {arn}-rerun-1" in out
    assert "ended SUCCEEDED (outcome AlreadyHandled)" in out
    code, out = run(capsys, "executions", "--json", *local)
    newest = json.loads(out)[0]
    assert (newest["name"], newest["outcome"]) == (arn.rsplit(":", 1)[1] + "-rerun-1", "AlreadyHandled")


def test_the_control_api_refuses_what_is_not_a_fault_list(served: tuple[str, str]) -> None:
    url, _ = served
    request = urllib.request.Request(url + "/_spotdrain/faults", data=b'{"not": "a list"}', method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    with urllib.request.urlopen(url + "/_spotdrain/info", timeout=10) as answer:
        info = json.loads(answer.read())
    assert info["stateMachineArn"].endswith(":stateMachine:spotdrain-drain")


def test_heal_without_a_simulator_is_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "heal", "--endpoint-url", "http://127.0.0.1:9")
    assert code == 1
    assert "no spotdrain simulator at http://127.0.0.1:9" in out
    assert "Traceback" not in out
