"""The "Why" option of the Classify and Zero-shot panels: after a result, the first text's words are
highlighted by how much they pushed its top label (integrated gradients), with a trust badge."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox

from playground.ui.widgets.text_attributions import WordAttributions


class WhyWords:
    def __init__(self, panel, make_job):
        """`make_job(text, label)` -> the Job that explains `label` for `text` with the panel's settings."""
        self.panel = panel
        self.make_job = make_job
        self.check = QCheckBox("Why: highlight the words")
        self.check.setToolTip("After each result, shade the first text's words by how much they pushed its top "
                              "label (integrated gradients), with how far to trust that")
        self.check.toggled.connect(lambda on: self.explain(panel.last_result) if on else self.view.clear())
        self.view = WordAttributions()
        self.view.setVisible(False)
        self.check.toggled.connect(self.view.setVisible)

    def explain(self, result) -> None:
        """Ask for the words behind `result`'s first text's top label (nothing when off or empty)."""
        self.view.clear()
        if not self.check.isChecked() or result is None or not result.items or not result.items[0].scores:
            return
        item = result.items[0]
        label = item.scores[0].label
        jobs = self.panel.jobs
        if jobs is None:
            return
        self.view.set_message(f"Finding the words behind '{label}'...")
        jobs.submit(self.make_job(item.text, label), key="why", on_result=self.view.set_explanation,
                    on_error=lambda message: self.view.set_message(f"No word attributions: {message}"))
