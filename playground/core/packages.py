"""Where installed pip packages keep their files: the one lookup for the folders that carry
bundled models (`models.BUNDLED`) and the parts of models shipped in pieces (`joined`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def module_dir(module: str) -> Path | None:
    """The folder of an installed module without importing it (some run code on import)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None
