"""Timed transcripts: the segment type, TXT/SRT/VTT/JSON writers and the crash-safe autosave."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from playground.core import atomic, paths
from playground.core.errors import InputError

FORMATS = ("txt", "srt", "vtt", "json")


CUES = ("segment", "line", "word")  # SRT/VTT: one cue per segment, per line of words, per word
LINE_CHARS = 42  # the usual subtitle line length


@dataclass(frozen=True)
class Word:
    """One recognised word with its time (seconds of audio) and the recogniser's confidence."""

    start: float
    end: float
    word: str
    probability: float
    speaker: str | None = None  # filled by core/speakers.py when speakers were asked for

    def to_dict(self) -> dict:
        out = asdict(self)
        if self.speaker is None:
            del out["speaker"]
        return out


@dataclass(frozen=True)
class Segment:
    """A piece of recognised speech; times are seconds of audio from the start."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()  # filled when word timestamps were asked for
    speaker: str | None = None  # "Speaker 1" or the name given to it, when speakers were asked for

    def to_dict(self) -> dict:
        out = {"start": self.start, "end": self.end, "text": self.text}
        if self.speaker is not None:
            out["speaker"] = self.speaker
        if self.words:
            out["words"] = [w.to_dict() for w in self.words]
        return out


def join_segments(a: Segment, b: Segment) -> Segment:
    """`b` said right after `a` on the same line (live finals of one line): one segment."""
    return Segment(a.start, max(a.end, b.end), f"{a.text} {b.text}".strip(), a.words + b.words, a.speaker)


def add_segment(segments: list[Segment], segment: Segment, extend: bool) -> bool:
    """Append `segment`, or with `extend` (a live line's next final) join it to the last segment when
    the same speaker said both. True when it was joined."""
    if extend and segments and segments[-1].speaker == segment.speaker:
        segments[-1] = join_segments(segments[-1], segment)
        return True
    segments.append(segment)
    return False


@dataclass
class Transcript:
    """A whole file's (or session's) result."""

    segments: list[Segment]
    duration: float
    model: str = ""
    elapsed: float = 0.0  # wall seconds spent transcribing
    language: str | None = None  # detected (or given) language code
    language_probability: float | None = None  # the detector's confidence; 1.0 when the language was given
    task: str = "transcribe"  # or "translate" (to English)

    @property
    def text(self) -> str:
        return join_text(self.segments)

    @property
    def realtime_factor(self) -> float | None:
        return self.elapsed / self.duration if self.duration > 0 else None

    def to_dict(self) -> dict:
        prob = self.language_probability
        return {"text": self.text, "segments": [s.to_dict() for s in self.segments],
                "duration": round(self.duration, 3), "language": self.language,
                "language_probability": None if prob is None else round(prob, 4)}


def speakers_of(segments: Sequence[Segment]) -> list[str]:
    """The speakers in order of first appearance."""
    seen: dict[str, None] = {}
    for s in segments:
        if s.speaker:
            seen.setdefault(s.speaker, None)
    return list(seen)


def rename_speakers(segments: Sequence[Segment], names: Mapping[str, str]) -> list[Segment]:
    """Segments with speakers renamed (e.g. {"Speaker 1": "Ana"}); blank names keep the label."""
    names = {k: v.strip() for k, v in names.items() if v and v.strip()}
    if not names:
        return list(segments)

    def new(who):
        return names.get(who, who) if who else who

    return [replace(s, speaker=new(s.speaker), words=tuple(replace(w, speaker=new(w.speaker)) for w in s.words))
            for s in segments]


def join_text(segments: Iterable[Segment]) -> str:
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def srt_time(seconds: float) -> str:
    return _clock(seconds, ",")


def vtt_time(seconds: float) -> str:
    return _clock(seconds, ".")


def short_time(seconds: float) -> str:
    """m:ss.s for the UI."""
    seconds = max(0.0, seconds)
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:04.1f}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue in SRT/VTT; "-->" would be read as a timing line.
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines).replace("-->", "->")


def _spoken(s: Segment) -> str:
    """The text with its speaker in front ("Ana: ..."), for TXT and SRT (which has no voice tag)."""
    return f"{s.speaker}: {s.text.strip()}" if s.speaker else s.text.strip()


def _voiced(s: Segment) -> str:
    """WebVTT's voice span (`<v Ana>...`) around the text when the speaker is known."""
    if not s.speaker:
        return _cue_text(s.text)
    name = s.speaker.replace(">", "").replace("\n", " ").strip()
    return "\n".join(f"<v {name}>{line}" for line in _cue_text(s.text).split("\n"))


