"""Cold start: importing each handler module in a fresh interpreter, against ``import boto3``.

Every handler needs boto3, so ``import boto3`` alone is the floor a Python Lambda that calls AWS
pays on a cold start; the ratio is what the handler adds on top. Each import runs in its own
interpreter (nothing cached in ``sys.modules``), rounds interleave the modules so that the
machine's noise hits them alike, and the median of the rounds is kept. The handlers are imported
from ``functions/`` with the project's pinned packages: the built artifact itself holds the
Lambda runtime's Python 3.13 arm64 binaries, which this machine cannot load.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
ARTIFACT = ROOT / ".aws-sam" / "build" / "SpotdrainFunctions"
HANDLERS = ("parse_event", "resolve_targets", "deregister_targets", "check_drain")
BASELINE = "boto3"


def _import_ms(module: str) -> float:
    code = (
        f"import sys, time; sys.path.insert(0, {str(FUNCTIONS)!r}); t = time.perf_counter(); "
        f"import {module}; print((time.perf_counter() - t) * 1000)"
    )
    command = [sys.executable, "-c", code]  # this interpreter, our own code
    out = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    return float(out.stdout.strip().splitlines()[-1])


@dataclass
class ColdStart:
    rounds: int
    baseline_ms: float
    handler_ms: dict[str, float]
    artifact_bytes: int
    artifact_files: int
    runtime_bytes: int  # boto3 + botocore in site-packages: what the Lambda runtime provides

    def ratio(self, handler: str) -> float:
        return self.handler_ms[handler] / self.baseline_ms


def _size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def measure(rounds: int = 9) -> ColdStart:
    modules = [BASELINE, *(f"spotdrain.{h}" for h in HANDLERS)]
    samples: dict[str, list[float]] = {m: [] for m in modules}
    for _ in range(rounds):
        for module in modules:
            samples[module].append(_import_ms(module))
    artifact_bytes, artifact_files = _size(ARTIFACT) if ARTIFACT.is_dir() else (0, 0)
    import boto3
    import botocore

    runtime = sum(_size(Path(m.__file__).parent)[0] for m in (boto3, botocore) if m.__file__)
    return ColdStart(
        rounds=rounds,
        baseline_ms=statistics.median(samples[BASELINE]),
        handler_ms={h: statistics.median(samples[f"spotdrain.{h}"]) for h in HANDLERS},
        artifact_bytes=artifact_bytes,
        artifact_files=artifact_files,
        runtime_bytes=runtime,
    )
