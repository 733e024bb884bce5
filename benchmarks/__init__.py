"""``make bench``: what the design costs and buys, each figure against a baseline of the same run.

Run ``python -m benchmarks`` (``make bench``). Everything runs offline: the workflow on the local
engine (the real definition and handlers on moto, ``spotdrain_cli.engine``), the baselines in the
same simulated worlds. See ``docs/benchmarks.md`` for the last results and what they mean.
"""
