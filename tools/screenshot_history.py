"""Screenshots of `spotdrain history --html` pages for the README: a failed and a drained execution.

Runs the offline simulator (the real workflow and Lambda handlers on moto) for two example worlds,
renders each execution's page with ``spotdrain_cli.html_report.render_page``, and has headless
Chromium (Debian: ``apt-get install -y chromium``) take a screenshot of each:

    .venv/bin/python tools/screenshot_history.py [--out docs] [--keep-html DIR]

writes ``docs/history-failed.png`` (access-denied.yaml: FAILED at DeregisterTargets) and
``docs/history-drained.png`` (default.yaml: SUCCEEDED, drained).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
WINDOW = (1400, 1850)  # the summary and the whole graph
SHOTS = {
    "history-failed.png": "access-denied.yaml",
    "history-drained.png": "default.yaml",
}
NOTICE = ROOT / "tests" / "events" / "spot-interruption-with-eni.json"
WORLDS = (ROOT / "examples" / "worlds", ROOT / "tests" / "worlds")


def _offline_environment() -> None:
    """Fake credentials and no profile: the simulator never reaches a real account."""
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    fake = "testing"  # what moto accepts; never a real key
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": fake,
            "AWS_SECRET_ACCESS_KEY": fake,
            "AWS_SESSION_TOKEN": fake,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )


def page_for(world_name: str) -> str:
    """Simulate the notice in the world and render the execution's page."""
    from spotdrain_cli.engine import Simulation
    from spotdrain_cli.history import analyse, read_history
    from spotdrain_cli.html_report import render_page
    from spotdrain_cli.simulate import event_place
    from spotdrain_cli.world import load_world

    path = next(folder / world_name for folder in WORLDS if (folder / world_name).exists())
    notice: dict[str, Any] = json.loads(NOTICE.read_text(encoding="utf-8"))
    region, account, when = event_place(notice)
    with Simulation(load_world(path), region=region, account=account, start=when) as sim:
        arn = sim.start(notice, name=world_name.removesuffix(".yaml"))
        sim.wait(arn)
        sfn = sim.client("stepfunctions")
        events = read_history(sfn, arn)
        definition = json.loads(sfn.describe_state_machine_for_execution(executionArn=arn)["definition"])
    return render_page(arn, definition, analyse(events), events)


def screenshot(page: Path, png: Path, window: tuple[int, int] = WINDOW) -> None:
    with tempfile.TemporaryDirectory(prefix="spotdrain-chromium-") as profile:
        subprocess.run(  # noqa: S603 - a fixed binary, our own arguments
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={window[0]},{window[1]}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (docs/)")
    parser.add_argument("--keep-html", type=Path, help="also keep the HTML pages in this folder")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: apt-get install -y chromium", file=sys.stderr)
        return 1
    _offline_environment()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spotdrain-pages-") as folder:
        for png_name, world_name in SHOTS.items():
            page = Path(folder) / png_name.replace(".png", ".html")
            page.write_text(page_for(world_name), encoding="utf-8")
            if args.keep_html:
                args.keep_html.mkdir(parents=True, exist_ok=True)
                shutil.copy(page, args.keep_html / page.name)
            png = args.out / png_name
            screenshot(page, png)
            print(f"wrote {png} ({png.stat().st_size // 1024} KB) from {world_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
