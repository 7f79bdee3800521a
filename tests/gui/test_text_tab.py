"""The Text tab as a user drives it: type, press Ctrl+Enter or click, read bars, tables and the heatmap."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

RESULT_TIMEOUT = 240_000  # the first MiniLM load on a busy 2-core machine


@pytest.fixture
def text_tab(main_window):
    tab = main_window.page(0)
    assert main_window.tabs.tabText(0) == "Text"
    return tab


def run_and_wait(qtbot, panel, trigger=None):
    with qtbot.waitSignal(panel.result_ready, timeout=RESULT_TIMEOUT) as blocker:
        (trigger or panel.run)()
    qtbot.waitUntil(lambda: not panel.busy, timeout=5000)
    return blocker.args[0]


def test_panels_are_discovered_in_order(text_tab):
    titles = text_tab.titles()
    mine = ["Zero-shot labels", "Classify", "Semantic search", "Fill mask", "Summarize", "Tokens", "Attention"]
    assert [t for t in titles if t in mine] == mine
    assert text_tab.tasks.count() == len(titles)


def test_a_broken_panel_shows_its_error_and_the_rest_work(qtbot, settings, tmp_path, monkeypatch):
    import playground.ui.text_panels as pkg
    from playground.ui.context import AppContext
    from playground.ui.text_tab import TextTab

    (tmp_path / "zz_broken.py").write_text("TITLE = 'Broken'\nORDER = 1\nimport not_a_module_anywhere\n")
    monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
    tab = TextTab(AppContext(None, settings, None))
    qtbot.addWidget(tab)
    row = [s.module for s in tab.specs].index("zz_broken")
    tab.tasks.setCurrentRow(row)
    widget = tab.current_panel()
    assert widget.objectName() == "panelError" and "not_a_module_anywhere" in widget.text()
    assert tab.select("Tokens").objectName() != "panelError"


def test_zero_shot_with_ctrl_enter(qtbot, text_tab):
    panel = text_tab.select("zero_shot")
    panel.labels.setText("astronomy, gardening, banking")
    qtbot.keyClicks(panel.input, "Plant the tulip bulbs in autumn and water the roses ")
    panel.input.insertPlainText("🌷")  # QTest types ASCII only
    panel.input.setFocus()
    with qtbot.waitSignal(panel.result_ready, timeout=RESULT_TIMEOUT):
        qtbot.keyClick(panel.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    rows = panel.bars.rows()
    assert [label for label, _ in rows][0] == "gardening"
    assert sum(score for _, score in rows) == pytest.approx(1.0, abs=1e-3)
    assert panel.notice.isHidden()
    qtbot.waitUntil(panel.run_button.isEnabled, timeout=5000)  # finished comes right after the result
    assert panel.handle is None


def test_zero_shot_one_text_per_line_and_a_truncation_notice(qtbot, text_tab):
    panel = text_tab.select("zero_shot")
    panel.labels.setText("music, money")
    panel.per_line.setChecked(True)
    panel.input.setPlainText("The orchestra played a symphony\n" + "The bank charged fees on the loan " * 80)
    result = run_and_wait(qtbot, panel)
    assert len(result.items) == 2
    assert result.items[0].scores[0].label == "music" and result.items[1].scores[0].label == "money"
    assert len(panel.bars.rows()) == 4
    assert not panel.notice.isHidden() and "longer than the model's limit" in panel.notice.text()


def test_empty_input_asks_for_text_without_running(qtbot, text_tab):
    panel = text_tab.select("zero_shot")
    panel.input.setPlainText("   \n ")
    with qtbot.waitSignal(panel.failed, timeout=2000) as blocker:
        panel.run()
    assert "Type or paste" in blocker.args[0]
    assert panel.handle is None and panel.run_button.isEnabled()


def test_semantic_search_table(qtbot, text_tab):
    panel = text_tab.select("Semantic search")
    panel.query.setText("a hot drink in the morning")
    panel.input.setPlainText("Freshly brewed coffee with milk\nThe bus broke down on the highway\n"
                             "Green tea steeped for three minutes\nA spreadsheet of quarterly sales")
    assert panel.count.text() == "4 sentences"
    panel.top_k.setValue(2)
    run_and_wait(qtbot, panel, panel.run_button.click)
    results = panel.results()
    assert len(results) == 2
    assert {t for t, _ in results} == {"Freshly brewed coffee with milk", "Green tea steeped for three minutes"}
    assert results[0][1] >= results[1][1]


def test_search_loads_sentences_from_a_file(qtbot, text_tab, tmp_path):
    panel = text_tab.select("Semantic search")
    f = tmp_path / "s.txt"
    f.write_text("first line\n\nsecond línea ✓\n", encoding="utf-8")
    text_tab.open_paths([str(f)])
    assert panel.input.toPlainText() == "first line\nsecond línea ✓"


def test_attention_heatmap_follows_layer_and_head(qtbot, text_tab):
    panel = text_tab.select("Attention")
    panel.input.setPlainText("Birds sing at dawn.")
    result = run_and_wait(qtbot, panel)
    n = len(result.tokens)
    heat = panel.heatmap
    assert heat.matrix.shape == (n, n) and heat.tokens == result.tokens
    assert panel.layer.count() == 6 and panel.head.count() == 13  # average + 12 heads
    assert heat.matrix == pytest.approx(result.matrix(5, None))  # last layer, average by default
    panel.layer.setCurrentIndex(1)
    panel.head.setCurrentIndex(4)
    assert heat.matrix == pytest.approx(result.weights[1, 3])
    assert heat.image.image.shape == (n, n)


def test_tokens_table_and_counts(qtbot, text_tab):
    panel = text_tab.select("Tokens")
    panel.input.setPlainText("Hello wörld")
    run_and_wait(qtbot, panel)
    rows = panel.token_rows()
    assert rows[0] == ("[CLS]", 101) and rows[-1] == ("[SEP]", 102)
    assert panel.summary.text().startswith(f"{len(rows)} tokens")


def test_classify_a_trained_folder(qtbot, text_tab, tmp_path):
    from test_text_compare import make_classifier

    make_classifier(tmp_path, None, seed=1)

    panel = text_tab.select("Classify")
    panel.picker.set_model(str(tmp_path))
    panel.input.setPlainText("good movie")
    result = run_and_wait(qtbot, panel)
    assert {label for label, _ in panel.bars.rows()} == {"meh", "wow"}
    assert result.items[0].scores[0].score >= 0.5

    qtbot.waitUntil(lambda: not panel.busy, timeout=5000)
    panel.picker.set_model("bundled/all-minilm-l6-v2")
    with qtbot.waitSignal(panel.failed, timeout=RESULT_TIMEOUT) as blocker:
        panel.run()
    assert "no classification head" in blocker.args[0]
    assert "no classification head" in panel.status.text()


def test_model_picker_fills_from_the_catalog_and_keeps_choices(qtbot, text_tab, main_window):
    qtbot.waitUntil(lambda: main_window.store.scanned, timeout=120_000)
    zero = text_tab.select("zero_shot")
    assert zero.picker.model_id() == "bundled/all-minilm-l6-v2"
    assert "bundled, offline" in zero.picker.combo.currentText()
    assert zero.picker.combo.findData("facebook/bart-large-mnli") >= 0  # NLI models are offered too

    classify = text_tab.select("Classify")
    assert classify.picker.model_id() == ""  # nothing chosen yet: the user picks
    assert classify.picker.combo.findData("bundled/all-minilm-l6-v2") < 0  # no head: not offered
    classify.picker.combo.setEditText("someone/some-model")
    assert classify.picker.model_id() == "someone/some-model"
    classify.picker.remember()
    # One key per task: the one the Settings dialog edits and every picker of the task starts on.
    assert main_window.settings.get_model("text-classification") == "someone/some-model"


def test_building_the_panels_imports_no_torch(tmp_path):
    """The tab and its panels build without torch/transformers (only the attention view needs pyqtgraph)."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, tempfile\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from playground.settings import Settings\n"
        "from playground.ui.context import AppContext\n"
        "from playground.ui.text_tab import TextTab\n"
        "tab = TextTab(AppContext(None, Settings.in_file(tempfile.mktemp(suffix='.ini')), None))\n"
        "for m in ('zero_shot', 'classify', 'search', 'fill_mask', 'summarize', 'tokens'):\n"
        "    assert tab.select(m).objectName() != 'panelError', m\n"
        "print(sorted(m for m in ('torch', 'transformers', 'numpy', 'pyqtgraph') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("point_size", [None, 28])
