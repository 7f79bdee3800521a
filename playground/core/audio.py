"""Reading audio files as 16 kHz mono float32, in bounded-memory blocks.

WAV, FLAC, OGG/Vorbis/Opus and MP3 are read with soundfile (libsndfile);
other containers (M4A, AAC, WebM ...) fall back to PyAV, which faster-whisper
already depends on. Any sample rate and channel count: channels are averaged
and the rate converted with a streaming soxr resampler, so a one-hour file
never sits in memory whole. Every failure is an InputError naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground.core.errors import InputError

SAMPLE_RATE = 16_000
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma", ".webm", ".aiff", ".aif",
                  ".au", ".caf", ".mp4", ".mka"}


def is_audio_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


@dataclass(frozen=True)
class AudioInfo:
    path: str
    duration: float  # seconds (0 when the container does not say)
    samplerate: int
    channels: int
    format: str


def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path.name}: file not found.")
    if path.is_dir():
        raise InputError(f"{path.name}: is a folder, not an audio file.")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: the file is empty.")


def _unreadable(path: Path) -> InputError:
    return InputError(f"{path.name}: not a readable audio file (corrupt or unsupported format).")


def probe(path: str | Path) -> AudioInfo:
    """Duration, rate and channels without decoding the file."""
    path = Path(path)
    _check_path(path)
    import soundfile as sf

    try:
        info = sf.info(str(path))
        if info.samplerate <= 0 or info.channels <= 0:
            raise _unreadable(path)
        return AudioInfo(str(path), float(info.frames) / info.samplerate if info.frames > 0 else 0.0,
                         int(info.samplerate), int(info.channels), info.format)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        import av

        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise _unreadable(path)
            stream = streams[0]
            duration = float(container.duration) / 1_000_000 if container.duration else 0.0
            return AudioInfo(str(path), duration, int(stream.rate or 0), int(stream.channels or 1),
                             container.format.name)
    except InputError:
        raise
    except Exception as exc:
        raise _unreadable(path) from exc


class _Resampler:
    def __init__(self, rate: int):
        self.rate = rate
        self._stream = None
        if rate != SAMPLE_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, mono: np.ndarray, last: bool = False) -> np.ndarray:
        mono = np.ascontiguousarray(mono, dtype=np.float32)
        if self._stream is None:
            return mono
        return self._stream.resample_chunk(mono, last=last)


def to_mono(block: np.ndarray) -> np.ndarray:
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 2:
        return block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
    return block


def _soundfile_blocks(path: Path, block_frames: int) -> Iterator[np.ndarray] | None:
    import soundfile as sf

    try:
        fh = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None

    def gen() -> Iterator[np.ndarray]:
        with fh:
            resample = _Resampler(fh.samplerate)
            in_frames = max(1, int(block_frames * fh.samplerate / SAMPLE_RATE))
            while True:
                try:
                    data = fh.read(in_frames, dtype="float32", always_2d=True)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise InputError(f"{path.name}: the audio data is corrupt ({exc}).") from exc
                last = len(data) < in_frames
                out = resample(to_mono(data), last=last)
                if len(out):
                    yield out
                if last:
                    return

    return gen()


def _av_blocks(path: Path, block_frames: int) -> Iterator[np.ndarray]:
    try:
        import av

        container = av.open(str(path))
    except Exception as exc:
        raise _unreadable(path) from exc
    if not container.streams.audio:
        container.close()
        raise _unreadable(path)

    def gen() -> Iterator[np.ndarray]:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        pending: list[np.ndarray] = []
        have = 0
        try:
            with container:
                try:
                    for frame in container.decode(audio=0):
                        for out in resampler.resample(frame):
                            arr = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                            pending.append(arr)
                            have += len(arr)
                            if have >= block_frames:
                                yield np.concatenate(pending)
                                pending, have = [], 0
                    for out in resampler.resample(None):
                        pending.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
                except av.error.FFmpegError as exc:
                    raise InputError(f"{path.name}: the audio data is corrupt ({exc}).") from exc
            if pending:
                yield np.concatenate(pending)
        finally:
            container.close()

    return gen()


def iter_blocks(path: str | Path, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """16 kHz mono float32 blocks of about `block_seconds` each, decoded lazily."""
    path = Path(path)
    _check_path(path)
    block_frames = max(1, int(block_seconds * SAMPLE_RATE))
    blocks = _soundfile_blocks(path, block_frames)
    if blocks is None:
        blocks = _av_blocks(path, block_frames)
    return blocks


def load(path: str | Path, max_seconds: float | None = None) -> np.ndarray:
    """The whole file (or its first `max_seconds`) as one 16 kHz mono array."""
    parts, have = [], 0
    limit = int(max_seconds * SAMPLE_RATE) if max_seconds else None
    for block in iter_blocks(path):
        parts.append(block)
        have += len(block)
        if limit is not None and have >= limit:
            break
    out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    return out[:limit] if limit is not None else out


def load_range(path: str | Path, start: float, end: float) -> np.ndarray:
    """Seconds `start` to `end` of the file as 16 kHz mono (decoded in blocks: memory stays small)."""
    first, last = max(0, int(start * SAMPLE_RATE)), max(0, int(end * SAMPLE_RATE))
    parts, pos = [], 0
    for block in iter_blocks(path, block_seconds=5.0):
        lo, hi = max(first, pos), min(last, pos + len(block))
        if hi > lo:
            parts.append(block[lo - pos:hi - pos])
        pos += len(block)
        if pos >= last:
            break
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of a block in dB full scale (-100 for silence)."""
    if samples.size == 0:
        return -100.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(-100.0, 20.0 * np.log10(rms)) if rms > 0 else -100.0


def peak_dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -100.0
    peak = float(np.max(np.abs(samples)))
    return max(-100.0, 20.0 * np.log10(peak)) if peak > 0 else -100.0
