"""The one source of "now" for the handlers, so that the simulator can run them on its own clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    """Current time, timezone-aware UTC. The local simulator replaces this function."""
    return datetime.now(UTC)


def sleep(seconds: float) -> None:
    """Pause the invocation (in-process back-off). The local simulator replaces this function."""
    time.sleep(seconds)
