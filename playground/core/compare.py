"""A leaderboard on your own data: several models of one task scored on one labelled set.

`compare(ctx, models, data)` infers the task from the models (classifiers of images, texts or
sounds, or speech recognisers), checks that the data fits it, then runs the models one after
another and returns a `Comparison` with one `Row` per model:

- classifiers: `evaluate.evaluate`, the very function `playground evaluate` runs, so accuracy
  equals its number; macro-F1 is the mean of its per-class F1 (`Evaluation.macro_f1`);
- speech: every audio file that has a reference transcript beside it (`clip.txt` or `clip.srt`
  for `clip.wav`) is transcribed by `file_transcription.transcribe_file`, the job `playground transcribe`
  runs per file, and scored with the app's word error rate (and the character error rate) over
  the whole set: all edits divided by all reference words (characters).

What each row measures, per model:
- `seconds`: wall time of the evaluation alone. The model is loaded into the model cache first
  (`load_seconds`, apart) wherever the engine keeps it loaded: image classifiers, transformers
  text classifiers (loaded and run once on one text), speech recognisers. Sound classifiers and
  exported (.onnx) text classifiers are loaded inside their evaluation, so their time includes it.
- `peak_memory_bytes`: the highest resident memory (RSS) of the process during the model's turn
  (load and evaluation) above what it held when the turn began, sampled every 10 ms on a thread.
  The model cache is emptied before each turn, so every model is measured loading from disk and
  the models before it are not held; memory a finished turn freed but the allocator kept for the
  process counts in the next turn's baseline, so a later model can read a little low.
- `size_bytes`: the model's files on disk.

A model that cannot load or run becomes a row with its `error`; the others carry on. Cancel
(checked between models and inside every evaluation) stops the whole comparison.
No Qt; torch and the model libraries are imported by the engines, inside the job.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import evaluate, models, word_diff
from playground.core.errors import Cancelled, InputError, ModelError, PlaygroundError, friendly_message
from playground.core.jobs import Job, JobContext, Progress
from playground.core.wording import plural

SPEECH = "speech-recognition"
CLASSIFIERS = {"image": "image-classification", "text": "text-classification", "sound": "audio-classification"}
TASKS = (*CLASSIFIERS.values(), SPEECH)
METRICS = {SPEECH: ("wer", "cer")} | {task: ("accuracy", "macro_f1") for task in CLASSIFIERS.values()}
# The libraries each task's engine runs on: imported once before the first turn, so the first model's
# memory and time do not carry the imports every model shares.
ENGINE_MODULES = {SPEECH: ("torch", "faster_whisper", "silero_vad", "onnxruntime"),
                  "image-classification": ("torch", "torchvision", "timm", "onnxruntime"),
                  "text-classification": ("torch", "transformers", "onnxruntime"),
                  "audio-classification": ("torch",)}
SAMPLE_SECONDS = 0.01


@dataclass
class FileScore:
    """One recording of a speech comparison: its reference, what the model heard, the edits."""

    path: str
    reference: str
    hypothesis: str
    word_edits: int
    words: int
    char_edits: int
    chars: int


@dataclass
class Row:
    """One model's line of the leaderboard."""

    model: str
    metrics: dict[str, float] = field(default_factory=dict)  # accuracy + macro_f1, or wer + cer
    examples: int = 0
    seconds: float = 0.0  # the evaluation's wall time (see the module's note on loading)
    load_seconds: float | None = None  # the load before it; None where the evaluation loads the model itself
    size_bytes: int | None = None
    peak_memory_bytes: int | None = None
    error: str | None = None
    evaluation: evaluate.Evaluation | None = None  # classifiers: the errors, for the evaluation views
    files: list[FileScore] = field(default_factory=list)  # speech: each recording's transcript and edits

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def examples_per_s(self) -> float | None:
        return self.examples / self.seconds if self.ok and self.seconds > 0 else None

    def to_dict(self, task: str) -> dict:
        """One row of `playground compare --json`."""
        out: dict = {"model": self.model}
        for name in METRICS[task]:
            out[name] = round(self.metrics[name], 6) if name in self.metrics else None
        rate = self.examples_per_s
        out.update({"examples": self.examples, "examples_per_s": round(rate, 3) if rate is not None else None,
                    "size_bytes": self.size_bytes, "peak_memory_bytes": self.peak_memory_bytes,
                    "error": self.error})
        return out


