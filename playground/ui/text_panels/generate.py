"""Generate: streaming text generation and chat with a causal LM (bundled SmolLM2 by default)."""

from __future__ import annotations

import random
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QTextEdit, QVBoxLayout,
    QWidget,
)

from playground.core import models
from playground.core.errors import InputError
from playground.core.generation import DEFAULT_DECODING, DEFAULT_MAX_NEW_TOKENS
from playground.core.jobs import Job
from playground.ui.jobs import show_progress
from playground.ui.widgets.compare_columns import CompareColumns
from playground.ui.widgets.text_panel_base import TextPanel

TITLE = "Generate"
ORDER = 10

BUNDLED_ID = "bundled/smollm2-135m-instruct"
FLUSH_MS = 40  # coalesce token events: at most ~25 repaints a second whatever the model's speed
CHAT_TIP = "Use the model's chat template and keep the conversation; off: continue the prompt as plain text"
BASE_TIP = ("A base model (pre-trained, not instruction-tuned) has no chat: it continues the prompt as plain "
            "text. Fine-tune it in the Train tab to make it answer.")


def _fmt(color: str | None = None, bold: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    if color:
        f.setForeground(QColor(color))
    f.setFontWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
    return f


class GeneratePanel(TextPanel):
    voted = Signal(str)  # a blind vote was counted ("a", "b" or "tie")

    TASK = "text-generation"
    MODEL_PLACEHOLDER = "Hub id (e.g. openai-community/gpt2), a model folder, or your char-level GPT"
    RUN_TEXT = "Generate"
    COMPARE = True
    COMPARE_TABLE = False  # its own view: each answer streams into a column

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.messages: list[dict] = []  # the chat so far (chat mode)
        self._pending: list[str] = []
        self._started_at = 0.0
        self._first_at: float | None = None
        self._tokens = 0
        self._request: dict = {}
        self._turn_start = 0  # where this run's text begins in the output (a failed run removes it)
        self._live = False  # live stats until the result replaces them

        self.input = self.text_input("Type a prompt (Ctrl+Enter generates)", "Prompt")
        self.input.setMaximumHeight(110)

        self.chat = QCheckBox("Chat")
        self.chat.setChecked(True)
        self.chat.setToolTip(CHAT_TIP)
        self._chat_forced_off = False  # a base model turned Chat off: the next chat model turns it back on
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 4096)
        self.max_tokens.setValue(DEFAULT_MAX_NEW_TOKENS)
        self.max_tokens.setAccessibleName("Max new tokens")
        self.max_tokens.setToolTip("The most tokens to generate")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(DEFAULT_DECODING.temperature)
        self.temperature.setAccessibleName("Temperature")
        self.temperature.setToolTip("0 = greedy (always the most likely token); higher = more varied")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setValue(DEFAULT_DECODING.top_p)
        self.top_p.setAccessibleName("Top-p")
        self.top_p.setToolTip("Sample only from the most likely tokens covering this probability mass")
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.seed.setAccessibleName("Seed")
        self.seed.setToolTip("The same seed and settings give the same text; 'random' picks one (shown after the run)")
        self.blind = QCheckBox("Blind vote")
        self.blind.setToolTip("Compare two models anonymously: read both answers, vote for the better one (or a "
                              "tie), then see which model wrote which. The tally is kept on this computer.")
        self.blind.setVisible(False)
        self._blind = False  # this comparison is blind (its names are hidden until the vote)
        self.new_chat = QPushButton("New chat")
        self.new_chat.setToolTip("Forget the conversation and clear the output")
        self.new_chat.clicked.connect(self.clear)

        # Two rows of options: in one, the panel (and so the window) could not be narrower than 730 px.
        controls = QVBoxLayout()
        first, second = QHBoxLayout(), QHBoxLayout()
        first.addWidget(self.chat)
        for row, label, widget in ((first, "Max new tokens", self.max_tokens), (first, "Temperature", self.temperature),
                                   (second, "Top-p", self.top_p), (second, "Seed", self.seed)):
            lab = QLabel(label + ":")
            lab.setBuddy(widget)
            row.addWidget(lab)
            row.addWidget(widget)
        first.addStretch(1)
        second.addWidget(self.blind)
        second.addStretch(1)
        second.addWidget(self.new_chat)
        controls.addLayout(first)
        controls.addLayout(second)

        self.output = QTextEdit()
        self.output.setReadOnly(True)
        self.output.setAccessibleName("Generated text")
        self.output.setObjectName("generateOutput")
        self.output.setPlaceholderText("Generated text streams here as the model writes it.")
        self.stats = QLabel("")
        self.stats.setObjectName("generateStats")
        self.stats.setWordWrap(True)  # a finished run's figures (over 700 px) set the window's minimum width
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # A step before the first token (the model's load, or its first-use preparation), with its progress.
        self.step = QLabel("")
        self.step.setObjectName("generateStep")
        self.step.setWordWrap(True)
        self.step_bar = QProgressBar()
        self.step_bar.setObjectName("generateStepBar")
        self.step_bar.setAccessibleName("Preparing the model")
        self.step_bar.setTextVisible(False)
        self.step_bar.setMaximumHeight(10)
        self._show_step(None)

        self.columns = CompareColumns()  # a comparison: one column per model, in place of the output
        self.columns.setVisible(False)
        self.compare.toggled.connect(self._compare_switched)
        # The blind vote's buttons, under the columns once both answers are in.
        self.vote_bar = QWidget()
        votes = QHBoxLayout(self.vote_bar)
        votes.setContentsMargins(0, 0, 0, 0)
        votes.addWidget(QLabel("Which answer is better?"))
        self.vote_buttons = {}
        for outcome, text in (("a", "A is better"), ("tie", "Tie"), ("b", "B is better")):
            button = QPushButton(text)
            button.clicked.connect(lambda _c=False, o=outcome: self.vote(o))
            votes.addWidget(button)
            self.vote_buttons[outcome] = button
        votes.addStretch(1)
        self.vote_bar.setVisible(False)

        self.layout_.addWidget(self.input)
        self.layout_.addLayout(controls)
        self.add_run_row()
        self.layout_.addWidget(self.step)
        self.layout_.addWidget(self.step_bar)
        self.layout_.addWidget(self.output, 1)
        self.layout_.addWidget(self.columns, 1)
        self.layout_.addWidget(self.vote_bar)
        self.layout_.addWidget(self.stats)
        self.stop_button.setToolTip("Stop generating (Esc); the text so far is kept")

        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_MS)
        self._flush_timer.timeout.connect(self._flush)
        window = getattr(ctx, "window", None)
        if window is None or not hasattr(window, "cancel_action"):
            # Standalone: our own Esc (in the main window, its Esc cancels the running job).
            esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
            esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            esc.activated.connect(self.stop)
        if self.picker is not None:
            self.picker.changed.connect(self._model_changed)
            self.picker.loaded.connect(lambda: self._apply_model_kind(self.model_id()))
            self._apply_model_kind(self.model_id())

    # -- TextPanel -------------------------------------------------------------------------
    def main_input(self):
        return self.input

    def make_job(self, model_id: str | None = None) -> Job:
        """The run of one model; a comparison (`model_id` given) is one turn: no conversation before it."""
        from playground.core import generation

        prompt = self.input.toPlainText()
        if not prompt.strip():
            raise InputError("Type a prompt to generate from.")
        seed = self.seed.value()
        chat = self.chat.isChecked() and self.chat.isEnabled()
        kwargs = {"max_new_tokens": self.max_tokens.value(), "temperature": self.temperature.value(),
                  "top_p": self.top_p.value(), "seed": None if seed < 0 else seed, "chat": chat}
        if chat:
            before = [] if model_id is not None else self.messages
            kwargs["messages"] = before + [{"role": "user", "content": prompt}]
        self._request = {"prompt": prompt, "chat": chat}
        model = self.model_id() if model_id is None else model_id
        name = "generate" if model_id is None else "generate (blind vote)" if self._blind else f"generate with {model}"
        return Job(generation.generate, (None if chat else prompt, model or None), kwargs, name=name)

    def run(self) -> None:
        if self.busy:
            return
        super().run()
        if self.handle is None:  # the input was refused
            return
        self.handle.event.connect(self._on_event)
        self._compare_switched(False)  # one model: the single output (a comparison before may have hidden it)
        self._pending.clear()
        self._tokens = 0
        self._first_at = None
        self._started_at = time.perf_counter()
        self._live = True
        self.stats.setText("Waiting for the first token...")
        self._begin_output()
        self._flush_timer.start()

    def _begin_output(self) -> None:
        cursor = self._end_cursor()
        self._turn_start = cursor.position() if self._request.get("chat") else 0
        if self._request.get("chat"):
            if not self.output.document().isEmpty():
                cursor.insertText("\n\n")
            cursor.insertText("You\n", _fmt("#2c6fbb", bold=True))
            cursor.insertText(self._request["prompt"].strip() + "\n\n", _fmt())
            cursor.insertText("Assistant\n", _fmt("#2e8b57", bold=True))
            self.input.clear()
        else:
            self.output.clear()
            cursor = self._end_cursor()
            cursor.insertText(self._request["prompt"], _fmt("#777777"))
        cursor.setCharFormat(_fmt())
        self.output.setTextCursor(cursor)

    def _on_progress(self, fraction, text: str) -> None:
        """Progress before the first token is a step of its own (loading or preparing the model)."""
        if self._first_at is None and text:
            self._show_step(text.rstrip(". "), fraction)
        else:
            super()._on_progress(fraction, text)

    def _show_step(self, text: str | None, fraction: float | None = None) -> None:
        self.step.setText(f"{text}..." if text else "")
        self.step.setVisible(bool(text))
        self.step_bar.setVisible(bool(text))
        show_progress(self.step_bar, fraction)

    def _end_cursor(self) -> QTextCursor:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _on_event(self, event) -> None:
        text = getattr(event, "text", None)
        if text is None:
            return
        if self._first_at is None:
            self._first_at = time.perf_counter()
            self._show_step(None)
        self._tokens = getattr(event, "index", self._tokens + 1)
        self._pending.append(text)

    # -- compare: each model's answer streams into its own column ---------------------------------------
    def _compare_switched(self, on: bool) -> None:
        self.blind.setVisible(on)
        if not on:
            self.columns.setVisible(False)
            self.vote_bar.setVisible(False)
            self.output.setVisible(True)
            self.stats.setVisible(True)

    def compared_models(self) -> list[str]:
        """A blind vote takes exactly two models, in an order the person cannot know."""
        ids = super().compared_models()
        self._blind = self.blind.isChecked() and len(ids) == 2
        if self._blind:
            random.shuffle(ids)
        return ids

    def begin_compare(self, model_ids: list[str]) -> None:
        self.output.setVisible(False)
        self.stats.setVisible(False)
        self.vote_bar.setVisible(False)
        self.columns.setVisible(True)
        self._compared_ids = list(model_ids)
        prompt = self._request.get("prompt", "")
        titles = ([("Model A", ""), ("Model B", "")] if self._blind
                  else [(self.compare.display_name(m), m) for m in model_ids])
        for column in self.columns.reset(titles):
            if not self._request.get("chat"):
                column.append(prompt, "#777777")
        self._flush_timer.start()

    def compare_progress(self, i: int, fraction, text: str) -> None:
        column = self.columns.columns[i]
        if self._blind:  # "Loading <model>..." would give the name away
            text = "Preparing" if text else text
        if column.first_at is None and text:
            column.stats.setText(f"{text.rstrip('. ')}..." + (f" {fraction:.0%}" if fraction is not None else ""))

    def compare_event(self, i: int, event) -> None:
        text = getattr(event, "text", None)
        if text is None:
            return
        column = self.columns.columns[i]
        if column.first_at is None:
            column.first_at = time.perf_counter()
        column.tokens = getattr(event, "index", column.tokens + 1)
        column.pending.append(text)

    def compare_result(self, i: int, result) -> None:
        column = self.columns.columns[i]
        column.flush()
        column.done = True
        if self._request.get("chat") and not result.chat:  # no chat template: shown as the continuation it was
            column.output.clear()
            column.append(self._request["prompt"], "#777777")
            column.append(result.text)
        first = (f"first token {result.time_to_first_token:.2f} s" if result.time_to_first_token is not None
                 else "no token")
        loading = f" ({result.load_seconds:.1f} s loading)" if result.load_seconds >= 0.05 else ""
        column.figures = (f"{result.new_tokens} tokens, {result.decode_tokens_per_s:.1f} tokens/s, "
                          f"{first}{loading}" + (f", on {result.backend}" if result.backend else "")
                          + (", stopped" if result.stopped else "") + (f". {result.notice}" if result.notice else ""))
        # Blind: speed and path say which model it is; they show after the vote.
        column.stats.setText("Answered." if self._blind else column.figures)
        column.result = result

    def compare_failed(self, i: int, message: str) -> None:
        column = self.columns.columns[i]
        column.flush()
        column.fail(message)

    def compare_done(self) -> None:
        self._flush_timer.stop()
        done = [c for c in self.columns.columns if getattr(c, "result", None) is not None]
        if self._blind:
            if len(done) == 2 and not any(c.result.stopped for c in done):
                self.vote_bar.setVisible(True)
                self.status.setText("Which answer is better? Vote to see which model wrote which.")
            else:
                self._reveal()
                self.status.setText("No vote: a model did not answer in full.")
        elif len(done) >= 2:
            fastest = max(done, key=lambda c: c.result.decode_tokens_per_s)
            self.status.setText(f"Compared {len(done)} models; fastest: {fastest.title.text()} "
                                f"({fastest.result.decode_tokens_per_s:.1f} tokens/s).")
        self.compared.emit([getattr(c, "result", None) for c in self.columns.columns])

    def vote(self, outcome: str) -> None:
        """Count the blind vote, then show the names, figures and the tally of this pair."""
        from playground.core import arena

        a, b = self._compared_ids
        ratings = arena.record(a, b, outcome)
        self.vote_bar.setVisible(False)
        self._reveal()
        names = [self.compare.display_name(m) for m in (a, b)]
        said = {"a": f"You preferred A: {names[0]}", "b": f"You preferred B: {names[1]}",
                "tie": "A tie"}[outcome]
        tally = arena.pair_tally(a, b)
        self.status.setText(f"{said}. This pair so far: {names[0]} {tally.first_wins}, {names[1]} "
                            f"{tally.second_wins}, ties {tally.ties}. Ratings: {names[0]} {ratings[0]:.0f}, "
                            f"{names[1]} {ratings[1]:.0f}.")
        self.voted.emit(outcome)

    def _reveal(self) -> None:
        self._blind = False
        for column, model_id in zip(self.columns.columns, self._compared_ids, strict=False):
            column.title.setText(f"{column.title.text()}: {self.compare.display_name(model_id)}")
            column.title.setToolTip(model_id)
            column.model_id = model_id
            if getattr(column, "figures", None):
                column.stats.setText(column.figures)

    def _flush_columns(self) -> None:
        for column in self.columns.columns:
            if column.flush() and not column.done and column.first_at is not None:
                elapsed = max(time.perf_counter() - column.first_at, 1e-6)
                rate = (column.tokens - 1) / elapsed if column.tokens > 1 else 0.0
                column.stats.setText(f"{column.tokens} tokens, {rate:.1f} tokens/s...")

    def _flush(self) -> None:
        if self.columns.isVisible():
            self._flush_columns()
        if self._pending:
            cursor = self._end_cursor()
            cursor.insertText("".join(self._pending), _fmt())
            self._pending.clear()
            bar = self.output.verticalScrollBar()
            if bar.value() >= bar.maximum() - 40:
                bar.setValue(bar.maximum())
        if self._first_at is not None and self._live:
            elapsed = max(time.perf_counter() - self._first_at, 1e-6)
            rate = (self._tokens - 1) / elapsed if self._tokens > 1 else 0.0
            self.stats.setText(f"{self._tokens} tokens, {rate:.1f} tokens/s generating, first token "
                               f"{self._first_at - self._started_at:.2f} s after the click")

    def _on_finished(self) -> None:
        self._flush_timer.stop()
        self._flush()
        self._show_step(None)
        if self._live:  # failed or cancelled before a result
            self._live = False
            if self._tokens == 0:
                self.stats.setText("")
        super()._on_finished()

    def show_result(self, result) -> None:
        self._flush()
        self._live = False
        if self._request.get("chat") and result.chat:
            self.messages += [{"role": "user", "content": self._request["prompt"]},
                              {"role": "assistant", "content": result.text}]
        elif self._request.get("chat"):  # no chat template after all: show it as a plain continuation
            self.output.clear()
            cursor = self._end_cursor()
            cursor.insertText(self._request["prompt"], _fmt("#777777"))
            cursor.insertText(result.text, _fmt())
        if not result.has_chat_template and self.chat.isEnabled():  # a base model's tooltip already says why
            self.chat.setEnabled(False)
            self.chat.setToolTip("This model has no chat template: prompts are continued as plain text")
        # Both rates, named: the live figure's (generation alone) and the one with the prompt's processing.
        parts = [f"{result.new_tokens} tokens", f"{result.decode_tokens_per_s:.1f} tokens/s generating",
                 f"{result.overall_tokens_per_s:.1f} tokens/s with the prompt", self._first_token_text(result),
                 {"eos": "finished", "length": "reached max new tokens", "stopped": "stopped"}[result.finish_reason]]
        if result.seed is not None:
            parts.append(f"seed {result.seed}")
        if result.backend:  # which path ran it: CTranslate2 (fast) or transformers
            parts.append(f"on {result.backend}")
        self.stats.setText(", ".join(parts))
        self.status.setText("Stopped." if result.stopped else f"Done in {result.seconds:.1f} s.")

    def _first_token_text(self, result) -> str:
        """When the first token came, counted from the click: the wait, the model's load and the prompt included."""
        if self._first_at is not None:
            seconds = self._first_at - self._started_at
        elif result.time_to_first_token is not None:
            seconds = result.time_to_first_token
        else:
            return "no token"
        loading = f", {result.load_seconds:.1f} s of it loading the model" if result.load_seconds >= 0.05 else ""
        return f"first token {seconds:.2f} s after the click{loading}"

    def notices(self, result) -> list[str]:
        out = [result.notice] if result.notice else []
        if self._request.get("chat") and not result.chat:
            out.append("This model has no chat template, so the prompt was continued as plain text.")
        return out

    def clear_output(self) -> None:
        """A failed turn leaves nothing behind: the chat before it stays, its prompt goes back to the input."""
        self.last_result = None
        self._pending.clear()
        self._live = False
        cursor = self._end_cursor()
        cursor.setPosition(min(self._turn_start, cursor.position()), QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        if self._request.get("chat") and not self.input.toPlainText().strip():
            self.input.setPlainText(self._request["prompt"])
        self.stats.setText("")

    # -- actions ----------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.messages.clear()
        self.output.clear()
        self.stats.setText("")

    def _model_changed(self, model_id: str) -> None:
        self.chat.setEnabled(True)
        self.chat.setToolTip(CHAT_TIP)
        self._apply_model_kind(model_id)
        self.messages.clear()

    def _apply_model_kind(self, model_id: str) -> None:
        """A base model continues text: Chat off and disabled, saying why; a chat model gets it back."""
        if models.is_base_model(model_id):
            self._chat_forced_off = self._chat_forced_off or self.chat.isChecked()
            self.chat.setChecked(False)
            self.chat.setEnabled(False)
            self.chat.setToolTip(BASE_TIP)
        elif self._chat_forced_off:
            self._chat_forced_off = False
            self.chat.setChecked(True)
            self.chat.setEnabled(True)
            self.chat.setToolTip(CHAT_TIP)

    def shutdown(self) -> None:
        self.stop()


def build(ctx):
    return GeneratePanel(ctx)
