"""The Train tab's "Evaluation" panel: a trained model's scores, and its ONNX export.

`EvaluationPanel` holds the model last trained (or chosen), evaluates it after every run
(`evaluate_run`: the run's validation split) or on any labelled folder / CSV the user picks
(Evaluate on data...), and exports it to ONNX (Export ONNX...), showing how often
onnxruntime agrees with torch. Its jobs (`core.evaluate.evaluate`, `core.onnx_export.export`)
run on the "train" lane through one `JobRunner`; `EvaluationView` renders the outcome.

For a LoRA run of a language model, "Before and after" answers the run's validation prompts
with its base and with the tuned model (`core.evaluate_lm.evaluate_lm`, on the same lane,
cancellable) and `BeforeAfterView` shows them side by side; Evaluate on data... does the same
on every example of another file.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from playground.core.jobs import Job
from playground.core.wording import plural
from playground.ui.widgets.before_after_view import BeforeAfterView
from playground.ui.widgets.evaluation_view import EvaluationView

LANE = "train"
EVAL_KEY = "evaluate"
EXPORT_KEY = "export"
COMPARE_KEY = "before-and-after"
LM_DATA_FILTER = "Examples (*.jsonl *.json *.ndjson *.csv *.tsv *.tab *.txt)"
CLASSIFIER_TASKS = ("image-classification", "text-classification", "audio-classification")


def export_message(result) -> str:
    """One line on an `onnx_export.ExportResult` (also the model manager's)."""
    size = f"{result.size_bytes / 1e6:.1f} MB"
    if result.agreement is None:
        return f"Exported {Path(result.path).name} ({size}); not checked."
    what = {"validation": "validation examples", "data": "examples"}.get(result.check_source, "random inputs")
    return (f"Exported {Path(result.path).name} ({size}): onnxruntime gives the same top-1 as torch on "
            f"{result.agreement:.1%} of {result.checked} {what}.")


def export_job(model: str, out: str) -> Job:
    from playground.core import onnx_export

    return Job(onnx_export.export, (model, out), {"format": "onnx"}, name=f"export {Path(model).name} to ONNX")


class EvaluationPanel(QWidget):
    evaluated = Signal(object)  # core.evaluate.Evaluation
    exported = Signal(object)  # core.onnx_export.ExportResult
    compared = Signal(object)  # core.evaluate_lm.LMEvaluation
    failed = Signal(str)

    def __init__(self, ctx, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self._runner = ctx.runner(LANE, self)
        self.model: str | None = None
        self.task: str | None = None
        self.last_evaluation = None
        self.last_export = None
        self.last_comparison = None
        self.lora_run = False  # the model is a LoRA run of a language model (it has a base to compare with)
        self.title = QLabel("Evaluation: train a classifier, or evaluate one you trained on labelled data.")
        self.title.setObjectName("evaluationTitle")
        self.title.setWordWrap(True)
        self.evaluate_button = QPushButton("Evaluate on data...")
        self.evaluate_button.setAccessibleName("Evaluate the model on a labelled folder or table")
        self.evaluate_button.clicked.connect(self._choose_data)
        self.export_button = QPushButton("Export ONNX...")
        self.export_button.setAccessibleName("Export the model to ONNX")
        self.export_button.clicked.connect(self._choose_export)
        self.compare_button = QPushButton("Before and after")
        self.compare_button.setAccessibleName("Answer the run's validation prompts with the base and the tuned model")
        self.compare_button.setToolTip("The run's validation prompts answered by the base and by the tuned model, "
                                       "with each model's exact match and loss")
        self.compare_button.clicked.connect(lambda: self.compare())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the before-and-after comparison")
        self.cancel_button.clicked.connect(lambda: self._runner.cancel(COMPARE_KEY))
        self.cancel_button.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("evaluationStatus")
        self.status.setWordWrap(True)
        self.view = EvaluationView()
        self.view.example_chosen.connect(self.explain_example)
        self.why_dialog = None  # the side-by-side explanation last opened
        self.lm_view = BeforeAfterView()
        self.lm_view.setVisible(False)
        # The title above its buttons: beside them, in the narrow Train column, it wrapped a word a line.
        self._title_row = row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.compare_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.evaluate_button)
        row.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.lm_view, 1)
        self._update_buttons()

    def narrowest_width(self) -> int:
        """The least width that cuts nothing: the buttons', or the per-class table and matrix."""
        return max(self._title_row.minimumSize().width(), self.view.narrowest_width(), self.lm_view.narrowest_width())

    # -- why: an example of a cell, for the predicted and the true class ----------------------
    def explain_example(self, example):
        """Open the side-by-side explanation of `example` (a core.evaluate.Example); the dialog, or None."""
        from playground.ui.explain_pair import WhyPairDialog

        evaluation = self.view.evaluation
        if not self.model or evaluation is None or evaluation.kind not in ("image", "text", "sound"):
            return None
        if self.why_dialog is not None:
            self.why_dialog.close()
        self.why_dialog = WhyPairDialog(self.ctx, self.model, evaluation.kind, example, evaluation.labels, self)
        self.why_dialog.show()
        return self.why_dialog

    # -- the model ---------------------------------------------------------------------------
    def set_model(self, model: str | None, task: str | None) -> None:
        self.model, self.task = model, task
        self.lora_run = bool(model) and task == "text-generation" and self._is_lora_run(model)
        if model:
            self.title.setText(f"Evaluation of <b>{Path(model).name}</b>")
        self._update_buttons()

    @staticmethod
    def _is_lora_run(model: str) -> bool:
        from playground.core import evaluate_lm, models

        return (models.read_marker(Path(model)) or {}).get("kind") == evaluate_lm.LORA_KIND

    def _update_buttons(self) -> None:
        busy = self._runner.busy
        fits = bool(self.model) and self.task in CLASSIFIER_TASKS
        self.compare_button.setVisible(self.lora_run)
        self.compare_button.setEnabled(self.lora_run and not busy)
        self.evaluate_button.setEnabled((fits or self.lora_run) and not busy)
        exportable = False
        if fits:  # (not at start-up: the export module costs its import before the first paint)
            from playground.core.onnx_export import TASKS as EXPORTABLE

            exportable = self.task in EXPORTABLE
        self.export_button.setEnabled(fits and not busy and exportable)

    def evaluate_run(self, result, options=None) -> bool:
        """After a run (a `TrainResult`): its model on its validation split. False for a char-GPT."""
        task = getattr(result, "task", None)
        self.set_model(getattr(result, "model_dir", None), task)
        if self.lora_run:  # two models to load and run: only when asked
            self.status.setText("Before and after: the run's validation prompts answered by the base and by "
                                "the tuned model.")
            return False
        if task not in CLASSIFIER_TASKS:
            return False
        from playground.core import models

        meta = models.read_marker(Path(result.model_dir)) or {}
        data = meta.get("data") or getattr(options, "path", None)
        if not data:
            return False
        kwargs = {"split": "validation", "val_share": getattr(options, "val_share", None),
                  "seed": int((getattr(options, "extra", None) or {}).get("seed", 0))}
        if task == "text-classification":
            kwargs |= {"text_column": meta.get("text_column"), "label_column": meta.get("label_column")}
        self.evaluate(data, **kwargs)
        return True

    # -- jobs ------------------------------------------------------------------------------
    def evaluate(self, data: str, **kwargs) -> None:
        from playground.core import evaluate

        if not self.model:
            return
        self.status.setText(f"Evaluating on {Path(data).name}...")
        self._runner.submit(Job(evaluate.evaluate, (self.model, data), kwargs, name="evaluate a model"),
                            on_result=self._on_evaluated, on_error=self._on_error,
                            on_progress=lambda _f, text="": self.status.setText(text) if text else None,
                            on_finished=self._update_buttons, key=EVAL_KEY)
        self._update_buttons()

    def compare(self, data: str | None = None, split: str = "validation") -> None:
        """Before and after: the base and the tuned model on `data` (default: the run's own data)."""
        from playground.core import evaluate_lm, models

        if not self.model or not self.lora_run:
            return
        data = data or (models.read_marker(Path(self.model)) or {}).get("data")
        if not data:
            self._on_error("The run does not say which data it was trained on: use Evaluate on data...")
            return
        self.status.setText(f"Before and after on {Path(data).name}: loading the models...")
        self._runner.submit(Job(evaluate_lm.evaluate_lm, (self.model, data), {"split": split},
                                name="before and after"),
                            on_result=self._on_compared, on_error=self._on_error,
                            on_progress=lambda _f, text="": self.status.setText(text) if text else None,
                            on_cancelled=lambda: self.status.setText("Before and after: cancelled."),
                            on_finished=self._compare_finished, key=COMPARE_KEY)
        self.cancel_button.setVisible(True)
        self._update_buttons()

    def _compare_finished(self) -> None:
        self.cancel_button.setVisible(False)
        self._update_buttons()

    def _on_compared(self, comparison) -> None:
        self.last_comparison = comparison
        self.status.setText(f"Before and after ({comparison.seconds:.1f} s).")
        self.view.setVisible(False)
        self.lm_view.setVisible(True)
        self.lm_view.show_evaluation(comparison)
        self.compared.emit(comparison)

    def export(self, out: str) -> None:
        if not self.model:
            return
        self.status.setText(f"Exporting to {Path(out).name} and checking it with onnxruntime...")
        self._runner.submit(export_job(self.model, out), on_result=self._on_exported, on_error=self._on_error,
                            on_progress=lambda _f, text="": self.status.setText(text) if text else None,
                            on_finished=self._update_buttons, key=EXPORT_KEY)
        self._update_buttons()

    def _on_evaluated(self, evaluation) -> None:
        self.last_evaluation = evaluation
        self.lm_view.setVisible(False)
        self.view.setVisible(True)
        self.status.setText(f"Accuracy {evaluation.accuracy:.1%} on {plural(evaluation.total, 'example')} "
                            f"({evaluation.seconds:.1f} s).")
        self.view.show_evaluation(evaluation)
        self.evaluated.emit(evaluation)

    def _on_exported(self, result) -> None:
        self.last_export = result
        self.status.setText(export_message(result))
        store = getattr(self.ctx, "store", None)
        if store is not None:  # an .onnx in the models folder is a new picker entry
            store.refresh(now=True)
        self.exported.emit(result)

    def _on_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#c00000'>{message}</span>")
        self.failed.emit(message)

    # -- dialogs -------------------------------------------------------------------------------
    def _choose_data(self) -> None:
        if self.lora_run:
            path, _ = QFileDialog.getOpenFileName(self, "Prompt/response examples or text", "", LM_DATA_FILTER)
            if path:
                self.compare(path, split="all")
            return
        if self.task == "image-classification":
            path = QFileDialog.getExistingDirectory(self, "Labelled folder (one sub-folder per class)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Labelled table", "", "Tables (*.csv *.tsv *.tab)")
        if path:
            self.evaluate(path)

    def _choose_export(self) -> None:
        from playground.core import paths

        start = str(paths.models_dir() / f"{Path(self.model or 'model').name}.onnx")
        path, _ = QFileDialog.getSaveFileName(self, "Export to ONNX", start, "ONNX (*.onnx)")
        if path:
            self.export(path if path.lower().endswith(".onnx") else f"{path}.onnx")
