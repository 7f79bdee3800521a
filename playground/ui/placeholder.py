"""A tab body that says what the tab will hold, until its feature lands."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def placeholder(title: str, lines: list[str]) -> QWidget:
    body = QWidget()
    layout = QVBoxLayout(body)
    text = f"<h2>{title}</h2><p>This tab will hold:</p><ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setTextFormat(Qt.TextFormat.RichText)
    layout.addWidget(label)
    return body
