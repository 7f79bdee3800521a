"""One playground: train and try at once, every trained model in every picker, lanes and Esc.

The real main window with the real bundled models: a fine-tune runs in the Train tab while the
Image and Text tabs classify and generate; the models it saves reach the pickers of their task
without a restart, and so does a model another process copies into the models folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from train_support import write_digits, write_sentiment_csv

from playground.core import paths, tasks
from playground.core.training import events as ev


def _tab(window, index):
    window.tabs.setCurrentIndex(index)
    return window.page(index)


def _held_out_digits(root, size=32, count=10):
    """Digits the training never saw (the other half of sklearn's set), one PNG each."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(len(digits.images) - 1, 0, -1):
        target = int(digits.target[i])
        if target in [t for t, _ in out]:
            continue
        path = root / f"held-{i}-{target}.png"
        Image.fromarray((digits.images[i] / 16.0 * 255).astype(np.uint8), "L").resize(
            (size, size), Image.Resampling.BILINEAR).save(path)
        out.append((target, str(path)))
        if len(out) == count:
            break
    return out


def _start_training(qtbot, train, data, **options):
    train.open_paths([str(data)])
    qtbot.waitUntil(lambda: train.preview is not None, timeout=120_000)
    for name, value in options.items():
        getattr(train, name).setValue(value)
    train.patience.setValue(0)
    steps = []
    train.start_button.click()
    handle = train.handle
    assert handle is not None and handle.lane == "train"
    handle.event.connect(lambda e: steps.append(e) if isinstance(e, ev.StepEvent) else None)
    qtbot.waitUntil(lambda: bool(steps), timeout=180_000)  # it really trains
    return handle


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_image_fine_tune_while_classifying_and_generating(main_window, qtbot, tmp_path):
    from test_generation_panel import make_char_gpt

    data = write_digits(tmp_path / "digits", per_class=40)
    held = _held_out_digits(tmp_path / "held")
    tiny = make_char_gpt(tmp_path / "tiny-gpt")
    train = _tab(main_window, 3)
    train.image_size.setValue(32)
    handle = _start_training(qtbot, train, data, epochs=8, batch=32)

    # The Image tab classifies a photo while the training runs, and its Cancel leaves the run alone.
    image = _tab(main_window, 1)
    with qtbot.waitSignal(image.batch_finished, timeout=180_000) as done:
        image.open_paths([held[0][1]])
    assert done.args[0] is not None and done.args[0].results[0].ok
    assert not handle.is_finished, "the classification waited for the training to end"
    image.cancel_button.click()
    qtbot.keyClick(main_window, Qt.Key.Key_Escape)  # Esc on the Image tab: its jobs only
    assert not handle.is_cancel_requested

    # The Text tab generates while it still runs.
    text = _tab(main_window, 0)
    gen = text.select("Generate")
    gen.picker.set_model(str(tiny))
    gen.max_tokens.setValue(8)
    gen.input.setPlainText("the cat")
    with qtbot.waitSignal(gen.result_ready, timeout=180_000):
        gen.run()
    assert not handle.is_finished, "the generation waited for the training to end"
    rows = main_window.jobs_status.rows
    assert handle in rows and rows[handle].cancel_button.toolTip().startswith("Cancel")  # its own row

    # When it ends, the new model is in the Image tab's picker (no restart) and knows digits.
    with qtbot.waitSignal(handle.finished, timeout=600_000):
        pass
    assert train.last_result is not None, train.status_label.text()
    model_dir = train.last_result.model_dir
    t0 = time.monotonic()
    qtbot.waitUntil(lambda: model_dir in image.picker.ids(), timeout=5000)
    print(f"the trained model reached the Image tab's picker {time.monotonic() - t0:.2f} s after the run ended")
    assert time.monotonic() - t0 < 1.5
    image.clear()
    image.set_model(model_dir)
    with qtbot.waitSignal(image.batch_finished, timeout=180_000) as done:
        image.open_paths([p for _, p in held])
    summary = done.args[0]
    by_path = {r.path: r.top.label for r in summary.results if r.ok}
    right = sum(by_path.get(p) == str(t) for t, p in held)
    assert right >= 6, by_path


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_text_classifier_reaches_the_classify_panel_while_the_window_works(main_window, qtbot, tmp_path):
    csv = write_sentiment_csv(tmp_path / "reviews.csv", per_class=20)
    train = _tab(main_window, 3)
    handle = _start_training(qtbot, train, csv, epochs=4, batch=16)
    text = _tab(main_window, 0)
    classify = text.select("Classify")
    with qtbot.waitSignal(handle.finished, timeout=600_000):
        pass
    assert train.last_result is not None, train.status_label.text()
    model_dir = train.last_result.model_dir
    qtbot.waitUntil(lambda: model_dir in classify.picker.ids(), timeout=5000)
    zero = text.select("Zero-shot labels")
    assert model_dir not in zero.picker.ids()  # positive/negative labels: no NLI head, not offered there
    classify.picker.set_model(model_dir)
    classify.input.setPlainText("The film was wonderful and I would say so again.")
    with qtbot.waitSignal(classify.result_ready, timeout=180_000) as done:
        classify.run()
    scores = done.args[0].items[0].scores
    assert max(scores, key=lambda s: s.score).label == "positive"


def _fake_model(folder, task="text-generation", name="copied"):
    folder.mkdir(parents=True)
    (folder / "playground_model.json").write_text(json.dumps({"task": task, "name": name, "kind": "charlm"}))
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def test_a_model_another_process_copies_in_appears_without_a_restart(main_window, qtbot, tmp_path):
    text = _tab(main_window, 0)
    gen = text.select("Generate")
    qtbot.waitUntil(lambda: main_window.store.scanned, timeout=120_000)
    # Written elsewhere, then moved in whole (as `playground finetune` and copy tools do) ...
    staged = _fake_model(tmp_path / "staging" / "my-gpt")
    target = paths.models_dir() / "my-gpt"
    t0 = time.monotonic()
    shutil.move(str(staged), str(target))
    qtbot.waitUntil(lambda: str(target) in gen.picker.ids(), timeout=5000)
    print(f"a moved-in model reached the picker in {time.monotonic() - t0:.2f} s")
    # ... or written in place, the marker last.
    slow = paths.models_dir() / "slow-gpt"
    slow.mkdir()
    qtbot.wait(400)
    (slow / "model.safetensors").write_bytes(b"")
    (slow / "playground_model.json").write_text(json.dumps({"task": "text-generation", "name": "slow"}))
    qtbot.waitUntil(lambda: str(slow) in gen.picker.ids(), timeout=5000)
    # Deleting it takes it out again.
    shutil.rmtree(target)
    qtbot.waitUntil(lambda: str(target) not in gen.picker.ids(), timeout=5000)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_model_the_cli_trains_while_the_window_is_open_reaches_generate(main_window, qtbot, tmp_path):
    gen = _tab(main_window, 0).select("Generate")
    qtbot.waitUntil(lambda: main_window.store.scanned, timeout=120_000)
    corpus = tmp_path / "poem.txt"
    corpus.write_text("the cat sat on the mat. the dog sat on the log.\n" * 40)
    proc = subprocess.Popen([sys.executable, "-m", "playground", "finetune", "charlm", str(corpus), "--name", "poem-gpt",
                             "--steps", "30", "--layers", "1", "--heads", "2", "--embed", "32", "--block-size", "16",
                             "--eval-every", "15", "--batch-size", "8", "--json"],
                            stdout=subprocess.DEVNULL, stderr=(tmp_path / "err.txt").open("w"))
    qtbot.waitUntil(lambda: proc.poll() is not None, timeout=500_000)  # the window's event loop runs meanwhile
    assert proc.returncode == 0, (tmp_path / "err.txt").read_text()
    folder = str(paths.models_dir() / "poem-gpt")
    qtbot.waitUntil(lambda: folder in gen.picker.ids(), timeout=5000)


def test_esc_cancels_only_the_current_tabs_jobs(main_window, qtbot):
    import threading

    from playground.core.jobs import Job

    started = {"train": threading.Event(), "image": threading.Event()}

    def wait(ctx, lane):
        started[lane].set()
        while not ctx.cancelled:
            threading.Event().wait(0.01)
        ctx.check_cancelled()

    train = main_window.run_job(Job(wait, ("train",), name="fake training"), lane="train")
    image = main_window.run_job(Job(wait, ("image",), name="fake classify"), lane="image")
    qtbot.waitUntil(lambda: all(e.is_set() for e in started.values()), timeout=120_000)
    qtbot.waitUntil(lambda: train in main_window.jobs_status.rows and image in main_window.jobs_status.rows,
                    timeout=5000)
    _tab(main_window, 1)
    main_window.activateWindow()
    with qtbot.waitSignal(image.cancelled, timeout=5000):
        qtbot.keyClick(main_window, Qt.Key.Key_Escape)
    qtbot.wait(100)
    assert not train.is_cancel_requested
    with qtbot.waitSignal(train.cancelled, timeout=5000):  # its own row's Cancel
        main_window.jobs_status.rows[train].cancel_button.click()
    qtbot.waitUntil(lambda: not main_window.jobs_status.rows, timeout=5000)


def test_tasks_listing_names_every_task_the_tabs_offer():
    out = subprocess.run([sys.executable, "-m", "playground", "tasks", "--json"], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    listed = {row["id"]: row for row in json.loads(out.stdout)}
    from playground.ui.text_tab import discover_panels

    for spec in discover_panels():
        import importlib

        mod = importlib.import_module(f"playground.ui.text_panels.{spec.module}")
        panel_tasks = {getattr(v, "TASK", "") for v in vars(mod).values() if isinstance(v, type)} - {""}
        assert panel_tasks, spec.module
        for task in panel_tasks:
            assert task in listed and listed[task]["tab"] == "text", task
            assert listed[task]["label"] == spec.title  # one name: the registry's label is the panel's title
    for task in ("image-classification", "object-detection", "face-detection", "speech-recognition"):
        assert task in listed
        assert listed[task]["default"] and any(m["id"] == listed[task]["default"] and m["available"]
                                               for m in listed[task]["models"])
    from playground.ui.train_controller import KINDS

    for kind, _label in KINDS:  # what the Train tab trains, and which pickers get it
        assert any(kind in row["train_jobs"] for row in listed.values()), kind
        assert tasks.trained_by(kind).id in listed
    models_out = subprocess.run([sys.executable, "-m", "playground", "models", "--json"], capture_output=True,
                                text=True, timeout=300)
    assert models_out.returncode == 0
    assert {e["task"] for e in json.loads(models_out.stdout)} <= set(tasks.ids()) | {"unknown"}
    bad = subprocess.run([sys.executable, "-m", "playground", "models", "--task", "nope"], capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "zero-shot-classification" in bad.stderr
