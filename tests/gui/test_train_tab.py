"""The Train tab: live plot while the UI keeps ticking, pause/cancel/resume, data checks, exports."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from playground.core.training import events as ev
from playground.ui.context import AppContext

CORPUS = "the cat sat on the mat. the dog sat on the log. a bird sang in the tree.\n" * 40
TINY = {"block_size": 16, "layers": 1, "heads": 2, "embed": 32, "eval_every": 20}


@pytest.fixture
def tab(qtbot, worker, settings):
    from playground.ui.train_tab import build

    widget = build(AppContext(worker, settings, None))
    qtbot.addWidget(widget)
    widget.resize(1100, 700)
    widget.show()
    yield widget
    widget.shutdown()


def _load_corpus(qtbot, tab, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS)
    tab.open_paths([str(path)])
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=60_000)
    assert tab.kind == "charlm" and tab.start_button.isEnabled()
    tab.extra_options = dict(TINY)
    tab.batch.setValue(8)


def test_plot_receives_points_while_a_10ms_timer_keeps_ticking(qtbot, tab, tmp_path):
    from PySide6.QtCore import QTimer

    from playground.core import tasks

    _load_corpus(qtbot, tab, tmp_path)
    tab.steps.setValue(160)
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    saved = []
    tab.model_saved.connect(saved.append)
    timer.start()
    tab.start_button.click()
    assert not tab.start_button.isEnabled() and tab.pause_button.isEnabled()
    qtbot.waitUntil(lambda: tab.handle is None, timeout=240_000)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    print(f"ticks {len(ticks)}, longest gap {max(gaps) * 1000:.0f} ms, plot points {tab.plot.points_received}, "
          f"redraws {tab.plot.redraws}")
    steps = tab.plot.current.steps
    assert tab.plot.points_received >= 8 + 8 and len(tab.plot.current.epochs) == 8  # eval every 20 steps
    assert steps[-1] == 160 and steps == sorted(steps) and tab.plot.redraws >= 1
    assert len(ticks) >= 10, "the UI timer kept ticking during training"
    assert saved and saved[0] == tab.last_result.model_dir
    assert any(e.location == saved[0] for e in tasks.catalog("text-generation"))
    assert "Saved" in tab.status_label.text()
    assert tab.start_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_pause_cancel_then_resume_from_the_checkpoint(qtbot, tab, tmp_path):
    _load_corpus(qtbot, tab, tmp_path)
    tab.steps.setValue(400)
    seen = []
    tab.start_button.click()
    tab.handle.event.connect(seen.append)
    qtbot.waitUntil(lambda: tab.plot.points_received >= 3, timeout=120_000)
    tab.pause_button.click()
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in seen), timeout=30_000)
    assert tab.resume_button.isEnabled() and not tab.pause_button.isEnabled()
    n = tab.plot.points_received
    qtbot.wait(300)
    assert tab.plot.points_received == n, "no steps while paused"
    tab.resume_button.click()
    qtbot.waitUntil(lambda: tab.plot.points_received > n + 2, timeout=60_000)
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: tab.handle is None, timeout=60_000)
    cancel_ckpt = [e for e in seen if isinstance(e, ev.CheckpointSaved)][-1]
    assert "Cancelled" in tab.status_label.text()
    assert tab.resume_box.isEnabled() and tab.resume_box.isChecked()

    tab.steps.setValue(cancel_ckpt.step + 5)
    resumed = []
    tab.start_button.click()
    tab.handle.event.connect(resumed.append)
    qtbot.waitUntil(lambda: tab.handle is None, timeout=120_000)
    start = next(e for e in resumed if isinstance(e, ev.RunStarted))
    assert start.start_step == cancel_ckpt.step
    assert len(tab.plot.runs) == 2 and tab.plot.runs[1].name.endswith("(resumed)")


def test_data_check_messages_and_csv_column_pickers(qtbot, tab, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    tab.open_paths([str(empty)])
    qtbot.waitUntil(lambda: "empty" in tab.data_label.text() and "Checking" not in tab.data_label.text(),
                    timeout=30_000)
    assert tab.kind == "image" and not tab.start_button.isEnabled()

    table = tmp_path / "reviews.csv"
    table.write_text("id,review,stars\n1,great,pos\n2,awful,neg\n3,fine,pos\n4,bad,neg\n")
    tab.open_paths([str(table)])
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=30_000)
    assert tab.kind == "text" and tab.text_col.isVisible()
    assert [tab.text_col.itemText(i) for i in range(tab.text_col.count())] == ["id", "review", "stars"]
    assert tab.text_col.currentText() == "review" and tab.label_col.currentText() == "stars"
    assert "4 rows, 2 labels" in tab.data_label.text()
    assert tab.name_edit.text() == "reviews-classifier" and tab.start_button.isEnabled()
    tab.label_col.setCurrentText("id")
    tab.label_col.activated.emit(0)
    qtbot.waitUntil(lambda: "Checking" not in tab.data_label.text(), timeout=30_000)
    assert "fewer than 2 examples" in tab.data_label.text() and not tab.start_button.isEnabled()


def test_plot_smoothing_hover_toggle_and_exports(qtbot, tmp_path):
    from playground.ui.widgets.train_plot import TrainPlot, smooth

    plot = TrainPlot()
    qtbot.addWidget(plot)
    plot.start_run("first")
    for s in range(1, 21):
        plot.add_step(s, 2.0 / s, 1e-3)
    plot.add_epoch(1, 20, 0.5, 0.8)
    plot.start_run("second")
    plot.add_step(1, 1.0, 5e-4)
    plot.refresh()
    assert plot.redraws == 1 and len(plot.runs) == 2 and plot.run_list.count() == 2
    plot.run_list.item(0).setCheckState(plot.run_list.item(0).checkState().__class__.Unchecked)
    assert not plot.runs[0].visible and not plot.runs[0].items["smooth"].isVisible()
    plot.set_run_visible(0, True)
    assert plot.runs[0].items["smooth"].isVisible()
    assert list(smooth(__import__("numpy").array([1.0, 1.0, 1.0]), 0.9)) == [1.0, 1.0, 1.0]
    plot.slider.setValue(0)
    assert plot.smoothing == 0.0
    text = plot.show_values_at(1.2)
    assert "second: step 1" in text and "loss 1.0000" in text and plot.hover_label.text() == text

    out = tmp_path / "m.csv"
    plot.export_csv(str(out), plot.runs[0])
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 21 and rows[0]["loss"] == "2" and rows[-1]["kind"] == "epoch"
    assert rows[-1]["val_accuracy"] == "0.8"
    png = tmp_path / "p.png"
    assert plot.export_png(str(png)) and png.read_bytes()[:4] == b"\x89PNG"


def test_saved_model_refreshes_the_pickers_of_its_task(qtbot, worker, settings):
    from playground.ui.train_tab import build

    tab = build(AppContext(worker, settings, None))
    qtbot.addWidget(tab)
    calls = []
    tab.ctx.store.refresh = lambda now=False: calls.append(now)
    saved = []
    tab.model_saved.connect(saved.append)
    tab._on_event(ev.DoneEvent("/m/gpt", "text-generation", "gpt", None, 1.0))
    assert saved == ["/m/gpt"] and calls == [True]  # the store rescans at once and tells every picker
    tab.shutdown()


def test_start_while_the_path_field_has_focus_keeps_the_checked_data(qtbot, tab, tmp_path):
    """Start disables the path field; its focus-loss editingFinished must not re-check the data
    (that cleared the name and left Start disabled after the run)."""
    _load_corpus(qtbot, tab, tmp_path)
    tab.steps.setValue(40)
    name = tab.name_edit.text()
    tab.start_button.click()
    tab.path_edit.editingFinished.emit()  # what Qt sends when the disabled field loses focus
    assert tab.preview is not None and tab.name_edit.text() == name
    other = tmp_path / "other.txt"
    other.write_text(CORPUS)
    tab.open_paths([str(other)])  # a drop during the run is refused with a message
    assert "cancel it" in tab.status_label.text() and tab.path_edit.text() != str(other)
    qtbot.waitUntil(lambda: tab.handle is None, timeout=120_000)
    assert tab.start_button.isEnabled() and tab.preview is not None


def test_a_gpu_fallback_is_told_in_the_status(tab):
    tab._on_event(ev.DeviceFallback(12, "cuda:0", "cpu"))
    tab.handle = object()  # as while a run is going
    try:
        tab._refresh_status()
    finally:
        tab.handle = None
    assert "Out of GPU memory at step 12: training continues on the CPU" in tab.status_label.text()


def test_the_saved_line_is_not_overwritten_by_a_late_status_refresh(tab, tmp_path):
    """The job's finished signal comes one event-loop turn after its result: a status refresh in
    between must not put the step line back over "Saved ..." (a flaky CI failure)."""
    tab.handle = object()  # still running until the finished signal
    try:
        tab._on_event(ev.StepEvent(160, 8, 0.9, 1e-4, 700.0, 0.0, 160))
        tab._on_result(ev.TrainResult(str(tmp_path / "m"), "text-generation", [], None, 0.85, False))
        tab._refresh_status()
    finally:
        tab.handle = None
    assert tab.status_label.text().startswith("Saved ")


@pytest.mark.parametrize("job", ["image", "text", "sound"])
def test_a_missing_path_never_changes_the_job(qtbot, tab, tmp_path, job):
    tab.kind_combo.setCurrentIndex(tab.kind_combo.findData(job))
    tab.path_edit.setText(str(tmp_path / "no-such-data"))
    tab.path_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: "no-such-data" in tab.data_label.text() and "Checking" not in tab.data_label.text(),
                    timeout=30_000)
    assert tab.kind == job
    assert "not found" in tab.data_label.text() and not tab.start_button.isEnabled()
    # choosing another job re-checks the same missing path and says so again
    tab.kind_combo.setCurrentIndex(tab.kind_combo.findData("charlm"))
    qtbot.waitUntil(lambda: "Checking" not in tab.data_label.text(), timeout=30_000)
    assert tab.kind == "charlm" and "not found" in tab.data_label.text()


def test_the_plots_never_get_less_room_than_their_titles_and_axes_need(qtbot):
    """pyqtgraph's widget asked for 68 px while its two plots side by side need over 300: at the
    minimum window size the Train tab drew the learning-rate plot cut off (issue 20)."""
    from PySide6.QtCore import Qt

    from playground.ui.widgets.train_plot import TrainPlot

    plot = TrainPlot()
    qtbot.addWidget(plot)
    need = plot.graphs.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
    assert plot.graphs.minimumSizeHint().width() >= need.width()
    assert plot.minimumSizeHint().width() >= need.width()
    plot.resize(plot.minimumSizeHint())
    plot.show()
    qtbot.waitExposed(plot)
    assert plot.graphs.width() >= need.width()


def test_language_model_lora_job_from_a_jsonl_drop_with_live_curves(qtbot, tab, tmp_path):
    """A JSONL of prompt/response pairs picks the "Language model (LoRA)" job; its base and rank
    reach the job; the run plots loss and validation loss and saves a text-generation model."""
    pytest.importorskip("peft")
    from lm_support import make_tiny_llm, write_toy_jsonl

    base = make_tiny_llm(tmp_path / "base")
    data = write_toy_jsonl(tmp_path / "toy.jsonl")
    tab.open_paths([str(data)])
    qtbot.waitUntil(lambda: tab.preview is not None, timeout=60_000)
    assert tab.kind == "lm" and tab.kind_combo.currentText() == "Language model (LoRA)"
    assert "64 prompt/response examples" in tab.data_label.text() and tab.name_edit.text() == "toy-lm"
    assert tab.base_picker.isVisible() and tab.lora_rank.isVisible() and not tab.steps.isVisible()
    assert (tab.epochs.value(), tab.batch.value(), tab.patience.value()) == (3, 8, 2)
    tab.base_picker.set_model(str(base))
    tab.lora_rank.setValue(4)
    tab.epochs.setValue(2)
    tab.lr.setValue(0.03)
    tab.device_combo.setCurrentIndex(tab.device_combo.findData("cpu"))
    _, kwargs = tab.job_arguments()
    assert kwargs["base"] == str(base) and kwargs["lora_rank"] == 4 and kwargs["epochs"] == 2
    epochs = []
    tab.controller.epoch.connect(epochs.append)
    with qtbot.waitSignal(tab.controller.finished, timeout=120_000) as done:
        tab.start()
    result = done.args[0]
    assert result is not None and result.task == "text-generation" and len(epochs) == 2
    assert tab.plot.acc_plot.titleLabel.text == "Validation exact match"
    curves = tab.plot.current  # the live curves: every step's loss, each epoch's validation loss and exact match
    assert curves.name == "toy-lm" and len(curves.val_losses) == 2 and len(curves.val_accs) == 2 and curves.losses
    assert epochs[-1].val_loss < epochs[0].val_loss and epochs[-1].val_accuracy is not None
    assert (tmp_path / "base").is_dir() and (Path(result.model_dir) / "adapter").is_dir()
    # The finished run can be compared with its base (Before and after), on request: no job started.
    panel = tab.evaluation
    assert panel.model == result.model_dir and panel.compare_button.isEnabled() and panel.last_comparison is None
    with qtbot.waitSignal(panel.compared, timeout=120_000):
        panel.compare_button.click()
    sizes = tab._right.sizes()  # its table gets at least half the height below the curves
    assert sizes[1] >= sum(sizes) // 2 - 1
    tab.kind_combo.setCurrentIndex(tab.kind_combo.findData("charlm"))
    assert not tab.base_picker.isVisible() and "base" not in tab.job_arguments()[1]


def test_each_job_shows_the_engines_defaults(tab):
    """The widgets take the job's defaults from core.training.defaults (the CLI's too): no copy to drift."""
    from playground.core.training import defaults

    for index in range(tab.kind_combo.count()):
        tab.kind_combo.setCurrentIndex(index)
        d = defaults.for_kind(tab.kind)
        length = tab.steps.value() if d.by_steps else tab.epochs.value()
        assert (length, tab.batch.value(), tab.lr.value(), tab.val_share.value(), tab.patience.value()) == \
            (d.length, d.batch_size, d.lr, d.val_share, d.patience), tab.kind
        options = tab.options()
        assert (options.batch_size, options.lr, options.val_share, options.patience) == \
            (d.batch_size, d.lr, d.val_share, d.patience)
