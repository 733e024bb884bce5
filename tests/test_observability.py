"""Cold start: the X-Ray SDK is imported only when tracing of AWS calls is asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spotdrain import observability

FUNCTIONS = Path(__file__).parent.parent / "functions"
HANDLERS = ("parse_event", "resolve_targets", "deregister_targets", "check_drain")


def _loaded_after_import(module: str, trace: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != observability.TRACE_AWS_CALLS}
    if trace is not None:
        env[observability.TRACE_AWS_CALLS] = trace
    code = (
        f"import sys; sys.path.insert(0, {str(FUNCTIONS)!r}); import spotdrain.{module}, json; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aws_xray_sdk', 'spotdrain'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout)
    return loaded


@pytest.mark.parametrize("module", HANDLERS)
def test_a_handler_does_not_import_the_xray_sdk_by_default(module: str) -> None:
    loaded = _loaded_after_import(module, None)
    assert f"spotdrain.{module}" in loaded
    assert not [m for m in loaded if m.startswith("aws_xray_sdk")]


def test_only_parse_event_imports_the_event_models() -> None:
    assert "spotdrain.events" in _loaded_after_import("parse_event", None)
    assert "spotdrain.events" not in _loaded_after_import("check_drain", None)


def test_tracing_aws_calls_imports_the_sdk_and_wraps_the_handler() -> None:
    assert [m for m in _loaded_after_import("check_drain", "true") if m == "aws_xray_sdk.core"]


def test_traced_leaves_the_handler_alone_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(event: Any, context: Any) -> Any:
        return {"echo": event}

    monkeypatch.delenv(observability.TRACE_AWS_CALLS, raising=False)
    assert observability.traced(handler) is handler
    monkeypatch.setenv(observability.TRACE_AWS_CALLS, "TRUE")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    wrapped = observability.traced(handler)
    assert wrapped is not handler
    assert wrapped({"a": 1}, None) == {"echo": {"a": 1}}
