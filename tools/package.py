"""Build the deployable artifact without `sam build`'s need for a python3.13 on the PATH.

What `sam build` would put in .aws-sam/build, made with pip's cross-platform install: the
package functions/spotdrain plus functions/requirements.txt as wheels for the Lambda runtime
(CPython 3.13, manylinux aarch64), in one directory that every function shares (one CodeUri),
and .aws-sam/build/template.yaml pointing at it — which `sam deploy` picks up as it picks up
`sam build`'s output.

    .venv/bin/python tools/package.py          (make package)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".aws-sam" / "build"
ARTIFACT = BUILD / "SpotdrainFunctions"
RUNTIME = ("3.13", "manylinux2014_aarch64")  # template.yaml: python3.13, arm64
# The Lambda Python runtime has boto3 and what it needs; a copy in the artifact would only make it
# bigger (botocore alone is ~25 MB) and slower to load.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}


def _prune_runtime_provided() -> list[str]:
    """Remove the distributions the runtime provides (by their RECORD), return their names."""
    removed = []
    for info in sorted(ARTIFACT.glob("*.dist-info")):
        name = info.name.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")
        if name not in RUNTIME_PROVIDED:
            continue
        for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
            path = ARTIFACT / line.split(",", 1)[0]
            if path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)
        removed.append(name)
    for folder in sorted(ARTIFACT.iterdir(), reverse=True):  # folders the records emptied
        if folder.is_dir() and not any(path.is_file() for path in folder.rglob("*")):
            shutil.rmtree(folder)
    return removed


def main() -> int:
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    runtime = re.search(r"^\s+Runtime: python(\d+\.\d+)$", template, re.M)
    if runtime is None or runtime.group(1) != RUNTIME[0]:
        print(f"template.yaml's runtime is not python{RUNTIME[0]}: update tools/package.py", file=sys.stderr)
        return 2
    shutil.rmtree(BUILD, ignore_errors=True)
    ARTIFACT.mkdir(parents=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--no-compile",
        "--requirement", str(ROOT / "functions" / "requirements.txt"),
        "--target", str(ARTIFACT),
        "--python-version", RUNTIME[0], "--platform", RUNTIME[1],
        "--implementation", "cp", "--only-binary=:all:",
    ]  # fmt: skip
    if subprocess.run(command, check=False).returncode != 0:  # noqa: S603 - our pip, our arguments
        print("pip could not install functions/requirements.txt for the Lambda runtime", file=sys.stderr)
        return 1
    removed = _prune_runtime_provided()
    shutil.copytree(
        ROOT / "functions" / "spotdrain", ARTIFACT / "spotdrain", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "statemachine", BUILD / "statemachine")
    built = template.replace("    CodeUri: functions/\n", "    CodeUri: SpotdrainFunctions/\n", 1)
    if built.count("SpotdrainFunctions/") != 1 or "functions/" in built.replace("SpotdrainFunctions/", ""):
        print("template.yaml's CodeUri is not the one tools/package.py expects", file=sys.stderr)
        return 2
    (BUILD / "template.yaml").write_text(built, encoding="utf-8")
    size = sum(path.stat().st_size for path in ARTIFACT.rglob("*") if path.is_file())
    where = f"{ARTIFACT.relative_to(ROOT)} ({size / 1e6:.1f} MB)"
    print(f"built {where} and {(BUILD / 'template.yaml').relative_to(ROOT)}")
    print(f"left out, the runtime has them: {', '.join(removed) or 'nothing'}")
    print("deploy it with: sam deploy --guided   (sam deploy uses .aws-sam/build/template.yaml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
