"""The deployable artifact (`make package`, tools/package.py): every module the handlers import is
in it, in the Lambda runtime, or in the standard library — and every distribution in it has what
it requires. Nothing else goes in: no moto, no CLI, no tests."""

from __future__ import annotations

import ast
import hashlib
import re
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
ARTIFACT = ROOT / ".aws-sam" / "build" / "SpotdrainFunctions"
# What the Lambda python3.13 runtime has besides the standard library: boto3 and its dependencies.
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
RUNTIME_MODULES = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
# The runtime's interpreter, for requirement markers: CPython 3.13 on Linux, arm64.
ENVIRONMENT = {
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "platform_machine": "aarch64",
    "platform_system": "Linux",
    "sys_platform": "linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
REQUESTED_EXTRAS = {"aws-lambda-powertools": {"parser", "tracer"}}  # functions/requirements.txt


@pytest.fixture(scope="module")
def artifact() -> Path:
    if not (ARTIFACT / "spotdrain").is_dir():
        pytest.fail("no artifact: build it with `make package` (make test does it first)")
    return ARTIFACT


def top_level_names(artifact: Path) -> set[str]:
    return {
        p.stem if p.suffix == ".py" else p.name
        for p in artifact.iterdir()
        if not p.name.endswith(".dist-info")
    }


def imports_of(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_package_in_the_artifact_is_the_one_in_functions(artifact: Path) -> None:
    def digests(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*.py")
            if "__pycache__" not in p.parts
        }

    assert digests(artifact / "spotdrain") == digests(ROOT / "functions" / "spotdrain")


def test_every_module_the_handlers_import_is_there(artifact: Path) -> None:
    available = top_level_names(artifact) | RUNTIME_MODULES | set(sys.stdlib_module_names)
    missing = {
        f"{path.name}: {root}"
        for path in (artifact / "spotdrain").glob("*.py")
        for root in imports_of(path)
        if root not in available
    }
    assert not missing, f"imported by the handlers, but not in the artifact or the runtime: {sorted(missing)}"


def test_every_distribution_has_what_it_requires(artifact: Path) -> None:
    present = {
        canonicalize_name(re.sub(r"-[^-]+$", "", info.name.removesuffix(".dist-info")))
        for info in artifact.glob("*.dist-info")
    }
    assert {"aws-lambda-powertools", "pydantic", "pydantic-core", "aws-xray-sdk"} <= present
    missing = []
    for info in artifact.glob("*.dist-info"):
        name = canonicalize_name(re.sub(r"-[^-]+$", "", info.name.removesuffix(".dist-info")))
        metadata = (info / "METADATA").read_text(encoding="utf-8")
        for line in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M):
            requirement = Requirement(line)
            extras = REQUESTED_EXTRAS.get(name, set()) | {""}
            needed = requirement.marker is None or any(
                requirement.marker.evaluate({**ENVIRONMENT, "extra": extra}) for extra in extras
            )
            wanted = canonicalize_name(requirement.name)
            if needed and wanted not in present and wanted not in RUNTIME:
                missing.append(f"{name} needs {requirement}")
    assert not missing


def test_nothing_of_the_tools_goes_in(artifact: Path) -> None:
    names = top_level_names(artifact)
    assert not names & {"moto", "spotdrain_cli", "tests", "pytest", "boto3", "botocore", "yaml"}
    size = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())
    assert size < 20_000_000  # lean: Powertools and pydantic, not the SDK the runtime has


def test_the_built_template_deploys_the_artifact(artifact: Path) -> None:
    built = (artifact.parent / "template.yaml").read_text(encoding="utf-8")
    assert "    CodeUri: SpotdrainFunctions/\n" in built
    assert (artifact.parent / "statemachine" / "drain.asl.json").read_bytes() == (
        ROOT / "statemachine" / "drain.asl.json"
    ).read_bytes()
