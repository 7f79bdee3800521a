"""Start-up: process start to first paint of the main window vs a bare PySide6 window.

Both are measured in the same run, interleaved, several repeats; prints the
median of each and their ratio (target: at most 2.0).

    uv run python benchmarks/startup.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BARE = r"""
import sys, time
from PySide6.QtWidgets import QApplication, QLabel
from PySide6.QtCore import QTimer

class Label(QLabel):
    painted = False
    def paintEvent(self, event):
        super().paintEvent(event)
        if not self.painted:
            self.painted = True
            print(f"first-paint {time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)

app = QApplication(sys.argv[:1])
w = Label("Hello")
w.resize(1100, 750)
w.show()
app.exec()
"""


def first_paint_seconds(cmd: list[str], env: dict) -> float:
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("first-paint "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no paint reported by {cmd}: {out.stderr[-500:]}")


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               PLAYGROUND_STARTUP_STAMP="1", PLAYGROUND_HOME=tempfile.mkdtemp(prefix="pg-bench-"))
    bare_cmd = [sys.executable, "-c", BARE]
    app_cmd = [sys.executable, "-m", "playground", "--quit-after-show"]
    # one warm-up each: the first run pays for cold disk caches
    first_paint_seconds(bare_cmd, env)
    first_paint_seconds(app_cmd, env)
    bare, app = [], []
    for _ in range(args.repeats):
        bare.append(first_paint_seconds(bare_cmd, env))
        app.append(first_paint_seconds(app_cmd, env))
    b, a = statistics.median(bare), statistics.median(app)
    print(f"bare PySide6 window : median {b * 1000:7.1f} ms  (min {min(bare) * 1000:.1f})")
    print(f"Model Playground    : median {a * 1000:7.1f} ms  (min {min(app) * 1000:.1f})")
    print(f"ratio app/bare      : {a / b:.2f}  (target <= 2.0)")
    return a / b


if __name__ == "__main__":
    main()
