"""Sound classes: one-second clips -> features from a pretrained audio model -> a small trained head.

Features ("extractors"):
- `whisper` (the default): the bundled Whisper tiny.en encoder (CTranslate2, int8) run over the
  clip's own 100 log-mel frames (not Whisper's 30 s window: 50x less work), its 50 states mean-
  and max-pooled (768 numbers).
- `logmel`: log-mel statistics (40 bands: mean and std over time, plus the band means of 8 time
  slices): no model.
Measured here (2 loaded CPU cores; espeak-ng "yes"/"no"/"stop" + noise, 6 training voices x 2
speeds, 3 held-out voices x 3 speeds, the same MLP head): whisper 1.00 held-out accuracy at about
39 ms a clip; logmel 0.74 at about 5 ms. Whisper's 30 s window took 1.1 s a clip for the same
accuracy. So: the encoder on one second.

A model folder holds `head.safetensors` (the head's weights), the feature normalisation and the
labels in `playground_model.json` (task "audio-classification"). `classify_files` and the live
`listen` job share `SoundClassifier`. No torch at import time.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.core import audio
from playground.core.errors import InputError, ModelError
from playground.core.jobs import JobContext

TASK = "audio-classification"
SR = audio.SAMPLE_RATE
CLIP_SECONDS = 1.0
EXTRACTORS = ("whisper", "logmel")
DEFAULT_EXTRACTOR = "whisper"
WHISPER_MODEL = "bundled/whisper-tiny.en"
HEAD_FILE = "head.safetensors"
FRAMES = 100  # log-mel frames (10 ms each) the Whisper encoder sees: one second


# -- clips ---------------------------------------------------------------------------------


def fit_clip(samples: np.ndarray, seconds: float = CLIP_SECONDS) -> np.ndarray:
    """Exactly `seconds` of audio: a longer clip keeps its loudest window, a shorter one is padded."""
    n = int(seconds * SR)
    x = np.asarray(samples, np.float32).reshape(-1)
    if len(x) == n:
        return x
    if len(x) < n:
        pad = n - len(x)
        return np.pad(x, (pad // 2, pad - pad // 2))
    energy = np.convolve(x.astype(np.float64) ** 2, np.ones(n), mode="valid")
    start = int(np.argmax(energy[::160])) * 160
    return x[start:start + n]


# -- features ---------------------------------------------------------------------------------


class LogMelFeatures:
    name = "logmel"
    n_mels = 40

    def __init__(self):
        import librosa

        self._fb = librosa.filters.mel(sr=SR, n_fft=400, n_mels=self.n_mels).astype(np.float32)
        self.dim = self.n_mels * 2 + self.n_mels * 8

    def __call__(self, clips: list[np.ndarray]) -> np.ndarray:
        out = []
        window = np.hanning(400).astype(np.float32)
        for clip in clips:
            frames = np.lib.stride_tricks.sliding_window_view(np.pad(clip, 200), 400)[::160] * window
            power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
            mel = np.log(self._fb @ power.T + 1e-6)  # (bands, frames)
            slices = np.array_split(mel, 8, axis=1)
            out.append(np.concatenate([mel.mean(1), mel.std(1)] + [s.mean(1) for s in slices]))
        return np.asarray(out, np.float32)


class WhisperFeatures:
    """Whisper tiny.en's encoder states over the clip, mean- and max-pooled (CTranslate2, int8)."""

    name = "whisper"
    _lock = threading.Lock()
    _shared: typing.ClassVar[dict] = {}

    def __init__(self, ctx: JobContext | None = None, threads: int = 0):
        from playground.core import models

        key = (WHISPER_MODEL, threads)
        with self._lock:
            if key not in self._shared:
                from faster_whisper import WhisperModel

                if ctx is not None:
                    ctx.progress(None, "Loading the Whisper encoder")
                try:
                    self._shared[key] = WhisperModel(str(models.bundled_path(WHISPER_MODEL)), device="cpu",
                                                     compute_type="int8", cpu_threads=threads)
                except Exception as exc:  # a broken install: one sentence
                    raise ModelError(f"The bundled Whisper encoder cannot be loaded ({type(exc).__name__}).") from exc
        self.model = self._shared[key]
        self.dim = 2 * 384
        self.frames = FRAMES

    def __call__(self, clips: list[np.ndarray]) -> np.ndarray:
        out = []
        for clip in clips:
            mel = self.model.feature_extractor(np.asarray(clip, np.float32))
            frames = self.frames
            padded = np.full((mel.shape[0], frames), mel.min(), np.float32)  # the log-mel floor: silence
            padded[:, :min(frames, mel.shape[1])] = mel[:, :frames]
            # The encoder over these frames only (not Whisper's 30 s window: 50x less work);
            # it halves the frame rate.
            states = np.asarray(self.model.encode(padded))[0].astype(np.float32)
            out.append(np.concatenate([states.mean(0), states.max(0)]))
        return np.asarray(out, np.float32)


def featurizer(name: str, ctx: JobContext | None = None):
    if name == "whisper":
        return WhisperFeatures(ctx)
    if name == "logmel":
        return LogMelFeatures()
    raise InputError(f"Unknown sound features '{name}'; choose one of: {', '.join(EXTRACTORS)}.")


