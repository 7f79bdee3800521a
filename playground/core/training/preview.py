"""A quick look at training data for the Train tab: which job a path is for, and the data
checks that job will run, without loading a model or decoding a file (`preview` is a job).

It sits above the readers it dispatches to: `training.data` (image, sound and text data) and
`training.lm` (prompt/response examples, imported only when that kind is previewed, so the
Train tab's first paint does not wait for the generation engine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playground.core.imageio import is_image_path
from playground.core.training.data import (
    read_table, read_text_file, safe_model_name, scan_image_folder, scan_sound_folder, table_columns,
)
from playground.core.wording import plural


@dataclass
class DataPreview:
    kind: str  # "image" | "text" | "charlm" | "sound" | "lm"
    path: str
    summary: str
    labels: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    text_column: str = ""
    label_column: str = ""
    suggested_name: str = ""


def guess_kind(path: str | Path) -> str | None:
    """The job a path's data is for; None when it cannot tell (the path does not exist)."""
    p = Path(path).expanduser()
    if not p.exists():
        return None
    if p.is_dir():
        return "sound" if _looks_like_sound_folder(p) else "image"
    if p.suffix.lower() in (".csv", ".tsv", ".tab"):
        return "text"
    if p.suffix.lower() in (".jsonl", ".ndjson"):  # prompt/response examples for a language model
        return "lm"
    return "charlm"


def _looks_like_sound_folder(root: Path, per_class: int = 20) -> bool:
    """Class sub-folders whose first files are audio and none an image (a quick look, no decoding)."""
    from playground.core.audio import is_audio_path  # numpy: not before the Train tab's first paint

    sounds = images = 0
    try:
        for d in (q for q in root.iterdir() if q.is_dir() and not q.name.startswith(".")):
            for i, f in enumerate(d.iterdir()):
                if i >= per_class:
                    break
                sounds += is_audio_path(f)
                images += is_image_path(f)
    except OSError:
        return False
    return sounds > 0 and images == 0


def preview(ctx, kind: str, path: str | Path, text_column: str | None = None,
            label_column: str | None = None) -> DataPreview:
    """The data checks the job will run, without loading a model (a job: runs on the worker)."""
    p = Path(path).expanduser()
    if kind == "sound":
        d = scan_sound_folder(p)
        summary = f"{plural(len(d.files), 'audio clip')} in {plural(len(d.labels), 'class', 'classes')}"
        return DataPreview(kind, str(p), summary, list(d.labels), d.counts, list(d.warnings),
                           suggested_name=f"{safe_model_name(p.name)}-sounds")
    if kind == "image":
        d = scan_image_folder(p)
        summary = f"{plural(len(d.files), 'image')} in {plural(len(d.labels), 'class', 'classes')}"
        return DataPreview(kind, str(p), summary, list(d.labels), d.counts, list(d.warnings),
                           suggested_name=f"{safe_model_name(p.name)}-classifier")
    if kind == "text":
        columns, guessed_text, guessed_label = table_columns(p)
        t = read_table(p, text_column if text_column in columns else guessed_text,
                       label_column if label_column in columns else guessed_label)
        summary = f"{plural(len(t.texts), 'row')}, {plural(len(t.labels), 'label')}"
        return DataPreview(kind, str(p), summary, list(t.labels), t.counts,
                           list(t.warnings), columns, t.text_column, t.label_column,
                           f"{safe_model_name(p.stem)}-classifier")
    if kind == "lm":
        from playground.core.training.lm import read_lm_data  # imports the generation engine: only when asked

        d = read_lm_data(p)
        summary = (f"{plural(len(d), 'prompt/response example')}" if d.fmt == "pairs" else
                   f"{len(d.text):,} characters of text (continued pre-training)")
        return DataPreview(kind, str(p), summary, warnings=list(d.warnings),
                           suggested_name=f"{safe_model_name(p.stem)}-lm")
    text = read_text_file(p)
    return DataPreview(kind, str(p), f"{len(text):,} characters, {len(set(text))} different",
                       suggested_name=f"{safe_model_name(p.stem)}-charlm")
