"""Wait until something listens on HOST:PORT (make sfn-local: Step Functions Local's start)."""

from __future__ import annotations

import socket
import sys
import time


def main(host: str, port: str, seconds: str = "60") -> int:
    deadline = time.monotonic() + float(seconds)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return 0
        except OSError:
            if time.monotonic() > deadline:
                print(f"nothing listens on {host}:{port} after {seconds} s", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