def load_clip(path: str | Path) -> np.ndarray:
    return fit_clip(audio.load(path, max_seconds=10.0))


# -- the model --------------------------------------------------------------------------------


def build_head(dim: int, classes: int, hidden: int = 128):
    import torch

    return torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(dim, hidden), torch.nn.GELU(),
                               torch.nn.Dropout(0.2), torch.nn.Linear(hidden, classes))


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float

    def to_dict(self) -> dict:
        return {"label": self.label, "score": round(float(self.score), 6)}


@dataclass
class SoundResult:
    path: str
    predictions: list[Prediction] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "predictions": [p.to_dict() for p in self.predictions]}


class SoundClassifier:
    """A saved sound-classes folder, ready to score clips."""

    def __init__(self, folder: str | Path, ctx: JobContext | None = None):
        import torch
        from safetensors.torch import load_file

        from playground.core import models

        self.folder = Path(folder).expanduser()
        meta = models.read_marker(self.folder) if self.folder.is_dir() else None
        if meta is None or meta.get("task") != TASK:
            what = "not a model folder" if meta is None else f"a {meta.get('task')} model"
            raise ModelError(f"'{self.folder.name}' is {what}, not a sound classifier (train one with "
                             "'playground finetune sound').")
        self.meta = meta
        self.labels = [str(x) for x in meta["labels"]]
        self.features = featurizer(str(meta.get("features", DEFAULT_EXTRACTOR)), ctx)
        self.mean = np.asarray(meta["feature_mean"], np.float32)
        self.std = np.asarray(meta["feature_std"], np.float32)
        self.head = build_head(int(meta["feature_dim"]), len(self.labels), int(meta.get("hidden", 128)))
        self.head.load_state_dict(load_file(str(self.folder / HEAD_FILE)))
        self.head.eval()
        self._torch = torch

    def scores(self, clips: list[np.ndarray]) -> np.ndarray:
        """(clips, classes) probabilities."""
        x = (self.features([fit_clip(c) for c in clips]) - self.mean) / self.std
        with self._torch.inference_mode():
            return self._torch.softmax(self.head(self._torch.from_numpy(x)), -1).numpy()

    def predictions(self, probs: np.ndarray, top_k: int | None = None) -> list[Prediction]:
        order = np.argsort(-probs)[: top_k or len(self.labels)]
        return [Prediction(self.labels[i], float(probs[i])) for i in order]


def load_classifier(model: str | Path, ctx: JobContext | None = None) -> SoundClassifier:
    return SoundClassifier(model, ctx)


def classify_files(ctx: JobContext, paths: list[str], model: str, top_k: int | None = None) -> list[SoundResult]:
    """Job: each file's class scores (a file longer than a second: its loudest second)."""
    from playground.core.errors import PlaygroundError

    clf = load_classifier(model, ctx)
    out = []
    for i, p in enumerate(paths):
        ctx.check_cancelled()
        ctx.progress(i / max(1, len(paths)), f"Classifying {Path(p).name}")
        try:
            probs = clf.scores([load_clip(p)])[0]
            result = SoundResult(str(p), clf.predictions(probs, top_k))
        except PlaygroundError as exc:
            result = SoundResult(str(p), error=str(exc))
        ctx.emit(result)
        out.append(result)
    return out


# -- live ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoundScores:
    """One live look at the last second: the class scores, in the model's label order."""

    time: float  # seconds of audio heard when the window ended
    labels: tuple[str, ...]
    scores: tuple[float, ...]
    wall: float = 0.0  # time.monotonic() when the scores were ready
    clip: typing.Any = field(default=None, compare=False, repr=False)  # the second scored (for "why")

    @property
    def top(self) -> str:
        return self.labels[int(np.argmax(self.scores))]


def listen(ctx: JobContext, source, model: str, hop: float = 0.25, start_source: bool = True) -> Iterator[SoundScores]:
    """Job (generator): classify the last second of `source` every `hop` seconds until it stops.

    `start_source=False`: the source is already running (the Speech tab's transcription shares it);
    it is then left running at the end."""
    clf = load_classifier(model, ctx)
    clf.scores([np.zeros(SR, np.float32)])  # one-off set-up costs before the clock starts
    buf = source.buffer
    if start_source:
        source.start()
    n = int(CLIP_SECONDS * SR)
    step = max(1, int(hop * SR))
    pos = buf.total
    ctx.progress(None, f"Listening for {', '.join(clf.labels)}")
    try:
        while not ctx.cancelled:
            if not buf.wait(pos + step - 1, 0.1):
                if buf.closed:
                    break
                source.check()
                continue
            if buf.total - pos < step and not buf.closed:
                continue
            pos = buf.total  # behind real time: skip to the newest second
            window = buf.latest(n)
            probs = clf.scores([window])[0]
            yield SoundScores(pos / SR, tuple(clf.labels), tuple(float(s) for s in probs), time.monotonic(), np.array(window, np.float32))
            if buf.closed:
                break
    finally:
        if start_source:
            source.stop()
    return None


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / "playground_model.json"
    return json.loads(path.read_text(encoding="utf-8"))
