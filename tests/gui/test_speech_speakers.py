"""Speech tab, "Who spoke" (issue 23, item 4): a file of two voices shows each segment's speaker, and a
speaker renamed in the Speakers list is renamed in the view, the exports and the copy on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import FakeSoundDevice, two_voices  # noqa: E402

pytestmark = pytest.mark.slow
TIMEOUT = 120_000


@pytest.fixture
def tab(qtbot, worker, settings):
    from playground.ui.context import AppContext
    from playground.ui.speech_tab import SpeechTab

    sd = FakeSoundDevice()
    t = SpeechTab(AppContext(worker, settings, None), sounddevice_importer=lambda name: sd)
    qtbot.addWidget(t)
    yield t
    t.shutdown()


def _lines(t):
    return [t.view.topLevelItem(i).text(1) for i in range(t.view.topLevelItemCount())]


def test_who_spoke_labels_and_a_rename_reaches_view_exports_and_disk(qtbot, tab, tmp_path, isolated_home):
    wav, _ = two_voices(tmp_path)
    c = tab.controller
    assert not tab.speaker_list.isVisibleTo(tab)  # no speakers yet: no list
    tab.speakers_check.setChecked(True)
    with qtbot.waitSignal(c.transcript_done, timeout=TIMEOUT):
        c.transcribe_file(str(wav))
    qtbot.waitUntil(lambda: c.file_handle is None, timeout=10_000)
    assert tab.speaker_names() == ["Speaker 1", "Speaker 2"] and tab.speaker_list.isVisibleTo(tab)
    lines = _lines(tab)
    assert lines[0].startswith("Speaker 1: Good morning") and any(x.startswith("Speaker 2: ") for x in lines)

    tab.speaker_list.item(0).setText("Ana")  # what editing the name in the list does
    assert tab.speaker_names() == ["Ana", "Speaker 2"]
    assert _lines(tab)[0].startswith("Ana: Good morning")
    vtt, txt = tmp_path / "out.vtt", tmp_path / "out.txt"
    assert tab.save(str(vtt)) and tab.save(str(txt))
    assert "<v Ana>Good morning" in vtt.read_text() and "<v Speaker 2>" in vtt.read_text()
    assert txt.read_text().startswith("Ana: Good morning")
    stored = json.loads(next((isolated_home / "data" / "transcripts").glob("*.json")).read_text())
    assert stored["segments"][0]["speaker"] == "Ana"

    tab.speaker_list.item(1).setText("  ")  # an empty name is refused and the old one stays
    assert tab.speaker_names() == ["Ana", "Speaker 2"] and tab.speaker_list.item(1).text() == "Speaker 2"
    assert "cannot be empty" in tab.message.text()


def test_without_who_spoke_no_speakers_appear(qtbot, tab, tmp_path):
    wav, _ = two_voices(tmp_path, turns=("Hello there, how are you today?",))
    with qtbot.waitSignal(tab.controller.transcript_done, timeout=TIMEOUT):
        tab.controller.transcribe_file(str(wav))
    assert tab.speaker_names() == [] and not any(":" in x.split(" ")[0] for x in _lines(tab))
