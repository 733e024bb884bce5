"""Logger and Metrics singletons shared by every step (Powertools), and opt-in X-Ray subsegments.

The Powertools Tracer imports the X-Ray SDK, which costs about as much as ``import boto3`` on
every cold start (``make bench`` measures it). Lambda's active tracing already shows each step's
invocation in X-Ray without it; the Tracer adds a subsegment per AWS call. So the Tracer wraps
the handlers only when ``SPOTDRAIN_TRACE_AWS_CALLS`` is ``true`` (template parameter
``TraceAwsCalls``), and is not imported otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics

SERVICE = "spotdrain"
TRACE_AWS_CALLS = "SPOTDRAIN_TRACE_AWS_CALLS"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Spotdrain", service=SERVICE)

H = TypeVar("H", bound=Callable[..., Any])


def traced(handler: H) -> H:
    """The handler with X-Ray subsegments for its AWS calls, when tracing of AWS calls is on."""
    if os.environ.get(TRACE_AWS_CALLS, "false").strip().lower() != "true":
        return handler
    from aws_lambda_powertools import Tracer

    return cast(H, Tracer(service=SERVICE).capture_lambda_handler(handler))
