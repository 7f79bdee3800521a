"""The Train tab's controller with "Processes: 2": the CLI's launcher in a subprocess, rank 0's
events streamed into the same signals; pause/resume, Cancel within 5 s (every rank gone, the
checkpoint kept), a dead rank ends the run with one sentence naming it."""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
from train_support import load_data, tiny_charlm, train_controller, write_corpus

from playground.core.training import events as ev
from playground.ui.context import AppContext
from playground.ui.train_controller import TrainOptions

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(autouse=True)
def one_thread_per_rank(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.fixture
def ctrl(qtbot, worker, settings):
    with train_controller(qtbot, worker, settings) as c:
        yield c
    for p in _ranks():  # nothing left behind, whatever happened
        p.kill()


def _ranks() -> list[psutil.Process]:
    found = []
    for p in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "finetune" in " ".join(p.cmdline()) or "RANK" in p.environ():
                found.append(p)
        except psutil.Error:
            pass
    return found


def _options(path, **changes) -> TrainOptions:
    return tiny_charlm(path, **({"processes": 2} | changes))


def test_two_processes_stream_the_same_signals_and_save_the_model(qtbot, ctrl, tmp_path):
    path = load_data(qtbot, ctrl, write_corpus(tmp_path / "corpus.txt"))
    steps, epochs, saved, seen = [], [], [], []
    ctrl.step.connect(steps.append)
    ctrl.epoch.connect(epochs.append)
    ctrl.model_saved.connect(saved.append)
    with qtbot.waitSignal(ctrl.finished, timeout=240_000) as done:
        assert ctrl.start(_options(path, steps=40))
        ctrl.handle.event.connect(seen.append)
    result = done.args[0]
    assert result is not None and result.task == "text-generation", ctrl.status_text
    start = next(e for e in seen if isinstance(e, ev.RunStarted))
    assert start.world_size == 2 and start.effective_batch_size == 8 and start.backend == "gloo"
    assert steps and steps[-1].step == 40 and [e.step for e in steps] == sorted(e.step for e in steps)
    assert [e.epoch for e in epochs] == [1, 2] and saved == [result.model_dir]
    assert os.path.isfile(os.path.join(result.model_dir, "playground_model.json"))
    assert ctrl.status_text.startswith("Saved ") and not ctrl.running
    qtbot.waitUntil(lambda: not _ranks(), timeout=10_000)


def test_pause_resume_and_cancel_stop_every_rank_within_5_s(qtbot, ctrl, tmp_path):
    path = load_data(qtbot, ctrl, write_corpus(tmp_path / "corpus.txt"))
    steps, seen = [], []
    ctrl.step.connect(steps.append)
    assert ctrl.start(_options(path, steps=20000))
    ctrl.handle.event.connect(seen.append)
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=120_000)
    ctrl.pause()
    qtbot.waitUntil(lambda: any(isinstance(e, ev.Paused) for e in seen), timeout=30_000)
    paused_at = next(e for e in seen if isinstance(e, ev.Paused)).step
    assert ctrl.status_text == f"Paused at step {paused_at}."
    qtbot.wait(300)  # events already on their way may still land
    n = len(steps)
    qtbot.wait(700)
    assert len(steps) == n, "no steps while paused"
    ctrl.resume()
    qtbot.waitUntil(lambda: len(steps) > n + 2, timeout=60_000)
    assert any(isinstance(e, ev.Resumed) for e in seen)
    ranks = _ranks()
    assert len(ranks) >= 3  # the launcher and its two ranks
    t0 = time.monotonic()
    with qtbot.waitSignal(ctrl.finished, timeout=15_000) as done:
        ctrl.cancel()
    seconds = time.monotonic() - t0
    assert done.args[0] is None and ctrl.status_text.startswith("Cancelled. The last checkpoint is kept")
    assert seconds < 5, f"cancel took {seconds:.1f} s"
    assert not [p for p in ranks if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert ctrl.can_resume  # the ranks' own checkpoint on cancel


def test_a_rank_that_dies_ends_the_run_with_one_sentence(qtbot, ctrl, tmp_path):
    path = load_data(qtbot, ctrl, write_corpus(tmp_path / "corpus.txt"))
    steps, failed = [], []
    ctrl.step.connect(steps.append)
    ctrl.failed.connect(failed.append)
    assert ctrl.start(_options(path, steps=20000))
    qtbot.waitUntil(lambda: len(steps) >= 3, timeout=120_000)
    rank1 = next(p for p in _ranks() if p.environ().get("RANK") == "1")
    with qtbot.waitSignal(ctrl.finished, timeout=15_000):
        os.kill(rank1.pid, signal.SIGKILL)
    assert len(failed) == 1 and failed[0].startswith("Rank 1 of 2 (process ") and "killed by SIGKILL" in failed[0]
    assert failed[0].count(". ") == 0  # one sentence


def test_the_tab_offers_processes_up_to_the_devices_found(qtbot, worker, settings):
    from playground.core.training.distributed import local_slots
    from playground.ui.train_tab import build

    tab = build(AppContext(worker, settings, None))
    qtbot.addWidget(tab)
    assert tab.processes.minimum() == 1 and tab.processes.maximum() == max(1, local_slots())
    assert tab.processes.value() == 1 and tab.options().processes == 1
    tab.processes.setValue(tab.processes.maximum())
    assert tab.options().processes == tab.processes.maximum()
    tab._set_running(True)
    assert not tab.processes.isEnabled()
    tab._set_running(False)
    tab.shutdown()
