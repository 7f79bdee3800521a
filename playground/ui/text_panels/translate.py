"""Translate: English <-> Portuguese offline (bundled Bergamot models); other pairs with Hub models."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QSplitter, QToolButton

from playground.core.errors import InputError
from playground.core.jobs import Job
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Translate"
ORDER = 60

LANGUAGES = (("en", "English"), ("pt", "Portuguese"), ("de", "German"), ("fr", "French"), ("es", "Spanish"),
             ("it", "Italian"), ("nl", "Dutch"))
OFFLINE = {("en", "pt"), ("pt", "en")}


class TranslatePanel(TextPanel):
    TASK = "translation"
    COMPARE = True
    DEFAULT_MODEL = ""
    MODEL_PLACEHOLDER = "automatic: bundled en<->pt offline, OPUS-MT from the Hub for other pairs"
    RUN_TEXT = "Translate"
    OUTPUTS = ("output",)

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.pair_note = QLabel("")
        self.pair_note.setObjectName("translatePairNote")
        self.pair_note.setWordWrap(True)  # "Needs a Hub model (...)" on one line widened the window
        self.source = QComboBox()
        self.target = QComboBox()
        for combo, name in ((self.source, "From language"), (self.target, "To language")):
            for code, lang in LANGUAGES:
                combo.addItem(lang, code)
            combo.setAccessibleName(name)
            combo.currentIndexChanged.connect(self._pair_changed)
        self.target.setCurrentIndex(1)
        self.swap = QToolButton()
        self.swap.setText("⇄")
        self.swap.setToolTip("Swap the languages (and the texts)")
        self.swap.setAccessibleName("Swap languages")
        self.swap.clicked.connect(self.swap_languages)

        langs = QHBoxLayout()
        langs.addWidget(QLabel("From:"))
        langs.addWidget(self.source)
        langs.addWidget(self.swap)
        langs.addWidget(QLabel("To:"))
        langs.addWidget(self.target)
        langs.addWidget(self.pair_note, 1)

        self.input = self.text_input("Type or paste the text to translate", "Text to translate")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Translation")
        self.output.setObjectName("translateOutput")
        self.output.setPlaceholderText("The translation appears here.")
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.input)
        split.addWidget(self.output)
        self.layout_.addLayout(langs)
        self.layout_.addLayout(self.run_row())
        self.layout_.addWidget(self.notice)
        self.layout_.addWidget(split, 1)
        self._pair_changed()

    def main_input(self):
        return self.input

    def pair(self) -> tuple[str, str]:
        return self.source.currentData(), self.target.currentData()

    def _pair_changed(self, *_args) -> None:
        src, tgt = self.pair()
        if src == tgt:
            self.pair_note.setText("Choose two different languages.")
        elif (src, tgt) in OFFLINE:
            self.pair_note.setText("Offline: bundled Bergamot model.")
        else:
            self.pair_note.setText(f"Needs a Hub model (Helsinki-NLP/opus-mt-{src}-{tgt} by default): "
                                   "a network the first time.")

    def swap_languages(self) -> None:
        si, ti = self.source.currentIndex(), self.target.currentIndex()
        self.source.setCurrentIndex(ti)
        self.target.setCurrentIndex(si)
        if self.output.toPlainText().strip():
            self.input.setPlainText(self.output.toPlainText())
            self.output.clear()

    def make_job(self, model_id: str | None = None) -> Job:
        from playground.core import translate

        text = self.input.toPlainText()
        if not text.strip():
            raise InputError("Type some text to translate.")
        src, tgt = self.pair()
        if src == tgt:
            raise InputError("Choose two different languages.")
        model = self.model_id() if model_id is None else model_id
        if model == translate.BUNDLED_ID and (src, tgt) not in OFFLINE:
            model = ""
        return Job(translate.translate, ([text], tgt, src, model or None), name="translate")

    def compare_answer(self, result) -> str:
        return result[0].translation

    def compare_key(self, result):
        return " ".join(result[0].translation.split()).casefold()

    def show_result(self, result) -> None:
        item = result[0]
        self.output.setPlainText(item.translation)
        self.status.setText(f"Translated {item.source} -> {item.target} with {item.model_id}.")


def build(ctx):
    return TranslatePanel(ctx)
