"""The Lambda artifact stays lean: no moto, no CLI, no dev tools in functions/."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).parent.parent / "functions"
ALLOWED_THIRD_PARTY = {"aws_lambda_powertools", "pydantic", "boto3", "botocore"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_handlers_import_only_the_runtime_their_layer_and_the_package() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((FUNCTIONS / "spotdrain").glob("*.py")):
        foreign = imported_roots(path) - stdlib - ALLOWED_THIRD_PARTY - {"spotdrain"}
        assert not foreign, f"{path.name} imports {foreign}"


def test_requirements_of_the_artifact_are_pinned_and_match_the_project() -> None:
    requirements = (FUNCTIONS / "requirements.txt").read_text(encoding="utf-8")
    pyproject = (FUNCTIONS.parent / "pyproject.toml").read_text(encoding="utf-8")
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins
    for pin in pins:
        assert "==" in pin
        assert f'"{pin}"' in pyproject, pin
    assert "moto" not in requirements
