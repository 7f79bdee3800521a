"""Training in the app vs the same loop run bare, side by side in one run (interleaved repeats).

Measures, for a character-level GPT (the job whose steps are shortest, so app
overhead shows most):
- samples/s of the app path (Train tab -> worker -> core job, live plot redrawn
  from the events) vs a bare torch loop over the same model, batches and optimizer;
- the longest gap between ticks of a 10 ms QTimer during the app's training;
- resident memory after each of 5 epochs (evaluation rounds) of an app run.
On a CUDA machine it repeats the comparison on the GPU with mixed precision.

    uv run python benchmarks/train.py [--quick] [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CORPUS = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
          "foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 80
MODEL = {"block_size": 64, "layers": 2, "heads": 4, "embed": 128}
BATCH = 32


def bare_loop(corpus: Path, steps: int, device: str) -> float:
    """samples/s of the same model, batches, optimizer and schedule with no app around it."""
    import torch

    from playground.core.jobs import JobContext
    from playground.core.training.charlm import CharLMSpec
    from playground.core.training.loop import lr_at, precision_plan

    spec = CharLMSpec(JobContext(), corpus.read_text(), str(corpus), steps, BATCH, MODEL["block_size"],
                      MODEL["layers"], MODEL["heads"], MODEL["embed"], 0.1, 0, steps)
    spec.model.to(device)
    amp, use_scaler = precision_plan(device)
    scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
    opt = torch.optim.AdamW(spec.model.parameters(), lr=2e-3)
    spec.model.train()
    t0, n = None, 0
    for i, (x, y) in enumerate(spec.batches(0, 0, device)):
        if i == 2:  # the first steps warm up allocators and kernels: not timed (same in the app)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(i, steps, 2e-3, 0.02)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
            logits = spec.model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(spec.model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        float(loss.detach())
        if i >= 2:
            n += x.shape[0]
    return n / (time.perf_counter() - t0)


def app_run(tab, qtbot_wait, corpus: Path, steps: int, device: str, eval_every: int, rss_log: list | None = None):
    """Run the job through the Train tab; returns (samples/s over steps 3.., longest UI stall in s)."""
    import psutil
    from PySide6.QtCore import QTimer

    from playground.core.training import events as ev

    proc = psutil.Process()
    tab.set_data(str(corpus))
    qtbot_wait(lambda: tab.preview is not None)
    tab.name_edit.setText(f"bench-{time.monotonic_ns()}")
    tab.resume_box.setChecked(False)
    tab.steps.setValue(steps)
    tab.batch.setValue(BATCH)
    tab.device_combo.setCurrentIndex(tab.device_combo.findData(device.split(":")[0]))
    tab.extra_options = MODEL | {"eval_every": eval_every}
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    stamps: list[tuple[int, float]] = []

    def on_event(e):
        if isinstance(e, ev.StepEvent):
            stamps.append((e.step, time.perf_counter()))
        elif isinstance(e, ev.EpochEvent) and rss_log is not None:
            rss_log.append((e.epoch, proc.memory_info().rss))

    timer.start()
    tab.start()
    tab.handle.event.connect(on_event)
    qtbot_wait(lambda: tab.handle is None)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    # Steps 3.. but not across an evaluation (the bare loop has none).
    timed = [(s, t) for s, t in stamps if s >= 3]
    total_t, total_n = 0.0, 0
    for (s0, t0), (s1, t1) in zip(timed, timed[1:], strict=False):
        if s0 % eval_every:  # the step after an evaluation includes it
            total_t += t1 - t0
            total_n += BATCH * (s1 - s0)
    return total_n / total_t, max(gaps) if gaps else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    # Many short interleaved pairs rather than a few long runs: on shared 2-core machines
    # the speed drifts by +-20% over a minute, and the median pair ratio cancels the drift.
    steps = args.steps or (40 if args.quick else 60)
    repeats = args.repeats or (3 if args.quick else 7)

    with tempfile.TemporaryDirectory() as home:
        os.environ["PLAYGROUND_HOME"] = home
        import torch
        from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
        from PySide6.QtWidgets import QApplication

        from playground.settings import Settings
        from playground.ui.context import AppContext
        from playground.ui.train_tab import build
        from playground.worker import Worker

        app = QApplication.instance() or QApplication(sys.argv[:1])
        worker = Worker()
        tab = build(AppContext(worker, Settings.in_file(Path(home) / "s.ini"), None))
        tab.resize(1100, 700)
        tab.show()

        def wait(cond, timeout_s=1800):
            """Run the event loop as the app does (idle until an event) until cond() holds."""
            if cond():
                return
            clock = QElapsedTimer()
            clock.start()
            loop = QEventLoop()
            check = QTimer()
            check.setInterval(50)
            check.timeout.connect(lambda: (cond() or clock.elapsed() > timeout_s * 1000) and loop.quit())
            check.start()
            loop.exec()
            check.stop()
            if not cond():
                raise TimeoutError("benchmark step timed out")

        corpus = Path(home) / "corpus.txt"
        corpus.write_text(CORPUS)
        devices = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, model {MODEL}, batch {BATCH}, "
              f"{steps} steps, {repeats} interleaved repeats")
        for device in devices:
            # Warm-up (imports, first allocations) for both paths, not counted.
            bare_loop(corpus, 8, device)
            app_run(tab, wait, corpus, 8, device, 4)
            bare, inapp, stalls = [], [], []
            for r in range(repeats):
                bare.append(bare_loop(corpus, steps, device))
                sps, stall = app_run(tab, wait, corpus, steps, device, max(10, steps // 2))
                inapp.append(sps)
                stalls.append(stall)
                print(f"  [{device}] repeat {r + 1}: bare {bare[-1]:.1f} samples/s, app {sps:.1f} samples/s, "
                      f"longest UI stall {stall * 1000:.0f} ms", flush=True)
            b, a = sorted(bare)[len(bare) // 2], sorted(inapp)[len(inapp) // 2]
            pairs = sorted(x / y for x, y in zip(inapp, bare, strict=True))
            amp = " (mixed precision)" if device.startswith("cuda") else ""
            print(f"{device}{amp}: median bare {b:.1f} samples/s, app {a:.1f} samples/s, ratio app/bare {a / b:.3f}, "
                  f"median of the {len(pairs)} pair ratios {pairs[len(pairs) // 2]:.3f} (target >= 0.95); "
                  f"longest UI stall {max(stalls) * 1000:.0f} ms, median of runs {sorted(stalls)[len(stalls) // 2] * 1000:.0f} ms "
                  f"(target < 50 ms)")
        rss: list = []
        app_run(tab, wait, corpus, 5 * 10, "cpu", 10, rss)
        print("RSS after each of 5 epochs (MB): " + ", ".join(f"{m / 2**20:.0f}" for _, m in rss)
              + f"; growth epoch 2 -> 5: {(rss[-1][1] - rss[1][1]) / 2**20:+.1f} MB")
        tab.shutdown()
        worker.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
