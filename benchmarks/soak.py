"""Soak: many jobs in one app session through the real worker; memory and threads must not grow.

    uv run python benchmarks/soak.py            # 500 classifications, 50 transcriptions, 10 training runs
    uv run python benchmarks/soak.py --quick    # 100 / 10 / 3

Phases (one process, one QApplication, one Worker, the bundled offline models):
1. image classification jobs (one photo each, cycling through skimage's photos);
   interleaved with the same number of direct calls (decode, preprocess, `model(x)`), so the app path's
   time per image is printed next to the direct path's (ratio);
2. transcription jobs of a short espeak-ng phrase (a tone if espeak-ng is missing);
3. back-to-back tiny character-level GPT training runs.
Resident memory (RSS) is sampled after a warm-up and at the end of each phase; the target is
growth < 10 %. Python threads and OS threads are counted before and after the training runs.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 1e6


def os_threads() -> int:
    import psutil

    return psutil.Process().num_threads()


def gpu_mb() -> str:
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.memory_allocated() / 1e6:.1f} MB"
    except Exception:  # noqa: BLE001
        pass
    return "n/a (no GPU)"


class Runner:
    """Submit a job to the worker and wait for it with a Qt event loop (as the app does)."""

    def __init__(self):
        from PySide6.QtWidgets import QApplication

        from playground.worker import Worker

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.worker = Worker()

    def run(self, job):
        from PySide6.QtCore import QEventLoop

        from playground.worker import JobState

        loop = QEventLoop()
        handle = self.worker.submit(job)
        handle.finished.connect(loop.quit)
        loop.exec()
        if handle.state is not JobState.DONE:
            raise SystemExit(f"job '{job.name}' ended {handle.state.value}: {handle.error_message}")
        return handle.value

    def close(self):
        self.worker.shutdown(5.0)


def growth(before: float, after: float) -> str:
    pct = 100.0 * (after - before) / before
    verdict = "OK" if pct < 10 else "OVER TARGET"
    return f"{before:.0f} MB -> {after:.0f} MB ({pct:+.1f} %, target < 10 %: {verdict})"


def photos(folder: Path) -> list[Path]:
    from PIL import Image
    from skimage import data

    out = []
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        p = folder / f"{name}.jpg"
        Image.fromarray(getattr(data, name)()).save(p)
        out.append(p)
    return out


def phase_classify(runner: Runner, n: int, folder: Path) -> None:
    import torch

    from playground.core import image
    from playground.core.imageio import open_image
    from playground.core.jobs import Job

    files = photos(folder)
    clf = image.load_classifier(None, None)
    warm = max(10, n // 10)
    t_app = t_direct = 0.0
    base = None
    for i in range(n):
        if i == warm:
            base = rss_mb()
            t_app = t_direct = 0.0
        t0 = time.perf_counter()
        summary = runner.run(Job(image.classify, ([str(files[i % len(files)])],),
                                 {"thumbnails": False, "top_k": 5}, name="classify"))
        t_app += time.perf_counter() - t0
        assert summary.results[0].predictions, summary.results[0].error
        t0 = time.perf_counter()  # direct: decode, preprocess, forward, top-5 on this thread
        x = clf.preprocess(open_image(files[i % len(files)])).unsqueeze(0).to(clf.device, clf.dtype)
        with torch.inference_mode():
            clf.model(x).softmax(-1).topk(5)
        t_direct += time.perf_counter() - t0
    end = rss_mb()
    measured = n - warm
    print(f"classification x{n}: app {1000 * t_app / measured:.1f} ms/image, direct {1000 * t_direct / measured:.1f} "
          f"ms/image, app/direct time ratio {t_app / t_direct:.2f} (both decode the file; the app adds the job, "
          "the worker hop and its result objects)")
    print(f"  RSS after {warm} warm-up jobs vs after all {n}: {growth(base, end)}")
    print(f"  first result of the last job: {summary.results[0].predictions[0].label}")


def speech_file(folder: Path) -> Path:
    import numpy as np
    import soundfile as sf

    wav = folder / "phrase.wav"
    if shutil.which("espeak-ng") and shutil.which("sox"):
        raw = folder / "raw.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), "Please call me tomorrow morning before the meeting starts."],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", str(wav)], check=True, capture_output=True)
    else:
        t = np.arange(3 * 16000) / 16000
        sf.write(wav, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return wav


def phase_transcribe(runner: Runner, n: int, folder: Path) -> None:
    from playground.core.speech import file_transcription
    from playground.core.errors import PlaygroundError
    from playground.core.jobs import Job

    wav = speech_file(folder)
    warm = max(3, n // 10)
    base = None
    t_total = 0.0
    text = ""
    for i in range(n):
        if i == warm:
            base = rss_mb()
            t_total = 0.0
        t0 = time.perf_counter()
        try:
            result = runner.run(Job(file_transcription.transcribe_file, (str(wav),), name="transcribe"))
            text = " ".join(s.text for s in result.segments)
        except (PlaygroundError, SystemExit) as exc:  # a tone has no speech: still a full pass
            text = str(exc)
        t_total += time.perf_counter() - t0
    end = rss_mb()
    print(f"transcription x{n}: {t_total / (n - warm):.2f} s per file; last text: {text[:60]!r}")
    print(f"  RSS after {warm} warm-up jobs vs after all {n}: {growth(base, end)}")


def phase_train(runner: Runner, n: int, folder: Path) -> None:
    from playground.core.jobs import Job
    from playground.core.training.charlm import train_charlm

    corpus = folder / "corpus.txt"
    corpus.write_text("The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. " * 20)
    rows = []
    for i in range(n):
        out = folder / "models" / f"gpt-{i}"
        t0 = time.perf_counter()
        result = runner.run(Job(train_charlm, (str(corpus), str(out)), {
            "steps": 60, "block_size": 32, "layers": 2, "heads": 2, "embed": 64, "batch_size": 16,
            "eval_every": 30}, name="train"))
        rows.append((time.perf_counter() - t0, rss_mb(), threading.active_count(), os_threads(), gpu_mb(),
                     result.val_loss))
        shutil.rmtree(out, ignore_errors=True)
    print(f"training x{n} (char GPT, 60 steps each):")
    for i, (secs, rss, py_t, os_t, gpu, loss) in enumerate(rows, 1):
        print(f"  run {i:2}: {secs:5.1f} s  RSS {rss:6.0f} MB  python threads {py_t}  OS threads {os_t}  "
              f"GPU {gpu}  val loss {loss:.3f}")
    first, last = rows[min(1, n - 1)], rows[-1]
    print(f"  RSS run 2 -> run {n}: {growth(first[1], last[1])}")
    print(f"  python threads {first[2]} -> {last[2]}, OS threads {first[3]} -> {last[3]} "
          f"({'no growth' if last[2] <= first[2] and last[3] <= first[3] else 'GREW'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 classifications, 10 transcriptions, 3 runs")
    parser.add_argument("--classify", type=int, default=None)
    parser.add_argument("--transcribe", type=int, default=None)
    parser.add_argument("--train", type=int, default=None)
    args = parser.parse_args()
    n_cls = args.classify if args.classify is not None else (100 if args.quick else 500)
    n_asr = args.transcribe if args.transcribe is not None else (10 if args.quick else 50)
    n_train = args.train if args.train is not None else (3 if args.quick else 10)

    home = Path(tempfile.mkdtemp(prefix="soak-"))
    os.environ["PLAYGROUND_HOME"] = str(home)
    runner = Runner()
    t0 = time.perf_counter()
    print(f"soak: start RSS {rss_mb():.0f} MB, python threads {threading.active_count()}, OS threads {os_threads()}")
    try:
        if n_cls:
            phase_classify(runner, n_cls, home)
        if n_asr:
            phase_transcribe(runner, n_asr, home)
        if n_train:
            phase_train(runner, n_train, home)
    finally:
        runner.close()
        shutil.rmtree(home, ignore_errors=True)
    print(f"soak: end RSS {rss_mb():.0f} MB, python threads {threading.active_count()}, OS threads {os_threads()}, "
          f"{time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