@dataclass(frozen=True)
class RowDone:
    """Event: one model's row is finished (a table can fill in as the comparison runs)."""

    index: int
    row: Row


@dataclass
class Comparison:
    task: str
    data: str
    rows: list[Row]  # in the order the models were given

    @property
    def metrics(self) -> tuple[str, str]:
        return METRICS[self.task]

    def ranked(self) -> list[Row]:
        """Best first: higher accuracy (then macro-F1), or lower WER (then CER); failed rows last."""
        sign = 1 if self.task == SPEECH else -1
        first, second = self.metrics
        return sorted(self.rows, key=lambda r: (not r.ok, sign * r.metrics.get(first, 0.0),
                                                sign * r.metrics.get(second, 0.0)))

    def to_dict(self) -> dict:
        """The `playground compare --json` object: the task and the rows, best first."""
        return {"task": self.task, "rows": [r.to_dict(self.task) for r in self.ranked()]}

    def to_csv(self) -> str:
        """The rows, best first, as CSV with the JSON rows' columns (empty cells for missing values)."""
        import csv
        import io

        rows = self.to_dict()["rows"]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["model"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return out.getvalue()

    def save(self, target: str | Path) -> None:
        """Export the leaderboard, atomically: CSV for a .csv file, else the JSON object."""
        import json

        from playground.core import atomic

        path = Path(target)
        text = self.to_csv() if path.suffix.lower() == ".csv" else json.dumps(self.to_dict(), indent=2) + "\n"
        atomic.write_text(path, text)


# -- which task ------------------------------------------------------------------------------


def model_task(model: str) -> str:
    """The comparable task `model` does (a registry task id); one sentence when it does none."""
    from playground.core import tasks
    from playground.core.speech import recognizers

    text = (model or "").strip()
    if not text:
        raise ModelError("No model given.")
    bundled = next((b for b in models.BUNDLED if b.id == text), None)
    if bundled is not None and bundled.task not in TASKS:
        raise ModelError(f"'{text}' is a {bundled.task} model; compare takes classifiers or speech recognisers.")
    if bundled is not None:
        return bundled.task
    path = Path(text).expanduser()
    if tasks.guess_kind(path if path.is_dir() else None, text) == SPEECH or (
            not path.exists() and recognizers._looks_faster_whisper(text)):
        return SPEECH
    return CLASSIFIERS[evaluate.model_kind(text)]


def common_task(model_ids: list[str]) -> str:
    """The one task all the models do; one sentence when they are fewer than two or do different tasks."""
    if len(model_ids) < 2:
        raise InputError("Compare needs at least two models.")
    found = {m: model_task(m) for m in model_ids}
    if len(set(found.values())) > 1:
        which = "; ".join(f"{_short(m)}: {_task_label(t)}" for m, t in found.items())
        raise InputError(f"The models do different tasks ({which}); compare models of one task.")
    return next(iter(found.values()))


def _short(model: str) -> str:
    return Path(model).name if Path(model).expanduser().exists() else model


def _task_label(task: str) -> str:
    return task.replace("-", " ")


# -- the data --------------------------------------------------------------------------------


def check_data(task: str, data: str) -> Path | list[tuple[Path, str]]:
    """The data, checked for the task before any model loads: the classifiers' folder or table
    (read once here, so a set that does not fit fails in one sentence), or the speech set's
    (recording, reference text) pairs."""
    if task == SPEECH:
        return reference_pairs(data)
    kind = next(k for k, t in CLASSIFIERS.items() if t == task)
    path = evaluate.check_data(kind, data)
    if kind == "image":
        from playground.core.training import data as tdata

        tdata.scan_image_folder(path)
    elif kind == "sound":
        from playground.core.training import data as tdata

        tdata.scan_sound_folder(path)
    else:
        from playground.core.training import data as tdata

        tdata.table_columns(path)
    return path


def reference_pairs(data: str) -> list[tuple[Path, str]]:
    """Each audio file of `data` (a file, or a folder walked) with the reference transcript beside
    it (same name, .txt or .srt), in path order; files without one are left out."""
    from playground.core import audio, batch

    path = Path(data).expanduser()
    if not path.exists():
        raise InputError(f"{path.name or data}: not found.")
    if path.is_dir():
        files = batch.walk(JobContext(), path, audio.is_audio_path, what="audio files")
    elif audio.is_audio_path(path):
        files = [path]
    else:
        raise InputError(f"{path.name}: speech recognisers are compared on audio files with reference "
                         "transcripts beside them (.txt or .srt of the same name), or a folder of them.")
    pairs = []
    for f in files:
        ref = word_diff.reference_beside(f)
        if ref is None:
            continue
        text = word_diff.read_reference(ref)
        if text.strip():
            audio.probe(f)  # an unreadable recording fails here, before any model loads
            pairs.append((f, text))
    if not pairs:
        raise InputError(f"{path.name}: no audio file with a reference transcript beside it "
                         "(clip.txt or clip.srt next to clip.wav).")
    return pairs


# -- measuring -------------------------------------------------------------------------------


class PeakMemory:
    """The process's peak resident memory above its level at the start, sampled on a thread.

    `resource.getrusage`'s maxrss only ever grows over the process's life, so it cannot tell one
    model's turn from the one before; a sampler started afresh per turn can."""

    def __init__(self, interval: float = SAMPLE_SECONDS):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self.start = self.peak = 0

    def _sample(self) -> None:
        self.peak = max(self.peak, self._process.memory_info().rss)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self.start = self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)


