"""`spotdrain serve`: the simulator as a local AWS endpoint, so that executions persist between
commands and the operator commands (executions, history, redrive, rerun, start) work on it as
they do on AWS, with ``--endpoint-url``.

moto's server mode (its WSGI app, in this process) answers the AWS APIs from the same backends
the simulation runs on; executions started through it run the real workflow and handlers in
this process, in the simulated world. A small control API under ``/_spotdrain/`` does what only
a simulator can: report on the world and change its injected faults (``spotdrain heal``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from spotdrain_cli.cli import EXIT_EXECUTION_FAILED, EXIT_OK, EXIT_USAGE
from spotdrain_cli.engine import ACCOUNT_HEADER, ECS_FROM_WORLD, Simulation
from spotdrain_cli.template import TemplateError
from spotdrain_cli.world import WorldError, WorldFault, load_world

CONTROL = "/_spotdrain/"
ECS_TARGET = "AmazonEC2ContainerServiceV20141113."
FAULTS = TypeAdapter(list[WorldFault])


class Endpoint:
    """WSGI app: the control API, else moto's AWS APIs acting in the simulation's account."""

    def __init__(self, sim: Simulation, world_file: Path) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.sim = sim
        self.world_file = world_file
        self.aws = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL):
            status, body = self._control(path.removeprefix(CONTROL), environ)
            payload = json.dumps(body, indent=2, default=str).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
            )
            return [payload]
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith(ECS_TARGET) and target.removeprefix(ECS_TARGET) in ECS_FROM_WORLD:
            # ECS as the world has it: moto's ECS backend knows none of the world's tasks
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError:
                body = {}
            answer = self.sim.ecs_answer(
                target.removeprefix(ECS_TARGET), body if isinstance(body, dict) else {}
            )
            payload = json.dumps(answer, default=str).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        # moto tells accounts apart by this header; a request without it would act in moto's
        # default account, where the stack does not exist
        environ["HTTP_" + ACCOUNT_HEADER.upper().replace("-", "_")] = self.sim.account
        return self.aws(environ, start_response)

    def _control(self, what: str, environ: dict[str, Any]) -> tuple[str, Any]:
        method = environ.get("REQUEST_METHOD")
        if what == "info" and method == "GET":
            return "200 OK", self.info()
        if what == "faults" and method == "PUT":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                faults = FAULTS.validate_json(environ["wsgi.input"].read(length) or b"[]")
            except (ValueError, ValidationError) as exc:
                return "400 Bad Request", {"error": f"not a list of world faults: {exc}"}
            self.sim.world.faults = faults
            self.sim.reset_fault_counts()
            return "200 OK", self.info()
        return "404 Not Found", {"error": f"no {method} {CONTROL}{what} (there are GET info and PUT faults)"}

    def info(self) -> dict[str, Any]:
        sim = self.sim
        return {
            "world": str(self.world_file),
            "region": sim.region,
            "account": sim.account,
            "stateMachineArn": sim.state_machine_arn,
            "simulatedTime": sim.clock.now().isoformat(),
            "faults": [fault.model_dump(by_alias=True, exclude_none=True) for fault in sim.world.faults],
        }


def _stop(*_: object) -> None:
    raise KeyboardInterrupt


def serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from spotdrain_cli import simulate

    try:
        event, world, event_file, world_file = simulate.load_inputs(args.event, args.world)
    except (simulate.EventFileError, WorldError) as exc:
        print(f"spotdrain serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    region, account, when = simulate.event_place(event)
    try:
        sim = Simulation(world, region=region, account=account, start=when, time_scale=args.time_scale)
        with sim:
            sim.recording = True  # every call the workflow makes is the workflow's: record, inject
            try:
                server = make_server(args.host, args.port, Endpoint(sim, world_file), threaded=True)
            except (OSError, SystemExit) as exc:  # werkzeug exits on a port in use
                why = getattr(exc, "strerror", None) or "address in use or not this machine's"
                print(f"spotdrain serve: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
                return EXIT_USAGE
            shown = "127.0.0.1" if args.host in {"0.0.0.0", "::"} else args.host  # noqa: S104
            url = f"http://{shown}:{server.server_port}"
            print(
                f"Serving the simulated world {world_file} at {url} (region {region}, account {sim.account})"
            )
            print(f"State machine: {sim.state_machine_arn}")
            if not args.no_start:
                print(f"Started {sim.start(event)} with {event_file}")
            print(f"Try: spotdrain executions --endpoint-url {url} --region {region}")
            print("(Ctrl-C stops the simulator; its executions are then gone)")
            sys.stdout.flush()
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, _stop)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            finally:
                server.server_close()
                print("spotdrain serve: stopping (running executions get up to 10 s to end)", flush=True)
    except (WorldError, TemplateError) as exc:
        print(f"spotdrain serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def heal(endpoint_url: str, faults_file: Path | None) -> int:
    """Replace the faults of a running ``spotdrain serve`` (none: heal the world)."""
    faults: list[dict[str, Any]] = []
    if faults_file is not None:
        try:
            world = load_world(faults_file)
        except WorldError as exc:
            print(f"spotdrain heal: {exc}", file=sys.stderr)
            return EXIT_USAGE
        faults = [fault.model_dump(by_alias=True, exclude_none=True) for fault in world.faults]
    request = urllib.request.Request(  # noqa: S310 - the operator's own simulator endpoint
        endpoint_url.rstrip("/") + CONTROL + "faults", data=json.dumps(faults).encode(), method="PUT"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            info = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        print(
            f"spotdrain heal: {endpoint_url} refused: {exc.read().decode(errors='replace')[:300]}",
            file=sys.stderr,
        )
        return EXIT_EXECUTION_FAILED
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"spotdrain heal: no spotdrain simulator at {endpoint_url}: {exc}", file=sys.stderr)
        return EXIT_EXECUTION_FAILED
    if info["faults"]:
        print(
            f"{len(info['faults'])} fault(s) now injected: "
            + "; ".join(json.dumps(f) for f in info["faults"])
        )
    else:
        print("healed: no fault is injected any more")
    return EXIT_OK
