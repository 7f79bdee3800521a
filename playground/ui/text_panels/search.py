"""Semantic search: sentences (pasted or loaded from a file) ranked by meaning against a query."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton, QSpinBox, QSplitter,
    QTableWidget, QTableWidgetItem,
)

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel, read_text_file, truncation_notice

TITLE = "Semantic search"
ORDER = 30


class SearchPanel(TextPanel):
    TASK = "semantic-search"
    RUN_TEXT = "Search"
    OUTPUTS = ("table",)

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        qrow = QHBoxLayout()
        self.query = QLineEdit()
        self.query.setPlaceholderText("What are you looking for?")
        self.query.setAccessibleName("Search query")
        self.query.returnPressed.connect(self.run)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 10_000)
        self.top_k.setValue(10)
        self.top_k.setPrefix("top ")
        self.top_k.setAccessibleName("Number of results")
        load = QPushButton("Load sentences...")
        load.clicked.connect(self.load_file)
        qrow.addWidget(QLabel("Query:"))
        qrow.addWidget(self.query, 1)
        qrow.addWidget(self.top_k)
        qrow.addWidget(load)
        self.layout_.addLayout(qrow)
        self.input = self.text_input("Sentences to search, one per line (or load a .txt file)", "Sentences to search")
        self.count = QLabel("0 sentences")
        self.input.textChanged.connect(self._count)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["#", "Score", "Sentence"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(True)
        self.table.setAccessibleName("Search results")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.table)
        split.setSizes([200, 300])
        row = self.run_row()
        row.insertWidget(2, self.count)
        self.layout_.addLayout(row)
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def _count(self) -> None:
        n = sum(1 for line in self.input.toPlainText().splitlines() if line.strip())
        self.count.setText(f"{n} sentence{'s' if n != 1 else ''}")

    def load_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load sentences", "", "Text files (*.txt *.csv *.tsv *.md);;All files (*)")
        if path:
            self.open_paths([path])

    def open_paths(self, paths: list[str]) -> None:
        from playground.core.errors import PlaygroundError

        lines: list[str] = []
        try:
            for p in paths:
                lines += [x.strip() for x in read_text_file(p).splitlines() if x.strip()]
        except PlaygroundError as exc:
            self.show_error(str(exc))
            return
        self.input.setPlainText("\n".join(lines))

    def make_job(self) -> Job:
        from playground.core import text

        query = self.query.text().strip()
        if not query:
            raise InputError("Type a query to search for.")
        candidates = [x.strip() for x in self.input.toPlainText().splitlines() if x.strip()]
        if not candidates:
            raise InputError("Paste some sentences to search (one per line), or load a text file.")
        return Job(text.similar, (query, candidates), {"top_k": self.top_k.value(), "model": self.model_id()},
                   name="semantic search")

    def notices(self, result) -> list[str]:
        return truncation_notice(result.truncated, None, "sentence")

    def show_result(self, result) -> None:
        self.table.setRowCount(len(result.hits))
        for r, hit in enumerate(result.hits):
            rank = QTableWidgetItem(str(r + 1))
            score = QTableWidgetItem(f"{hit.score:.3f}")
            score.setData(Qt.ItemDataRole.ToolTipRole, "cosine similarity (1 = same meaning)")
            self.table.setItem(r, 0, rank)
            self.table.setItem(r, 1, score)
            self.table.setItem(r, 2, QTableWidgetItem(hit.text))
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.table.resizeRowsToContents()

    def results(self) -> list[tuple[str, float]]:
        return [(self.table.item(r, 2).text(), float(self.table.item(r, 1).text()))
                for r in range(self.table.rowCount())]


def build(ctx):
    return SearchPanel(ctx)