def model_size(model: str) -> int | None:
    """Bytes of the model's files on disk (a folder, a file, a bundled package's model, torchvision
    weights or a downloaded Hub snapshot); None when they cannot be found."""
    from playground.core import download
    from playground.core import torchvision_weights as tvw

    text = model.strip()
    path = Path(text).expanduser()
    try:
        if path.exists():
            return models._disk_size(path)
        spec = next((b for b in models.BUNDLED if b.id == text), None)
        if spec is not None and spec.joined is not None:  # never joined just to be measured
            from playground.core import joined

            folder = joined.target_folder(spec.joined)
            return models._disk_size(folder) if joined.is_joined(spec.joined) else joined.source_size(spec.joined)
        if spec is not None:
            return models._disk_size(models.bundled_path(text))
        if text.startswith(tvw.PREFIX) and text[len(tvw.PREFIX):] in tvw.CLASSIFIERS:
            weights = download.hub_dir() / "checkpoints" / tvw.CLASSIFIERS[text[len(tvw.PREFIX):]][1]
            return weights.stat().st_size if weights.is_file() else None
        folder = models.hub_cached_folder(text)
        return models._disk_size(folder) if folder is not None else None
    except (OSError, PlaygroundError):
        return None


# -- one model's turn ------------------------------------------------------------------------


class _Turn(JobContext):
    """The comparison's context for one model's turn: its progress scaled into the turn's share and
    named after the model, the comparison's cancel flag; the engine's other events stay inside."""

    def __init__(self, parent: JobContext, index: int, count: int, model: str):
        super().__init__()
        self.parent, self.index, self.count, self.name = parent, index, count, _short(model)

    def emit(self, event: object) -> None:
        if isinstance(event, Progress):
            fraction = None if event.fraction is None else (self.index + event.fraction) / self.count
            self.parent.emit(Progress(fraction, f"{self.name} ({self.index + 1} of {self.count}): {event.text}"))

    def cancel(self) -> None:
        self.parent.cancel()

    @property
    def cancelled(self) -> bool:
        return self.parent.cancelled

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def _preload(ctx: JobContext, task: str, model: str) -> float | None:
    """Load `model` into the model cache before the clock starts; its seconds, or None where the
    evaluation loads the model itself (sound classifiers, exported text classifiers)."""
    t0 = time.perf_counter()
    if task == SPEECH:
        import numpy as np

        from playground.core.speech import accuracy, file_transcription, recognizers, sources

        # Loaded, and one second of silence decoded (without the VAD, which would skip it): the
        # recogniser's first-call set-up is done before the clock starts, as a text classifier's is.
        recognizers.load_recognizer(model, ctx).decode(np.zeros(sources.SR, np.float32), beam_size=1)
    elif task == "image-classification":
        from playground.core import image

        image.load_classifier(model, ctx)
    elif task == "text-classification" and not model.strip().lower().endswith(".onnx"):
        from playground.core import text

        text.classify(ctx, ["warm up"], model)  # tokenizer and weights cached, first-call set-up done
    else:
        return None
    return time.perf_counter() - t0