def to_txt(segments: Sequence[Segment]) -> str:
    return "".join(f"{_spoken(s)}\n" for s in segments if s.text.strip())


def cues(segments: Sequence[Segment], per: str = "segment", line_chars: int = LINE_CHARS) -> list[Segment]:
    """Subtitle cues: the segments, or one per word, or lines of at most `line_chars` characters
    cut between words (never across segments). Segments without word times stay whole."""
    if per not in CUES:
        raise InputError(f"Unknown cue layout '{per}': use one of {', '.join(CUES)}.")
    if per == "segment":
        return list(segments)
    out: list[Segment] = []
    for s in segments:
        if not s.words:
            out.append(s)
            continue
        if per == "word":
            out += [Segment(w.start, w.end, w.word.strip(), (w,), w.speaker or s.speaker)
                    for w in s.words if w.word.strip()]
            continue
        line: list[Word] = []
        for w in s.words:
            text = "".join(x.word for x in line + [w]).strip()
            if line and (len(text) > line_chars or w.speaker != line[-1].speaker):
                out.append(_line_cue(line, s))
                line = []
            line.append(w)
        if line:
            out.append(_line_cue(line, s))
    return out


def _line_cue(line: list[Word], s: Segment) -> Segment:
    return Segment(line[0].start, line[-1].end, "".join(x.word for x in line).strip(), tuple(line),
                   line[0].speaker or s.speaker)


def to_srt(segments: Sequence[Segment], per: str = "segment") -> str:
    blocks = []
    for i, s in enumerate((s for s in cues(segments, per) if s.text.strip()), 1):
        blocks.append(f"{i}\n{srt_time(s.start)} --> {srt_time(max(s.end, s.start))}\n{_cue_text(_spoken(s))}\n")
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment], per: str = "segment") -> str:
    blocks = ["WEBVTT\n"]
    for s in cues(segments, per):
        if s.text.strip():
            blocks.append(f"{vtt_time(s.start)} --> {vtt_time(max(s.end, s.start))}\n{_voiced(s)}\n")
    return "\n".join(blocks)


def render(segments: Sequence[Segment], fmt: str, duration: float | None = None, per: str = "segment",
           transcript: Transcript | None = None) -> str:
    """The text of one format; `per` lays out SRT/VTT cues (see `cues`); JSON takes the language
    (and the other fields) from `transcript` when given."""
    fmt = fmt.lower().lstrip(".")
    if fmt == "txt":
        return to_txt(segments)
    if fmt == "srt":
        return to_srt(segments, per)
    if fmt == "vtt":
        return to_vtt(segments, per)
    if fmt == "json":
        import json

        end = duration if duration is not None else max((s.end for s in segments), default=0.0)
        t = transcript or Transcript(list(segments), end)
        data = Transcript(list(segments), end, language=t.language, language_probability=t.language_probability)
        return json.dumps(data.to_dict(), ensure_ascii=False) + "\n"
    raise InputError(f"Unknown transcript format '{fmt}': use one of {', '.join(FORMATS)}.")


def render_transcript(t: Transcript, fmt: str, per: str = "segment") -> str:
    return render(t.segments, fmt, t.duration, per, t)


def save(segments: Sequence[Segment], target: str | Path, fmt: str | None = None, per: str = "segment",
         transcript: Transcript | None = None) -> Path:
    """Write atomically; the format comes from `fmt` or the file's suffix."""
    target = Path(target)
    fmt = (fmt or target.suffix.lstrip(".") or "txt").lower()
    duration = transcript.duration if transcript is not None else None
    atomic.write_text(target, render(segments, fmt, duration, per, transcript))
    return target


def transcripts_dir() -> Path:
    folder = paths.data_dir() / "transcripts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Autosaver:
    """Keeps `<data>/transcripts/<stamp>.txt` and `.srt` up to date as final segments arrive.

    Every write is atomic, so a crash leaves the last complete version on disk.
    """

    def __init__(self, stem: str | None = None, folder: Path | None = None):
        self.folder = folder or transcripts_dir()
        self.stem = stem or time.strftime("live-%Y%m%d-%H%M%S")
        self.segments: list[Segment] = []

    @property
    def txt_path(self) -> Path:
        return self.folder / f"{self.stem}.txt"

    @property
    def srt_path(self) -> Path:
        return self.folder / f"{self.stem}.srt"

    def add(self, segment: Segment, extend: bool = False) -> None:
        """Keep `segment`; `extend`: it continues the last segment's line (a live line's next final)."""
        add_segment(self.segments, segment, extend)
        self.flush()

    def flush(self) -> None:
        if not self.segments:
            return
        save(self.segments, self.txt_path, "txt")
        save(self.segments, self.srt_path, "srt")
