"""spotdrain's operator tooling: the CLI and the local simulator.

Not part of the Lambda artifact (that is ``functions/spotdrain`` alone): this package may import
moto, yaml and other development-time dependencies.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = PROJECT_ROOT / "statemachine" / "drain.asl.json"
TEMPLATE = PROJECT_ROOT / "template.yaml"
