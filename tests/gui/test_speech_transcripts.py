"""Speech tab and controller (issue 15, items 4-5): the source picker lists what the computer plays (or says
why not); one transcript per recording or file, each with its own timeline, export, copy and delete,
kept across a restart; a file's waveform and spectrogram."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, FakeSoundDevice, silence, speak  # noqa: E402

from playground.core import audio  # noqa: E402
from playground.core.speech import sources, system_audio  # noqa: E402
from playground.core.errors import DeviceError  # noqa: E402
from playground.core.speech.accuracy import word_error_rate  # noqa: E402

TIMEOUT = 120_000
PULSE_DEVICES = [
    {"name": "Fake microphone", "index": 0, "hostapi": 0, "max_input_channels": 1, "default_samplerate": 16000.0},
    {"name": "pulse", "index": 1, "hostapi": 0, "max_input_channels": 32, "default_samplerate": 16000.0},
]
MONITOR = system_audio.SystemSource("Monitor of Speakers", "pulse", "vmic.monitor")


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("transcripts")
    return {"p0": speak(PHRASES[0], d / "first.wav"), "p2": speak(PHRASES[2], d / "second.wav"),
            "quiet": silence(d / "quiet.wav", 1.5)}


@pytest.fixture
def made(worker, settings):
    from playground.ui.context import AppContext
    from playground.ui.speech_controller import SpeechController

    controllers = []

    def make(**kwargs):
        controllers.append(SpeechController(AppContext(worker, settings, None), **kwargs))
        return controllers[-1]

    yield make
    for c in controllers:
        c.shutdown()


def test_the_picker_lists_microphones_and_what_the_computer_plays(qtbot, made):
    from playground.ui.speech_tab import FILE_SOURCE, SpeechTab

    sd = FakeSoundDevice(devices=PULSE_DEVICES)
    c = made(sounddevice_importer=lambda name: sd, system_lister=lambda: [MONITOR])
    choices = c.refresh_devices()
    assert [d.label for d in choices] == ["Fake microphone (Fake API)", "pulse (Fake API) - default",
                                          "What the computer plays: Monitor of Speakers",
                                          "A file played live (choose when recording)..."]
    assert c.system_problem == ""
    source = c.make_source(choices[2].data)
    assert isinstance(source, system_audio.SystemAudioSource) and source.system == MONITOR

    def no_server():
        raise DeviceError(system_audio.NO_PULSE)

    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd, system_lister=no_server)
    qtbot.addWidget(tab)
    try:
        items = [tab.device_combo.itemText(i) for i in range(tab.device_combo.count())]
        assert not any(i.startswith("What the computer plays") for i in items)
        assert tab.device_combo.itemData(tab.device_combo.count() - 1) == FILE_SOURCE
        assert tab.system_label.text() == system_audio.NO_PULSE and not tab.system_label.isHidden()
        assert not tab.message.property("isError")  # the microphones still work: no error
    finally:
        tab.shutdown()


@pytest.mark.slow
def test_two_files_give_two_transcripts_that_survive_a_restart(qtbot, made, wavs, isolated_home, tmp_path):
    from PySide6.QtGui import QGuiApplication

    from playground.ui.speech_tab import SpeechTab

    sd = FakeSoundDevice()
    c = made(sounddevice_importer=lambda name: sd)
    for key in ("p0", "p2"):
        with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT):
            c.transcribe_file(str(wavs[key]))
        qtbot.waitUntil(lambda: c.file_handle is None, timeout=10_000)
    first, second = c.transcripts()
    assert (first.name, second.name) == ("first.wav", "second.wav") and first.kind == second.kind == "file"
    assert c.current is second and c.segments() == second.segments  # the newest is shown
    assert word_error_rate(PHRASES[0], c.text_of(first.id)) < 0.3
    assert word_error_rate(PHRASES[2], c.text_of(second.id)) < 0.3
    assert c.select(first.id) and c.segments() == first.segments  # each has its own timeline
    assert word_error_rate(PHRASES[0], c.transcript_text()) < 0.3

    folder = isolated_home / "data" / "transcripts"
    saved = {p.stem for p in folder.glob("*.json")}
    assert saved == {first.id, second.id}
    assert json.loads((folder / f"{first.id}.json").read_text())["name"] == "first.wav"
    # A half-written transcript (a writer killed before the atomic rename) never appears.
    text = (folder / f"{second.id}.json").read_text()
    (folder / "20261201-000000-cut-000000.json").write_text(text[: len(text) // 3])
    (folder / f".{second.id}.json.abcd.part").write_text(text[:10])

    # A restart: a new controller and a new tab on the same PLAYGROUND_HOME list them again.
    again = made(sounddevice_importer=lambda name: sd)
    assert [(t.id, t.name) for t in again.transcripts()] == [(first.id, "first.wav"), (second.id, "second.wav")]
    assert again.transcripts()[0].segments == first.segments
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd)
    qtbot.addWidget(tab)
    try:
        assert tab.transcript_names() == ["second.wav", "first.wav"]  # newest first
        assert tab.view.topLevelItemCount() == 0 and not tab.delete_button.isEnabled()
        assert tab.select_transcript("first.wav")
        assert tab.view.topLevelItemCount() == len(first.segments)
        assert word_error_rate(PHRASES[0], tab.transcript_text()) < 0.3
        # The file's waveform and spectrogram, drawn when its transcript is selected.
        qtbot.waitUntil(lambda: tab.file_audio_path == str(wavs["p0"]), timeout=10_000)
        assert tab.waveform.frames >= 1 and tab.spectrogram.frames >= 1 and tab.spectrogram.image.max() > -60
        # Export and copy act on the transcript shown; the other keeps its own.
        out = tmp_path / "first.srt"
        assert tab.save(str(out)) and out.read_text().startswith("1\n00:00:0")
        assert word_error_rate(PHRASES[0], out.read_text().split("\n", 2)[2]) < 0.5
        assert tab.controller.export(second.id, str(tmp_path / "second.txt"))
        assert word_error_rate(PHRASES[2], (tmp_path / "second.txt").read_text()) < 0.3
        tab.copy_text()
        assert QGuiApplication.clipboard().text() == tab.controller.text_of(first.id)
        # Delete removes the transcript and its file.
        assert tab.delete_current()
        assert tab.transcript_names() == ["second.wav"] and tab.view.topLevelItemCount() == 0
        assert not (folder / f"{first.id}.json").exists() and (folder / f"{second.id}.json").exists()
    finally:
        tab.shutdown()
    assert [t.name for t in made(sounddevice_importer=lambda name: sd).transcripts()] == ["second.wav"]


@pytest.mark.slow
def test_a_live_recording_is_its_own_transcript(qtbot, made, wavs, isolated_home):
    c = made(source_factory=lambda data: sources.FileSource(wavs["p0"], speed=3.0))
    with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT):
        c.transcribe_file(str(wavs["p2"]))
    qtbot.waitUntil(lambda: c.file_handle is None, timeout=10_000)
    assert c.start_recording(device="injected")
    (file_t, live_t) = c.transcripts()
    assert live_t.kind == "live" and live_t.name.startswith("Live, ") and c.current is live_t
    assert c.delete(live_t.id) is False and c.message_is_error  # still being written
    assert c.select(file_t.id)  # look at the other one while recording: its timeline stays its own
    qtbot.waitUntil(lambda: not c.recording, timeout=TIMEOUT)
    assert c.segments() == file_t.segments
    assert word_error_rate(PHRASES[0], c.text_of(live_t.id)) < 0.3
    assert c.select(live_t.id) and c.segments() == live_t.segments
    # The recording's audio is kept beside its transcript, whole (FLAC, segment times are seconds into it).
    folder = isolated_home / "data" / "transcripts"
    kept = folder / f"{live_t.id}.flac"
    assert kept.is_file() and not list(folder.glob(".*.part"))
    heard = audio.probe(wavs["p0"]).duration
    assert heard <= audio.probe(kept).duration <= heard + 1.5  # + the source's second of tail silence
    assert c.audio_file(live_t) == str(kept)  # once the session ended, it plays from the file
    sd = FakeSoundDevice()
    again = made(source_factory=lambda data: sources.FileSource(wavs["quiet"], speed=4.0),
                 sounddevice_importer=lambda name: sd)
    assert [t.name for t in again.transcripts()] == [file_t.name, live_t.name]
    assert word_error_rate(PHRASES[0], again.text_of(live_t.id)) < 0.3
    # After a restart the live transcript still plays: from the kept audio.
    assert again.select(live_t.id) and again.audio_file() == str(kept)
    seg = again.segments()[0]
    with qtbot.waitSignal(again.playback_changed, timeout=10_000, check_params_cb=lambda playing: not playing):
        assert again.play_segment(0)
    samples, rate = sd.played[-1]
    assert rate == 16000 and np.array_equal(samples, audio.load_range(kept, seg.start, seg.end))
    # A recording in which nothing was said leaves no transcript behind, and no audio.
    assert again.start_recording(device="injected") and len(again.transcripts()) == 3
    qtbot.waitUntil(lambda: not again.recording, timeout=TIMEOUT)
    assert [t.id for t in again.transcripts()] == [file_t.id, live_t.id] and again.current is None
    assert len(list(folder.glob("*.json"))) == 2 and [p.name for p in folder.glob("*.flac")] == [kept.name]
    assert again.delete(live_t.id) and not kept.exists()  # deleting the transcript deletes its audio


def test_same_named_files_have_transcripts_that_look_different(qtbot, made, isolated_home, tmp_path):
    from playground.core.transcript import Segment, Transcript
    from playground.core.transcript_store import TranscriptStore
    from playground.ui.speech_tab import SpeechTab

    store = TranscriptStore()
    for folder, when in (("talks", 1_765_000_000.0), ("demo", 1_765_000_060.0)):
        source = tmp_path / folder / "speech.wav"
        store.save(store.new("speech.wav", "file", str(source), Transcript([Segment(0, 1, folder)], 1.0),
                             created=when))
    sd = FakeSoundDevice()
    c = made(sounddevice_importer=lambda name: sd)
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd)
    qtbot.addWidget(tab)
    try:
        assert tab.transcript_names() == ["speech.wav (demo)", "speech.wav (talks)"]
        assert tab.select_transcript("speech.wav (talks)") and tab.transcript_text().strip() == "talks"
    finally:
        tab.shutdown()


SPEAKERS = {"name": "Fake speakers", "index": 0, "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2,
            "default_samplerate": 48000.0}
MIC = {"name": "Fake microphone", "index": 1, "hostapi": 0, "max_input_channels": 1, "max_output_channels": 0,
       "default_samplerate": 16000.0}


def _tab_with_a_file_transcript(qtbot, made, sd_importer, wav):
    from playground.core.transcript import Segment, Transcript
    from playground.core.transcript_store import TranscriptStore
    from playground.ui.speech_tab import SpeechTab

    store = TranscriptStore()
    store.save(store.new(wav.name, "file", str(wav), Transcript([Segment(0.0, 1.0, "quiet")], 1.5)))
    c = made(sounddevice_importer=sd_importer)
    tab = SpeechTab(c.ctx, sounddevice_importer=sd_importer)
    qtbot.addWidget(tab)
    tab.transcript_list.setCurrentRow(0)  # the newest: this one
    assert tab.view.topLevelItemCount() == 1
    tab.view.setCurrentItem(tab.view.topLevelItem(0))
    return tab


def test_play_is_disabled_with_its_reason_without_an_audio_output(qtbot, made, wavs, isolated_home):
    sd = FakeSoundDevice(devices=[MIC])  # a microphone, no speakers
    tab = _tab_with_a_file_transcript(qtbot, made, lambda name: sd, wavs["quiet"])
    try:
        assert not tab.play_button.isEnabled()
        assert "no audio output device" in tab.play_button.toolTip()
        assert not tab.controller.play_segment(0)  # a double-click says the same, about the output
        assert "no audio output device" in tab.message.text() and "microphone" not in tab.message.text().lower()
        assert not getattr(sd, "played", [])
    finally:
        tab.shutdown()
    sd = FakeSoundDevice(devices=[SPEAKERS, MIC])  # with speakers Play is there
    tab = _tab_with_a_file_transcript(qtbot, made, lambda name: sd, wavs["quiet"])
    try:
        assert tab.play_button.isEnabled() and "Play the selected segment" in tab.play_button.toolTip()
    finally:
        tab.shutdown()


def test_without_portaudio_play_talks_about_playback_not_the_microphone(qtbot, made, wavs, isolated_home):
    def no_portaudio(name):
        raise OSError("PortAudio library not found")

    tab = _tab_with_a_file_transcript(qtbot, made, no_portaudio, wavs["quiet"])
    try:
        assert not tab.play_button.isEnabled()
        assert tab.play_button.toolTip().startswith("Playback is unavailable: the PortAudio library")
        assert not tab.controller.play_segment(0)
        assert tab.message.text().startswith("Playback is unavailable") and "microphone" not in tab.message.text()
    finally:
        tab.shutdown()


@pytest.mark.parametrize("devices, default, expected", [
    ([SPEAKERS, MIC], [1, 0], 1),  # the default microphone
    ([SPEAKERS, MIC, dict(MIC, name="USB mic", index=2)], [-1, 0], 1),  # none is the default: the first one
])
def test_the_input_list_starts_on_the_default_microphone(qtbot, made, devices, default, expected):
    from playground.ui.speech_tab import SpeechTab

    sd = FakeSoundDevice(devices=devices)
    sd.default.device = default
    c = made(sounddevice_importer=lambda name: sd)
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd, system_lister=lambda: [MONITOR])
    qtbot.addWidget(tab)
    try:
        assert tab.device_combo.currentData() == expected and tab.record_button.isEnabled()
    finally:
        tab.shutdown()


def test_without_a_microphone_the_input_list_says_why(qtbot, made):
    from PySide6.QtCore import Qt

    from playground.ui.speech_tab import NO_MICROPHONE, SpeechTab

    sd = FakeSoundDevice(devices=[SPEAKERS])
    c = made(sounddevice_importer=lambda name: sd)
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd, system_lister=lambda: [MONITOR])
    qtbot.addWidget(tab)
    try:
        combo = tab.device_combo
        assert combo.currentData() == NO_MICROPHONE and combo.currentText() == "No microphone"
        why = combo.itemData(0, Qt.ItemDataRole.ToolTipRole)
        assert why.startswith("No microphone found") and not tab.record_button.isEnabled()
        assert why in tab.record_button.toolTip()
        # what the computer plays is still there, and choosing it enables Record
        combo.setCurrentIndex(combo.findText("What the computer plays: Monitor of Speakers"))
        assert tab.record_button.isEnabled()
    finally:
        tab.shutdown()


def test_a_failed_file_clears_the_transcript_shown_before(qtbot, made, wavs, isolated_home, tmp_path):
    from playground.core.transcript import Segment, Transcript
    from playground.core.transcript_store import TranscriptStore
    from playground.ui.speech_tab import SpeechTab

    store = TranscriptStore()
    store.save(store.new("first.wav", "file", str(wavs["p0"]), Transcript([Segment(0, 1, "the earlier text")], 1.0)))
    broken = tmp_path / "broken.wav"
    broken.write_text("this is not audio\n" * 20)
    sd = FakeSoundDevice()
    c = made(sounddevice_importer=lambda name: sd)
    tab = SpeechTab(c.ctx, sounddevice_importer=lambda name: sd)
    qtbot.addWidget(tab)
    try:
        tab.transcript_list.setCurrentRow(0)
        qtbot.waitUntil(lambda: tab.file_audio_path == str(wavs["p0"]), timeout=10_000)
        assert "the earlier text" in tab.transcript_text()
        tab.open_paths([str(broken)])
        qtbot.waitUntil(lambda: c.file_handle is None and tab.controller.file_handle is None, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: tab.message.property("isError"), timeout=TIMEOUT)
        assert "broken.wav" in tab.message.text()
        assert tab.view.topLevelItemCount() == 0 and tab.controller.current is None
        qtbot.waitUntil(lambda: tab.file_audio_path == "", timeout=10_000)  # nor the earlier file's waveform
        assert tab.transcript_names() == ["first.wav"]  # the earlier transcript is still kept
    finally:
        tab.shutdown()
