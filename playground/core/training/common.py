"""Small pieces the three jobs share: where the model goes, the config from job arguments."""

from __future__ import annotations

from pathlib import Path

from playground.core.training import checkpoint as ckpt
from playground.core.training.data import output_dir_for
from playground.core.training.loop import TrainConfig


def resolve_out(out: str | Path | None, name: str | None, default_name: str, resume: bool, overwrite: bool) -> Path:
    """An explicit `out` folder is used as given; a name (maybe from a dataset) stays inside the models folder."""
    if out:
        target = Path(out).expanduser().resolve()
    else:
        target = output_dir_for(name or default_name)
    ckpt.check_output(target, resume, overwrite)
    return target


def make_config(name: str, **kwargs) -> TrainConfig:
    fields = TrainConfig.__dataclass_fields__
    unknown = set(kwargs) - set(fields)
    if unknown:
        raise TypeError(f"unknown training options: {', '.join(sorted(unknown))}")
    return TrainConfig(name=name, **{k: v for k, v in kwargs.items() if v is not None})
