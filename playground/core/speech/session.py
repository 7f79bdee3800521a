"""The Speech tab's state and rules without Qt: inputs, live and file jobs, the transcript library.

`SpeechSession` owns the input devices (the `sounddevice` module, or an injected source
factory), starts live sessions (`live.listen`) and file transcriptions
(`file_transcription.transcribe_file`), keeps one transcript per recording or file in a
`TranscriptLibrary` (on disk through `TranscriptStore`), the shown transcript's segments and
where their audio plays from, its speakers and their names, plays a segment, exports, and words
what the view shows (messages, the real-time factor line).

A front end provides what needs an event loop: `_submit` runs a job on a lane, `_emit` tells the
view (its names are the Qt adapter's signals), `_show_status`, the playback position timer and
where the measured speeds are kept (`ui/speech_controller.py` is that adapter). Every call is
made from one thread (the UI's); only the playback thread calls `_from_playback_thread`.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from playground.core import transcript
from playground.core.errors import PlaygroundError
from playground.core.jobs import Job
from playground.core.speech.languages import (
    DEFAULT_MODEL, LANGUAGE_NAMES, MULTILINGUAL_MODEL, SpeechOptions, options_problem,
)
from playground.core.speech.library import SpeakerNames, TranscriptLibrary
from playground.core.transcript import Segment, Transcript, add_segment
from playground.core.transcript_store import StoredTranscript, TranscriptStore, live_name
from playground.core.wording import plural

if TYPE_CHECKING:  # numpy-backed: imported where used, so a view can show before numpy loads
    from playground.core.speech.live import LiveResult, LiveStatus
    from playground.core.speech.ring_buffer import RingBuffer
    from playground.core.speech.sources import AudioSource

log = logging.getLogger(__name__)

FILE_SOURCE = "file"  # device data for "play a file as if it were a microphone"
NO_MICROPHONE = "no-microphone"  # device data of the entry that says there is none (and why: its tooltip)
INJECTED_SOURCE = "injected"
LIVE_LANE = "live"
FILE_LANE = "speech"
BUSY_MESSAGE = "Busy: stop the recording or wait for the file being transcribed."
SMALLER = {MULTILINGUAL_MODEL: DEFAULT_MODEL}  # the smaller bundled model to suggest


def language_text(language: str | None, probability: float | None) -> str:
    """"Language: French (fr), 93 %" for the view."""
    if not language:
        return ""
    name = LANGUAGE_NAMES.get(language, language)
    if probability is None or probability >= 1.0:
        return f"Language: {name} ({language})"
    return f"Language: {name} ({language}) detected, {probability:.0%} sure"


def rtf_advice(model: str, rtf: float | None) -> str:
    """Above a real-time factor of 1: the smaller model to choose (DESIGN section 6); "" otherwise."""
    if rtf is None or rtf <= 1.0:
        return ""
    smaller = SMALLER.get(model)
    if smaller:
        return f"slower than real time: choose {smaller.removeprefix('bundled/')}, the smaller model"
    return ("slower than real time: close busy programs" if model == DEFAULT_MODEL
            else "slower than real time: choose a smaller model")


def word_index(seg: Segment, position: float) -> int:
    """The word being spoken at `position` (seconds of audio): the last one started; -1 before the first."""
    found = -1
    for i, w in enumerate(seg.words):
        if w.start <= position + 1e-3:
            found = i
        else:
            break
    return found


@dataclass(frozen=True)
class DeviceChoice:
    """One entry of the input list: what the user reads, and what `make_source` takes."""

    label: str
    data: object
    is_default: bool = False
    why: str = ""  # the entry's tooltip


def realtime_text(status: LiveStatus, model: str) -> str:
    """The live status line; above a real-time factor of 1, what to do about it."""
    if status.realtime_factor is None:
        return f"{status.audio_seconds:.0f} s heard"
    text = f"{status.audio_seconds:.0f} s heard, real-time factor {status.realtime_factor:.2f}"
    advice = rtf_advice(model, status.realtime_factor)
    if advice:
        text += f" ({advice})"
    if status.keep_up == "behind":  # KeepUp: cheaper decoding was not enough
        smaller = SMALLER.get(model) or (DEFAULT_MODEL if model != DEFAULT_MODEL else None)
        what = (f"choose {smaller.removeprefix('bundled/')} to keep up" if smaller
                else "close busy programs to keep up")
        text += f"; falling behind, {status.lag_seconds:.0f} s to catch up: {what}"
    elif status.keep_up == "cheaper":
        text += f", {status.lag_seconds:.1f} s behind: decoding faster to catch up"
    elif status.lag_seconds > 2:
        text += f", {status.lag_seconds:.0f} s behind"
    if status.skipped_seconds:
        text += f" ({status.skipped_seconds:.0f} s of audio left untranscribed to keep up)"
    return text



class SpeechSession:
    """`source_factory(device_data) -> AudioSource` and `sounddevice_importer(name) -> module` may be
    injected (tests, demos)."""

    def __init__(self, source_factory: Callable[[object], AudioSource] | None = None,
                 sounddevice_importer: Callable[[str], object] | None = None,
                 system_lister: Callable[[], list] | None = None, store: TranscriptStore | None = None):
        """`system_lister() -> [system_audio.SystemSource]` (DeviceError: the reason there are none) replaces
        the PulseAudio monitor listing; `store` the transcripts folder (default: the user's data folder)."""
        self._source_factory = source_factory
        self._sd_importer = sounddevice_importer
        self._system_lister = system_lister
        self.system_problem = ""
        self.library = TranscriptLibrary(store or TranscriptStore())
        self._current: StoredTranscript | None = None  # the transcript shown
        self._active: StoredTranscript | None = None  # the one the running job fills
        self._buffers: dict[str, object] = {}  # live transcript id -> its ring buffer (playback)
        self._partial_starts: dict[int, float] = {}  # utterance -> its partial's start (seconds)
        self._sd = None
        self.source: AudioSource | None = None
        self.live_handle = None
        self.file_handle = None
        self.live_model = ""
        self.last_recording = ""  # the audio kept from the last live session that had words ("" when none)
        self.devices: list[DeviceChoice] = []
        self.mic_problem = ""
        self.output_problem = ""  # why segments cannot be played here ("" when they can, or not known yet)
        self.devices_listed = False
        self.message = ""
        self.message_is_error = False
        self.realtime = ""
        self.autosave_path = ""
        self._segments: list[Segment] = []  # final segments, in order of arrival
        self._origins: list[tuple | None] = []  # ("file", path) or ("live", ring buffer), per segment
        self._partials: dict[int, str] = {}  # utterance -> text that may still change
        self._open_line: int | None = None  # the live line whose last final continues (see LiveText)
        self._file_name = ""
        self._file_path = ""
        self._live_buffer: RingBuffer | None = None
        self.playing = False
        self._playback_id = 0
        self.language: str | None = None  # None: detect it
        self.task = "transcribe"  # or "translate" (to English)
        self.speakers = False  # "Who spoke": label speakers in the next files and live sessions
        self._live_names = SpeakerNames()  # the live session's speaker labels renamed while it runs
        self.detected = ""  # language_text() of the last transcript
        self._language: tuple[str | None, float | None] = (None, None)  # for JSON exports
        self.model_rtf: dict[str, float] = self._load_rtf()  # real-time factor measured here, per model
        self._play_from: tuple[int, float, float] | None = None  # segment index, audio start, monotonic start

    # -- state ----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.live_handle is not None

    @property
    def stopping(self) -> bool:
        """Capture stopped; the buffered audio is still being transcribed."""
        return self.recording and self.source is not None and self.source.finished

    @property
    def file_busy(self) -> bool:
        return self.file_handle is not None

    @property
    def busy(self) -> bool:
        return self.recording or self.file_busy

    def segments(self) -> list[Segment]:
        return list(self._segments)

    def segment(self, index: int) -> Segment | None:
        return self._segments[index] if 0 <= index < len(self._segments) else None

    def partials(self) -> dict[int, str]:
        """Utterance -> its partial text, for the utterances not final yet."""
        return dict(self._partials)

    def transcript_text(self, segments: list[Segment] | None = None) -> str:
        return transcript.to_txt(self.segments() if segments is None else segments)

    # -- language, task, measured speed ----------------------------------------------------
    def set_language(self, language: str | None) -> None:
        code = (language or "").strip().lower()
        self.language = None if code in ("", "auto") else code

    def set_task(self, task: str) -> None:
        self.task = "translate" if task == "translate" else "transcribe"

    def speech_options(self, words: bool = False):
        return SpeechOptions(self.language, self.task, words)

    def _check_options(self, model: str) -> bool:
        problem = options_problem(model, self.language, self.task)
        if problem:
            self._say(problem, error=True)
        return not problem

    def measured(self, model: str, rtf: float | None) -> None:
        """Remember a real-time factor measured with `model` and show every model's."""
        if rtf is None:
            return
        self.model_rtf[model] = rtf
        self._emit("model_rtf_changed", self.rtf_summary(model))

    # -- what a front end provides (the Qt adapter overrides these) -------------------------
    def _emit(self, event: str, *args) -> None:
        """Tell the view: `event` is one of the adapter's signal names (nothing without a view)."""

    def _submit(self, lane: str, job: Job, **callbacks):
        """Run `job` on `lane` with the runner's callbacks (on_event, on_result, ...); its handle."""
        raise NotImplementedError("a front end runs the session's jobs")

    def _show_status(self, text: str) -> None:
        """A passing note (the window's status bar)."""

    def _load_rtf(self) -> dict[str, float]:
        """The real-time factors measured in earlier sessions (kept by the front end)."""
        return {}

    def _save_rtf(self) -> None:
        """Keep `model_rtf` for the next session."""

    def _playback_started(self) -> None:
        """Playback began: the front end follows its position (`playback_position`)."""

    def _playback_stopped(self) -> None:
        """Playback ended or was never started."""

    def _from_playback_thread(self, event: str, *args) -> None:
        """The playback thread's outcome; a front end with an event loop hands it to its own thread."""
        if event == "_playback_failed":
            self._say(*args, error=True)
        else:
            self._on_playback_done(*args)

    def rtf_summary(self, current: str | None = None) -> str:
        if not self.model_rtf:
            return ""
        parts = [f"{m.removeprefix('bundled/')} {r:.2f}" for m, r in sorted(self.model_rtf.items())]
        text = "Real-time factor measured here: " + ", ".join(parts)
        advice = rtf_advice(current, self.model_rtf.get(current)) if current else ""
        return f"{text} ({advice})" if advice else text

    def _say(self, text: str, error: bool = False) -> None:
        self.message, self.message_is_error = text, error
        self._emit("status", text, error)

    # -- devices --------------------------------------------------------------------
    def list_devices_once(self) -> None:
        if not self.devices_listed:
            self.devices_listed = True
            self.refresh_devices()
            import soundfile  # noqa: F401 - loaded early, so the first Record or Open does not stall

    def refresh_devices(self) -> list[DeviceChoice]:
        from playground.core.speech import input_devices, system_audio

        choices: list[DeviceChoice] = []
        self.mic_problem = ""
        self.system_problem = ""
        if self._source_factory is None:
            mics = []
            try:
                mics = input_devices.list_input_devices(self.sounddevice())
            except PlaygroundError as exc:
                self.mic_problem = str(exc)
            lister = self._system_lister or system_audio.pulse_monitors
            system, self.system_problem = system_audio.system_sources(mics, self.mic_problem, monitors=lister)
            loopback = {s.device for s in system if not s.pulse_source}
            choices = [DeviceChoice(d.label, d.index, d.is_default) for d in mics if d.index not in loopback]
            if not choices:  # the list starts on this, not on another source: it says why
                choices = [DeviceChoice("No microphone", NO_MICROPHONE, True,
                                        self.mic_problem or "No microphone found: every audio input "
                                                            "here records what the computer plays.")]
            elif not any(c.is_default for c in choices):
                choices[0] = DeviceChoice(choices[0].label, choices[0].data, True)
            choices += [DeviceChoice(s.label, s) for s in system]  # what the computer plays
            self.output_problem = self._find_output_problem()
        else:
            choices = [DeviceChoice("Injected source", INJECTED_SOURCE)]
        choices.append(DeviceChoice("A file played live (choose when recording)...", FILE_SOURCE))
        self.devices = choices
        self._emit("devices_changed", list(choices), self.mic_problem)
        self._emit("system_audio_problem", self.system_problem)
        if self.mic_problem:
            self._say(f"{self.mic_problem} You can still transcribe audio files.", error=True)
        self._emit("state_changed")
        return list(choices)

    def _find_output_problem(self) -> str:
        """Why segments cannot be played here ("" when an output device is there)."""
        from playground.core.speech import input_devices

        try:
            sd = self._sd or input_devices.load_sounddevice(self._sd_importer or importlib.import_module, "Playback")
        except PlaygroundError as exc:
            return str(exc)
        return input_devices.output_problem(sd)

    def sounddevice(self):
        """The `sounddevice` module, loaded once for the microphone and playback (DeviceError if missing)."""
        from playground.core.speech import input_devices

        if self._sd is None:
            self._sd = (input_devices.load_sounddevice(self._sd_importer) if self._sd_importer
                        else input_devices.load_sounddevice())
        return self._sd

    def make_source(self, device, file_path: str | None = None) -> AudioSource | None:
        """The source for a device choice; FILE_SOURCE plays `file_path` live (None without one)."""
        from playground.core.speech import sources, system_audio

        if device == FILE_SOURCE:
            return sources.FileSource(file_path) if file_path else None
        if device == NO_MICROPHONE:
            raise PlaygroundError(self.mic_problem or "No microphone found: choose a file played live.")
        if self._source_factory is not None:
            return self._source_factory(device)
        if self._sd is None:
            raise PlaygroundError(self.mic_problem or "The microphone is unavailable.")
        if isinstance(device, system_audio.SystemSource):
            return system_audio.SystemAudioSource(device, self._sd)
        return sources.MicrophoneSource(self._sd, device=device)

    # -- live sessions -------------------------------------------------------------------
    def start_recording(self, source: AudioSource | None = None, device=None, model: str | None = None,
                        file_path: str | None = None) -> bool:
        """Start a live session from `source` (else the one `device` names); False if none started."""
        from playground.core.speech import live

        if self.busy:
            return False
        if not self._check_options(model or DEFAULT_MODEL):
            return False
        self.list_devices_once()
        try:
            if source is None:
                source = self.make_source(device, file_path)
            if source is None:
                return False
            source.start()
        except PlaygroundError as exc:
            self._say(str(exc), error=True)
            return False
        self.source = source
        self._live_buffer = source.buffer  # segments of this session play from it
        self.live_model = model or DEFAULT_MODEL
        self.last_recording = ""
        self._live_names = SpeakerNames()
        # One transcript per recording: shown at once, on disk from its first final segment.
        item = self.library.new(live_name(), "live", source.name)
        item.transcript.model, item.transcript.task = self.live_model, self.task
        self._buffers[item.id] = source.buffer
        self._active = item
        self.library.add(item)
        self._emit("transcripts_changed", self.transcripts())
        self.select(item.id)
        self.realtime = ""
        kept = self._audio_path(item)  # the audio is kept beside the transcript, for playback after a restart
        # Live sessions have their own lane: a recording can last an hour and must neither
        # wait behind nor block the jobs of the other tabs.
        self.live_handle = self._submit(
            LIVE_LANE, Job(live.listen, (source,), {"model": self.live_model, "speech_options": self.speech_options(),
                                               "record_to": str(kept) if kept is not None else None,
                                               "speakers": self.speakers},
                name="live transcription"),
            on_event=self._on_live_event, on_result=self._on_live_result,
            on_error=lambda message: self._say(message, error=True), on_finished=self._on_live_finished)
        self._say(f"Recording from {source.name}; loading {self.live_model}...")
        self._emit("recording_changed", True)
        self._emit("state_changed")
        return True

    def stop_recording(self) -> None:
        """Stop capturing; what is already buffered is still transcribed and made final."""
        if self.source is not None:
            self.source.stop()
        if self.recording:
            self._say("Stopped: finishing the text of what was recorded...")
        self._emit("state_changed")

    def toggle_record(self, device=None, model: str | None = None) -> None:
        if self.recording:
            self.stop_recording()
        else:
            self.start_recording(device=device, model=model)

    def _on_live_event(self, event) -> None:
        from playground.core.speech import live

        if isinstance(event, live.LiveText):
            if event.kind == "partial":
                self._partials[event.utterance] = event.text
                self._partial_starts[event.utterance] = event.start
                if self._active is None or self._active is self._current:
                    self._emit("partial_text", event.utterance, event.start, event.text)
            else:
                had_partial = self._partials.pop(event.utterance, None) is not None
                extend = event.utterance == self._open_line  # the line's next words, made final
                self._open_line = event.utterance if event.continues else None
                if event.text:
                    who = self._live_names.of(event.speaker)
                    words = tuple(replace(w, speaker=who) for w in event.words) if who else event.words
                    self._add_segment(Segment(event.start, event.end, event.text, words, speaker=who),
                                      ("live", self._live_buffer), event.utterance, extend)
                elif had_partial:
                    self._emit("partial_dropped", event.utterance)
        elif isinstance(event, live.LiveStatus):
            self.realtime = realtime_text(event, self.live_model)
            self._emit("realtime_changed", self.realtime)
            if event.realtime_factor is not None:
                self.measured(self.live_model, event.realtime_factor)
            text = language_text(event.language, event.language_probability)
            if text and text != self.detected:
                self.detected = text
                self._emit("language_changed", text)
            if event.realtime_factor is None and self.message.startswith("Recording from"):
                self._say(f"Recording from {self.source.name if self.source else 'input'}: speak now.")

    def _on_live_result(self, result: LiveResult) -> None:
        item = self._active
        if item is not None and item.kind == "live":
            item.transcript.duration = result.duration
            if item.transcript.segments:
                self._store_save(item)
            elif result.recording:  # no words: no transcript, so no audio to keep for it
                Path(result.recording).unlink(missing_ok=True)
            if result.recording and item.transcript.segments:
                self.last_recording = result.recording
                # From now on the whole recording plays from its file, not only the ring buffer's last minutes.
                self._buffers.pop(item.id, None)
                if self._current is item:
                    self._origins = [self._origin(item)] * len(self._segments)
        if result.autosave:
            self.autosave_path = result.autosave
            self._emit("autosaved", result.autosave)
        if result.error:
            self._say(result.error, error=True)
        elif not result.segments:
            self._say("No speech found in the recording.")
        else:
            self._say(f"Done: {plural(len(result.segments), 'segment')} from {result.duration:.1f} s of audio.")
        self._save_rtf()
        self._emit("transcript_done", Transcript(list(result.segments), result.duration, self.live_model))

    def _on_live_finished(self) -> None:
        if self.source is not None:
            self.source.stop()
        for utterance in list(self._partials):  # a job that died mid-utterance
            del self._partials[utterance]
            self._emit("partial_dropped", utterance)
        self.live_handle = None
        item, self._active = self._active, None
        if item is not None and not item.transcript.segments:  # nothing was said: no transcript
            self._forget(item.id)
        self._emit("recording_changed", False)
        self._emit("state_changed")

    # -- files -------------------------------------------------------------------------
    def open_paths(self, paths: list[str], model: str | None = None):
        """Transcribe the first audio file of `paths` (a drop or the command line); its JobHandle or None."""
        from playground.core import audio

        audio_paths = [p for p in paths if audio.is_audio_path(p)] or list(paths)
        if not audio_paths:
            return None
        if self.busy:
            self._say(BUSY_MESSAGE, error=True)
            return None
        if len(audio_paths) > 1:
            self._show_status(f"Transcribing {Path(audio_paths[0]).name}; drop the other files one at a time.")
        return self.transcribe_file(audio_paths[0], model)

    def transcribe_file(self, path: str, model: str | None = None):
        from playground.core.speech import file_transcription

        if self.busy:
            self._say(BUSY_MESSAGE, error=True)
            return None
        if not self._check_options(model or DEFAULT_MODEL):
            return None
        self._file_name = Path(path).name
        self._file_path = str(path)
        self._active = None
        name = self._file_name
        self.file_handle = self._submit(
            FILE_LANE, Job(file_transcription.transcribe_file, (path,), {"model": model or DEFAULT_MODEL,
                                                  "options": self.speech_options(words=True),
                                                  "speakers": self.speakers},
                name=f"transcribe {name}"),
            on_event=self._on_file_event, on_result=self._on_file_result,
            on_error=self._on_file_error,
            on_cancelled=lambda: self._say(f"Cancelled {name}; the segments so far are kept."),
            on_finished=self._on_file_finished)
        self._say(f"Transcribing {name}...")
        self._emit("file_busy_changed", True)
        self._emit("state_changed")
        return self.file_handle

    def _on_file_event(self, event) -> None:
        from playground.core.speech import file_transcription

        if isinstance(event, file_transcription.FileSegment):
            text = language_text(event.language, event.language_probability)
            if text and text != self.detected:
                self.detected = text
                self._emit("language_changed", text)
            if self._active is None:  # one transcript per file, from its first segment
                item = self.library.new(self._file_name, "file", self._file_path)
                self._active = item
                self.library.add(item)
                self._emit("transcripts_changed", self.transcripts())
                self.select(item.id)
            self._add_segment(event.segment, ("file", self._file_path), -1)

    def _on_file_result(self, result: Transcript) -> None:
        item = self._active
        if item is not None and item.kind == "file":
            # With "Who spoke", the labelled (and split) segments come only with the result.
            segments = result.segments if transcript.speakers_of(result.segments) else item.transcript.segments
            item.transcript = Transcript(list(segments), result.duration, result.model,
                                         result.elapsed, result.language, result.language_probability, result.task)
            self._store_save(item)
            if segments is result.segments and item is self._current:
                self.select(item.id)
        rtf = f", real-time factor {result.realtime_factor:.2f}" if result.realtime_factor is not None else ""
        self.detected = language_text(result.language, result.language_probability)
        self._language = (result.language, result.language_probability)
        self._emit("language_changed", self.detected)
        lang = f", {self.detected[len('Language: '):]}" if self.detected else ""
        self._say(f"Transcribed {self._file_name}: {plural(len(result.segments), 'segment')}, "
                  f"{result.duration:.1f} s of audio{rtf}{lang}.")
        self.measured(result.model, result.realtime_factor)
        self._save_rtf()
        self._emit("transcript_done", result)

    def _on_file_error(self, message: str) -> None:
        if self._active is None:  # no text of this file came: the one shown before must not look like its text
            self.clear()
            self.detected = ""
            self._emit("language_changed", "")
        self._say(message, error=True)

    def _on_file_finished(self) -> None:
        self.file_handle = None
        self._active = None
        self._emit("file_busy_changed", False)
        self._emit("state_changed")

    def _add_segment(self, seg: Segment, origin: tuple | None, utterance: int, extend: bool = False) -> None:
        """A final segment; `extend`: it goes on the line of the last one (a live line's next words),
        and `segment_added` comes again with that segment's index."""
        item = self._active
        if item is not None:
            add_segment(item.transcript.segments, seg, extend)
            item.transcript.duration = max(item.transcript.duration, seg.end)
            self._store_save(item)  # autosaved atomically with every final segment
            if item is not self._current:  # another transcript is shown: this one fills quietly
                return
        if not add_segment(self._segments, seg, extend):
            self._origins.append(origin)
        self._emit("segment_added", len(self._segments) - 1, self._segments[-1], utterance)
        self._emit("state_changed")

    # -- playback ---------------------------------------------------------------------------
    def play_word(self, index: int, word: int) -> bool:
        """Play segment `index` from its word `word` to the segment's end (clicking a word)."""
        seg = self.segment(index)
        if seg is None or not 0 <= word < len(seg.words):
            return False
        return self.play_segment(index, seg.words[word].start)

    def play_segment(self, index: int, start: float | None = None) -> bool:
        """Play final segment `index` (from `start`, seconds of audio, when given) through the default
        output device; False if it cannot start. `playback_position` follows it every 50 ms."""
        from playground.core import audio

        seg = self.segment(index)
        origin = self._origins[index] if seg is not None else None
        if seg is not None and not origin and self._current is not None:  # a transcript kept from before
            self._say("The audio of this live recording was not kept."
                      if self._current.kind == "live" else
                      f"The audio file {self._current.source or self._current.name} is no longer there.", error=True)
        if seg is None or not origin:
            return False
        if start is not None and seg.start <= start < seg.end:
            seg = Segment(start, seg.end, seg.text, seg.words)
        if self.output_problem:
            self._say(self.output_problem, error=True)
            return False
        try:
            sd = self.sounddevice()
        except PlaygroundError:
            self.output_problem = self._find_output_problem()  # says "Playback", not "The microphone"
            self._say(self.output_problem or "Playback is unavailable.", error=True)
            self._emit("state_changed")
            return False
        kind, where = origin
        if kind == "live":
            first = int(seg.start * audio.SAMPLE_RATE)
            if where is None or first < where.total - where.capacity:
                self._say("That part of the recording is no longer in memory "
                          "(the last two minutes of a recording can be played).", error=True)
                return False
        self.stop_playback()
        self._playback_id += 1
        self.playing = True
        self._emit("playback_changed", True)
        self._emit("state_changed")
        self._show_status(f"Playing {transcript.short_time(seg.start)} - {transcript.short_time(seg.end)}")
        threading.Thread(target=self._play, args=(sd, kind, where, seg, self._playback_id), name="segment playback",
                         daemon=True).start()
        self._play_from = (index, seg.start, time.monotonic())
        self._playback_started()
        return True

    def _play(self, sd, kind: str, where, seg: Segment, playback_id: int) -> None:
        from playground.core import audio

        try:
            if kind == "live":
                first = int(seg.start * audio.SAMPLE_RATE)
                samples, _ = where.read(first, int((seg.end - seg.start) * audio.SAMPLE_RATE))
            else:
                samples = audio.load_range(where, seg.start, seg.end)
            if samples.size == 0:
                raise PlaygroundError("The segment has no audio to play.")
            sd.play(samples, audio.SAMPLE_RATE, blocking=True)
        except PlaygroundError as exc:
            self._from_playback_thread("_playback_failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - PortAudio errors: one sentence in the tab
            self._from_playback_thread("_playback_failed", f"Cannot play the segment: {str(exc).strip() or type(exc).__name__}.")
        finally:
            self._from_playback_thread("_playback_done", playback_id)

    def stop_playback(self) -> None:
        if self.playing and self._sd is not None:
            try:
                self._sd.stop()  # ends the blocking play() on the playback thread
            except Exception:  # noqa: BLE001 - nothing is playing any more
                pass

    def _on_playback_done(self, playback_id: int) -> None:
        if playback_id == self._playback_id:
            self._playback_stopped()
            self._play_from = None
            self.playing = False
            self._emit("playback_changed", False)
            self._emit("state_changed")

    # -- the transcript -------------------------------------------------------------------
    def save(self, path: str, fmt: str | None = None, segments: list[Segment] | None = None,
             per: str = "segment") -> bool:
        """Write the transcript (TXT, SRT, VTT or JSON, atomically); False, with the reason said, if it failed.

        `per`: SRT/VTT cues per segment, per line of words or per word (segments with word times);
        JSON carries the language last detected and each segment's words."""
        segs = self.segments() if segments is None else segments
        language, probability = self._language
        info = Transcript(segs, max((s.end for s in segs), default=0.0), language=language,
                          language_probability=probability)
        return self._write(segs, path, fmt, per, info)

    def _write(self, segs: list[Segment], path: str, fmt: str | None, per: str, info: Transcript) -> bool:
        """`transcript.save`, with the outcome said in the status line."""
        try:
            transcript.save(segs, path, fmt, per, info)
        except (OSError, PlaygroundError) as exc:
            self._say(f"Could not save {Path(path).name}: {exc}", error=True)
            return False
        self._show_status(f"Saved {path}")
        return True

    def set_speakers(self, on: bool) -> None:
        """Label who spoke in the next file transcriptions and live sessions."""
        self.speakers = bool(on)

    def speaker_names(self) -> list[str]:
        """The speakers of the transcript shown, in order of first appearance."""
        return transcript.speakers_of(self._segments)

    def rename_speaker(self, old: str, new: str) -> bool:
        """Call `old` `new` in the transcript shown (view, exports and the copy on disk); a name
        already in use merges the two. False, with the reason said, when nothing changed."""
        new = " ".join(new.split())
        if not new:
            self._say("A speaker's name cannot be empty.", error=True)
            return False
        if old not in self.speaker_names() or new == old:
            return False
        item = self._current
        if item is None:
            return False
        item.transcript.segments = transcript.rename_speakers(item.transcript.segments, {old: new})
        self._store_save(item)
        if item is self._active and item.kind == "live":  # the session's next finals get the name too
            self._live_names.rename(old, new)
        self.select(item.id)
        return True

    def clear(self) -> None:
        """Empty the view (no transcript shown); the transcripts stay in the list and on disk."""
        self._current = None
        self._segments.clear()
        self._origins.clear()
        self._partials.clear()
        self.autosave_path = ""
        self._emit("cleared")
        self._emit("current_changed", "")
        self._emit("state_changed")

    # -- one transcript per recording or file ---------------------------------------------
    def transcripts(self) -> list[StoredTranscript]:
        return self.library.items()

    @property
    def current(self) -> StoredTranscript | None:
        """The transcript shown (None: an empty view)."""
        return self._current

    def find(self, transcript_id: str) -> StoredTranscript | None:
        return self.library.find(transcript_id)

    def _store_save(self, item: StoredTranscript) -> None:
        problem = self.library.save(item)
        if problem:  # a full or read-only disk must not stop a recording
            self._say(problem, error=True)

    def _audio_path(self, item: StoredTranscript) -> Path | None:
        return self.library.audio_path(item)

    def _origin(self, item: StoredTranscript) -> tuple | None:
        """Where a transcript's audio plays from: its file, a live session's ring buffer while it
        records, then the audio kept beside the transcript (after a restart too)."""
        if item.kind == "file":
            return ("file", item.source) if item.source and Path(item.source).is_file() else None
        buffer = self._buffers.get(item.id)
        if buffer is not None:
            return ("live", buffer)
        kept = self._audio_path(item)
        return ("file", str(kept)) if kept is not None and kept.is_file() else None

    def audio_file(self, item: StoredTranscript | None = None) -> str:
        """The audio file behind a file transcript (the shown one by default), "" when none is at hand."""
        item = item or self._current
        origin = self._origin(item) if item is not None else None
        return origin[1] if origin and origin[0] == "file" else ""

    def select(self, transcript_id: str) -> bool:
        """Show one transcript: its own timeline (segments), language and audio; False if unknown."""
        item = self.find(transcript_id)
        if item is None:
            return False
        self._current = item
        origin = self._origin(item)
        self._segments = list(item.transcript.segments)
        self._origins = [origin] * len(self._segments)
        self._language = (item.transcript.language, item.transcript.language_probability)
        self._emit("cleared")
        for i, seg in enumerate(self._segments):
            self._emit("segment_added", i, seg, -1)
        if item is self._active:
            for utterance, text in self._partials.items():
                self._emit("partial_text", utterance, self._partial_starts.get(utterance, 0.0), text)
        self._emit("current_changed", item.id)
        self._emit("state_changed")
        return True

    def text_of(self, transcript_id: str) -> str:
        item = self.find(transcript_id)
        return transcript.to_txt(item.transcript.segments) if item is not None else ""

    def export(self, transcript_id: str, path: str, fmt: str | None = None, per: str = "segment") -> bool:
        """Write one transcript (TXT, SRT, VTT or JSON, atomically); False, with the reason said, if it failed."""
        item = self.find(transcript_id)
        if item is None:
            return False
        return self._write(item.transcript.segments, path, fmt, per, item.transcript)

    def delete(self, transcript_id: str) -> bool:
        """Remove a transcript from the list and its file from disk (not the one a running job fills)."""
        item = self.find(transcript_id)
        if item is None:
            return False
        if item is self._active:
            self._say("That transcript is still being written: stop the recording or wait for the file first.",
                      error=True)
            return False
        try:
            self.library.delete(item.id)
        except OSError as exc:
            self._say(f"Could not delete {item.name}: {exc.strerror or exc}.", error=True)
            return False
        self._forget(item.id)
        self._show_status(f"Deleted the transcript {item.name}.")
        return True

    def _forget(self, transcript_id: str) -> None:
        self.library.forget(transcript_id)
        self._buffers.pop(transcript_id, None)
        shown = self._current is not None and self._current.id == transcript_id
        self._emit("transcripts_changed", self.transcripts())
        if shown:
            self.clear()

    # -- shutdown ---------------------------------------------------------------------------
    def shutdown(self) -> None:
        self.stop_playback()
        if self.source is not None:
            self.source.stop()
