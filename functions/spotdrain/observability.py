"""Logger, Tracer and Metrics singletons shared by every step (Powertools)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "spotdrain"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="Spotdrain", service=SERVICE)
