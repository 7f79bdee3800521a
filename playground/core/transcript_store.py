"""One transcript per recording or file, kept on disk: list, save, load, delete (no Qt).

Each transcript is one JSON file in `<data>/transcripts/` (`paths.data_dir()`),
written atomically through `core/atomic.py`: a crash or a full disk leaves the
previous complete version, never a half file under the transcript's name, and
the temporary files (`.NAME.json.*.part`) are never listed. A file that does
not parse as a transcript (damaged, or written by something else) is skipped.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from playground.core import atomic
from playground.core.transcript import Segment, Transcript, Word, transcripts_dir

log = logging.getLogger(__name__)

FORMAT = "playground-transcript"
VERSION = 1


def _speaker(item: dict) -> str | None:
    who = item.get("speaker")
    return str(who) if who else None


@dataclass
class StoredTranscript:
    """A transcript with what it came from: `kind` "file" (`source` is its path) or "live" (the input's name)."""

    id: str
    name: str  # what the list shows: the file's name or "Live, 14:02"
    kind: str
    source: str
    created: float  # seconds since the epoch
    transcript: Transcript = field(default_factory=lambda: Transcript([], 0.0))

    @property
    def segments(self) -> list[Segment]:
        return self.transcript.segments

    def to_dict(self) -> dict:
        t = self.transcript
        return {"format": FORMAT, "version": VERSION, "id": self.id, "name": self.name, "kind": self.kind,
                "source": self.source, "created": self.created, "model": t.model, "task": t.task,
                "language": t.language, "language_probability": t.language_probability,
                "duration": t.duration, "elapsed": t.elapsed, "segments": [s.to_dict() for s in t.segments]}

    @classmethod
    def from_dict(cls, data: dict) -> StoredTranscript:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not a transcript")
        segments = [Segment(float(s["start"]), float(s["end"]), str(s["text"]),
                            tuple(Word(float(w["start"]), float(w["end"]), str(w["word"]), float(w["probability"]),
                                       _speaker(w))
                                  for w in s.get("words", ())), _speaker(s))
                    for s in data["segments"]]
        prob = data.get("language_probability")
        t = Transcript(segments, float(data.get("duration") or 0.0), str(data.get("model") or ""),
                       float(data.get("elapsed") or 0.0), data.get("language"),
                       None if prob is None else float(prob), str(data.get("task") or "transcribe"))
        return cls(str(data["id"]), str(data["name"]), str(data["kind"]), str(data.get("source") or ""),
                   float(data["created"]), t)


def live_name(when: float | None = None) -> str:
    """"Live, 14:02" (local time)."""
    return time.strftime("Live, %H:%M", time.localtime(time.time() if when is None else when))


def list_labels(items: list[StoredTranscript]) -> list[str]:
    """What the list shows for each of `items`: its name, told apart from same-named ones.

    Two files named speech.wav get their folders ("speech.wav (talks)", "speech.wav (demo)",
    more of the path where the folders share a name too); transcripts still alike (the same
    file twice, two recordings in one minute) get their time of creation.
    """
    labels = [t.name for t in items]
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(items):
        groups.setdefault(t.name, []).append(i)
    for group in (g for g in groups.values() if len(g) > 1):
        hints = {i: [] for i in group}
        folders = _folder_hints([items[i].source for i in group if items[i].kind == "file"])
        for i in group:
            if items[i].kind == "file" and folders.get(items[i].source):
                hints[i].append(folders[items[i].source])
        alike: dict[tuple, list[int]] = {}
        for i in group:
            alike.setdefault(tuple(hints[i]), []).append(i)
        for same in (s for s in alike.values() if len(s) > 1):
            for i, when in zip(same, _times([items[i].created for i in same]), strict=True):
                hints[i].append(when)
        for i in group:
            labels[i] = f"{items[i].name} ({', '.join(hints[i])})" if hints[i] else items[i].name
    return labels


def _folder_hints(sources: list[str]) -> dict[str, str]:
    """source -> the shortest end of its folder's path that tells the distinct folders apart."""
    parents = {s: Path(s).parent.parts for s in set(sources)}
    distinct = set(parents.values())
    if len(distinct) < 2:
        return {}
    for depth in range(1, max(len(p) for p in distinct) + 1):
        ends = {p: "/".join(p[-depth:]) for p in distinct}
        if len(set(ends.values())) == len(distinct):
            return {s: ends[p] or "/" for s, p in parents.items()}
    return {s: str(Path(s).parent) for s in parents}


def _times(created: list[float]) -> list[str]:
    """Local times that differ where the moments do: 14:02, else 14:02:05, else with the date."""
    for fmt in ("%H:%M", "%H:%M:%S", "%d %b %Y %H:%M:%S"):
        texts = [time.strftime(fmt, time.localtime(c)) for c in created]
        if len(set(texts)) == len(texts):
            return texts
    return [f"{t} #{n}" for n, t in enumerate(texts, 1)]


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class TranscriptStore:
    """The transcripts folder: one `<id>.json` per transcript (and `<id>.flac`: a live one's audio)."""

    def __init__(self, folder: str | Path | None = None):
        self._folder = Path(folder) if folder is not None else None

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = transcripts_dir()
        self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def path(self, transcript_id: str) -> Path:
        if not _ID.match(transcript_id) or transcript_id.startswith("."):
            raise ValueError(f"bad transcript id {transcript_id!r}")
        return self.folder / f"{transcript_id}.json"

    def audio_path(self, transcript_id: str) -> Path:
        """Where a live transcript's audio is kept (`<id>.flac`, written by core/recording.py)."""
        return self.path(transcript_id).with_suffix(".flac")

    def new(self, name: str, kind: str, source: str = "", transcript: Transcript | None = None,
            created: float | None = None) -> StoredTranscript:
        """A new transcript (not saved yet) with an id no other one has."""
        created = time.time() if created is None else created
        stem = _SAFE.sub("-", Path(name).stem if kind == "file" else "live").strip("-.")[:40] or "transcript"
        tid = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(created))}-{stem}-{uuid.uuid4().hex[:6]}"
        return StoredTranscript(tid, name, kind, source, created, transcript or Transcript([], 0.0))

    def save(self, item: StoredTranscript) -> Path:
        """Write atomically (temporary file, fsync, rename)."""
        target = self.path(item.id)
        atomic.write_text(target, json.dumps(item.to_dict(), ensure_ascii=False))
        return target

    def load(self, transcript_id: str) -> StoredTranscript:
        """ValueError/OSError when the file is missing or is not a whole transcript."""
        data = json.loads(self.path(transcript_id).read_text(encoding="utf-8"))
        item = StoredTranscript.from_dict(data)
        if item.id != transcript_id:
            raise ValueError("the file's id does not match its name")
        return item

    def list(self) -> list[StoredTranscript]:
        """Every whole transcript, oldest first; damaged or half-written files are skipped."""
        out = []
        for p in self.folder.glob("*.json"):
            if p.name.startswith("."):
                continue
            try:
                out.append(self.load(p.stem))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping %s: not a whole transcript (%s)", p, exc)
        return sorted(out, key=lambda t: (t.created, t.id))

    def delete(self, transcript_id: str) -> bool:
        """Remove the transcript's file and its kept audio; False if there was no transcript file."""
        p = self.path(transcript_id)
        self.audio_path(transcript_id).unlink(missing_ok=True)
        try:
            p.unlink()
        except FileNotFoundError:
            return False
        return True
