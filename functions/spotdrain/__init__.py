"""spotdrain Lambda steps: one thin handler module per state of the drain workflow.

This package is the whole Lambda artifact (CodeUri: functions/). It must not import moto, the
CLI or the simulator: those live in ``spotdrain_cli`` and are never shipped to Lambda.
"""
