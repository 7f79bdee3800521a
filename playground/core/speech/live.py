"""Live transcription: audio sources -> ring buffer -> Silero VAD -> Whisper -> partial/final text.

Sources (`sources.py`: the microphone through an injected `sounddevice` module,
or a file played at real-time pace) write 16 kHz mono float32 into a thread-safe
`RingBuffer` (`ring_buffer.py`). The `listen` job reads it on the worker
thread, splits speech into utterances with Silero VAD and decodes each one again and again while it
grows: words become *final* as soon as the commit policy (`live_commit.py`: LocalAgreement-2 with an
age backstop) agrees on them, so a person who never pauses still gets final text within seconds;
the rest shows as *partial* text, and a pause (or Stop, which transcribes everything already
buffered) finalises it at once. `KeepUp` keeps the backlog bounded on a slow computer.

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
from playground.core.speech.languages import SpeechOptions
from playground.core.speech.live_commit import SENTENCE_END, CommitPolicy, text_of, words_of
from playground.core.speech.sources import AudioSource
from playground.core.transcript import Autosaver, Segment, Word, add_segment

log = logging.getLogger(__name__)

SR = audio.SAMPLE_RATE
VAD_FRAME = 512  # Silero VAD's frame at 16 kHz (32 ms)


# -- the live transcriber -------------------------------------------------------------


@dataclass(frozen=True)
class LiveText:
    """Event: text of one line (`utterance`). `kind` is "partial" (may change) or "final" (fixed).

    Words become final while the person keeps talking (core/live_commit.py), so one line may get
    several finals, each with the words made final since the last: they extend the same line, which
    ends with a final whose `continues` is False (a pause, a sentence end, or a long line).
    A partial holds only the words that are not final yet."""

    kind: str
    text: str
    start: float  # seconds of audio since the stream started
    end: float
    emitted_at: float  # wall seconds since the stream started
    utterance: int
    language: str | None = None  # final only: the language the recogniser heard (or was given)
    language_probability: float | None = None
    speaker: str | None = None  # final only, with speaker labels on (core/speakers.LiveSpeakers)
    words: tuple[Word, ...] = ()  # final only: its words with their times
    continues: bool = False  # final only: more finals of this line follow

    def to_dict(self) -> dict:
        out = {"type": self.kind, "text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
               "emitted_at": round(self.emitted_at, 3)}
        if self.kind == "final":
            out["utterance"] = self.utterance
            out["continues"] = self.continues
            if self.words:
                out["words"] = [{"word": w.word.strip(), "start": w.start, "end": w.end,
                                 "probability": w.probability} for w in self.words]
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
    keep_up: str = ""  # "" keeping up, "cheaper" decoding more cheaply to catch up, "behind" still behind
    skipped_seconds: float = 0.0  # audio left untranscribed so the backlog stays bounded (session total)


@dataclass
class LiveResult:
    segments: list[Segment]
    duration: float
    autosave: str | None
    error: str | None = None
    recording: str | None = None  # the audio kept with `record_to` (None: not asked, or nothing heard)
    skipped_seconds: float = 0.0  # audio the recogniser could not keep up with (see KeepUp)


@dataclass
class LiveOptions:
    vad_threshold: float = 0.5
    min_silence: float = 0.5  # seconds of non-speech that end an utterance
    pre_roll: float = 0.3  # audio kept before speech starts
    min_speech: float = 0.25  # shorter blips are ignored
    partial_interval: float = 0.5  # seconds of new speech between hypotheses (at least)
    # Share of real time hypotheses may take: words become final after two of them agree, so they
    # come as often as this allows; a pause's final still rarely waits (it is decoded speculatively).
    partial_budget: float = 0.6
    final_tail: float = 0.1  # seconds of the silence after speech kept in the final decode
    max_utterance: float = 20.0  # an utterance this long is cut and finalised
    # A phrase that runs on: once an utterance is `soft_max_utterance` seconds long, a pause of only
    # `soft_min_silence` ends it (a comma, a breath), so no final waits for the speaker to stop for good.
    soft_max_utterance: float = 5.0
    soft_min_silence: float = 0.15
    # Words become final while the speaker goes on (core/live_commit.py): when two hypotheses agree,
    # or when a word ended `commit_max_age` s before the audio a hypothesis heard.
    commit_max_age: float = 0.9
    # Once the audio buffer is `trim_after` s long, it is trimmed after its last final word (the
    # final text goes on as Whisper's prompt), so hypotheses stay cheap however long a person talks.
    trim_after: float = 4.0
    line_max: float = 12.0  # a line of final words ends at a sentence end or once this long (s)
    final_beam: int = 5
    partial_beam: int = 1
    partial_max_lag: float = 0.6  # seconds of unread audio above which partial hypotheses are skipped


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
        self._policy = CommitPolicy(self.opt.commit_max_age)
        self._line_start: float | None = None
        self._line_open = False  # the last final continues: the next extends its segment
        self._partial_shown = False  # a partial of the current line is on screen
        self.cheap = False  # KeepUp: decode finals with beam 1 while the recogniser catches up
        self.utterance = 0
        self.segments: list[Segment] = []
        self._asr_seconds = 0.0
        self._asr_audio = 0.0
        self.in_speech = False
        self.partials_enabled = True  # the caller turns partials off while the recogniser lags behind

    @property
    def decode_seconds(self) -> float:
        """Seconds spent decoding so far (KeepUp's share of real time)."""
        return self._asr_seconds

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
        self._policy = CommitPolicy(self.opt.commit_max_age)
        self._line_start: float | None = None  # audio time (s) of the open line's first final word

    def _utt_audio(self) -> np.ndarray:
        return np.concatenate(self._utt) if self._utt else np.zeros(0, np.float32)

    @property
    def _heard(self) -> float:
        """Audio time (s) of the end of the buffer: nothing said later can be final yet."""
        return (self._utt_start + self._utt_len) / SR

    def _recognise(self, samples: np.ndarray, beam: int) -> list[Segment]:
        """Decode `samples` of the buffer with word times (faster-whisper's alignment), going on from
        the final text already trimmed out of the buffer."""
        t0 = time.perf_counter()
        options = replace(getattr(self.rec, "options", None) or SpeechOptions(), word_timestamps=True, live=True)
        segs = self.rec.transcribe(samples, offset=self._utt_start / SR, beam_size=beam,
                                   prompt=self._policy.prompt, options=options)
        self._last_decode = time.perf_counter() - t0
        self._asr_seconds += self._last_decode
        self._asr_audio += len(samples) / SR
        return segs

    def _final_audio(self) -> np.ndarray:
        """The buffer with only `final_tail` seconds of its trailing silence."""
        samples = self._utt_audio()
        tail = int(self.opt.final_tail * SR)
        if self._silence > tail:
            samples = samples[: max(0, len(samples) - (self._silence - tail))]
        return samples

    def _speculate(self) -> None:
        """The speaker paused for `final_tail`: decode the buffer now, as the final would.

        If the pause lasts until `min_silence`, the final uses this result (the very
        same samples), so its latency no longer includes the rest of the wait; if
        speech resumes, the result is dropped."""
        samples = self._final_audio()
        self._speculation = (len(samples), self._recognise(samples, self.final_beam))

    @property
    def final_beam(self) -> int:
        """The beam a pause's final decodes with: 1 while the recogniser catches up (KeepUp)."""
        return 1 if self.cheap else self.opt.final_beam

    def _partial(self) -> list[LiveText]:
        """A hypothesis: words it makes final become a final event at once; the rest is the partial."""
        self._last_partial_len = self._utt_len
        segments = self._recognise(self._utt_audio(), self.opt.partial_beam)
        self._partial_cost = self._last_decode
        heard = self._heard
        commit, rest = self._policy.update(words_of(segments), heard)
        events = []
        if commit:
            events.append(self._commit(commit))
            self._trim()
        if rest:
            start = max(rest[0].start, self._utt_start / SR)
            events.append(LiveText("partial", text_of(rest), start, heard, self.clock(), self.utterance))
            self._partial_shown = True
        return events

    def _commit(self, words: list[Word]) -> LiveText:
        """Words agreed while the person keeps talking: a final that the line's next finals extend,
        unless the words end a sentence or the line is long (then the line ends here)."""
        start = words[0].start
        if self._line_start is None:
            self._line_start = start
        ends = words[-1].word.strip().endswith(SENTENCE_END) or words[-1].end - self._line_start >= self.opt.line_max
        return self._emit(words, continues=not ends)

    def _trim(self) -> None:
        """Drop the audio of final words from a long buffer (their text becomes the prompt); the words
        not final yet stay in it."""
        if self._utt_len < self.opt.trim_after * SR:
            return
        cut = self._policy.cut_point(self._heard)
        if cut is None:
            return
        k = min(int(round(cut * SR)) - self._utt_start, self._utt_len)
        if k <= 0:
            return
        samples = self._utt_audio()[k:]
        self._utt, self._utt_len = [samples], len(samples)
        self._utt_start += k
        self._last_partial_len = max(0, self._last_partial_len - k)
        self._policy.trimmed()

    def _emit(self, words: list[Word], continues: bool, heard: float | None = None) -> LiveText:
        """A final event for `words` of the open line, kept in `segments` (one segment a line)."""
        text = text_of(words)
        heard = self._heard if heard is None else heard
        # Times never lie after what was heard (Whisper's last word may claim to end later).
        start, end = min(words[0].start, heard), min(max(words[-1].end, words[0].start), heard)
        words = tuple(replace(w, start=min(w.start, heard), end=min(w.end, heard)) for w in words)
        add_segment(self.segments, Segment(start, end, text, words), self._line_open)
        event = LiveText("final", text, start, end, self.clock(), self.utterance,
                         language=getattr(self.rec, "language", None),
                         language_probability=getattr(self.rec, "language_probability", None),
                         words=words, continues=continues)
        self._line_open, self._partial_shown = continues, False
        if not continues:
            self.utterance += 1
            self._line_start = None
        return event

    def _finalise(self) -> list[LiveText]:
        """A pause (or a cut, or Stop) ends the phrase: its words not yet final become final now."""
        samples = self._final_audio()
        speculation, self._speculation = self._speculation, None
        was_partial = self._partial_shown or self._line_open
        heard = (self._utt_start + len(samples)) / SR
        self.in_speech = False
        self._utt, self._utt_len, self._silence = [], 0, 0
        speech, self._speech = self._speech, 0
        if speech >= self.opt.min_speech * SR or was_partial:
            if speculation is not None and speculation[0] == len(samples):
                segs = speculation[1]
            else:
                segs = self._recognise(samples, self.final_beam)
            rest = self._policy.unseen(words_of(segs))
            if rest:
                return [self._emit(rest, continues=False, heard=heard)]
        utt = self.utterance
        self.utterance += 1
        self._line_open, self._line_start, self._partial_shown = False, None, False
        if not was_partial:
            return []
        # No new words: an empty final ends the line and tells the UI to drop its partial line.
        return [LiveText("final", "", heard, heard, self.clock(), utt)]

    def skip(self, samples: int) -> tuple[list[LiveText], float]:
        """Leave the buffered phrase and the next `samples` of audio untranscribed (KeepUp: decoding
        them would put the recogniser further behind); its words already final stay, an open line
        ends. Later times still count the skipped audio. Returns the events and the seconds skipped."""
        dropped = (self._utt_len + len(self._pending)) / SR if self.in_speech else len(self._pending) / SR
        events = []
        if self._line_open or self._partial_shown:  # an empty final ends the line and drops its partial
            events.append(LiveText("final", "", self._heard, self._heard, self.clock(), self.utterance))
            self.utterance += 1
        self._utt, self._utt_len, self._silence, self._speech = [], 0, 0, 0
        self.in_speech, self._speculation = False, None
        self._line_open, self._line_start, self._partial_shown = False, None, False
        self._policy = CommitPolicy(self.opt.commit_max_age)
        self._pos += len(self._pending) + samples
        self._pre, self._pending = [], np.zeros(0, np.float32)
        self.vad.reset_states()
        return events, dropped + samples / SR

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


class KeepUp:
    """Keeps live text within reach of real time. Once a second it looks at the most audio waiting
    to be transcribed in that second (the lag) and at the share of the second the recogniser spent
    decoding.

    A lag past `cheaper_after` s, or a recogniser busy more than `busy` of the time, makes the
    transcriber decode more cheaply (finals with beam 1; hypotheses are skipped while there is a lag);
    if that is not enough for `patience` seconds, or the lag passes `behind_after` s, the person is
    told (the status says "behind", with the measured real-time factor and a smaller model to
    choose); audio older than `max_backlog` s is left untranscribed, so the backlog never grows
    without end. A second with little lag and an idle recogniser steps back towards normal."""

    def __init__(self, cheaper_after: float = 1.5, behind_after: float = 4.0, max_backlog: float = 10.0,
                 keep: float = 2.0, recover_below: float = 0.5, busy: float = 0.85, patience: int = 3):
        self.cheaper_after, self.behind_after, self.max_backlog = cheaper_after, behind_after, max_backlog
        self.keep, self.recover_below, self.busy, self.patience = keep, recover_below, busy, patience
        self.state = ""  # "", "cheaper" or "behind"
        self.skipped = 0.0  # seconds of audio left untranscribed
        self._strained = 0  # seconds in a row that "cheaper" was not enough

    def observe(self, lag: float, busy_share: float = 0.0) -> str:
        """One second's peak lag (s) and the share of it spent decoding: the new state."""
        strained = lag > self.cheaper_after or busy_share > self.busy
        if lag > self.behind_after:
            self.state = "behind"
        elif strained:
            self._strained = self._strained + 1 if self.state else 0
            if not self.state:
                self.state = "cheaper"
            elif self._strained >= self.patience:
                self.state = "behind"
        elif lag < self.recover_below and busy_share < self.busy:
            self._strained = 0
            self.state = "cheaper" if self.state == "behind" else ""
        return self.state

    def skip(self, unread: float) -> float:
        """Seconds of the oldest unread audio to leave untranscribed (0 while within the backlog)."""
        if unread <= self.max_backlog:
            return 0.0
        skipped = unread - self.keep
        self.skipped += skipped
        self.state = "behind"
        return skipped


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
    last_status, decoded, peak_lag = time.monotonic(), 0.0, 0.0
    step = SR // 10
    autosave_error: str | None = None
    keep_up = KeepUp()
    open_line: int | None = None  # the line whose last final continues: the next extends its segment

    def emit(events: list[LiveText]):
        nonlocal autosave_error, open_line
        for event in _with_speaker(tagger, events):
            if event.kind == "final":
                autosave_error = _autosave(saver, event, event.utterance == open_line) or autosave_error
                open_line = event.utterance if event.continues else None
            yield event
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
            skip = keep_up.skip(len(data) / SR) if source.paced else 0.0
            if skip:  # far behind: leave the oldest audio untranscribed rather than fall further behind
                events, skipped = live.skip(int(skip * SR))
                keep_up.skipped += skipped - skip  # the phrase it was decoding is skipped too
                yield from emit(events)
                data = data[int(skip * SR):]
            for i in range(0, len(data), step):
                lag = ((buf.total - pos) + (len(data) - i)) / SR
                peak_lag = max(peak_lag, lag)
                # Behind real time: skip partial hypotheses so the finals catch up.
                live.partials_enabled = lag < live.opt.partial_max_lag
                yield from emit(live.feed(data[i:i + step]))
            now = time.monotonic()
            if now - last_status >= 1.0:
                if source.paced:
                    busy = (live.decode_seconds - decoded) / max(now - last_status, 1e-3)
                    live.cheap = keep_up.observe(peak_lag, busy) != ""
                last_status, decoded, peak_lag = now, live.decode_seconds, 0.0
                yield LiveStatus(pos / SR, (buf.total - pos) / SR, live.realtime_factor, live.in_speech,
                                 getattr(recognizer, "language", None),
                                 getattr(recognizer, "language_probability", None),
                                 keep_up.state, keep_up.skipped)
            if buf.closed and pos >= buf.total:
                break
        if not ctx.cancelled:
            yield from emit(live.flush())
    finally:
        source.stop()
        recording = recorder.close() if recorder is not None else None
    error = str(source.error) if source.error else autosave_error
    saved = saver is not None and saver.segments and autosave_error is None
    segments = live.segments
    if tagger is not None:
        from playground.core.speech.speakers import label_segments

        segments = label_segments(segments, tagger.turns)
    return LiveResult(segments, pos / SR, str(saver.txt_path) if saved else None, error, recording,
                      keep_up.skipped)


def _with_speaker(tagger, events: list[LiveText]) -> list[LiveText]:
    """Finals with the speaker of their audio (see `speakers.LiveSpeakers`); the rest as they are."""
    if tagger is None:
        return events
    return [replace(e, speaker=tagger.assign(e.start, e.end)) if e.kind == "final" and e.text else e
            for e in events]


def _autosave(saver: Autosaver | None, event, extend: bool = False) -> str | None:
    """Keep a final segment on disk (`extend`: it goes on the line of the last one); a full or
    read-only disk must not stop the recording."""
    if saver is None or event.kind != "final" or not event.text:
        return None
    try:
        saver.add(Segment(event.start, event.end, event.text, event.words, event.speaker), extend)
    except OSError as exc:
        log.warning("autosaving the live transcript failed: %s", exc)
        return (f"The transcript could not be autosaved to {saver.folder} ({exc.strerror or exc}); "
                "the text is kept in the window: save it elsewhere.")
    return None
