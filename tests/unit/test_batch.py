"""The one batch driver (core/batch.py) and the jobs on it: same per-file errors, cancel and progress everywhere."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from playground import cli
from playground.core import batch
from playground.core.speech import file_transcription, recognizers, sources
from playground.core.errors import Cancelled, InputError
from playground.core.jobs import Job, JobContext, Progress
from playground.core.runner import run_sync
from playground.core.transcript import Segment


def _tree(root):
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / ".hidden").mkdir()
    (root / "empty").mkdir()
    for rel in ("a/z.jpg", "a/b/y.png", "a/.dot.jpg", "a/.hidden/x.jpg", "a/readme.txt"):
        (root / rel).write_bytes(b"x")
    (root / "file.txt").write_text("given directly: always taken")


def _is_image(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in ("jpg", "png")


def test_expand_keeps_order_walks_folders_and_reports_missing_and_empty(tmp_path):
    _tree(tmp_path)
    items = batch.expand(None, [tmp_path / "file.txt", tmp_path / "a", "http://x/p.jpg", tmp_path / "empty",
                                tmp_path / "gone.jpg"], _is_image, urls=True, what="images")
    assert [i.source for i in items] == [str(tmp_path / "file.txt"), str(tmp_path / "a" / "b" / "y.png"),
                                        str(tmp_path / "a" / "z.jpg"), "http://x/p.jpg", str(tmp_path / "empty"),
                                        str(tmp_path / "gone.jpg")]
    assert [i.index for i in items] == list(range(6))
    assert items[1].root == tmp_path / "a" and items[0].root is None
    assert [i.error for i in items[:4]] == [None] * 4
    assert items[4].error == "empty: no images in this folder."
    assert items[5].error == "gone.jpg: file not found."
    assert items[3].is_url and items[3].name == "http://x/p.jpg"
    # Without urls=True a URL is a path like any other (and is not there).
    (url,) = batch.expand(None, ["http://x/p.jpg"], _is_image)
    assert url.error == "p.jpg: file not found."


def test_expand_check_turns_refusals_into_item_errors(tmp_path):
    (tmp_path / "ok.wav").write_bytes(b"x")
    (tmp_path / "bad.wav").write_bytes(b"x")

    def check(path):
        if path.name == "bad.wav":
            raise InputError("bad.wav: not a readable audio file.")

    items = batch.expand(None, [tmp_path / "ok.wav", tmp_path / "bad.wav"], _is_image, check=check)
    assert [i.error for i in items] == [None, "bad.wav: not a readable audio file."]


def test_expand_is_cancellable(tmp_path):
    _tree(tmp_path)
    ctx = JobContext()
    ctx.cancel()
    with pytest.raises(Cancelled):
        batch.expand(ctx, [tmp_path / "a"], _is_image)


class _Row:
    def __init__(self, source, value=None, error=None):
        self.source, self.value, self.error = source, value, error


def _items(n, **errors):
    return [batch.Item(f"f{i}.jpg", i, error=errors.get(f"f{i}")) for i in range(n)]


def test_for_each_turns_each_failure_into_its_row_and_carries_on():
    def work(item):
        if item.index == 1:
            raise InputError("f1.jpg: the image is corrupt or truncated.")
        if item.index == 2:
            raise KeyError("weird")
        return _Row(item.source, item.index * 10)

    events = []
    run = batch.for_each(JobContext(events.append), _items(5, f3="f3.jpg: file not found."), work,
                         lambda item, message: _Row(item.source, error=message),
                         progress_text="Did {done} of {total} images")
    assert [r.error for r in run.results] == [None, "f1.jpg: the image is corrupt or truncated.",
                                             "f2.jpg: cannot be processed (KeyError).", "f3.jpg: file not found.",
                                             None]
    assert [r.value for r in run.succeeded] == [0, 40] and len(run.failed) == 3 and not run.cancelled
    assert [e for e in events if isinstance(e, _Row)] == run.results  # each emitted once, in order
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.fraction for p in progress] == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert progress[-1].text == "Did 5 of 5 images"


def test_for_each_lets_out_of_memory_through():
    def work(item):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")

    with pytest.raises(RuntimeError, match="out of memory"):
        batch.for_each(JobContext(), _items(2), work, lambda item, message: _Row(item.source, error=message))


def test_cancel_stops_between_items_and_keeps_what_is_done():
    cancel = threading.Event()
    ctx = JobContext(lambda e: cancel.set() if isinstance(e, _Row) else None, cancel)
    seen = []

    def work(item):
        seen.append(item.index)
        return _Row(item.source)

    run = batch.for_each(ctx, _items(4), work, lambda item, message: _Row(item.source, error=message))
    assert run.cancelled and len(run.results) == 1 and seen == [0]


def test_chunks_are_finished_together_and_a_cancelled_chunk_is_dropped():
    finished = []
    cancel = threading.Event()

    def work(item):
        if item.index == 4:
            cancel.set()  # e.g. a download inside the work noticed the cancel
            raise Cancelled()
        return _Row(item.source)

    def finish(rows):
        finished.append([r.source for r in rows])
        for r in rows:
            r.value = "predicted"

    run = batch.for_each(JobContext(None, cancel), _items(6, f1="f1.jpg: file not found."), work,
                         lambda item, message: _Row(item.source, error=message), chunk=3, finish=finish)
    assert finished == [["f0.jpg", "f1.jpg", "f2.jpg"]]  # the second chunk never reached its forward pass
    assert [r.source for r in run.results] == ["f0.jpg", "f1.jpg", "f2.jpg"] and run.cancelled
    assert all(r.value == "predicted" for r in run.results)


# -- transcription of several files: the same rules --------------------------------------------


class _Recognizer(recognizers.Recognizer):
    """Says "hello" for any audio with sound in it, nothing for silence."""

    kind = "stand-in"

    def transcribe(self, samples, offset=0.0, *args, **kwargs):
        if float(np.abs(samples).max(initial=0.0)) < 1e-3:
            return []
        return [Segment(round(offset, 3), round(offset + len(samples) / sources.SR, 3), "hello")]

    def decode(self, samples, offset=0.0, *args, **kwargs):  # the recogniser API with languages (SpeechOptions)
        return recognizers.Decoded(self.transcribe(samples, offset))


@pytest.fixture
def audio_files(tmp_path, monkeypatch):
    import soundfile as sf

    loads = []
    monkeypatch.setattr(recognizers, "load_recognizer",
                        lambda model=None, ctx=None, trust_remote_code=False: loads.append(model) or
                        _Recognizer("stand-in", "cpu"))
    t = np.arange(16000 * 2) / 16000
    sf.write(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
    (tmp_path / "sub").mkdir()
    sf.write(tmp_path / "sub" / "tone.flac", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    sf.write(tmp_path / "quiet.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x01" * 40)
    return tmp_path, loads


def test_transcribe_files_per_file_errors_and_one_model(audio_files):
    root, loads = audio_files
    events = []
    run = run_sync(Job(file_transcription.transcribe_files, ([root / "tone.wav", root / "quiet.wav", root / "corrupt.wav",
                                                  root / "missing.wav", root / "sub"],)), events.append)
    assert not run.cancelled and loads and set(loads) == {None}  # the real loader caches it: one load
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in run.results}
    assert list(by_name) == ["tone.wav", "quiet.wav", "corrupt.wav", "missing.wav", "tone.flac"]
    assert by_name["tone.wav"].transcript.text == "hello" and by_name["tone.flac"].ok
    assert by_name["quiet.wav"].error == "No speech found in quiet.wav."
    assert by_name["corrupt.wav"].error.startswith("corrupt.wav: ")
    assert by_name["missing.wav"].error == "missing.wav: file not found."
    assert any(isinstance(e, file_transcription.FileSegment) for e in events)
    assert [e for e in events if isinstance(e, file_transcription.FileTranscript)] == run.results
    missing = {"path": str(root / "missing.wav"), "error": "missing.wav: file not found."}
    assert by_name["missing.wav"].to_dict() == missing
    assert by_name["tone.wav"].to_dict() == {"path": str(root / "tone.wav"), **by_name["tone.wav"].transcript.to_dict()}


def test_transcribe_files_loads_no_model_when_no_file_is_usable(audio_files):
    root, loads = audio_files
    run = run_sync(Job(file_transcription.transcribe_files, ([root / "corrupt.wav", root / "missing.wav"],)))
    assert loads == [] and len(run.failed) == 2


def test_transcribe_cli_several_files(audio_files, capsys, tmp_path):
    root, _ = audio_files
    code = cli.main(["transcribe", str(root / "tone.wav"), str(root / "missing.wav"), str(root / "sub"),
                     "--format", "json"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_FAILURE
    rows = json.loads(out)
    assert [r["path"] for r in rows] == [str(root / "tone.wav"), str(root / "missing.wav"),
                                         str(root / "sub" / "tone.flac")]
    assert rows[0]["text"] == "hello" and rows[1] == {"path": str(root / "missing.wav"),
                                                      "error": "missing.wav: file not found."}
    assert {"text", "segments", "duration"} <= set(rows[2])
    assert err == "playground: error: missing.wav: file not found.\n"
    code = cli.main(["transcribe", str(root / "tone.wav"), str(root / "sub")])
    out, _ = capsys.readouterr()
    assert code == 0 and out == f"==> {root / 'tone.wav'} <==\nhello\n\n==> {root / 'sub' / 'tone.flac'} <==\nhello\n"
    target = tmp_path / "out"
    code = cli.main(["transcribe", str(root / "tone.wav"), str(root / "sub"), "--format", "srt", "-o", str(target)])
    assert code == 0 and capsys.readouterr().out == ""
    assert sorted(p.name for p in target.iterdir()) == ["tone-2.srt", "tone.srt"]
    # One file: its transcript alone, errors as one line (as before several files were taken).
    code = cli.main(["transcribe", str(root / "tone.wav"), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["text"] == "hello" and "path" not in data
    code = cli.main(["transcribe", str(root / "quiet.wav")])
    assert code == 1 and capsys.readouterr().err == "playground: error: No speech found in quiet.wav.\n"


def test_progress_reads_of_1_image():
    for n, expected in ((1, "Did 1 of 1 image"), (2, "Did 2 of 2 images")):
        events = []
        batch.for_each(JobContext(events.append), _items(n), lambda item: _Row(item.source, 0),
                       lambda item, message: _Row(item.source, error=message),
                       progress_text="Did {done} of {total} image{s}")
        assert [e for e in events if isinstance(e, Progress)][-1].text == expected