def _import_engines(task: str) -> None:
    import importlib

    for name in ENGINE_MODULES[task]:
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # an optional engine: the models that need it fail in their own row


def _classifier_row(ctx: JobContext, row: Row, data: Path, batch_size: int) -> None:
    t0 = time.perf_counter()
    result = evaluate.evaluate(ctx, row.model, str(data), batch_size=batch_size)
    row.seconds = time.perf_counter() - t0
    row.evaluation, row.examples = result, result.total
    row.metrics = {"accuracy": result.accuracy, "macro_f1": result.macro_f1}


def _speech_row(ctx: JobContext, row: Row, pairs: list[tuple[Path, str]]) -> None:
    from playground.core.speech import accuracy, file_transcription

    t0 = time.perf_counter()
    for i, (path, reference) in enumerate(pairs):
        ctx.check_cancelled()
        ctx.progress(i / len(pairs), f"Transcribing {path.name} ({i + 1} of {len(pairs)})")
        try:
            heard = Job(file_transcription.transcribe_file, (path,), {"model": row.model}).run(ctx).text
        except file_transcription.NoSpeechError:
            heard = ""  # the model heard nothing: every reference word is an error
        ref_words, hyp_words = accuracy.normalise_words(reference), accuracy.normalise_words(heard)
        ref_chars, hyp_chars = accuracy.normalise_chars(reference), accuracy.normalise_chars(heard)
        row.files.append(FileScore(str(path), reference, heard, accuracy.edit_distance(ref_words, hyp_words),
                                   len(ref_words), accuracy.edit_distance(ref_chars, hyp_chars), len(ref_chars)))
    row.seconds = time.perf_counter() - t0
    row.examples = len(row.files)
    row.metrics = {"wer": sum(f.word_edits for f in row.files) / max(1, sum(f.words for f in row.files)),
                   "cer": sum(f.char_edits for f in row.files) / max(1, sum(f.chars for f in row.files))}


def _run_model(ctx: JobContext, task: str, model: str, data, batch_size: int) -> Row:
    row = Row(model)
    models.cache.clear()  # every model measured from a cold load, and the ones before it not held
    gc.collect()
    try:
        with PeakMemory() as memory:
            row.load_seconds = _preload(ctx, task, model)
            if task == SPEECH:
                _speech_row(ctx, row, data)
            else:
                _classifier_row(ctx, row, data, batch_size)
        row.peak_memory_bytes = memory.growth
    except Cancelled:
        raise
    except Exception as exc:  # one model that cannot load or run is its own row, not the table's end
        row.error = friendly_message(exc)
        row.metrics, row.files, row.examples, row.evaluation = {}, [], 0, None
    row.size_bytes = model_size(model)
    return row


# -- the job ---------------------------------------------------------------------------------


def compare(ctx: JobContext, model_ids: list[str], data: str, *, batch_size: int = evaluate.BATCH_SIZE) -> Comparison:
    """Job: score every model of `model_ids` on the labelled `data`, one after another."""
    model_ids = [m.strip() for m in model_ids]
    task = common_task(model_ids)
    checked = check_data(task, data)
    count = len(model_ids)
    if task == SPEECH:
        ctx.progress(0.0, f"{plural(len(checked), 'recording')} with references; {plural(count, 'model')}")
    ctx.progress(None, "Loading the libraries...")
    _import_engines(task)
    rows = []
    for i, model in enumerate(model_ids):
        ctx.check_cancelled()
        row = _run_model(_Turn(ctx, i, count, model), task, model, checked, batch_size)
        rows.append(row)
        ctx.emit(RowDone(i, row))
    ctx.progress(1.0, f"Compared {plural(count, 'model')}")
    return Comparison(task, str(data), rows)
