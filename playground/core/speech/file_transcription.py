"""Speech to text for files: read in blocks, transcribed in windows of about 30 s cut at the quietest
moment, so memory stays bounded whatever the file's length. `transcribe_files` runs several files
(folders expand) through `core/batch.py`: per-file errors, cancel and progress as in image
classification and detection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core import audio, batch
from playground.core.errors import InputError
from playground.core.jobs import Job, JobContext
from playground.core.results import item_dict
from playground.core.speech import recognizers
from playground.core.speech.languages import SpeechOptions, check_options
from playground.core.speech.recognizers import Recognizer
from playground.core.transcript import Segment, Transcript

SR = audio.SAMPLE_RATE
WINDOW_SECONDS = 30.0
CUT_SEARCH_SECONDS = 10.0


class NoSpeechError(InputError):
    """The audio holds no speech the recogniser could find."""


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
    `speakers`: label each segment and word with who spoke (`speakers.py`; `num_speakers` None:
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
    recognizer = recognizers.load_recognizer(model, ctx, trust_remote_code)
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
        from playground.core.speech import speakers as who_spoke

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
        recognizers.load_recognizer(model, ctx, kwargs.get("trust_remote_code", False))  # cached for every file

    def work(item: batch.Item) -> FileTranscript:
        return FileTranscript(str(item.path), Job(transcribe_file, (item.path,), {"model": model, **kwargs}).run(ctx))

    return batch.for_each(ctx, items, work, lambda item, message: FileTranscript(str(item.path), error=message),
                          progress_text="Transcribed {done} of {total} file{s}")
