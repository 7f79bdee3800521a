"""Reading and checking training data: image class folders, CSV/TSV tables, text files.

Every problem is an `InputError` with one sentence naming the file and the
reason; soft problems (class imbalance, skipped files) become warnings in the
`DataReport`. No torch here: the checks run before any model is loaded.
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import paths
from playground.core.errors import InputError
from playground.core.imageio import is_image_path
from playground.core.wording import plural

IMBALANCE_RATIO = 5.0  # largest class / smallest class above this: a warning
MAX_TABLE_BYTES = 200 * 1024 * 1024
TEXT_COLUMN_GUESSES = ("text", "sentence", "review", "content", "body", "message", "comment", "document", "input")
LABEL_COLUMN_GUESSES = ("label", "labels", "class", "category", "sentiment", "target", "y", "tag")
NOISE_CLASS = "background noise"  # the sound class that teaches silence and noise apart from the words


# -- output paths ---------------------------------------------------------------

_NAME_BAD = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_model_name(name: str) -> str:
    """A folder name made from any user or dataset text: no separators, no '..', no leading dot."""
    text = _NAME_BAD.sub("-", str(name or "")).strip(" .-_")
    text = re.sub(r"-{2,}", "-", text).replace(" ", "-")
    text = text.strip(".-_")[:64]
    return text or "model"


def output_dir_for(name: str, root: str | Path | None = None) -> Path:
    """`root/<safe name>`, guaranteed to stay inside `root` (the user's models folder by default)."""
    base = Path(root) if root is not None else paths.models_dir()
    base = base.expanduser().resolve()
    target = (base / safe_model_name(name)).resolve()
    ensure_inside(target, base)
    return target


def ensure_inside(target: Path, base: Path) -> None:
    try:
        inside = target.resolve().is_relative_to(base.resolve()) and target.resolve() != base.resolve()
    except (OSError, ValueError):
        inside = False
    if not inside:
        raise InputError(f"The output '{target}' is outside the output folder '{base}'; choose another name.")


def unique_output_dir(name: str, root: str | Path | None = None) -> Path:
    """Like `output_dir_for`, adding -2, -3 ... when that folder already exists."""
    first = output_dir_for(name, root)
    if not first.exists():
        return first
    for i in range(2, 1000):
        candidate = output_dir_for(f"{first.name}-{i}", root)
        if not candidate.exists():
            return candidate
    raise InputError(f"Too many models named '{first.name}' in '{first.parent}'; choose another name.")


# -- shared checks --------------------------------------------------------------


def check_classes(counts: dict[str, int], source: str) -> list[str]:
    """Errors for unusable label sets; returns warnings (imbalance)."""
    if not counts:
        raise InputError(f"{source}: no labelled examples found.")
    if len(counts) < 2:
        only = next(iter(counts))
        raise InputError(f"{source}: only one class ('{only}') was found; a classifier needs at least two.")
    small = sorted(name for name, n in counts.items() if n < 2)
    if small:
        raise InputError(f"{source}: class '{small[0]}' has fewer than 2 examples; add more or remove it.")
    warnings = []
    most, least = max(counts.values()), min(counts.values())
    if most / least > IMBALANCE_RATIO:
        big = max(counts, key=counts.get)
        tiny = min(counts, key=counts.get)
        warnings.append(f"Strong class imbalance: '{big}' has {most} examples but '{tiny}' only {least}; "
                        "accuracy may hide poor results on the small class.")
    return warnings


def check_val_share(val_share: float) -> float:
    value = float(val_share)
    if not 0.0 < value < 0.9:
        raise InputError(f"The validation share must be between 0 and 0.9 (got {value}).")
    return value


def split_indices(targets: list[int], val_share: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """A stratified train/validation split: every class keeps at least one training example."""
    check_val_share(val_share)
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    train, val = [], []
    for t in sorted(by_class):
        idx = by_class[t]
        rng.shuffle(idx)
        n_val = min(len(idx) - 1, max(1, round(len(idx) * val_share)))
        val += idx[:n_val]
        train += idx[n_val:]
    rng.shuffle(train)
    return train, sorted(val)


# -- class folders (images, sounds) ------------------------------------------------


@dataclass
class ClassFolderData:
    """A folder with one sub-folder of examples per class (images for `scan_image_folder`, audio
    clips for `scan_sound_folder`)."""

    root: Path
    files: list[Path]
    targets: list[int]
    labels: list[str]
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The folder as the messages name it."""
        return self.root.name or str(self.root)

    @property
    def counts(self) -> dict[str, int]:
        out = {name: 0 for name in self.labels}
        for t in self.targets:
            out[self.labels[t]] += 1
        return out


def scan_class_folder(folder: str | Path, accepts: Callable[[Path], bool], is_file_advice: str) -> ClassFolderData:
    """Walk a folder of class sub-folders: each sub-folder (hidden ones left out) with at least one
    non-empty file that `accepts` (at any depth, hidden files left out) is a class, in name order;
    its other files are skipped and counted. Raises InputError only when the folder is missing or
    is a file ("<name>: is a file; <is_file_advice>."); the caller checks that some class was found
    and sets the warnings, in its own words for its kind of file."""
    root = Path(folder).expanduser()
    name = root.name or str(root)
    if not root.exists():
        raise InputError(f"{name}: folder not found.")
    if not root.is_dir():
        raise InputError(f"{name}: is a file; {is_file_advice}.")
    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name)
    files: list[Path] = []
    targets: list[int] = []
    labels: list[str] = []
    skipped: list[str] = []
    for d in class_dirs:
        examples = []
        for p in sorted(d.rglob("*")):
            rel = p.relative_to(d)
            if any(part.startswith(".") for part in rel.parts) or not p.is_file():
                continue
            if accepts(p) and p.stat().st_size > 0:
                examples.append(p)
            else:
                skipped.append(str(p.relative_to(root)))
        if not examples:
            continue  # an empty class folder is ignored (the caller's checks report < 2 classes)
        labels.append(d.name)
        files += examples
        targets += [len(labels) - 1] * len(examples)
    return ClassFolderData(root, files, targets, labels, len(skipped), skipped[:5])


def scan_image_folder(folder: str | Path) -> ClassFolderData:
    """One sub-folder per class; files that are not images are skipped and counted."""
    data = scan_class_folder(folder, is_image_path, "drop a folder with one sub-folder of images per class")
    name = data.name
    if not data.files:
        entries = [p for p in data.root.iterdir() if not p.name.startswith(".")]
        if not entries:
            raise InputError(f"{name}: the folder is empty; it needs one sub-folder of images per class.")
        if not any(p.is_dir() for p in entries):
            loose = sum(1 for p in entries if is_image_path(p))
            if loose:
                raise InputError(f"{name}: has {plural(loose, 'image')} but no class sub-folders; "
                                 "put the images of each class in a sub-folder named after the class.")
            raise InputError(f"{name}: has no class sub-folders with images.")
        raise InputError(f"{name}: the class sub-folders contain no images"
                         + (f" ({plural(data.skipped, 'other file')} skipped)." if data.skipped else "."))
    data.warnings = check_classes(data.counts, name)
    if data.skipped:
        what = "is not an image" if data.skipped == 1 else "are not images"
        data.warnings.insert(0, f"Skipped {plural(data.skipped, 'file')} that {what} "
                                f"(e.g. '{data.skipped_examples[0]}').")
    return data


def scan_sound_folder(folder: str | Path) -> ClassFolderData:
    """One sub-folder of audio files per class (a one-second clip each, or longer recordings): the
    sound classes' training and evaluation data."""
    from playground.core.audio import is_audio_path  # numpy: not before the Train tab's first paint

    data = scan_class_folder(folder, is_audio_path, "choose a folder with one sub-folder of audio clips per class")
    name = data.name
    if not data.files:
        raise InputError(f"{name}: has no class sub-folders with audio files (WAV, FLAC, MP3, OGG ...).")
    data.warnings = check_classes(data.counts, name)
    if data.skipped:
        data.warnings.insert(0, f"Skipped {plural(data.skipped, 'file')} that {'is' if data.skipped == 1 else 'are'} "
                                "not audio.")
    if NOISE_CLASS not in data.labels:
        data.warnings.append(f"No '{NOISE_CLASS}' class: silence and noise will be called one of the others.")
    return data


def drop_unreadable(data: ClassFolderData, bad: list[int]) -> ClassFolderData:
    """Remove files that failed to decode, count them as skipped and re-check the classes."""
    if not bad:
        return data
    bad_set = set(bad)
    names = [str(data.files[i].relative_to(data.root)) for i in bad]
    files = [f for i, f in enumerate(data.files) if i not in bad_set]
    targets = [t for i, t in enumerate(data.targets) if i not in bad_set]
    out = ClassFolderData(data.root, files, targets, list(data.labels), data.skipped + len(bad),
                          (data.skipped_examples + names)[:5])
    counts = {k: v for k, v in out.counts.items()}
    out.warnings = [w for w in data.warnings if not w.startswith("Skipped") and not w.startswith("Strong")]
    out.warnings = check_classes(counts, data.root.name) + out.warnings
    what = "is not a readable image" if out.skipped == 1 else "are not readable images"
    out.warnings.insert(0, f"Skipped {plural(out.skipped, 'file')} that {what} (e.g. '{out.skipped_examples[0]}').")
    return out


# -- tables -----------------------------------------------------------------------


@dataclass
class TableData:
    path: Path
    texts: list[str]
    targets: list[int]
    labels: list[str]
    text_column: str
    label_column: str
    columns: list[str]
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out = {name: 0 for name in self.labels}
        for t in self.targets:
            out[self.labels[t]] += 1
        return out


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, data rows) of a CSV/TSV table (the delimiter sniffed, blank rows left out); a one-line
    InputError for a missing, binary, non-text or too large file, or fewer than two columns or no data row."""
    name = path.name
    if not path.exists():
        raise InputError(f"{name}: file not found.")
    if path.is_dir():
        raise InputError(f"{name}: is a folder; choose a CSV or TSV file.")
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise InputError(f"{name}: {size // 1_000_000} MB is too large for a training table (limit 200 MB).")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}).") from exc
    if not raw.strip():
        raise InputError(f"{name}: the file is empty.")
    if b"\x00" in raw[:4096]:
        raise InputError(f"{name}: is not a text table (it looks like a binary file).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: is not UTF-8 text; save it as UTF-8 CSV.") from exc
    if path.suffix.lower() in (".tsv", ".tab"):
        delimiter = "\t"
    else:
        sample = text[:8192]
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InputError(f"{name}: is not a readable CSV/TSV table ({exc}).") from exc
    if not rows:
        raise InputError(f"{name}: the file has no rows.")
    header = [c.strip() for c in rows[0]]
    if len(header) < 2:
        raise InputError(f"{name}: needs at least two columns (text and label); found {len(header)}.")
    if len(rows) < 2:
        raise InputError(f"{name}: has a header but no data rows.")
    return header, rows[1:]


def _guess(columns: list[str], guesses: tuple[str, ...], fallback: int) -> str:
    lower = [c.lower() for c in columns]
    for g in guesses:
        if g in lower:
            return columns[lower.index(g)]
    return columns[fallback]


def table_columns(path: str | Path) -> tuple[list[str], str, str]:
    """The header, and the guessed text and label columns (for the UI's pickers)."""
    header, _ = read_rows(Path(path))
    text_col = _guess(header, TEXT_COLUMN_GUESSES, 0)
    label_col = _guess(header, LABEL_COLUMN_GUESSES, -1)
    if label_col == text_col:
        label_col = next((c for c in header if c != text_col), None)
        if label_col is None:
            raise InputError(f"{Path(path).name}: every column is named '{text_col}'; "
                             "give the text and label columns different names.")
    return header, text_col, label_col


def _column_index(header: list[str], column: str | None, name: str, role: str) -> int:
    if column is None:
        raise AssertionError
    if column in header:
        return header.index(column)
    if column.isdigit() and int(column) < len(header):
        return int(column)
    raise InputError(f"{name}: has no {role} column '{column}'; its columns are: {', '.join(header)}.")


def read_table(path: str | Path, text_column: str | None = None, label_column: str | None = None) -> TableData:
    """A labelled text table; rows with an empty text or label are skipped and counted."""
    path = Path(path).expanduser()
    header, rows = read_rows(path)
    guessed_text, guessed_label = table_columns(path)[1:]
    text_column = text_column or guessed_text
    label_column = label_column or guessed_label
    ti = _column_index(header, text_column, path.name, "text")
    li = _column_index(header, label_column, path.name, "label")
    if ti == li:
        raise InputError(f"{path.name}: the text and label columns must differ (both are '{header[ti]}').")
    texts, raw_labels, skipped = [], [], 0
    for row in rows:
        text = row[ti].strip() if ti < len(row) else ""
        label = row[li].strip() if li < len(row) else ""
        if not text or not label:
            skipped += 1
            continue
        texts.append(text)
        raw_labels.append(label)
    if not texts:
        raise InputError(f"{path.name}: no row has both a text and a label.")
    labels = sorted(set(raw_labels), key=_natural_key)
    index = {name: i for i, name in enumerate(labels)}
    data = TableData(path, texts, [index[x] for x in raw_labels], labels, header[ti], header[li], header, skipped)
    data.warnings = check_classes(data.counts, path.name)
    if len(labels) > max(50, len(texts) // 2):
        raise InputError(f"{path.name}: column '{header[li]}' has {len(labels)} different values for {len(texts)} rows; "
                         "is it really the label column?")
    if skipped:
        data.warnings.insert(0, f"Skipped {plural(skipped, 'row')} with an empty text or label.")
    return data


def _natural_key(text: str):
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text)]


# -- text files (character-level LM) ---------------------------------------------------


def read_text_file(path: str | Path, min_chars: int = 200) -> str:
    path = Path(path).expanduser()
    name = path.name
    if not path.exists():
        raise InputError(f"{name}: file not found.")
    if path.is_dir():
        raise InputError(f"{name}: is a folder; choose a plain text file.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot be read ({exc.strerror or exc}).") from exc
    if b"\x00" in raw[:4096]:
        raise InputError(f"{name}: is not a text file (it looks like a binary file).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: is not UTF-8 text.") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{name}: the file is empty.")
    if len(text) < min_chars:
        raise InputError(f"{name}: has only {len(text)} characters; a character model needs at least {min_chars}.")
    return text
