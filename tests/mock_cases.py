"""The Step Functions Local test cases (tests/statemachine) and what each must do, on any engine."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from spotdrain_cli.history import analyse

STATEMACHINE = Path(__file__).parent / "statemachine"
MOCK_CONFIG = STATEMACHINE / "MockConfigFile.json"
EXPECTED: dict[str, dict[str, Any]] = json.loads((STATEMACHINE / "expected.json").read_text(encoding="utf-8"))
STATE_MACHINE_NAME = "spotdrain-drain"
EVENT = Path(__file__).parent / "events" / "spot-interruption-with-eni.json"


def path_and_retries(history: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
    """The states entered, in order, and how often each Task was tried again (retries)."""
    states = analyse(history)["states"]
    retries: Counter[str] = Counter()
    for state in states:
        retries[state["name"]] += state.get("retries", 0)
    return [state["name"] for state in states], {name: n for name, n in retries.items() if n}


def check(case: str, status: str, error: str | None, history: list[dict[str, Any]]) -> None:
    """Assert that an execution of ``case`` did what expected.json says."""
    expected = EXPECTED[case]
    path, retries = path_and_retries(history)
    assert path == expected["path"], (case, path)
    assert status == expected["status"], (case, status)
    if "error" in expected:
        assert error == expected["error"], (case, error)
    if "outcome" in expected:
        assert path[-1] == expected["outcome"], (case, path[-1])
    assert retries == expected.get("retries", {}), (case, retries)
