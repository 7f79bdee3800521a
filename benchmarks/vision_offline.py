"""Objects (YOLOv3-tiny) and faces (MTCNN) images/s: the app's engine through the worker vs the model called directly.

One run, interleaved repeats, same images, same loaded model objects. The app
path is `Worker.submit(Job(detection.detect_objects / detect_faces, ...))`
waited for on a Qt event loop (file decoding, EXIF, bomb guard, result
dataclasses and events included); the direct path opens each file with PIL and
calls OpenCV's dnn / facenet-pytorch's MTCNN itself. Target ratio >= 0.95.

    uv run python benchmarks/vision_offline.py [--quick] [--repeats N]
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


def make_images(folder: Path, count: int) -> list[Path]:
    from PIL import Image
    from skimage import data

    photos = [("coffee.jpg", data.coffee()), ("astronaut.jpg", data.astronaut()), ("chelsea.jpg", data.chelsea()),
              ("rocket.jpg", data.rocket()), ("motorcycle.jpg", data.stereo_motorcycle()[0])]
    out = []
    for name, arr in photos[:count]:
        path = folder / name
        Image.fromarray(arr).save(path, quality=92)
        out.append(path)
    return out


# -- direct paths: what a user would write against the libraries ---------------------------------


def direct_yolo(net, out_names, labels, paths, size=(416, 416), min_score=0.05, iou=0.45):
    import cv2
    import numpy as np
    from PIL import Image

    found = []
    for p in paths:
        rgb = np.asarray(Image.open(p).convert("RGB"))
        h, w = rgb.shape[:2]
        scale = min(size[0] / w, size[1] / h)
        nw, nh = round(w * scale), round(h * scale)
        canvas = np.full((size[1], size[0], 3), 128, np.uint8)
        px, py = (size[0] - nw) // 2, (size[1] - nh) // 2
        canvas[py:py + nh, px:px + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        net.setInput(cv2.dnn.blobFromImage(canvas, 1 / 255.0, size, swapRB=False, crop=False))
        rows = np.concatenate(net.forward(out_names))
        cls = rows[:, 5:].argmax(1)
        score = rows[np.arange(len(rows)), 5 + cls]  # objectness x class probability (OpenCV)
        keep = score >= min_score
        rows, cls, score = rows[keep], cls[keep], score[keep]
        boxes = np.stack([(rows[:, 0] - rows[:, 2] / 2) * size[0] - px, (rows[:, 1] - rows[:, 3] / 2) * size[1] - py,
                          rows[:, 2] * size[0], rows[:, 3] * size[1]], 1) / scale
        idx = cv2.dnn.NMSBoxesBatched(boxes.tolist(), score.tolist(), cls.tolist(), min_score, iou)
        found.append([(labels[cls[i]], float(score[i])) for i in np.asarray(idx).reshape(-1)])
    return found


def direct_mtcnn(mtcnn, paths):
    from PIL import Image

    found = []
    for p in paths:
        boxes, probs, points = mtcnn.detect(Image.open(p).convert("RGB"), landmarks=True)
        found.append(0 if boxes is None else len(boxes))
    return found


# -- app path: the engine job through the worker ------------------------------------------------------


def via_worker(worker, job):
    from PySide6.QtCore import QEventLoop

    loop = QEventLoop()
    out = {}
    handle = worker.submit(job)
    handle.result.connect(lambda v: out.setdefault("value", v))
    handle.error.connect(lambda m: out.setdefault("error", m))
    handle.finished.connect(loop.quit)
    loop.exec()
    if "error" in out:
        raise RuntimeError(out["error"])
    return out["value"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats (about 30 s)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats per path (default 3)")
    parser.add_argument("--images", type=int, default=None, help="images per batch (1-5, default 5)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    count = max(1, min(5, args.images or (3 if args.quick else 5)))

    from PySide6.QtCore import QCoreApplication

    from playground.core import detection
    from playground.core.jobs import Job
    from playground.worker import Worker

    app = QCoreApplication.instance() or QCoreApplication(sys.argv)
    worker = Worker()
    tmp = tempfile.TemporaryDirectory(prefix="vision-bench-")
    try:
        paths = make_images(Path(tmp.name), count)
        t0 = time.perf_counter()
        yolo = detection.load_object_detector(detection.YOLO_ID)
        t_yolo = time.perf_counter() - t0
        t0 = time.perf_counter()
        faces = detection.load_face_detector("cpu")
        t_mtcnn = time.perf_counter() - t0
        print(f"images: {count} ({', '.join(p.name for p in paths)}), repeats: {repeats}, device: cpu")
        print(f"load: YOLOv3-tiny {t_yolo:.2f} s, MTCNN {t_mtcnn:.2f} s (includes the first import of torch)")

        obj_job = Job(detection.detect_objects, ([str(p) for p in paths],), {"model": detection.YOLO_ID})
        face_job = Job(detection.detect_faces, ([str(p) for p in paths],), {"device": "cpu"})
        # Warm-up both paths once (first-call allocations), and check they agree.
        app_objs = via_worker(worker, obj_job)
        direct_objs = direct_yolo(yolo.net, yolo.outputs, yolo.labels, paths)
        for r, d in zip(app_objs, direct_objs, strict=True):
            assert [o.label for o in r.objects] == [label for label, _ in d], (r.objects, d)
        app_faces = via_worker(worker, face_job)
        direct_faces = direct_mtcnn(faces.mtcnn, paths)
        print("objects found:", {Path(r.path).name: [o.label for o in r.above(0.25)] for r in app_objs})
        print("faces found (>= 0.95):", {Path(r.path).name: len(r.above(0.95)) for r in app_faces},
              "direct (all):", direct_faces)

        rows = []
        for name, app_fn, direct_fn in (
            ("objects YOLOv3-tiny", lambda: via_worker(worker, obj_job),
             lambda: direct_yolo(yolo.net, yolo.outputs, yolo.labels, paths)),
            ("faces MTCNN", lambda: via_worker(worker, face_job), lambda: direct_mtcnn(faces.mtcnn, paths)),
        ):
            app_rates, direct_rates = [], []
            for i in range(repeats):
                order = [("app", app_fn), ("direct", direct_fn)]
                if i % 2:
                    order.reverse()  # alternate who goes first
                for kind, fn in order:
                    t0 = time.perf_counter()
                    fn()
                    rate = len(paths) / (time.perf_counter() - t0)
                    (app_rates if kind == "app" else direct_rates).append(rate)
            a, d = statistics.median(app_rates), statistics.median(direct_rates)
            rows.append((name, a, d, a / d, max(app_rates) / max(direct_rates)))
        print()
        print(f"{'task':22} {'app img/s':>10} {'direct img/s':>13} {'ratio':>7} {'best/best':>10}   (medians; target >= 0.95)")
        for name, a, d, ratio, best in rows:
            print(f"{name:22} {a:10.2f} {d:13.2f} {ratio:7.3f} {best:10.3f}")
        return 0
    finally:
        worker.shutdown()
        tmp.cleanup()
        del app


if __name__ == "__main__":
    sys.exit(main())
