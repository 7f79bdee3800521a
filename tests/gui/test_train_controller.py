"""The Train tab's controller alone: no TrainTab, no window, no widget.

Data checks (and the stale-check guard), a tiny char-GPT run with its signals and
saved model, pause/resume/cancel (cancel keeps a checkpoint, the next run resumes
from it), data changes refused while running, the model store told on DoneEvent.
"""

from __future__ import annotations

import pytest
from train_support import CORPUS, load_data, tiny_charlm, train_controller, write_corpus

from playground.core.training import events as ev
from playground.ui.train_controller import EVENT_INTERVAL_S, TrainController, TrainOptions


class Recorder:
    """Every signal of a controller, as (name, args) in order."""

    NAMES = ("data_changed", "preview_started", "preview_ready", "preview_failed", "name_changed",
             "resume_available", "running_changed", "new_run", "total_steps", "step", "epoch", "status",
             "failed", "finished", "model_saved")

    def __init__(self, ctrl: TrainController):
        self.seen: list[tuple[str, tuple]] = []
        for name in self.NAMES:
            getattr(ctrl, name).connect(lambda *args, n=name: self.seen.append((n, args)))

    def of(self, name: str) -> list[tuple]:
        return [args for n, args in self.seen if n == name]

    def last(self, name: str):
        found = self.of(name)
        return found[-1] if found else None


@pytest.fixture
def ctrl(qtbot, worker, settings):
    with train_controller(qtbot, worker, settings) as c:
        yield c


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus.txt")


def test_options_take_the_kinds_defaults_and_build_the_jobs_arguments(tmp_path):
    o = TrainOptions("charlm", " /data/corpus.txt ", name="  ", extra={"layers": 1})
    assert (o.steps, o.batch_size, o.lr, o.patience, o.device) == (2000, 32, 2e-3, 0, None)
    args, kwargs = o.job_arguments()
    assert args == ("/data/corpus.txt", None)
    assert kwargs["name"] is None and kwargs["device"] is None  # None: the Settings device
    assert kwargs["steps"] == 2000 and "epochs" not in kwargs and kwargs["layers"] == 1
    assert kwargs["event_interval"] == EVENT_INTERVAL_S
    t = TrainOptions("text", "r.csv", name="rev", text_column="review", label_column="", head_only=True)
    _, kwargs = t.job_arguments(control="c")
    assert (t.epochs, t.batch_size, t.patience) == (4, 16, 3)
    assert kwargs["text_column"] == "review" and kwargs["label_column"] is None and kwargs["head_only"]
    assert kwargs["name"] == "rev" and kwargs["control"] == "c" and "steps" not in kwargs
    _, kwargs = TrainOptions("image", "folder", image_size=64, device="cpu").job_arguments()
    assert kwargs["image_size"] == 64 and kwargs["epochs"] == 3 and kwargs["device"] == "cpu"
    with pytest.raises(ValueError):
        TrainOptions("audio", "x")


def test_data_preview_of_a_text_corpus_and_the_stale_check_guard(qtbot, ctrl, corpus, tmp_path):
    rec = Recorder(ctrl)
    assert not ctrl.can_start
    load_data(qtbot, ctrl, corpus)
    assert rec.of("data_changed") == [(str(corpus), "charlm")]
    p = ctrl.preview
    assert p.kind == "charlm" and "characters" in p.summary and rec.of("preview_ready") == [(p,)]
    assert ctrl.name == "corpus-charlm" and rec.last("name_changed") == ("corpus-charlm",)
    assert rec.last("running_changed") == (False, False) and rec.last("resume_available") == (False,)
    assert ctrl.data_path == str(corpus)

    short = tmp_path / "short.txt"
    short.write_text("too short")
    with qtbot.waitSignal(ctrl.preview_failed, timeout=30_000) as failed:
        ctrl.check_data("charlm", str(short))
    assert ctrl.preview is None and not ctrl.can_start and failed.args[0]

    # A newer check wins: the first one's outcome (an error here) never shows.
    rec.seen.clear()
    ctrl.check_data("charlm", str(short))
    with qtbot.waitSignal(ctrl.preview_ready, timeout=30_000):
        ctrl.check_data("charlm", str(corpus))
    qtbot.wait(200)
    assert rec.of("preview_started") == [(), ()] and not rec.of("preview_failed")
    assert ctrl.preview is not None and ctrl.can_start


