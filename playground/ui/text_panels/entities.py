"""Entities: named entities as highlighted spans with their labels (spaCy offline, Hub NER models online)."""

from __future__ import annotations

import html
import zlib

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QSplitter, QTableWidget, QTableWidgetItem, QTextBrowser

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Entities"
ORDER = 50

BUNDLED_ID = "bundled/spacy-en-core-web-sm"
COLOURS = {
    "PERSON": "#ffd6a5", "PER": "#ffd6a5", "ORG": "#a0c4ff", "GPE": "#caffbf", "LOC": "#b9fbc0",
    "DATE": "#fdffb6", "TIME": "#fdffb6", "MONEY": "#ffc6ff", "NORP": "#bdb2ff", "FAC": "#9bf6ff",
    "PRODUCT": "#ffadad", "EVENT": "#e4c1f9", "WORK_OF_ART": "#f1c0e8", "LAW": "#cfbaf0", "LANGUAGE": "#a3c4f3",
    "PERCENT": "#fbf8cc", "QUANTITY": "#fde4cf", "ORDINAL": "#f1f1f1", "CARDINAL": "#e9ecef", "MISC": "#e2ece9",
}


def colour_for(label: str) -> str:
    if label in COLOURS:
        return COLOURS[label]
    hue = zlib.crc32(label.encode()) % 360
    from PySide6.QtGui import QColor

    return QColor.fromHsl(hue, 200, 215).name()


def entities_html(text: str, ents) -> str:
    """The text with each entity as a coloured span followed by its label."""
    out, pos = [], 0
    for e in sorted(ents, key=lambda e: e.start):
        if e.start < pos:  # overlapping spans (some pipelines): skip the inner one
            continue
        out.append(html.escape(text[pos:e.start]))
        label = html.escape(e.label)
        tip = html.escape(f"{e.label}" + (f" ({e.score:.2f})" if e.score is not None else ""))
        out.append(f'<span style="background-color:{colour_for(e.label)}; color:#000000" title="{tip}">'
                   f'&nbsp;{html.escape(text[e.start:e.end])}&nbsp;<span style="font-size:7pt; font-weight:bold; color:#333333">'
                   f'{label}</span>&nbsp;</span>')
        pos = e.end
    out.append(html.escape(text[pos:]))
    body = "".join(out).replace("\n", "<br>")
    return f'<div style="line-height:160%">{body}</div>'


class EntitiesPanel(TextPanel):
    TASK = "entities"
    COMPARE = True
    MODEL_PLACEHOLDER = "Hub id of a token-classification model (e.g. dslim/bert-base-NER) or a folder"
    RUN_TEXT = "Find entities"
    OUTPUTS = ("view", "table")

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.input = self.text_input("Type or paste text: people, places, organisations, dates, money...",
                                     "Text for entities")
        self.view = QTextBrowser()
        self.view.setObjectName("entitiesView")
        self.view.setAccessibleName("Text with entities highlighted")
        self.view.setPlaceholderText("Entities appear here, highlighted in the text with their labels.")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("entitiesTable")
        self.table.setHorizontalHeaderLabels(["Entity", "Label", "Start", "End", "Score"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.input)
        split.addWidget(self.view)
        split.addWidget(self.table)
        split.setSizes([150, 220, 160])
        self.layout_.addLayout(self.run_row())
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)

    def main_input(self):
        return self.input

    def make_job(self, model_id: str | None = None) -> Job:
        from playground.core import entities

        model = self.model_id() if model_id is None else model_id
        value = self.input.toPlainText()
        if not value.strip():
            raise InputError("Type some text to find entities in.")
        return Job(entities.find_entities, ([value], model or None), name="find entities")

    def compare_answer(self, result) -> str:
        found = result[0].entities
        return ", ".join(f"{e.text} ({e.label})" for e in found) if found else "(no entities)"

    def compare_key(self, result):
        return frozenset((e.start, e.end, e.label) for e in result[0].entities)

    def show_result(self, result) -> None:
        item = result[0]
        self.view.setHtml(entities_html(item.text, item.entities))
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(item.entities))
        for row, e in enumerate(item.entities):
            cells = [e.text, e.label, e.start, e.end, "" if e.score is None else round(e.score, 3)]
            for col, value in enumerate(cells):
                cell = QTableWidgetItem()
                cell.setData(Qt.ItemDataRole.DisplayRole, value)
                self.table.setItem(row, col, cell)
        self.table.setSortingEnabled(True)
        self.table.sortItems(2, Qt.SortOrder.AscendingOrder)  # in reading order
        n = len(item.entities)
        self.status.setText(f"{n} entit{'y' if n == 1 else 'ies'} found." if n else "No entities found.")


def build(ctx):
    return EntitiesPanel(ctx)
