"""The one source of "now" for the handlers, so that the simulator can run them on its own clock."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Current time, timezone-aware UTC. The local simulator replaces this function."""
    return datetime.now(UTC)