def test_a_tiny_run_emits_steps_epochs_and_saves_a_model(qtbot, ctrl, corpus):
    from playground.core import tasks

    load_data(qtbot, ctrl, corpus)
    refreshes = []
    original = ctrl.ctx.store.refresh
    ctrl.ctx.store.refresh = lambda now=False: (refreshes.append(now), original(now=now))
    rec = Recorder(ctrl)
    with qtbot.waitSignal(ctrl.finished, timeout=240_000) as done:
        assert ctrl.start(tiny_charlm(corpus, steps=40))
        assert ctrl.running and rec.of("running_changed") == [(True, False)]
        assert rec.of("new_run") == [("corpus-charlm",)] and ctrl.status_text == "Starting..."
        assert not ctrl.start(tiny_charlm(corpus))  # one run at a time
    result = done.args[0]
    assert result is ctrl.last_result and result.task == "text-generation"
    steps = [e.step for (e,) in rec.of("step")]
    assert steps and steps[-1] == 40 and steps == sorted(steps) and ctrl.last_step.step == 40
    assert [e.epoch for (e,) in rec.of("epoch")] == [1, 2]  # eval every 20 steps
    assert rec.of("total_steps") == [(40,)]
    assert rec.of("model_saved") == [(result.model_dir,)]
    assert True in refreshes  # DoneEvent: the store rescans at once
    qtbot.waitUntil(lambda: any(e.location == result.model_dir for e in ctrl.ctx.store.entries("text-generation")),
                    timeout=30_000)
    assert any(e.location == result.model_dir for e in tasks.catalog("text-generation"))
    assert ctrl.status_text.startswith("Saved ") and any(m.startswith("Epoch 2: val loss") for m in ctrl.messages)
    assert not ctrl.running and ctrl.control is None and ctrl.can_start
    assert rec.last("running_changed") == (False, False)
    # The next run gets a fresh name (the saved one is taken) and none of this run's messages.
    assert ctrl.name == "corpus-charlm-2" and rec.last("name_changed") == ("corpus-charlm-2",)
    with qtbot.waitSignal(ctrl.finished, timeout=240_000):
        assert ctrl.start(tiny_charlm(corpus, steps=20))
        assert ctrl.messages == []
    assert [m for m in ctrl.messages if m.startswith("Epoch")] == [m for m in ctrl.messages if m.startswith("Epoch 1")]


