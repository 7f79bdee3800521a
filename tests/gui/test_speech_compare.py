"""Compare in the Speech tab, with the two offline models (Whisper tiny.en and base) on espeak-ng speech:
two transcripts of one file side by side, the differing words highlighted, WER between them and against
the reference beside the audio; a live session compared from its recording; Esc cancels every run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import PHRASES, speak  # noqa: E402

from playground.core import word_diff  # noqa: E402
from playground.core.speech import sources  # noqa: E402
from playground.core.speech.accuracy import word_error_rate  # noqa: E402
from playground.core.speech.languages import DEFAULT_MODEL, MULTILINGUAL_MODEL  # noqa: E402

pytestmark = pytest.mark.slow
SPEECH_TAB = 2
# Names espeak-ng says and the two models spell differently: a difference the view must highlight.
HARD = "Siobhan and Aoife met the quokka near Reykjavik on Thursday."


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    clip = speak(f"{PHRASES[1]} {HARD}", d / "clip.wav")
    (d / "clip.txt").write_text(f"{PHRASES[1]} {HARD}\n")
    plain = speak(PHRASES[0], d / "plain.flac")  # no reference beside it
    return {"clip": clip, "plain": plain}


@pytest.fixture
def tab(qtbot, main_window):
    from playground.core import models

    models.cache.clear()  # each model loads in its turn ("with loading"), whatever ran before
    main_window.tabs.setCurrentIndex(SPEECH_TAB)
    page = main_window.page(SPEECH_TAB)
    qtbot.waitUntil(lambda: page.ctx.store.scanned, timeout=30_000)  # the columns are titled with its names
    page.picker.set_model(DEFAULT_MODEL)
    page.compare.switch.setChecked(True)
    page.compare.pickers[0].set_model(MULTILINGUAL_MODEL)
    yield page
    page.cancel()


def test_two_models_transcribe_one_file_side_by_side(qtbot, tab, clips):
    assert "recording once it ends" in tab.message.text()  # said when Compare was switched on
    assert tab.compared_models() == [DEFAULT_MODEL, MULTILINGUAL_MODEL]
    view = tab.comparison
    ends = []
    view.finished.connect(ends.append)
    with qtbot.waitSignal(view.finished, timeout=240_000) as done:
        tab.open_paths([str(clips["clip"])])
        assert not tab.open_button.isEnabled() and not tab.record_button.isEnabled()  # one run at a time
    comparison = done.args[0]
    assert comparison is not None and len(view.columns.columns) == 2
    qtbot.wait(300)
    assert ends == [comparison]  # one end, once
    reference = f"{PHRASES[1]} {HARD}"
    texts = [c.output.toPlainText() for c in view.columns.columns]
    assert [t.text for t in comparison.transcripts] == texts
    assert [view.column(i).title.text() for i in range(2)] == [tab.compare.display_name(m)
                                                               for m in tab.compared_models()]
    for i, text in enumerate(texts):
        assert word_error_rate(PHRASES[1], text.split(".")[0]) < 0.3, text  # both heard the plain sentence
        stats = view.column(i).stats.text()
        assert "Real-time factor" in stats and "with loading" in stats
        wer_ref = word_error_rate(reference, text)
        assert f"WER {wer_ref:.2f} against the reference" in stats
    between = word_error_rate(texts[0], texts[1])
    assert f"WER {between:.2f} against the first model" in view.column(1).stats.text()
    # The highlighted words are the ones the alignment says differ, and they do differ here.
    assert between > 0, texts
    for i, item in enumerate(comparison.transcripts):
        assert view.highlighted_words(i) == [item.text[s:e] for s, e in item.differs]
    assert view.highlighted_words(1)
    differ = {w.lower().strip(".,") for w in view.highlighted_words(1)}
    assert not differ & {"please", "call", "tomorrow", "morning", "meeting"}, differ  # shared words stay plain
    assert "Reference: clip.txt" in tab.message.text() and "highlighted" in tab.message.text()
    assert not view.cancel_button.isVisible()
    assert tab.open_button.isEnabled() and not view.busy
    # Each model's measured speed joins the tab's line of measured speeds.
    assert "tiny.en" in tab.model_rtf_label.text() and "whisper-base" in tab.model_rtf_label.text()
    # The columns take the transcript's place while Compare is on; off, the transcript is back.
    assert view.isVisible() and not tab.transcript_box.isVisible()
    tab.compare.switch.setChecked(False)
    assert not view.isVisible() and tab.transcript_box.isVisible()


def test_esc_cancels_every_run_of_the_comparison(qtbot, main_window, tab, clips):
    view = tab.comparison
    with qtbot.waitSignal(view.finished, timeout=120_000) as done:
        assert tab.compare_file(str(clips["plain"]))
        first, second = view.handles[("run", 0)], view.handles[("run", 1)]
        assert view.cancel_button.isVisible()
        qtbot.waitUntil(lambda: first.state.name == "RUNNING", timeout=30_000)
        main_window.cancel_action.trigger()  # Esc
    assert done.args[0] is None
    assert first.is_cancel_requested and second.is_cancel_requested
    assert second.state.name != "DONE" and not view.results  # the queued run never started
    assert [c.stats.text() for c in view.columns.columns] == ["Stopped.", "Stopped."]
    assert tab.message.text() == "Stopped." and not view.busy and tab.open_button.isEnabled()
    assert not view.cancel_button.isVisible()


def test_a_live_session_is_compared_on_its_recording(qtbot, tab, clips):
    view = tab.comparison
    with qtbot.waitSignal(view.finished, timeout=240_000) as done:
        tab.start_recording(sources.FileSource(clips["plain"], speed=1.0))
        assert tab.recording
    comparison = done.args[0]
    assert comparison is not None and len(comparison.transcripts) == 2
    assert Path(view.path).suffix == ".flac" and Path(view.path).is_file()  # the session's kept recording
    for item in comparison.transcripts:  # each model heard the phrase (base may mishear espeak's "Hello")
        assert word_error_rate(PHRASES[0], item.text) < 0.5, item.text
    assert "No reference transcript beside the audio" in tab.message.text()


def test_the_highlight_marks_spans_past_characters_outside_the_basic_plane(qtbot):
    from playground.ui.speech_compare import highlight, highlighted_words
    from playground.ui.widgets.compare_columns import CompareColumn

    column = CompareColumn("m", "m")
    qtbot.addWidget(column)
    text = "\U0001F389 party time, well said"  # Qt counts the emoji as two characters, Python as one
    column.output.setPlainText(text)
    item = word_diff.compare_transcripts(["party time, well done", text]).transcripts[1]
    highlight(column, text, item.differs)
    assert highlighted_words(column) == ["said"]


def test_a_model_that_fails_says_why_in_its_column_and_nothing_is_compared(qtbot, tab, clips, tmp_path):
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    tab.compare.pickers[0].set_model(str(broken))
    view = tab.comparison
    with qtbot.waitSignal(view.finished, timeout=120_000) as done:
        assert tab.compare_file(str(clips["plain"]))
    assert done.args[0] is None and view.results.keys() == {0}
    assert word_error_rate(PHRASES[0], view.column(0).output.toPlainText()) < 0.3
    assert view.column(1).stats.text() == "Failed." and view.column(1).output.toPlainText()  # the reason
    assert "Fewer than two models" in tab.message.text() and tab.message.property("isError")


def test_an_english_only_model_asked_for_french_is_refused_before_any_run(tab, clips):
    tab.language_combo.setCurrentIndex(tab.language_combo.findData("fr"))
    assert not tab.compare_file(str(clips["plain"]))
    assert "English only" in tab.message.text() and not tab.comparison.busy and not tab.comparison.handles
