"""Who spoke: speaker labels for transcripts, offline.

Speaker embeddings come from Resemblyzer's GE2E encoder, whose weights ship inside the
`resemblyzer` wheel (`resemblyzer/pretrained.pt`, Apache-2.0). Only that file is used: the
package's own modules import webrtcvad and print on load, so the small network is rebuilt here
to match the state dict and the weights are read with `torch.load(weights_only=True)`.

Files: embeddings of 1 s windows (0.25 s hop) inside the speech that Silero VAD finds,
agglomerative clustering on the cosine distance of the centred embeddings (the number of
speakers given, or the one with the best silhouette), then every 0.1 s of speech takes the
speaker its windows vote for.
Transcript segments and words take the speaker they overlap most; a segment whose words change
speaker is split there. Live: each final phrase is embedded and joins the nearest speaker, or
starts a new one when none is close enough (`LiveSpeakers`).

Labels are "Speaker 1".."Speaker N" in order of first appearance; `rename` maps them to names.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from playground.core import audio, models
from playground.core.errors import InputError, ModelError
from playground.core.speech.library import label
from playground.core.transcript import Segment, Word

SR = audio.SAMPLE_RATE
N_MELS = 40
HOP = SR // 100  # 10 ms mel frames, as the encoder was trained
WINDOW_S = 1.0
STEP_S = 0.25
MIN_WINDOW_S = 0.4  # shorter speech carries too little voice to embed
GRID_S = 0.1  # resolution of the speaker timeline
MAX_SPEAKERS = 8  # the most speakers found automatically
MAX_CLUSTERED = 3000  # windows clustered directly (about 40 min of speech at a 0.75 s hop)
# A split whose silhouette (centred cosine distance) stays under this is one speaker. Tuned on
# pyannote.audio's two-speaker sample, two espeak-ng voices and one voice (benchmarks/diarization.py).
MIN_SILHOUETTE = 0.1
SILHOUETTE_SLACK = 0.05  # see `cluster`
MIN_SHARE = 0.1  # a cluster under this share of the windows joins its nearest
# Live phrases: cosine distance (raw embeddings: nothing to centre on yet) under which a phrase joins
# a speaker. Given the reference turns of pyannote's sample and two of its AMI test excerpts as
# phrases, 0.15 put 82-91% of the speech under the right speaker (0.25: 51-72%, everyone merging),
# at the price of extra speakers (4-7 for 2): live labels are rougher than a file's.
LIVE_DISTANCE_THRESHOLD = 0.15
TARGET_DBFS = -30.0  # the encoder's training loudness (Resemblyzer's audio_norm_target_dBFS)


# --- the encoder ---------------------------------------------------------------------------------

def weights_path() -> Path:
    """The GE2E weights inside the installed `resemblyzer` package, found without importing it."""
    spec = importlib.util.find_spec("resemblyzer")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    raise ModelError("The speaker model is not installed: install the 'resemblyzer' package "
                     "(its wheel carries the voice encoder's weights).")


def _build_encoder():
    import torch
    from torch import nn

    class GE2EEncoder(nn.Module):
        """Resemblyzer's voice encoder: 3-layer LSTM over 40 mel channels, last hidden state ->
        linear -> ReLU -> unit length (so embeddings are non-negative and cosine = dot product)."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)
            self.relu = nn.ReLU()

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-8)

    checkpoint = torch.load(weights_path(), map_location="cpu", weights_only=True)
    state = checkpoint.get("model_state") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ModelError("The speaker model's weights file has an unexpected layout.")
    # similarity_weight/bias belong to the GE2E training loss, not to the encoder.
    state = {k: v for k, v in state.items() if not k.startswith("similarity_")}
    model = GE2EEncoder()
    model.load_state_dict(state)  # strict: a changed file fails here, not with wrong labels
    return model.eval()


def load_encoder():
    """The GE2E encoder, loaded once and kept in the model cache."""
    return models.cache.get(("speakers", "ge2e"), _build_encoder, size=lambda m: 17 * 1024 * 1024)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram, 25 ms windows every 10 ms (the encoder's input)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(samples, np.float32), sr=SR, n_fft=SR * 25 // 1000,
                                         hop_length=HOP, n_mels=N_MELS)
    return mel.astype(np.float32).T


def normalise_volume(samples: np.ndarray, speech: np.ndarray | None = None) -> np.ndarray:
    """Raise quiet audio to the encoder's training loudness (never lower it), measured on `speech`."""
    ref = samples if speech is None or len(speech) == 0 else speech
    rms = float(np.sqrt(np.mean(np.square(ref, dtype=np.float64)))) if len(ref) else 0.0
    if rms <= 1e-6:
        return samples
    gain = 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20)
    return samples * gain if gain > 1 else samples


