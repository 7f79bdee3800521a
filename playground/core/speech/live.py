"""Live transcription: audio sources -> ring buffer -> Silero VAD -> Whisper -> partial/final text.

Sources (`sources.py`: the microphone through an injected `sounddevice` module,
or a file played at real-time pace) write 16 kHz mono float32 into a thread-safe
`RingBuffer` (`ring_buffer.py`). The `listen` job reads it on the worker
thread, splits speech into utterances with Silero VAD, shows *partial* text while an utterance
grows (LocalAgreement-2: only words two consecutive hypotheses agree on
become stable, so the text does not flicker) and emits one *final* event when
the utterance ends (VAD silence) or when the source stops: Stop transcribes
everything already buffered before the job ends.

The UI reads the same ring buffer for its level meter, waveform and
spectrogram, so drawing never waits for the recogniser.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from playground.core import audio
from playground.core.jobs import JobContext
from playground.core.speech.sources import AudioSource
from playground.core.transcript import Autosaver, Segment

log = logging.getLogger(__name__)

SR = audio.SAMPLE_RATE
VAD_FRAME = 512  # Silero VAD's frame at 16 kHz (32 ms)


# -- the live transcriber -------------------------------------------------------------


@dataclass(frozen=True)
class LiveText:
    """Event: text of one utterance. `kind` is "partial" (may change) or "final" (fixed)."""

    kind: str
    text: str
    start: float  # seconds of audio since the stream started
    end: float
    emitted_at: float  # wall seconds since the stream started
    utterance: int
    stable: str = ""  # partial only: the prefix two hypotheses agreed on
    language: str | None = None  # final only: the language the recogniser heard (or was given)
    language_probability: float | None = None
    speaker: str | None = None  # final only, with speaker labels on (core/speakers.LiveSpeakers)

    def to_dict(self) -> dict:
        out = {"type": self.kind, "text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
               "emitted_at": round(self.emitted_at, 3)}
        if self.kind == "final" and self.language:
            out["language"] = self.language
            p = self.language_probability
            out["language_probability"] = None if p is None else round(float(p), 4)
        if self.speaker is not None:
            out["speaker"] = self.speaker
            for word in out.get("words", ()):  # a final's words are its speaker's
                word["speaker"] = self.speaker
        return out


@dataclass(frozen=True)
class LiveStatus:
    """Event, about once a second: how far the stream got and how fast the recogniser keeps up."""

    audio_seconds: float
    lag_seconds: float  # audio waiting in the buffer
    realtime_factor: float | None  # recogniser seconds per second of audio (last utterances)
    speaking: bool
    language: str | None = None  # the language last heard (or the one given), with speech_options
    language_probability: float | None = None


@dataclass
class LiveResult:
    segments: list[Segment]
    duration: float
    autosave: str | None
    error: str | None = None
    recording: str | None = None  # the audio kept with `record_to` (None: not asked, or nothing heard)


@dataclass
class LiveOptions:
    vad_threshold: float = 0.5
    min_silence: float = 0.5  # seconds of non-speech that end an utterance
    pre_roll: float = 0.3  # audio kept before speech starts
    min_speech: float = 0.25  # shorter blips are ignored
    partial_interval: float = 0.7  # seconds of new speech between partial hypotheses (at least)
    partial_budget: float = 0.4  # share of real time partial decodes may take, so finals rarely queue
    final_tail: float = 0.1  # seconds of the silence after speech kept in the final decode
    max_utterance: float = 20.0  # an utterance this long is cut and finalised
    # A phrase that runs on: once an utterance is `soft_max_utterance` seconds long, a pause of only
    # `soft_min_silence` ends it (a comma, a breath), so no final waits for the speaker to stop for good.
    soft_max_utterance: float = 5.0
    soft_min_silence: float = 0.15
    # Speakers who run phrases together (a conversation, a talk over noise) may give the VAD no pause
    # at all: past `segment_cut_after` seconds the utterance is cut between two words at the
    # recogniser's own segment boundary (None: never). Later than the soft cut, which serves readings
    # better (a cut without a pause costs a decode with word times, and read speech pauses soon).
    segment_cut_after: float | None = 8.0
    final_beam: int = 5
    partial_beam: int = 1
    partial_max_lag: float = 0.6  # seconds of unread audio above which partial hypotheses are skipped


def common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if _norm(x) != _norm(y):
            break
        n += 1
    return n


def _norm(word: str) -> str:
    return "".join(ch for ch in word.lower() if ch.isalnum())


class LiveTranscriber:
    """Pure logic (no threads): feed 16 kHz samples, get LiveText events back."""

    def __init__(self, recognizer, vad, options: LiveOptions | None = None, clock: Callable[[], float] | None = None,
                 decode_seconds: float = 0.0):
        """`decode_seconds`: a first estimate of one decode's cost (it spaces the first partials)."""
        self.rec = recognizer
        self.vad = vad
        self.opt = options or LiveOptions()
        self.clock = clock or (lambda: 0.0)
        self.vad.reset_states()
        self._pending = np.zeros(0, np.float32)  # samples not yet a whole VAD frame
        self._pos = 0  # absolute index of the next VAD frame
        self._pre: list[np.ndarray] = []
        self._utt: list[np.ndarray] = []
        self._utt_start = 0
        self._utt_len = 0
        self._silence = 0
        self._speech = 0
        self._last_partial_len = 0
        self._partial_cost = decode_seconds  # seconds the last partial decode took
        self._last_decode = 0.0  # seconds the last decode of any kind took
        self._speculation: tuple[int, list[Segment]] | None = None  # (samples decoded, segments)
        self._no_cut_before = 0  # utterance length (samples) before which no segment cut is tried
        self._prev_words: list[str] = []
        self._committed: list[str] = []
        self.utterance = 0
        self.segments: list[Segment] = []
        self._asr_seconds = 0.0
        self._asr_audio = 0.0
        self.in_speech = False
        self.partials_enabled = True  # the caller turns partials off while the recogniser lags behind

    @property
    def realtime_factor(self) -> float | None:
        return self._asr_seconds / self._asr_audio if self._asr_audio > 0 else None

    def _prob(self, frame: np.ndarray) -> float:
        import torch

        with torch.inference_mode():
            return float(self.vad(torch.from_numpy(frame), SR).item())

    def feed(self, samples: np.ndarray) -> list[LiveText]:
        events: list[LiveText] = []
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = len(data) // VAD_FRAME
        self._pending = data[n * VAD_FRAME:].copy()
        pre_frames = max(1, int(self.opt.pre_roll * SR / VAD_FRAME))
        off = self.opt.vad_threshold - 0.15
        for i in range(n):
            frame = data[i * VAD_FRAME:(i + 1) * VAD_FRAME]
            p = self._prob(frame)
            if not self.in_speech:
                self._pre.append(frame)
                if len(self._pre) > pre_frames:
                    self._pre.pop(0)
                if p >= self.opt.vad_threshold:
                    self.in_speech = True
                    self._utt = list(self._pre)
                    self._utt_len = sum(len(f) for f in self._utt)
                    self._utt_start = self._pos + VAD_FRAME - self._utt_len
                    self._pre = []
                    self._silence = 0
                    self._fresh_utterance(VAD_FRAME)
            else:
                self._utt.append(frame)
                self._utt_len += VAD_FRAME
                if p < off:
                    self._silence += VAD_FRAME
                else:
                    self._silence = 0
                    self._speech += VAD_FRAME
                    self._speculation = None  # the pause was not the end: its decode is stale
                if self._silence >= self.opt.min_silence * SR:
                    events.extend(self._finalise())
                elif (self._silence >= self.opt.soft_min_silence * SR
                      and self._utt_len - self._silence >= self.opt.soft_max_utterance * SR):
                    events.extend(self._finalise())  # a run-on phrase: cut at this short pause
                elif self._utt_len >= self.opt.max_utterance * SR:
                    events.extend(self._finalise())
                elif (self._speculation is None and self._silence >= self.opt.final_tail * SR
                      and (self._speech >= self.opt.min_speech * SR or self._last_partial_len > 0)):
                    self._speculate()
            self._pos += VAD_FRAME
        # Partials only while voiced (a pause is about to end in a final), spaced so their
        # decodes take at most `partial_budget` of real time: a final must not wait behind them.
        interval = max(self.opt.partial_interval, self._partial_cost / self.opt.partial_budget)
        if (self.in_speech and self.partials_enabled and self._silence == 0
                and self._speech >= self.opt.min_speech * SR
                and self._utt_len - self._last_partial_len >= interval * SR):
            events.extend(self._partial())
        return events

    def _fresh_utterance(self, speech: int) -> None:
        """What an utterance keeps about its hypotheses, reset for a new one (`speech` samples heard)."""
        self._speech = speech
        self._last_partial_len = 0
        self._speculation = None
        self._no_cut_before = 0
        self._prev_words, self._committed = [], []

    def _utt_audio(self) -> np.ndarray:
        return np.concatenate(self._utt) if self._utt else np.zeros(0, np.float32)

    def _recognise(self, samples: np.ndarray, beam: int, words: bool = False) -> list[Segment]:
        """Decode `samples` of the utterance; `words`: with word times (faster-whisper's alignment)."""
        t0 = time.perf_counter()
        offset = self._utt_start / SR
        if words:
            from dataclasses import replace

            from playground.core.speech.languages import SpeechOptions

            options = replace(getattr(self.rec, "options", None) or SpeechOptions(), word_timestamps=True)
            segs = self.rec.transcribe(samples, offset=offset, beam_size=beam, options=options)
        else:
            segs = self.rec.transcribe(samples, offset=offset, beam_size=beam)
        self._last_decode = time.perf_counter() - t0
        self._asr_seconds += self._last_decode
        self._asr_audio += len(samples) / SR
        return segs

    def _final_audio(self) -> np.ndarray:
        """The utterance with only `final_tail` seconds of its trailing silence."""
        samples = self._utt_audio()
        tail = int(self.opt.final_tail * SR)
        if self._silence > tail:
            samples = samples[: max(0, len(samples) - (self._silence - tail))]
        return samples

    def _speculate(self) -> None:
        """The speaker paused for `final_tail`: decode the utterance now, as the final would.

        If the pause lasts until `min_silence`, the final uses this result (the very
        same samples), so its latency no longer includes the rest of the wait; if
        speech resumes, the result is dropped."""
        samples = self._final_audio()
        self._speculation = (len(samples), self._recognise(samples, self.opt.final_beam))

    def _partial(self) -> list[LiveText]:
        self._last_partial_len = self._utt_len
        samples = self._utt_audio()
        segments = self._recognise(samples, self.opt.partial_beam)
        self._partial_cost = self._last_decode
        words = " ".join(s.text for s in segments).split()
        # LocalAgreement-2: words both of the last two hypotheses agree on become stable, and stay.
        # Committed words never change (not even their punctuation); new agreed words are appended.
        agreed = common_prefix(self._prev_words, words)
        n = len(self._committed)
        if agreed > n and common_prefix(self._committed, words) == n:
            self._committed = self._committed + words[n:agreed]
        self._prev_words = words
        if self._wants_cut(segments):
            events = self._cut_at_segment()
            if events:
                return events
        shown = self._committed + words[len(self._committed):]
        if not shown:
            return []
        end = (self._utt_start + self._utt_len) / SR
        return [LiveText("partial", " ".join(shown), self._utt_start / SR, end, self.clock(), self.utterance,
                         " ".join(self._committed))]

    def _wants_cut(self, segments: list[Segment]) -> bool:
        """The utterance has run past `segment_cut_after` with no pause to end it, and the partial
        shows a finished segment before the one being spoken."""
        after = self.opt.segment_cut_after
        return (after is not None and len(segments) >= 2 and self._utt_len >= after * SR
                and self._utt_len >= self._no_cut_before)

    def _cut_at_segment(self) -> list[LiveText]:
        """Decode the utterance as a final is decoded, with word times; the segments before the last
        become this utterance's final, cut between two words, and the rest goes on as a new utterance.
        (A partial's segment times are too rough to cut at: words at the boundary were lost.)"""
        audio = self._utt_audio()
        segs = self._recognise(audio, self.opt.final_beam, words=True)
        cut = None
        if len(segs) >= 2:
            head, tail = segs[:-1], segs[-1]
            last = head[-1].words[-1].end if head[-1].words else head[-1].end
            first = tail.words[0].start if tail.words else tail.start
            cut = round((last + max(first, last)) / 2 * SR) - self._utt_start
        if cut is None or cut < self.opt.min_speech * SR or cut > self._utt_len - int(0.3 * SR):
            self._no_cut_before = self._utt_len + 2 * SR  # no boundary yet: look again 2 s later
            return []
        text = " ".join(s.text.strip() for s in head if s.text.strip())
        start, end = head[0].start, max(head[-1].end, head[0].start)
        utt = self.utterance
        self.utterance += 1
        rest = audio[cut:]
        self._utt, self._utt_len = [rest], len(rest)
        self._utt_start += cut
        self._fresh_utterance(len(rest))
        self.segments.append(Segment(start, end, text))
        return [self._final(text, start, end, utt)]

    def _final(self, text: str, start: float, end: float, utt: int) -> LiveText:
        """A final event, with the language the recogniser last heard (when it tells)."""
        return LiveText("final", text, start, end, self.clock(), utt,
                        language=getattr(self.rec, "language", None),
                        language_probability=getattr(self.rec, "language_probability", None))

    def _finalise(self) -> list[LiveText]:
        samples = self._final_audio()
        speculation, self._speculation = self._speculation, None
        was_partial = self._last_partial_len > 0
        start = self._utt_start / SR
        end = (self._utt_start + len(samples)) / SR
        self.in_speech = False
        self._utt, self._utt_len, self._silence = [], 0, 0
        speech = self._speech
        self._speech = 0
        utt = self.utterance
        self.utterance += 1
        if speech < self.opt.min_speech * SR and not was_partial:
            return []
        if speculation is not None and speculation[0] == len(samples):
            segs = speculation[1]
        else:
            segs = self._recognise(samples, self.opt.final_beam)
        text = " ".join(s.text.strip() for s in segs if s.text.strip())
        if segs:
            start, end = segs[0].start, max(segs[-1].end, segs[0].start)
            self.segments.append(Segment(start, end, text))
        if not text and not was_partial:
            return []
        # An empty final tells the UI to drop the partial line of an utterance that held no words.
        return [self._final(text, start, end, utt)]

    def flush(self) -> list[LiveText]:
        """The stream ended: whatever is buffered becomes final."""
        if self._pending.size and self.in_speech:
            self._utt.append(self._pending)
            self._utt_len += len(self._pending)
            self._pending = np.zeros(0, np.float32)
        if self.in_speech:
            self._silence = 0
            return self._finalise()
        return []


