"""`playground detect-objects PATH...` and `playground detect-faces PATH... [--blur-to DIR]`."""

from __future__ import annotations

from playground.commands import common


def _threshold(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold {value} is outside 0..1")
    return value


def register(sub) -> None:
    from playground.core.detection import FACE_THRESHOLD, OBJECT_THRESHOLD, YOLO_ID

    p = sub.add_parser("detect-objects", help="find objects (80 COCO classes offline) in images or folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (walked recursively)")
    p.add_argument("--threshold", type=_threshold, default=OBJECT_THRESHOLD,
                   help=f"lowest score shown (default {OBJECT_THRESHOLD})")
    p.add_argument("--model", default=YOLO_ID,
                   help=f"{YOLO_ID} (default, offline), torchvision/NAME (e.g. torchvision/"
                        "fasterrcnn_mobilenet_v3_large_320_fpn), a Hub id or a local folder")
    p.add_argument("--allow-pickle", action="store_true", help="allow pickle weights for a local/Hub model")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a Hub model's own Python code")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_detect_objects, input_paths={"paths": "file"})

    p = sub.add_parser("detect-faces", help="find faces in images or folders; optionally save blurred copies")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (walked recursively)")
    p.add_argument("--threshold", type=_threshold, default=FACE_THRESHOLD,
                   help=f"lowest face probability kept, and blurred (default {FACE_THRESHOLD})")
    p.add_argument("--blur-to", metavar="DIR", default=None,
                   help="write a copy of each image with its faces blurred into DIR (never over the original)")
    p.add_argument("--landmarks", action="store_true", help="include the five landmarks of each face")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_detect_faces, input_paths={"paths": "file"})


def _finish(results, as_json: bool, to_dict, line) -> int:
    import sys
    from pathlib import Path

    failed = [r for r in results if r.error is not None]
    if as_json:
        common.print_json([to_dict(r) for r in results])
    else:
        for r in results:
            if r.error is None:
                print(line(r))
    for r in failed:
        message = r.error if Path(r.path).name in r.error else f"{r.path}: {r.error}"
        sys.stderr.write(f"playground: error: {message}\n")
    return common.EXIT_FAILURE if failed else common.EXIT_OK


def cmd_detect_objects(args) -> int:
    from playground.core import detection
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    job = Job(detection.detect_objects, (args.paths,),
              {"model": args.model, "min_score": args.threshold, "allow_pickle": args.allow_pickle,
               "trust_remote_code": args.trust_remote_code})
    results = run_sync(job, None, cancel)

    def line(r) -> str:
        found = r.above(args.threshold)
        text = ", ".join(f"{o.label} {o.score:.2f} [{', '.join(f'{v:.0f}' for v in o.box)}]" for o in found)
        if not text:
            best = ", ".join(f"{o.label} {o.score:.2f}" for o in r.best_below(args.threshold))
            text = f"no objects at or above {args.threshold:.2f}" + (f" (best below it: {best})" if best else "")
        return f"{r.path}: {text}"

    return _finish(results, args.json, lambda r: r.to_dict(args.threshold), line)


def cmd_detect_faces(args) -> int:
    from playground.core import detection
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    floor = min(args.threshold, detection.FACE_FLOOR)
    job = Job(detection.detect_faces, (args.paths,),
              {"min_score": floor, "blur_to": args.blur_to, "blur_threshold": args.threshold})
    results = run_sync(job, None, cancel)

    def line(r) -> str:
        faces = r.above(args.threshold)
        text = ", ".join(f"face {f.score:.2f} [{', '.join(f'{v:.0f}' for v in f.box)}]" for f in faces)
        blurred = f" -> {r.blurred}" if r.blurred else ""
        return f"{r.path}: {text or 'no faces'}{blurred}"

    return _finish(results, args.json, lambda r: r.to_dict(args.threshold, args.landmarks), line)
