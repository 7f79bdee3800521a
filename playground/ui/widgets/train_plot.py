"""Live training curves: loss per step (raw + smoothed), validation loss and accuracy per epoch,
learning rate; earlier runs overlaid and toggleable; hover values; CSV and PNG export.

Points are appended cheaply as events arrive; the curves are redrawn by a
timer at most 4 times a second, so a fast job never floods the UI thread.
No grid lines: with them every paint took 2-3 times longer.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QBoxLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QSlider, QVBoxLayout, QWidget,
)

from playground.core.atomic import atomic_path, write_text

# A redraw (setData, then pyqtgraph's paint of three plots) costs 5-25 ms of UI thread
# depending on the machine. Redraws are spaced so they take at most REDRAW_BUDGET of it:
# every UI-thread millisecond also stalls a training thread that shares its core
# (benchmarks/train.py: 20 redraws a second cost 17% of the training throughput on 2 cores).
REFRESH_MS = 250  # the fastest redraw rate (4 a second)
MAX_REFRESH_MS = 1000
REDRAW_BUDGET = 0.04
SIDE_LIST_WIDTH = 560  # narrower than this, the runs list goes below the plots: beside them it squeezed
# the plots until their titles were cut ("Valida")
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _ema(values, weight: float, out: list[float], last: float = 0.0, debias: float = 0.0) -> tuple[float, float]:
    """Append the bias-corrected EMA of `values` to `out`, continuing from state (last, debias)."""
    for v in values:
        last = last * weight + (1 - weight) * v
        debias = debias * weight + (1 - weight)
        out.append(last / debias)
    return last, debias


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard-style exponential moving average with bias correction."""
    if weight <= 0 or len(values) == 0:
        return values
    out: list[float] = []
    _ema(values, weight, out)
    return np.asarray(out, dtype=np.asarray(values).dtype)


@dataclass
class Run:
    name: str
    color: str
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)  # step at each epoch's end
    epoch_numbers: list[int] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    val_accs: list[float] = field(default_factory=list)
    visible: bool = True
    items: dict = field(default_factory=dict)
    # What is already on the plot: (steps, smoothing) of the loss curves, and counts of
    # validation points, learning-rate points and accuracy points.
    drawn: tuple = ()
    total_steps: int = 0
    drawn_val: int = -1
    drawn_lr: int = -1
    drawn_acc: int = -1
    _smoothed: list[float] = field(default_factory=list)
    _smooth_state: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # weight, last, debias

    def smoothed(self, weight: float) -> np.ndarray:
        """The smoothed loss, extended incrementally (a redraw must not cost O(all steps) in Python)."""
        w, last, debias = self._smooth_state
        if w != weight:
            self._smoothed, last, debias = [], 0.0, 0.0
        if weight <= 0:
            self._smooth_state = (weight, 0.0, 0.0)
            return np.asarray(self.losses, dtype=float)
        out = self._smoothed
        last, debias = _ema(self.losses[len(out):], weight, out, last, debias)
        self._smooth_state = (weight, last, debias)
        return np.asarray(out, dtype=float)

    def metrics_csv(self, smoothing: float = 0.0) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["kind", "step", "epoch", "loss", "smoothed_loss", "lr", "val_loss", "val_accuracy"])
        sm = smooth(np.asarray(self.losses, dtype=float), smoothing)
        for i, s in enumerate(self.steps):
            w.writerow(["step", s, "", f"{self.losses[i]:.6g}", f"{sm[i]:.6g}", f"{self.lrs[i]:.6g}", "", ""])
        for i, s in enumerate(self.epochs):
            acc = self.val_accs[i]
            w.writerow(["epoch", s, self.epoch_numbers[i], "", "", "", f"{self.val_losses[i]:.6g}",
                        "" if math.isnan(acc) else f"{acc:.6g}"])
        return buf.getvalue()