def embed_mels(mels: Sequence[np.ndarray]) -> np.ndarray:
    """Unit embeddings (n, 256) of mel slices; slices of one length run as one batch."""
    import torch

    encoder = load_encoder()
    out = np.zeros((len(mels), 256), np.float32)
    by_length: dict[int, list[int]] = {}
    for i, m in enumerate(mels):
        by_length.setdefault(len(m), []).append(i)
    with torch.inference_mode():
        for idx in by_length.values():
            batch = torch.from_numpy(np.stack([mels[i] for i in idx]))
            out[idx] = encoder(batch).numpy()
    return out


# --- files ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Turn:
    """A stretch of one speaker's speech (seconds)."""

    start: float
    end: float
    speaker: str

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "speaker": self.speaker}


def speech_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of speech, from Silero VAD."""
    import torch
    from silero_vad import get_speech_timestamps

    from playground.core.speech.recognizers import load_vad

    stamps = get_speech_timestamps(torch.from_numpy(np.asarray(samples, np.float32)), load_vad(),
                                   sampling_rate=SR, min_silence_duration_ms=200, speech_pad_ms=30)
    return [(s["start"] / SR, s["end"] / SR) for s in stamps]


def windows(regions: Sequence[tuple[float, float]], size: float = WINDOW_S,
            step: float = STEP_S) -> list[tuple[float, float]]:
    """Embedding windows covering each region: `size` long every `step`, the last one ending at the
    region's end; a region shorter than `size` is one window (none under MIN_WINDOW_S)."""
    out = []
    for start, end in regions:
        if end - start < MIN_WINDOW_S:
            continue
        if end - start <= size:
            out.append((start, end))
            continue
        t = start
        while t + size < end:
            out.append((t, t + size))
            t += step
        out.append((end - size, end))
    return out


