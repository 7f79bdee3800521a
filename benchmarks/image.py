"""Image classification: the app's engine and worker versus timm called directly, side by side.

    uv run python benchmarks/image.py [--quick] [--batch 16] [--repeats 5]

1. Inference on one preprocessed batch: `image.classify_tensors` through the
   Qt worker (and through `run_sync`) versus the same timm model called
   directly (`model(batch).softmax().topk()`), interleaved repeats. Target >= 0.95.
2. Whole pipeline on files (decode, preprocess, infer): the `classify` job through
   the worker versus a hand-written PIL + timm-transform + model loop.
3. Drop to first result shown in the Image tab (cold: model load included; warm).
When a CUDA GPU is present, 1 and 2 run on it too.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_photos(folder: Path, n: int) -> list[Path]:
    """n distinct real photos: crops and flips of the skimage samples."""
    from PIL import Image, ImageOps
    from skimage import data

    bases = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket(), data.stereo_motorcycle()[0]]
    out = []
    for i in range(n):
        img = Image.fromarray(bases[i % len(bases)])
        w, h = img.size
        k = i // len(bases)
        img = img.crop((k * 7 % (w // 8), k * 5 % (h // 8), w - k * 3 % (w // 8), h))
        if k % 2:
            img = ImageOps.mirror(img)
        path = folder / f"photo_{i:03d}.jpg"
        img.save(path, quality=90)
        out.append(path)
    return out


def wait_handle(handle, app):
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    box = {}
    handle.result.connect(lambda v: box.__setitem__("value", v))
    handle.error.connect(lambda m: box.__setitem__("error", m))
    handle.finished.connect(loop.quit)
    if not handle.is_finished:
        loop.exec()
    if "error" in box:
        raise RuntimeError(box["error"])
    return box.get("value")


def fmt(xs):
    return f"{statistics.median(xs) * 1000:8.1f} ms"


def bench_device(device: str, files: list[Path], batch_size: int, repeats: int, app, worker) -> dict:
    import torch

    from playground.core import image
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    clf = image.load_classifier(image.DEFAULT_MODEL, device=device)
    model = clf.model  # the very same timm module the app uses
    pil = [image.load_image(str(p)) for p in files[:batch_size]]
    batch = torch.stack([clf.preprocess(im) for im in pil])
    dev_batch = batch.to(device, dtype=clf.dtype)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def direct():
        with torch.inference_mode():
            probs = model(dev_batch).float().softmax(-1)
            s, i = probs.topk(5, dim=-1)
            s.cpu(), i.cpu()
        sync()

    def engine_sync():
        run_sync(Job(image.classify_tensors, (batch,), {"device": device}))
        sync()

    def engine_worker():
        wait_handle(worker.submit(Job(image.classify_tensors, (batch,), {"device": device})), app)
        sync()

    for fn in (direct, engine_sync, engine_worker):  # warm-up
        fn()
    times = {"direct": [], "engine": [], "worker": []}
    for _ in range(repeats):
        for name, fn in (("direct", direct), ("engine", engine_sync), ("worker", engine_worker)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    n = len(batch)
    d, e, w = (statistics.median(times[k]) for k in ("direct", "engine", "worker"))
    print(f"\n[{device}] inference on one preprocessed batch of {n} ({repeats} interleaved repeats, median)")
    print(f"  timm direct        {fmt(times['direct'])}  {n / d:7.1f} images/s")
    print(f"  engine (run_sync)  {fmt(times['engine'])}  {n / e:7.1f} images/s   ratio {d / e:.3f}")
    print(f"  engine via worker  {fmt(times['worker'])}  {n / w:7.1f} images/s   ratio {d / w:.3f}  (target >= 0.95)")

    # whole pipeline on files
    import timm.data

    cfg = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**cfg)
    from PIL import Image

    def direct_files():
        for start in range(0, len(files), batch_size):
            chunk = [transform(Image.open(p).convert("RGB")) for p in files[start:start + batch_size]]
            with torch.inference_mode():
                probs = model(torch.stack(chunk).to(device, dtype=clf.dtype)).float().softmax(-1)
                probs.topk(5, dim=-1)[0].cpu()
        sync()

    def app_files():
        summary = wait_handle(worker.submit(Job(image.classify, ([str(p) for p in files],),
                                                {"device": device, "batch_size": batch_size})), app)
        assert len(summary.succeeded) == len(files)
        sync()

    direct_files()
    app_files()
    ft = {"direct": [], "app": []}
    for _ in range(max(1, repeats // 2)):
        for name, fn in (("direct", direct_files), ("app", app_files)):
            t0 = time.perf_counter()
            fn()
            ft[name].append(time.perf_counter() - t0)
    fd, fa = statistics.median(ft["direct"]), statistics.median(ft["app"])
    print(f"[{device}] whole pipeline on {len(files)} JPEG files (decode + preprocess + infer)")
    print(f"  PIL + timm direct  {len(files) / fd:7.1f} images/s")
    print(f"  classify job       {len(files) / fa:7.1f} images/s   ratio {fd / fa:.3f}  (app adds EXIF, thumbnails, events)")
    return {"ratio_worker": d / w, "ratio_engine": d / e, "ratio_files": fd / fa}


def drop_to_first_result(files: list[Path], app) -> tuple[float, float]:
    from PySide6.QtCore import QEventLoop, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from playground.app import MainWindow
    from playground.core import models
    from playground.settings import Settings

    models.cache.clear()
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Settings.in_file(Path(tmp) / "s.ini"))
        window.show()
        window.tabs.setCurrentIndex(1)
        tab = window.current_page()
        results = []
        for path in (files[0], files[1]):
            mime = QMimeData()
            mime.setUrls([QUrl.fromLocalFile(str(path))])
            loop = QEventLoop()
            tab.selection_shown.connect(loop.quit)
            QTimer.singleShot(300_000, loop.quit)
            tab.clear()
            t0 = time.perf_counter()
            QApplication.sendEvent(tab, QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                                                        Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
            QApplication.sendEvent(tab, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                                                   Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
            if not tab._handles:
                raise RuntimeError("the drop did not start a job")
            loop.exec()
            tab.selection_shown.disconnect(loop.quit)
            results.append(time.perf_counter() - t0)
            if not tab.bars.rows():
                raise RuntimeError(f"no result shown after {results[-1]:.1f} s: {tab.last_error or tab.rate_label.text()}")
        window.close()
    return results[0], results[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 7)
    n_files = args.batch * (1 if args.quick else 2)

    import torch

    from playground.app import create_app
    from playground.worker import Worker

    app = create_app([])
    worker = Worker()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CUDA available: {torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        files = make_photos(Path(tmp), n_files)
        out = {"cpu": bench_device("cpu", files, args.batch, repeats, app, worker)}
        if torch.cuda.is_available():
            out["cuda"] = bench_device("cuda:0", files, args.batch, repeats, app, worker)
        worker.shutdown()
        cold, warm = drop_to_first_result(files, app)
    print(f"\nDrop to first result shown: cold {cold:.2f} s (model load included), warm {warm:.2f} s")
    print("\nsummary: " + ", ".join(f"{dev} worker/direct {r['ratio_worker']:.3f}, files {r['ratio_files']:.3f}"
                                    for dev, r in out.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
