"""Training survives the worst: SIGKILL mid-run then --resume; disk full or a failing rename while
saving a checkpoint or the final model (clear error, previous checkpoint intact, no half file as
the current one)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from playground.core.errors import PlaygroundError
from playground.core.jobs import JobContext

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ("The quick brown fox jumps over the lazy dog. " * 3 + "Pack my box with five dozen liquor jugs. ") * 12
TINY = ["--block-size", "16", "--layers", "1", "--heads", "2", "--embed", "32", "--batch-size", "8"]


def _env(home: Path) -> dict:
    return dict(os.environ, PLAYGROUND_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")


def _read_json_lines(stream, until, timeout: float) -> list[dict]:
    """JSON lines from a live process until `until(line)` is true (or the stream ends)."""
    seen = []
    deadline = time.monotonic() + timeout
    for raw in stream:
        raw = raw.strip()
        if raw.startswith("{"):
            item = json.loads(raw)
            seen.append(item)
            if until(item):
                break
        assert time.monotonic() < deadline, f"no checkpoint within {timeout} s: {seen[-3:]}"
    return seen


@pytest.mark.slow
@pytest.mark.timeout(900)  # two cold starts of torch + transformers on a shared 2-core machine
def test_sigkill_during_training_then_resume_continues_from_the_last_whole_checkpoint(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "out" / "tiny-gpt"
    cmd = [sys.executable, "-m", "playground", "finetune", "charlm", str(corpus), "--out", str(out),
           "--steps", "400", "--eval-every", "100", "--checkpoint-every", "10", *TINY, "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=_env(tmp_path / "home"))
    try:
        seen = _read_json_lines(proc.stdout, lambda e: e.get("type") == "checkpoint", timeout=240)
        assert seen and seen[-1]["type"] == "checkpoint", (seen, proc.stderr.read() if proc.poll() else "")
        first_ckpt = seen[-1]["step"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    from playground.core.training import checkpoint as ckpt

    ckdir = ckpt.checkpoint_dir(out)
    assert ckpt.has_checkpoint(out)
    assert not (out / "playground_model.json").exists(), "a killed run must not look like a finished model"
    state = ckpt.load_state(ckpt.checkpoint_path(out))  # whole and readable (weights_only)
    saved_step = int(state["step"])
    assert saved_step >= first_ckpt and saved_step % 10 == 0

    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, cwd=ROOT,
                             env=_env(tmp_path / "home"), timeout=420)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = [json.loads(x) for x in resumed.stdout.splitlines() if x.startswith("{")]
    start = next(e for e in events if e["type"] == "start")
    assert start["start_step"] == saved_step
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps[0] == saved_step + 1 and steps[-1] == 400
    done = events[-1]
    assert done["type"] == "done" and Path(done["model_dir"]) == out.resolve()
    meta = json.loads((out / "playground_model.json").read_text())
    assert meta["task"] == "text-generation" and meta["steps"] == 400
    assert not ckdir.exists(), "checkpoints are removed once the model is saved"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], list(out.parent.iterdir())


# -- disk full / failing rename while saving ----------------------------------------------------


def _charlm(ctx, corpus: Path, out: Path, **kw):
    from playground.core.training.charlm import train_charlm

    return train_charlm(ctx, corpus, out, steps=kw.pop("steps", 40), block_size=16, layers=1, heads=2, embed=32,
                        batch_size=8, eval_every=kw.pop("eval_every", 20), checkpoint_every=10, device="cpu", **kw)


class _FailAfter:
    """Wraps os.replace in the checkpoint module's atomic writer: the Nth matching call raises ENOSPC."""

    def __init__(self, real, match: str, after: int):
        self.real, self.match, self.after, self.calls = real, match, after, 0

    def __call__(self, src, dst, *a, **kw):
        if self.match in str(dst):
            self.calls += 1
            if self.calls > self.after:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return self.real(src, dst, *a, **kw)


@pytest.mark.slow
def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    from playground.core import atomic
    from playground.core.training import checkpoint as ckpt

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "models" / "gpt"
    fail = _FailAfter(os.replace, "checkpoint.pt", after=2)
    monkeypatch.setattr(atomic.os, "replace", fail)
    events = []
    with pytest.raises(BaseException) as err:
        _charlm(JobContext(events.append), corpus, out)
    monkeypatch.undo()
    assert isinstance(err.value, PlaygroundError | OSError), type(err.value)
    from playground.core.errors import friendly_message

    message = friendly_message(err.value)
    assert "\n" not in message and ("space" in message.lower() or "disk" in message.lower()), message
    saved = [e for e in events if type(e).__name__ == "CheckpointSaved"]
    assert len(saved) == 2
    # The previous checkpoint is the current one, whole; no temp file is left beside it.
    state = ckpt.load_state(ckpt.checkpoint_path(out))
    assert int(state["step"]) == saved[-1].step
    leftovers = [p.name for p in ckpt.checkpoint_dir(out).iterdir() if p.name.endswith(".part")]
    assert leftovers == []
    assert not out.exists()


@pytest.mark.slow
def test_disk_full_while_writing_the_final_model_leaves_no_half_model(tmp_path, monkeypatch):
    """The final save fails: no folder with a marker appears (the catalog would list it), the
    checkpoint survives, and a rerun with --resume finishes the model."""
    from playground.core import models
    from playground.core.training import checkpoint as ckpt

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "models" / "gpt"
    real_write = ckpt.write_marker

    def full(folder, meta):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / models.FINETUNED_MARKER))

    monkeypatch.setattr(ckpt, "write_marker", full)
    with pytest.raises(OSError):
        _charlm(JobContext(), corpus, out, steps=20, eval_every=20)
    monkeypatch.setattr(ckpt, "write_marker", real_write)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".gpt.saving")]
    assert ckpt.has_checkpoint(out)
    result = _charlm(JobContext(), corpus, out, steps=20, eval_every=20, resume=True)
    assert Path(result.model_dir) == out.resolve() and (out / models.FINETUNED_MARKER).is_file()


@pytest.mark.slow
def test_replacing_a_model_that_fails_keeps_the_old_model(tmp_path, monkeypatch):
    """--overwrite of an existing model: if the new one cannot be saved the old one stays usable."""
    from playground.core import models

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "models" / "gpt"
    _charlm(JobContext(), corpus, out, steps=20, eval_every=20)
    before = (out / models.FINETUNED_MARKER).read_text()

    def broken_save(self, folder):
        raise OSError(errno.ENOSPC, "No space left on device", str(folder))

    from playground.core.training.charlm import CharLMSpec

    monkeypatch.setattr(CharLMSpec, "save", broken_save)
    with pytest.raises(OSError):
        _charlm(JobContext(), corpus, out, steps=20, eval_every=20, overwrite=True)
    assert (out / models.FINETUNED_MARKER).read_text() == before
    assert models.read_marker(out)["task"] == "text-generation"
    assert (out / "model.safetensors").is_file()
