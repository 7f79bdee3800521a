"""An evaluation, shown: accuracy, per-class table, confusion heat map and the examples of a cell.

`EvaluationView.show_evaluation(evaluation)` takes a `core.evaluate.Evaluation`. Clicking a
matrix cell fills the gallery below with that cell's examples (thumbnails for images, rows
for texts), each with its true and predicted label and the model's confidence; off the
diagonal they are the misclassified examples, the most confident mistakes first.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QAbstractScrollArea, QHeaderView, QLabel, QListView, QListWidget, QListWidgetItem, QSplitter,
    QStackedWidget,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from playground.core.wording import plural
from playground.ui.widgets.confusion_matrix import ConfusionMatrix

THUMB = 72
MAX_SHOWN = 300  # examples listed for one cell
CLASS_COLUMN = 150  # px at most for the class names: longer ones are elided, with a tooltip
VISIBLE_ROWS = 12  # the per-class table shows this many classes without scrolling


def _thumbnail(path: str, size: int = THUMB) -> QIcon:
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    s = reader.size()
    if s.isValid() and max(s.width(), s.height()) > size:
        reader.setScaledSize(s.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
    img = reader.read()
    if img.isNull():
        return QIcon()
    return QIcon(QPixmap.fromImage(img).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))


class EvaluationView(QWidget):
    cell_shown = Signal(int, int, int)  # true, predicted, number of examples listed
    example_chosen = Signal(object)  # core.evaluate.Example clicked in the gallery or the table

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.evaluation = None
        self._watching = False
        self.summary = QLabel("No evaluation yet.")
        self.summary.setObjectName("evaluationSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("evaluationPerClass")
        self.table.setAccessibleName("Per-class precision, recall and F1")
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Support"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self.show_cell)
        self.cell_title = QLabel("Click a cell of the matrix to see its examples.")
        self.cell_title.setObjectName("evaluationCellTitle")
        self.cell_title.setWordWrap(True)
        self.gallery = QListWidget()
        self.gallery.setObjectName("evaluationGallery")
        self.gallery.setAccessibleName("Examples of the chosen cell")
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setResizeMode(QListView.ResizeMode.Adjust)
        self.gallery.setMovement(QListView.Movement.Static)
        self.gallery.setIconSize(QSize(THUMB, THUMB))
        self.gallery.setGridSize(QSize(THUMB + 40, THUMB + 44))
        self.gallery.setWordWrap(True)
        self.texts = QTableWidget(0, 4)
        self.texts.setObjectName("evaluationTexts")
        self.texts.setAccessibleName("Examples of the chosen cell")
        self.texts.setHorizontalHeaderLabels(["Text", "True", "Predicted", "Confidence"])
        self.texts.verticalHeader().setVisible(False)
        self.texts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.texts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            self.texts.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._shown: list = []  # the Examples listed, in order
        self.gallery.itemClicked.connect(lambda item: self._choose(self.gallery.row(item)))
        self.texts.cellClicked.connect(lambda row, _col: self._choose(row))
        self.examples = QStackedWidget()
        self.examples.addWidget(self.gallery)
        self.examples.addWidget(self.texts)

        # One short line (the matrix's tooltip says more): wrapped, it could be squeezed below its lines.
        axes = QLabel("Rows: true class; columns: predicted.")
        axes.setObjectName("evaluationAxes")
        self.matrix_box = matrix_box = QWidget()
        ml = QVBoxLayout(matrix_box)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(axes)
        ml.addWidget(self.matrix, 1)
        # Table and matrix side by side, or one above the other when the view is too narrow for both.
        self.top = top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.table)
        top.addWidget(matrix_box)
        top.setStretchFactor(1, 1)
        top.setChildrenCollapsible(False)
        below = QWidget()
        bl = QVBoxLayout(below)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.cell_title)
        bl.addWidget(self.examples, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(below)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self._fit_table()

    def show_evaluation(self, evaluation) -> None:
        self.evaluation = e = evaluation
        wrong = len(e.misclassified)
        where = "validation split of " if e.split == "validation" else ""
        self.summary.setText(f"<b>Accuracy {e.accuracy:.1%}</b> on {plural(e.total, 'example')} ({where}"
                             f"{Path(e.data).name}), {wrong} misclassified \u2014 {e.model}")
        self.table.setRowCount(len(e.labels))
        for r, label in enumerate(e.labels):
            s = e.per_class[label]
            cells = [label, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support)]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c == 0:
                    item.setToolTip(value)  # a long class name is elided in its column (the matrix names it too)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.matrix.set_data(e.labels, e.confusion)
        self._fit_table()
        self.examples.setCurrentWidget(self.gallery if e.kind == "image" else self.texts)
        self.gallery.clear()
        self.texts.setRowCount(0)
        worst = _worst_cell(e.confusion)
        if worst is not None:
            self.matrix.select(*worst)  # the biggest confusion is shown at once
        else:
            self.cell_title.setText("No mistakes: click a diagonal cell to see its examples.")

    # -- room ----------------------------------------------------------------------------------
    def _fit_table(self) -> None:
        """The per-class table never hides a column, nor a row of a few classes (more rows scroll)."""
        table = self.table
        table.resizeColumnsToContents()
        header = table.horizontalHeader()
        widths = [max(header.sectionSizeHint(c), table.sizeHintForColumn(c)) for c in range(table.columnCount())]
        widths[0] = min(widths[0], CLASS_COLUMN)
        table.setColumnWidth(0, widths[0])
        columns = sum(widths)
        scroll_bar = table.verticalScrollBar().sizeHint().width()
        table.setMinimumWidth(columns + scroll_bar + 2 * table.frameWidth())
        rows = min(table.rowCount(), VISIBLE_ROWS)
        if rows:
            row_heights = sum(table.rowHeight(r) for r in range(rows))
        else:  # room for two before the first evaluation
            row_heights = 2 * table.verticalHeader().defaultSectionSize()
        height = header.sizeHint().height() + row_heights + 2 * table.frameWidth()
        table.setMinimumHeight(height)
        self._arrange()

    def narrowest_width(self) -> int:
        """The least width that shows the table and the matrix whole (one above the other)."""
        return max(self.table.minimumWidth(), self.matrix_box.minimumSizeHint().width())

    def _room(self) -> int:
        """The width there is: in a scroll area its viewport's (this view may be wider than what shows)."""
        viewport = self._viewport()
        return viewport.width() if viewport is not None else self.width()

    def _viewport(self) -> QWidget | None:
        w = self.parentWidget()
        while w is not None:
            if isinstance(w.parentWidget(), QAbstractScrollArea) and w is w.parentWidget().viewport():
                return w
            w = w.parentWidget()
        return None

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        viewport = self._viewport()
        if viewport is not None and not self._watching:
            viewport.installEventFilter(self)  # it can shrink below this view, which then gets no resize
            self._watching = True
        self._arrange()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Resize:
            self._arrange()
        return super().eventFilter(watched, event)

    def _arrange(self) -> None:
        table = self.table.minimumSizeHint().expandedTo(self.table.minimumSize())
        matrix = self.matrix_box.minimumSizeHint()
        side_by_side = table.width() + self.top.handleWidth() + matrix.width() <= self._room()
        wanted = Qt.Orientation.Horizontal if side_by_side else Qt.Orientation.Vertical
        if self.top.orientation() != wanted:
            self.top.setOrientation(wanted)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._arrange()

    def show_cell(self, true: int, predicted: int) -> None:
        e = self.evaluation
        if e is None:
            return
        examples = e.cell(true, predicted)
        shown = self._shown = examples[:MAX_SHOWN]
        what = "correct" if true == predicted else "misclassified"
        more = f" (the first {len(shown)} shown)" if len(shown) < len(examples) else ""
        self.cell_title.setText(f"{len(examples)} {what}: true <b>{e.labels[true]}</b>, predicted "
                                f"<b>{e.labels[predicted]}</b>{more}. Click one to see why.")
        if e.kind == "image":
            self.gallery.clear()
            for x in shown:
                item = QListWidgetItem(_thumbnail(x.source), f"{e.labels[x.true]} \u2192 {e.labels[x.predicted]}\n"
                                                             f"{x.score:.0%}")
                item.setToolTip(f"{x.source}\ntrue {e.labels[x.true]}, predicted {e.labels[x.predicted]} "
                                f"({x.score:.1%})")
                item.setData(Qt.ItemDataRole.UserRole, x.source)
                self.gallery.addItem(item)
        else:
            self.texts.setRowCount(len(shown))
            for r, x in enumerate(shown):
                for c, value in enumerate((x.source, e.labels[x.true], e.labels[x.predicted], f"{x.score:.1%}")):
                    item = QTableWidgetItem(value)
                    item.setToolTip(x.source if c == 0 else value)
                    self.texts.setItem(r, c, item)
        self.cell_shown.emit(true, predicted, len(shown))

    def _choose(self, row: int) -> None:
        if 0 <= row < len(self._shown):
            self.example_chosen.emit(self._shown[row])

    def shown_sources(self) -> list[str]:
        """The paths or texts listed for the chosen cell (tests, accessibility)."""
        if self.evaluation is not None and self.evaluation.kind == "image":
            return [self.gallery.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.gallery.count())]
        return [self.texts.item(r, 0).text() for r in range(self.texts.rowCount())]


def _worst_cell(confusion: list[list[int]]) -> tuple[int, int] | None:
    best, where = 0, None
    for i, row in enumerate(confusion):
        for j, v in enumerate(row):
            if i != j and v > best:
                best, where = v, (i, j)
    return where
