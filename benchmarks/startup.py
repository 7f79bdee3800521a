"""Start-up: process start to first paint of the main window, on each tab, vs a bare PySide6 window.

One run measures, side by side and interleaved (the order shuffled every
round), a bare PySide6 window (one label) and the app started with each tab
(Text, Image, Speech, Train) as the last one open; the app's first paint shows
that tab's content. Prints the median of each, and its ratio to the bare
window (target: at most 1.5).

    uv run python benchmarks/startup.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABS = ("Text", "Image", "Speech", "Train")
TARGET = 1.5

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

# Writes the last tab through the same Settings() the app reads (whatever file PLAYGROUND_HOME maps it to).
SET_LAST_TAB = ("import sys\nfrom playground.settings import Key, Settings\n"
                "s = Settings()\ns.set(Key.LAST_TAB, int(sys.argv[1]))\ns.sync()\n")


def app_env(root: Path, tab: int) -> dict:
    """A throw-away home whose settings have `tab` as the last tab open."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"), HF_HUB_OFFLINE="1",
               PLAYGROUND_STARTUP_STAMP="1", PLAYGROUND_HOME=str(root / "home"),
               XDG_CONFIG_HOME=str(root / "config"))  # the native store too, should Settings() use it
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    subprocess.run([sys.executable, "-c", SET_LAST_TAB, str(tab)], env=env, check=True, timeout=60)
    return env


def first_paint(cmd: list[str], env: dict) -> tuple[float, str]:
    """Seconds from process start to the first paint, and the app's report of what it painted."""
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    stamp = state = None
    for line in out.stdout.splitlines():
        if line.startswith("first-paint "):
            stamp = float(line.split()[1]) - t0
        elif line.startswith("first-paint-state "):
            state = line[len("first-paint-state "):]
    if stamp is None or out.returncode != 0:
        raise RuntimeError(f"no paint reported by {cmd} (exit {out.returncode}): {out.stderr[-800:]}")
    return stamp, state or ""


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--compile-each-time", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE (if set): every start compiles the app's sources again")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="pg-bench-startup-"))
    if not args.compile_each_time:  # as installed: byte-code compiled once (in a throw-away folder here)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    bare_env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    app_cmd = [sys.executable, "-m", "playground", "--quit-after-show"]
    runs = {"bare": ([sys.executable, "-c", BARE], bare_env)}
    for i, title in enumerate(TABS):
        runs[title] = (app_cmd, app_env(root / title.lower(), i))
    times: dict[str, list[float]] = {name: [] for name in runs}
    states: dict[str, str] = {}
    for name, (cmd, env) in runs.items():  # one warm-up each: the first run pays for cold disk caches
        states[name] = first_paint(cmd, env)[1]
    order = list(runs)
    rng = random.Random(0)
    for _ in range(args.repeats):
        rng.shuffle(order)
        for name in order:
            cmd, env = runs[name]
            seconds, state = first_paint(cmd, env)
            times[name].append(seconds)
            states[name] = state
    bare = statistics.median(times["bare"])
    ratios = {}
    print(f"{'first paint':22} {'median':>9} {'min':>9} {'ratio':>6}   (repeats {args.repeats}, "
          f"target ratio <= {TARGET})")
    for name, values in times.items():
        med = statistics.median(values)
        ratios[name] = med / bare
        label = "bare PySide6 window" if name == "bare" else f"app, last tab {name}"
        verdict = "" if name == "bare" else ("  ok" if med / bare <= TARGET else "  over")
        print(f"{label:22} {med * 1000:7.1f}ms {min(values) * 1000:7.1f}ms {med / bare:6.2f}{verdict}"
              + (f"   [{states[name]}]" if name != "bare" else ""))
    return ratios


if __name__ == "__main__":
    main()