class _TimedGraphics(pg.GraphicsLayoutWidget):
    """Remembers how long its last paint took, so redraws can be spaced to a UI budget."""

    last_paint_s = 0.0

    def paintEvent(self, event) -> None:
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_s = time.perf_counter() - t0

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt name)
        # What the plots' own layout needs (titles, axes, two plots side by side): pyqtgraph's
        # widget says 68 px, so a narrow window drew the plots cut off at the right.
        need = self.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        frame = 2 * self.frameWidth()
        return QSize(math.ceil(need.width()) + frame, math.ceil(need.height()) + frame)


class TrainPlot(QWidget):
    """The Train tab's live plot."""

    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=False)
        self.runs: list[Run] = []
        self.points_received = 0
        self.redraws = 0
        self._dirty = False
        self._ticks_since_side = 0
        self.smoothing = 0.6

        self.graphs = _TimedGraphics()
        self.graphs.setBackground(None)
        self.loss_plot = self.graphs.addPlot(row=0, col=0, colspan=2, title="Loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.acc_plot = self.graphs.addPlot(row=1, col=0, title="Validation accuracy")
        self.acc_plot.setLabel("bottom", "step")
        self.acc_plot.setYRange(0, 1)
        self.lr_plot = self.graphs.addPlot(row=1, col=1, title="Learning rate")
        self.lr_plot.setLabel("bottom", "step")
        for p in (self.loss_plot, self.acc_plot, self.lr_plot):
            for axis in ("left", "bottom"):  # SI prefixes re-set each axis label (HTML) every redraw
                p.getAxis(axis).enableAutoSIPrefix(False)
            p.setClipToView(True)
            p.setDownsampling(auto=True, mode="peak")
        # No x-link: pyqtgraph aligns linked views by screen position, which shows side-by-side
        # plots different step ranges. Each small plot follows its own data instead.
        self.graphs.ci.layout.setRowStretchFactor(0, 3)
        self.graphs.ci.layout.setRowStretchFactor(1, 2)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine))
        self.loss_plot.addItem(self.cursor, ignoreBounds=True)
        self.cursor.setVisible(False)

        self.hover_label = QLabel("Hover over the plot to read values.")
        self.hover_label.setObjectName("trainHover")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 99)
        self.slider.setValue(int(self.smoothing * 100))
        self.slider.setToolTip("Smoothing of the training loss curve")
        self.slider.setAccessibleName("Loss smoothing")
        self.slider.valueChanged.connect(self._on_smoothing)
        self.smooth_label = QLabel(f"Smoothing {self.smoothing:.2f}")
        self.run_list = QListWidget()
        self.run_list.setMaximumWidth(180)
        self.run_list.setToolTip("Runs shown on the plot; untick to hide")
        self.run_list.setAccessibleName("Runs")
        self.run_list.itemChanged.connect(self._on_run_toggled)

        top = QHBoxLayout()
        top.addWidget(self.smooth_label)
        top.addWidget(self.slider, 1)
        self._body = body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        body.addWidget(self.graphs, 1)
        body.addWidget(self.run_list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        layout.addWidget(self.hover_label)

        self._place_run_list()
        self._mouse = pg.SignalProxy(self.graphs.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse)
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- runs -------------------------------------------------------------------------
    @property
    def current(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    def start_run(self, name: str) -> Run:
        """A new run; earlier runs stay as dimmer overlays."""
        color = COLORS[len(self.runs) % len(COLORS)]
        run = Run(name, color)
        faint = pg.mkColor(color)
        faint.setAlpha(60)
        run.items = {
            "raw": self.loss_plot.plot(pen=pg.mkPen(faint, width=1)),
            "smooth": self.loss_plot.plot(pen=pg.mkPen(color, width=2), name=name),
            "val": self.loss_plot.plot(pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine), symbol="o",
                                       symbolSize=7, symbolBrush=color),
            "acc": self.acc_plot.plot(pen=pg.mkPen(color, width=2), symbol="o", symbolSize=7, symbolBrush=color),
            "lr": self.lr_plot.plot(pen=pg.mkPen(color, width=1)),
        }
        for old in self.runs:
            old.items["raw"].setVisible(False)  # only the live run shows its noisy raw curve
        self.runs.append(run)
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        item.setForeground(pg.mkColor(color))
        self.run_list.addItem(item)
        self._place_run_list()
        self._dirty = True
        return run

    def set_total_steps(self, total: int) -> None:
        """The step axes span the whole run from the start: the curves grow toward the end,
        and the axes (whose ticks pyqtgraph repaints on every range change) stay still."""
        total = max([total] + [r.total_steps for r in self.runs[:-1]])
        if self.current is not None:
            self.current.total_steps = total
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.vb.enableAutoRange(x=False)
            plot.setXRange(0, max(1, total), padding=0.02)
        self._dirty = True

    def set_run_visible(self, index: int, visible: bool) -> None:
        run = self.runs[index]
        run.visible = visible
        for key, item in run.items.items():
            item.setVisible(visible and (key != "raw" or run is self.current))
        self.run_list.item(index).setCheckState(Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked)

    def _place_run_list(self) -> None:
        beside = self.width() >= SIDE_LIST_WIDTH
        self._body.setDirection(QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom)
        self.run_list.setMaximumSize(180 if beside else 16777215, 16777215 if beside else 64)
        self.run_list.setVisible(self.run_list.count() > 0)  # an empty list only took the plots' room

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._place_run_list()

    def _on_run_toggled(self, item: QListWidgetItem) -> None:
        index = self.run_list.row(item)
        if 0 <= index < len(self.runs):
            visible = item.checkState() == Qt.CheckState.Checked
            if self.runs[index].visible != visible:
                self.set_run_visible(index, visible)

    # -- points (cheap: called for every event) ------------------------------------------
    def add_step(self, step: int, loss: float, lr: float) -> None:
        run = self.current or self.start_run("run 1")
        run.steps.append(step)
        run.losses.append(float(loss))
        run.lrs.append(float(lr))
        self.points_received += 1
        self._dirty = True

    def add_epoch(self, epoch: int, step: int, val_loss: float, val_accuracy: float | None) -> None:
        run = self.current or self.start_run("run 1")
        run.epochs.append(step)
        run.epoch_numbers.append(epoch)
        run.val_losses.append(float(val_loss))
        run.val_accs.append(float("nan") if val_accuracy is None else float(val_accuracy))
        self.points_received += 1
        self._dirty = True

    # -- drawing (at most every REFRESH_MS) ---------------------------------------------
    def refresh(self, everything: bool = False) -> None:
        """Redraw what changed. One tick updates either the loss plot or the small plots
        (learning rate, accuracy: every 4th tick, or at once after an epoch), so each paint
        covers one region and no single UI-thread slice gets long."""
        if not self._dirty:
            return
        t0 = time.perf_counter()
        loss_due = [r for r in self.runs if r.drawn != (len(r.steps), self.smoothing) or r.drawn_val != len(r.epochs)]
        side_due = [r for r in self.runs if r.drawn_lr != len(r.steps) or r.drawn_acc != len(r.epochs)]
        self._ticks_since_side += 1
        side_turn = bool(side_due) and (not loss_due or self._ticks_since_side >= 4
                                        or any(r.drawn_acc != len(r.epochs) for r in side_due))
        if everything or not side_turn:
            for run in loss_due:
                self._draw_loss(run)
        if everything or side_turn:
            self._ticks_since_side = 0
            for run in side_due:
                self._draw_side(run)
        plots = ((self.loss_plot, self.acc_plot, self.lr_plot) if everything else
                 (self.acc_plot, self.lr_plot) if side_turn else (self.loss_plot,))
        for plot in plots:
            # Settle the auto-range now: done inside the paint, it changes the view and
            # schedules a second full paint.
            plot.vb.prepareForPaint()
        self._dirty = not everything and bool(side_due if not side_turn else loss_due)
        # The paint itself comes later in the event loop: count the last one measured.
        cost = time.perf_counter() - t0 + self.graphs.last_paint_s
        self.timer.setInterval(int(min(MAX_REFRESH_MS, max(REFRESH_MS, 1000 * cost / REDRAW_BUDGET))))
        self.redraws += 1
        self.redrawn.emit()

    def _draw_loss(self, run: Run) -> None:
        if run.drawn != (len(run.steps), self.smoothing):
            run.drawn = (len(run.steps), self.smoothing)
            x = np.asarray(run.steps, dtype=float)
            run.items["raw"].setData(x, np.asarray(run.losses, dtype=float))
            run.items["smooth"].setData(x, run.smoothed(self.smoothing))
        if run.drawn_val != len(run.epochs):
            run.drawn_val = len(run.epochs)
            run.items["val"].setData(np.asarray(run.epochs, dtype=float), np.asarray(run.val_losses, dtype=float))

    def _draw_side(self, run: Run) -> None:
        if run.drawn_lr != len(run.steps):
            run.drawn_lr = len(run.steps)
            run.items["lr"].setData(np.asarray(run.steps, dtype=float), np.asarray(run.lrs, dtype=float))
        if run.drawn_acc != len(run.epochs):
            run.drawn_acc = len(run.epochs)
            ex = np.asarray(run.epochs, dtype=float)
            acc = np.asarray(run.val_accs, dtype=float)
            ok = ~np.isnan(acc)
            run.items["acc"].setData(ex[ok], acc[ok])

    def _on_smoothing(self, value: int) -> None:
        self.smoothing = value / 100.0
        self.smooth_label.setText(f"Smoothing {self.smoothing:.2f}")
        self._dirty = True

    def _on_mouse(self, args) -> None:
        pos = args[0]
        run = self.current
        if run is None or not run.steps:
            return
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            if plot.sceneBoundingRect().contains(pos):
                x = plot.vb.mapSceneToView(pos).x()
                self.show_values_at(x)
                return

    def show_values_at(self, x: float) -> str:
        """Put the values of the live run nearest to step `x` in the hover label (and return them)."""
        run = self.current
        if run is None or not run.steps:
            return ""
        steps = np.asarray(run.steps)
        i = int(np.clip(np.searchsorted(steps, x), 0, len(steps) - 1))
        if i > 0 and abs(steps[i - 1] - x) < abs(steps[i] - x):
            i -= 1
        sm = run.smoothed(self.smoothing)[i]  # the curve's own values, not a recomputation
        text = f"{run.name}: step {steps[i]}  loss {run.losses[i]:.4f} (smoothed {sm:.4f})  lr {run.lrs[i]:.2e}"
        if run.epochs:
            j = int(np.argmin(np.abs(np.asarray(run.epochs) - x)))
            acc = run.val_accs[j]
            text += f"  |  epoch {run.epoch_numbers[j]}: val loss {run.val_losses[j]:.4f}"
            if not math.isnan(acc):
                text += f", val accuracy {acc:.3f}"
        self.cursor.setPos(float(steps[i]))
        self.cursor.setVisible(True)
        self.hover_label.setText(text)
        return text

    # -- export -----------------------------------------------------------------------
    def export_csv(self, path: str, run: Run | None = None) -> None:
        run = run or self.current
        if run is None:
            raise ValueError("There is no run to export yet.")
        write_text(path, run.metrics_csv(self.smoothing))

    def export_png(self, path: str) -> bool:
        self.refresh(everything=True)
        pixmap = self.graphs.grab()
        with atomic_path(path) as tmp:
            if not pixmap.save(str(tmp), "PNG"):
                raise OSError(f"Cannot write the image '{path}'.")
        return True

    def clear(self) -> None:
        for run in self.runs:
            for key, item in run.items.items():
                plot = self.lr_plot if key == "lr" else self.acc_plot if key == "acc" else self.loss_plot
                plot.removeItem(item)
        self.runs.clear()
        self.run_list.clear()
        self._place_run_list()
        self._dirty = True