def test_the_task_list_fits_its_longest_title_without_a_sideways_scroll_bar(qtbot, settings, point_size):
    from PySide6.QtGui import QFont

    from playground.ui.context import AppContext
    from playground.ui.text_tab import TextTab

    tab = TextTab(AppContext(None, settings, None))
    qtbot.addWidget(tab)
    if point_size:  # a larger font (or a theme) after the tab is built refits the list
        font = QFont(tab.font())
        font.setPointSize(point_size)
        tab.setFont(font)
    tab.resize(1000, 240)  # short enough for a vertical scroll bar with the larger font
    tab.show()
    qtbot.waitExposed(tab)
    tasks = tab.tasks
    fm = tasks.fontMetrics()
    widest = max(fm.horizontalAdvance(tasks.item(r).text()) for r in range(tasks.count()))
    qtbot.waitUntil(lambda: tasks.viewport().width() >= widest)
    assert tasks.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert not tasks.horizontalScrollBar().isVisible()
    assert tasks.viewport().width() >= max(tasks.sizeHintForColumn(0), widest)
    if point_size:
        assert tasks.verticalScrollBar().isVisible()  # and the titles still fit beside it


def test_the_list_reads_each_panels_own_title_and_order_without_importing_it():
    """The Text tab lists its panels from their sources (start-up imports none of them): the same
    TITLE and ORDER the modules define."""
    import importlib

    from playground.ui.text_tab import discover_panels

    specs = discover_panels()
    assert len(specs) >= 11
    for spec in specs:
        mod = importlib.import_module(spec.qualified)
        assert (spec.title, spec.order) == (mod.TITLE, float(mod.ORDER)), spec.module
