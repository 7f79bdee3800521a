"""Trying while training: the Image tab's classification with a fine-tune running, side by side.

In one run of the real main window (offscreen):
- time from "classify this photo" in the Image tab to its result, with nothing else running vs
  while an image fine-tune runs in the Train tab (target: at most 2x on 2 cores; with a single
  job queue it waited for the whole run);
- training samples/s while the Image tab classifies alongside (a click every 0.5 s, and
  non-stop) vs while nothing else runs, measured in alternating windows of the same run
  (the ratio says what trying costs training).

    uv run python benchmarks/lanes.py [--clicks N] [--windows W]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def wait(app, predicate, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.002)


def classify_once(app, image_tab, photo: str) -> float:
    done = []
    image_tab.batch_finished.connect(done.append)
    image_tab.clear()
    t0 = time.perf_counter()
    image_tab.open_paths([photo])
    wait(app, lambda: bool(done), 300)
    image_tab.batch_finished.disconnect(done.append)
    if done[0] is None:
        raise RuntimeError(f"classification failed: {image_tab.last_error}")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=6, help="idle classifications before and after (default 6)")
    parser.add_argument("--windows", type=int, default=3, help="alternating training windows of each kind")
    parser.add_argument("--window-seconds", type=float, default=6.0)
    args = parser.parse_args()

    from train_support import write_digits

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PLAYGROUND_HOME"] = str(Path(tmp) / "home")
        from playground.app import MainWindow, create_app
        from playground.core.training import events as ev
        from playground.settings import Settings

        app = create_app()
        window = MainWindow(Settings.in_file(Path(tmp) / "s.ini"))
        window.resize(1200, 800)
        window.show()
        data = write_digits(Path(tmp) / "digits", per_class=60)
        photo = str(next((data / "3").iterdir()))

        window.tabs.setCurrentIndex(1)
        image_tab = window.page(1)
        # The window's own start-up work (device report, model listing) ends before anything is timed.
        wait(app, lambda: window.store.scanned and window.device_report is not None, 300)
        for _ in range(2):
            classify_once(app, image_tab, photo)  # warm up: model load, first batches
        idle = [classify_once(app, image_tab, photo) for _ in range(args.clicks)]

        train = window.page(3)
        train.open_paths([str(data)])
        wait(app, lambda: train.preview is not None, 300)
        train.image_size.setValue(64)
        train.epochs.setValue(1000)  # runs until cancelled
        train.patience.setValue(0)
        steps: list[tuple[float, int, float]] = []  # (time, step, samples/s)
        train.start_button.click()
        train.handle.event.connect(lambda e: steps.append((time.perf_counter(), e.step, e.samples_per_s))
                                   if isinstance(e, ev.StepEvent) else None)
        wait(app, lambda: len(steps) >= 3, 600)

        quiet, busy, paced, alongside = [], [], [], []
        for _ in range(args.windows):  # quiet / clicking non-stop / clicking twice a second, in turn
            for kind in ("quiet", "busy", "paced"):
                n0 = len(steps)
                end = time.perf_counter() + args.window_seconds
                while time.perf_counter() < end:
                    if kind == "quiet":
                        app.processEvents()
                        time.sleep(0.005)
                        continue
                    t = classify_once(app, image_tab, photo)
                    alongside.append(t)
                    if kind == "paced":
                        pause = time.perf_counter() + max(0.0, 0.5 - t)
                        while time.perf_counter() < pause:
                            app.processEvents()
                            time.sleep(0.005)
                {"quiet": quiet, "busy": busy, "paced": paced}[kind].append(_rate(steps[n0 - 1:], train.batch.value()))
        running = not train.handle.is_finished if train.handle is not None else False
        train.cancel()
        wait(app, lambda: train.handle is None, 120)
        idle += [classify_once(app, image_tab, photo) for _ in range(args.clicks)]  # idle again, after the run
        window.close()

    med_idle, med_busy = statistics.median(idle), statistics.median(alongside)
    q, b, p = statistics.mean(quiet), statistics.mean(busy), statistics.mean(paced)
    print(f"Image tab: photo to result, median of {len(idle)} clicks (before and after the run) / "
          f"{len(alongside)} clicks (during it)")
    print(f"  nothing else running         {med_idle * 1000:8.1f} ms")
    print(f"  while a fine-tune runs       {med_busy * 1000:8.1f} ms   ratio {med_busy / med_idle:5.2f}x "
          f"(target <= 2x){'' if running else '  (the run ended early!)'}")
    print(f"Training (EfficientNet-Lite0 fine-tune, 64 px), samples/s, {args.windows} windows of "
          f"{args.window_seconds:.0f} s each, in turn")
    print(f"  nothing alongside            {q:8.1f}")
    print(f"  a click every 0.5 s          {p:8.1f}   ratio {p / q:5.2f}")
    print(f"  clicking non-stop            {b:8.1f}   ratio {b / q:5.2f}")
    return 0


def _rate(window: list[tuple[float, int, float]], batch: int) -> float:
    """Samples/s in this window: steps done between its first and last step event, times the batch."""
    if len(window) < 2:
        return float("nan")
    (t0, s0, _), (t1, s1, _) = window[0], window[-1]
    return (s1 - s0) * batch / (t1 - t0) if t1 > t0 else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