def cluster(embeddings: np.ndarray, num_speakers: int | None = None, max_speakers: int = MAX_SPEAKERS,
            max_points: int = MAX_CLUSTERED) -> np.ndarray:
    """Cluster index per embedding (0-based, in order of first appearance).

    GE2E embeddings are non-negative, so any two voices look alike (cosine about 0.7 here whether
    the speaker is the same or not); centred on the recording's mean they separate. Average-linkage
    agglomerative clustering on cosine distance of the centred embeddings, cut into `num_speakers`,
    or into the fewest (2..max_speakers) whose silhouette is within SILHOUETTE_SLACK of the best;
    one speaker when even the best split is poor. Beyond `max_points` windows an even subsample is clustered and the rest join the
    nearest centroid (the linkage costs memory quadratic in the points)."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, int)
    if n < 3 or num_speakers == 1:
        return np.zeros(n, int)
    centred = centre(embeddings)
    picked = np.linspace(0, n - 1, min(n, max_points)).round().astype(int)
    points = centred[picked]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist, squareform

    condensed = pdist(points.astype(np.float64), "cosine")
    tree = linkage(condensed, method="average")
    if num_speakers:
        raw = fcluster(tree, t=min(num_speakers, len(points)), criterion="maxclust")
    else:
        dist = squareform(condensed)
        scored = []  # (silhouette, clustering) for 2..max_speakers
        for k in range(2, min(max_speakers, len(points) - 1) + 1):
            cand = _absorb_small(points, fcluster(tree, t=k, criterion="maxclust"), MIN_SHARE)
            if len(np.unique(cand)) == k:
                scored.append((silhouette(dist, cand), cand))
        best = max((score for score, _ in scored), default=-1.0)
        # The fewest speakers whose split is nearly as good as the best: silhouettes of 2..6 clusters
        # often differ by a few hundredths, and the larger counts were the wrong ones here.
        raw = next((cand for score, cand in scored if score >= best - SILHOUETTE_SLACK),
                   np.ones(len(points), int)) if best >= MIN_SILHOUETTE else np.ones(len(points), int)
    if len(picked) < n:
        ids = np.unique(raw)
        centroids = np.stack([_unit(points[raw == c].mean(0)) for c in ids])
        raw = ids[np.argmax(centred @ centroids.T, axis=1)]
    return _first_appearance(raw)


def centre(embeddings: np.ndarray) -> np.ndarray:
    """Embeddings minus their mean, at unit length (see `cluster`)."""
    out = embeddings - embeddings.mean(0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)


def silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette of a clustering, from the square distance matrix (scikit-learn's definition)."""
    ids = np.unique(labels)
    if len(ids) < 2:
        return -1.0
    means = np.stack([dist[:, labels == c].mean(1) for c in ids], axis=1)  # (points, clusters)
    own = np.searchsorted(ids, labels)
    sizes = np.array([(labels == c).sum() for c in ids])
    a = means[np.arange(len(labels)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)  # without itself
    means[np.arange(len(labels)), own] = np.inf
    b = means.min(1)
    s = np.where(sizes[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def _absorb_small(embeddings: np.ndarray, raw: np.ndarray, min_share: float = 0.05) -> np.ndarray:
    """Windows straddling a change of speaker blend two voices and can form a cluster of their own:
    a cluster of one window, or under `min_share` of them, joins the nearest larger one."""
    ids, counts = np.unique(raw, return_counts=True)
    big = [c for c, k in zip(ids, counts) if k >= max(2, min_share * len(raw))]
    if not big or len(big) == len(ids):
        return raw
    centroids = np.stack([_unit(embeddings[raw == c].mean(0)) for c in big])
    out = raw.copy()
    for i in np.flatnonzero(~np.isin(raw, big)):
        out[i] = big[int(np.argmax(centroids @ embeddings[i]))]
    return out


def _first_appearance(raw: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    for r in raw:
        order.setdefault(int(r), len(order))
    return np.array([order[int(r)] for r in raw], int)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-8)


def turns_from_windows(spans: Sequence[tuple[float, float]], embeddings: np.ndarray, labels: np.ndarray,
                       regions: Sequence[tuple[float, float]]) -> list[Turn]:
    """Each GRID_S step of speech takes the speaker whose centroid the windows covering it are
    closest to on average (the nearest window's vote where none covers it); runs become turns."""
    if len(spans) == 0:
        return []
    k = int(labels.max()) + 1
    centroids = np.stack([_unit(embeddings[labels == c].mean(0)) for c in range(k)])
    scores = embeddings @ centroids.T  # (windows, speakers)
    starts = np.array([s for s, _ in spans])
    ends = np.array([e for _, e in spans])
    centres = (starts + ends) / 2
    turns: list[Turn] = []
    for r_start, r_end in regions:
        t = r_start
        while t < r_end - 1e-9:
            t_end = min(t + GRID_S, r_end)
            mid = (t + t_end) / 2
            cover = (starts <= mid) & (ends >= mid)
            votes = scores[cover].mean(0) if cover.any() else scores[int(np.argmin(np.abs(centres - mid)))]
            who = label(int(np.argmax(votes)))
            if turns and turns[-1].speaker == who and t - turns[-1].end < 1e-6:
                turns[-1] = Turn(turns[-1].start, t_end, who)
            else:
                turns.append(Turn(t, t_end, who))
            t = t_end
    return turns


def diarize(samples: np.ndarray, num_speakers: int | None = None,
            regions: Sequence[tuple[float, float]] | None = None) -> list[Turn]:
    """Speaker turns of 16 kHz mono audio; `num_speakers` None finds the number itself."""
    if num_speakers is not None and num_speakers < 1:
        raise InputError("The number of speakers must be at least 1.")
    samples = np.asarray(samples, np.float32)
    if regions is None:
        regions = speech_regions(samples)
    regions = [(max(0.0, s), min(len(samples) / SR, e)) for s, e in regions if e > s]
    speech = np.concatenate([samples[int(s * SR):int(e * SR)] for s, e in regions]) if regions else None
    mels = mel_frames(normalise_volume(samples, speech))
    spans = windows(regions)
    if not spans:
        return []
    embeddings = embed_mels([mels[int(round(s * 100)):max(int(round(e * 100)), int(round(s * 100)) + 1)]
                             for s, e in spans])
    labels = cluster(embeddings, num_speakers)
    return turns_from_windows(spans, centre(embeddings), labels, regions)


# --- labels on transcripts -----------------------------------------------------------------------

def speaker_at(turns: Sequence[Turn], start: float, end: float) -> str | None:
    """The speaker overlapping [start, end] most; the nearest turn when none overlaps."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    for t in turns:
        o = min(end, t.end) - max(start, t.start)
        if o > 0:
            overlap[t.speaker] = overlap.get(t.speaker, 0.0) + o
    if overlap:
        return max(overlap, key=overlap.get)
    mid = (start + end) / 2
    return min(turns, key=lambda t: min(abs(mid - t.start), abs(mid - t.end))).speaker


def label_segments(segments: Sequence[Segment], turns: Sequence[Turn]) -> list[Segment]:
    """Segments (and their words) with speakers from `turns`; a segment whose words change speaker
    is split at that word, so each segment has one speaker."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.words:
            out.append(replace(seg, speaker=speaker_at(turns, seg.start, seg.end)))
            continue
        words = [replace(w, speaker=speaker_at(turns, w.start, w.end)) for w in seg.words]
        out += _split_at_changes(seg, words)
    return out


def _split_at_changes(seg: Segment, words: list[Word]) -> list[Segment]:
    runs: list[list[Word]] = []
    for w in words:
        if runs and runs[-1][-1].speaker == w.speaker:
            runs[-1].append(w)
        else:
            runs.append([w])
    runs = _absorb_short_runs(runs)
    if len(runs) == 1:
        return [replace(seg, words=tuple(runs[0]), speaker=runs[0][0].speaker)]
    return [Segment(run[0].start, run[-1].end, "".join(w.word for w in run).strip(), tuple(run), run[0].speaker)
            for run in runs]


def _absorb_short_runs(runs: list[list[Word]], min_seconds: float = 0.6) -> list[list[Word]]:
    """A run of one or two words shorter than `min_seconds` between other speech is more likely a
    word whose time straddles a turn than a turn of its own: it joins the run before it (the one
    after, at the start) and takes that speaker."""
    out: list[list[Word]] = []
    for i, run in enumerate(runs):
        short = len(runs) > 1 and len(run) <= 2 and run[-1].end - run[0].start < min_seconds
        if short and out:
            out[-1] += [replace(w, speaker=out[-1][0].speaker) for w in run]
        elif short and i + 1 < len(runs):
            runs[i + 1][:0] = [replace(w, speaker=runs[i + 1][0].speaker) for w in run]
        elif out and out[-1][0].speaker == run[0].speaker:
            out[-1] += run
        else:
            out.append(run)
    return out


def label_file(path: str | Path, segments: Sequence[Segment], num_speakers: int | None = None) -> list[Segment]:
    """The transcript segments of the audio file `path`, each (and each word) with its speaker."""
    return label_segments(segments, diarize(audio.load(path), num_speakers))


# --- live ----------------------------------------------------------------------------------------

class LiveSpeakers:
    """Online labels for a live session: keeps the last `keep_seconds` of audio, and gives each final
    phrase the speaker whose running centroid is nearest, or a new speaker when none is within
    `threshold` (cosine distance) and fewer than `max_speakers` exist."""

    def __init__(self, max_speakers: int | None = None, threshold: float = LIVE_DISTANCE_THRESHOLD,
                 keep_seconds: float = 120.0):
        self.max_speakers = max_speakers
        self.threshold = threshold
        self.keep = int(keep_seconds * SR)
        self._audio = np.zeros(0, np.float32)
        self._offset = 0  # samples of the stream before _audio[0]
        self._sums: list[np.ndarray] = []  # per speaker: the sum of its phrases' embeddings
        self.turns: list[Turn] = []
        self.last: str | None = None

    def feed(self, samples: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio, np.asarray(samples, np.float32)])
        extra = len(self._audio) - self.keep
        if extra > 0:
            self._audio = self._audio[extra:]
            self._offset += extra

    def audio(self, start: float, end: float) -> np.ndarray:
        a = max(0, int(start * SR) - self._offset)
        b = max(a, int(end * SR) - self._offset)
        return self._audio[a:b]

    def assign(self, start: float, end: float) -> str | None:
        """The speaker of the phrase heard from `start` to `end` (seconds of the stream)."""
        piece = self.audio(start, end)
        if len(piece) < MIN_WINDOW_S * SR:
            who = self.last  # too short to tell: most likely whoever spoke last
        else:
            who = self._nearest(self._embed(piece))
        if who is not None:
            self.turns.append(Turn(start, end, who))
            self.last = who
        return who

    def _embed(self, piece: np.ndarray) -> np.ndarray:
        mels = mel_frames(normalise_volume(piece))
        n = len(mels)
        frames = int(WINDOW_S * 100)
        spans = windows([(0.0, n / 100)])
        slices = [mels[int(round(s * 100)):int(round(s * 100)) + min(frames, n)] for s, _ in spans] or [mels]
        return _unit(embed_mels(slices).mean(0))

    def _nearest(self, e: np.ndarray) -> str:
        if self._sums:
            sims = np.array([_unit(s) @ e for s in self._sums])
            best = int(np.argmax(sims))
            full = self.max_speakers is not None and len(self._sums) >= self.max_speakers
            if 1 - sims[best] <= self.threshold or full:
                self._sums[best] = self._sums[best] + e
                return label(best)
        self._sums.append(e.copy())
        return label(len(self._sums) - 1)