def test_pause_resume_cancel_keeps_a_checkpoint_and_the_next_run_resumes(qtbot, ctrl, corpus):
    load_data(qtbot, ctrl, corpus)
    rec = Recorder(ctrl)
    seen = []
    assert ctrl.start(tiny_charlm(corpus, steps=400))
    ctrl.handle.event.connect(seen.append)
    qtbot.waitUntil(lambda: len(rec.of("step")) >= 3, timeout=120_000)
    ctrl.pause()
    assert ctrl.paused and rec.last("running_changed") == (True, True)
    assert ctrl.status_text == "Pausing at the next step..."
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in seen), timeout=30_000)
    paused_at = next(e for e in seen if isinstance(e, ev.Paused)).step
    assert ctrl.status_text == f"Paused at step {paused_at}."
    n = len(rec.of("step"))
    qtbot.wait(300)
    ctrl.refresh_status()  # the status timer leaves the "Paused" line alone
    assert len(rec.of("step")) == n, "no steps while paused"
    assert ctrl.status_text == f"Paused at step {paused_at}."
    ctrl.resume()
    assert not ctrl.paused and rec.last("running_changed") == (True, False)
    qtbot.waitUntil(lambda: len(rec.of("step")) > n + 2, timeout=60_000)
    with qtbot.waitSignal(ctrl.finished, timeout=60_000) as done:
        ctrl.cancel()
        assert ctrl.status_text.startswith("Cancelling")
    assert done.args[0] is None and ctrl.last_result is None
    assert ctrl.status_text.startswith("Cancelled. The last checkpoint is kept")
    saved = [e for e in seen if isinstance(e, ev.CheckpointSaved)][-1]
    assert ctrl.name == "corpus-charlm" and ctrl.can_resume and rec.last("resume_available") == (True,)

    resumed = []
    with qtbot.waitSignal(ctrl.finished, timeout=120_000) as done:
        assert ctrl.start(tiny_charlm(corpus, steps=saved.step + 5, resume=True))
        ctrl.handle.event.connect(resumed.append)
    start = next(e for e in resumed if isinstance(e, ev.RunStarted))
    assert start.start_step == saved.step and done.args[0] is not None
    assert rec.last("new_run") == ("corpus-charlm (resumed)",)
    # A char-GPT trains in whole evaluation rounds (eval_every steps): the run ends at its announced total.
    assert start.total_steps >= saved.step + 5 and rec.of("step")[-1][0].step == start.total_steps


def test_data_changes_are_refused_while_running(qtbot, ctrl, corpus, tmp_path):
    assert not ctrl.start(tiny_charlm(corpus))  # no data checked yet
    assert ctrl.status_text == "Choose valid training data first." and not ctrl.running
    load_data(qtbot, ctrl, corpus)
    preview = ctrl.preview
    other = tmp_path / "other.txt"
    other.write_text(CORPUS)
    rec = Recorder(ctrl)
    assert ctrl.start(tiny_charlm(corpus, steps=400))
    qtbot.waitUntil(lambda: bool(rec.of("step")), timeout=120_000)  # really training
    assert not ctrl.set_data(str(other))
    assert "cancel it" in ctrl.status_text and ctrl.data_path == str(corpus) and ctrl.preview is preview
    assert not rec.of("data_changed") and not rec.of("name_changed")
    with qtbot.waitSignal(ctrl.finished, timeout=60_000):
        ctrl.cancel()
    assert ctrl.set_data(str(other))  # accepted once the run ended
    qtbot.waitUntil(lambda: ctrl.preview is not None, timeout=30_000)
    assert ctrl.data_path == str(other) and ctrl.name == "other-charlm"


def test_done_event_refreshes_the_store_and_tells_model_saved(qtbot, ctrl):
    calls = []
    ctrl.ctx.store.refresh = lambda now=False: calls.append(now)
    with qtbot.waitSignal(ctrl.model_saved) as saved:
        ctrl.on_event(ev.DoneEvent("/m/gpt", "text-generation", "gpt", None, 1.0))
    assert saved.args == ["/m/gpt"] and calls == [True]


def test_status_line_the_fallback_message_and_the_result_race(ctrl, tmp_path):
    ctrl.on_event(ev.DeviceFallback(12, "cuda:0", "cpu"))
    ctrl.handle = object()  # as while a run is going
    try:
        ctrl.refresh_status()
        assert "Out of GPU memory at step 12: training continues on the CPU" in ctrl.status_text
        # The job's result comes one event-loop turn before its finished signal: a status
        # refresh in between must not put the step line back over "Saved ...".
        ctrl.on_event(ev.StepEvent(160, 8, 0.9, 1e-4, 700.0, 0.0, 160))
        ctrl.on_result(ev.TrainResult(str(tmp_path / "m"), "text-generation", [], None, 0.85, False))
        ctrl.refresh_status()
    finally:
        ctrl.handle = None
    assert ctrl.status_text.startswith("Saved ") and "val loss 0.8500" in ctrl.status_text
