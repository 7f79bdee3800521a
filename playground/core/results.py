"""What every result shares: `to_dict()` is the one name for "as a JSON-able dict".

The CLI prints exactly these dicts (`--json`); the UI formats the dataclasses themselves.
"""

from __future__ import annotations

from collections.abc import Callable


def item_dict(path: str, error: str | None, fields: Callable[[], dict]) -> dict:
    """One input's row of a batch: `{"path", "error"}` when it failed, else `{"path", **fields()}`."""
    if error is not None:
        return {"path": path, "error": error}
    return {"path": path, **fields()}