def listen(ctx: JobContext, source: AudioSource, model: str | None = None, options: LiveOptions | None = None,
           autosave: bool = True, trust_remote_code: bool = False, speech_options=None,
           record_to: str | None = None, speakers: bool = False, max_speakers: int | None = None):
    """Job (generator): transcribe `source` live until it stops; yields LiveText and LiveStatus events.

    `speech_options`: a `speech.SpeechOptions` (language, or None to detect it per phrase; transcribe or
    translate to English); an English-only model asked for another language fails at once.
    `record_to`: keep the audio heard there (FLAC; segment times are seconds into it).
    `speakers`: each final carries `speaker` (Speaker 1.., at most `max_speakers`), found online.

    Returns a LiveResult. A device lost mid-way ends the job with its error in
    `LiveResult.error` (and the final text of everything heard before it).
    """
    from playground.core.speech import recognizers as speech

    recognizer = speech.load_recognizer(model, ctx, trust_remote_code)
    if speech_options is not None:
        recognizer = speech.WithOptions(recognizer, speech_options)
    vad = speech.load_vad()
    tagger = None
    if speakers:
        from playground.core.speech.speakers import LiveSpeakers, load_encoder

        load_encoder()  # before the clock starts, like the recogniser
        tagger = LiveSpeakers(max_speakers)
    saver = Autosaver() if autosave else None
    decode_seconds = 0.0
    if source.started_at is None:
        # The first decode pays one-off set-up costs: pay them before the stream's clock starts.
        recognizer.transcribe(np.zeros(SR // 2, np.float32), beam_size=1)
        t = time.perf_counter()  # a second one measures what a decode costs on this machine
        recognizer.transcribe(np.zeros(SR // 2, np.float32), beam_size=1)
        decode_seconds = time.perf_counter() - t
        source.start()
    t0 = source.started_at or time.monotonic()
    live = LiveTranscriber(recognizer, vad, options, clock=lambda: time.monotonic() - t0,
                           decode_seconds=decode_seconds)
    ctx.progress(None, f"Listening to {source.name}...")
    buf = source.buffer
    pos = 0
    last_status = 0.0
    step = SR // 10
    autosave_error: str | None = None
    recorder = None
    if record_to:
        from playground.core.speech.recorder import AudioRecorder

        try:
            recorder = AudioRecorder(record_to)
        except (OSError, RuntimeError) as exc:  # soundfile raises RuntimeError for a path it cannot open
            log.warning("cannot keep the recording's audio in %s: %s", record_to, exc)
    try:
        while True:
            if ctx.cancelled:
                source.stop()
                break
            if not buf.wait(pos, 0.1):
                source.check()
                continue
            before = pos
            data, pos = buf.read(pos)
            if recorder is not None:
                lost = pos - before - len(data)  # overwritten before we read them: silence keeps the times
                if lost > 0:
                    recorder.write(np.zeros(lost, np.float32))
                recorder.write(data)
            if tagger is not None:
                tagger.feed(data)
            for i in range(0, len(data), step):
                # Behind real time: skip partial hypotheses so the finals catch up.
                live.partials_enabled = (buf.total - pos) + (len(data) - i) < live.opt.partial_max_lag * SR
                for event in _with_speaker(tagger, live.feed(data[i:i + step])):
                    autosave_error = _autosave(saver, event) or autosave_error
                    yield event
            now = time.monotonic()
            if now - last_status >= 1.0:
                last_status = now
                yield LiveStatus(pos / SR, (buf.total - pos) / SR, live.realtime_factor, live.in_speech,
                                 getattr(recognizer, "language", None),
                                 getattr(recognizer, "language_probability", None))
            if buf.closed and pos >= buf.total:
                break
        if not ctx.cancelled:
            for event in _with_speaker(tagger, live.flush()):
                autosave_error = _autosave(saver, event) or autosave_error
                yield event
    finally:
        source.stop()
        recording = recorder.close() if recorder is not None else None
    error = str(source.error) if source.error else autosave_error
    saved = saver is not None and saver.segments and autosave_error is None
    segments = live.segments
    if tagger is not None:
        from playground.core.speech.speakers import label_segments

        segments = label_segments(segments, tagger.turns)
    return LiveResult(segments, pos / SR, str(saver.txt_path) if saved else None, error, recording)


def _with_speaker(tagger, events: list[LiveText]) -> list[LiveText]:
    """Finals with the speaker of their audio (see `speakers.LiveSpeakers`); the rest as they are."""
    if tagger is None:
        return events
    return [replace(e, speaker=tagger.assign(e.start, e.end)) if e.kind == "final" and e.text else e
            for e in events]


def _autosave(saver: Autosaver | None, event) -> str | None:
    """Keep a final segment on disk; a full or read-only disk must not stop the recording."""
    if saver is None or event.kind != "final" or not event.text:
        return None
    try:
        saver.add(Segment(event.start, event.end, event.text, speaker=event.speaker))
    except OSError as exc:
        log.warning("autosaving the live transcript failed: %s", exc)
        return (f"The transcript could not be autosaved to {saver.folder} ({exc.strerror or exc}); "
                "the text is kept in the window: save it elsewhere.")
    return None
