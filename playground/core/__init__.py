"""The engine: models, inference and training jobs. No Qt imports here.

The UI (through `playground.worker`) and the CLI (directly) both run the same
job functions from this package, so behaviour is identical in both.
"""
