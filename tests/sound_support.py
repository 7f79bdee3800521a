"""Spoken-word clips for the sound-classifier tests and benchmark: espeak-ng words in several voices
and speeds, placed in one-second clips over noise, plus a "background noise" class.

`make_word_folder(root, voices, speeds)` writes `root/<class>/<n>.wav` (16 kHz mono, 1 s each).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

WORDS = ("yes", "no", "stop")
NOISE_CLASS = "background noise"
TRAIN_VOICES = ("en-us", "en-gb+f3", "en-us+m3", "en-gb-x-rp+f2", "en-us+m7", "en-029+f4")
HELD_OUT_VOICES = ("en-gb-scotland+m2", "en-us-nyc+f5", "en-gb-x-gbclan+m5")
SR = 16000


def need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (Debian package espeak-ng)")


def spoken(word: str, voice: str, speed: int, folder: Path) -> np.ndarray:
    """The word as 16 kHz mono float32, leading/trailing silence trimmed."""
    from playground.core import audio

    raw = folder / f".{word}-{voice}-{speed}.raw.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), word], check=True,
                   capture_output=True)
    x = audio.load(raw)
    raw.unlink()
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def noise(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    """White, pink-ish or brown-ish noise at `level` RMS."""
    kind = rng.integers(3)
    x = rng.standard_normal(n).astype(np.float32)
    if kind == 1:
        x = np.convolve(x, np.ones(8, np.float32) / 8, mode="same")
    elif kind == 2:
        x = np.cumsum(x)
        x -= np.convolve(x, np.ones(400) / 400, mode="same")
    x = x / (np.sqrt(np.mean(x ** 2)) + 1e-9) * level
    return x.astype(np.float32)


def clip_with(word_audio: np.ndarray | None, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    n = int(seconds * SR)
    out = noise(rng, n, float(rng.uniform(0.002, 0.02)))
    if word_audio is not None:
        w = word_audio[:n] * float(rng.uniform(0.5, 1.0)) / max(1e-6, float(np.max(np.abs(word_audio))))
        start = int(rng.integers(0, max(1, n - len(w))))
        out[start:start + len(w)] += w
    return np.clip(out, -1, 1).astype(np.float32)


def make_word_folder(root: Path, voices=TRAIN_VOICES, speeds=(130, 175), noise_clips: int | None = None,
                     seed: int = 0, words=WORDS) -> Path:
    need_espeak()
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    count = 0
    for word in words:
        (root / word).mkdir(exist_ok=True)
        for voice in voices:
            for speed in speeds:
                sf.write(root / word / f"{voice}-{speed}.wav", clip_with(spoken(word, voice, speed, root), rng), SR)
                count += 1
    (root / NOISE_CLASS).mkdir(exist_ok=True)
    for i in range(noise_clips if noise_clips is not None else count // len(words)):
        sf.write(root / NOISE_CLASS / f"noise-{i}.wav", clip_with(None, rng), SR)
    return root


def labelled_files(root: Path) -> list[tuple[Path, str]]:
    return [(p, d.name) for d in sorted(root.iterdir()) if d.is_dir() for p in sorted(d.glob("*.wav"))]
