"""`playground classify-image PATH... [--model ID_OR_DIR] [--top-k K] [--json]`.

Folders expand to their images (recursively); URLs are downloaded. With
`--json` one JSON array is printed: `{"path", "predictions": [{"label", "score"}]}`
or `{"path", "error"}` per input. Exit 0 when every input succeeded, 1 when any
failed (the others are still printed). When no path exists the command stops at once,
before the model loads.
"""

from __future__ import annotations

import sys

from playground.commands import common


def register(sub) -> None:
    p = sub.add_parser("classify-image", help="classify images, folders of images or image URLs")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or http(s) URLs")
    p.add_argument("--model", default=None,
                   help="model: bundled/efficientnet-lite0 (default), torchvision/NAME, a Hub id or a local folder")
    p.add_argument("--top-k", type=common.at_least_one, default=5, help="how many labels per image (default 5)")
    p.add_argument("--batch-size", type=common.at_least_one, default=16, help="images per forward pass (default 16)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_classify_image, input_paths={"paths": "file"})


def cmd_classify_image(args) -> int:
    from playground.core import image
    from playground.core.jobs import Job, Progress
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()

    def sink(event) -> None:
        if isinstance(event, image.ImageResult) and not args.json:
            _print_row(event)
        elif isinstance(event, Progress) and sys.stderr.isatty() and event.text:
            sys.stderr.write(f"\r{event.text[:100]:100}")
            sys.stderr.flush()

    summary = run_sync(Job(image.classify, (list(args.paths),),
                           {"model": args.model, "top_k": args.top_k, "batch_size": args.batch_size,
                            "thumbnails": False}), sink, cancel)
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 100 + "\r")
    if args.json:
        common.print_json([r.to_dict() for r in summary.results])
    if summary.cancelled:
        return common.fail("cancelled")
    return common.EXIT_FAILURE if summary.failed else common.EXIT_OK


def _print_row(result) -> None:
    if result.error is not None:
        sys.stderr.write(f"{result.path}: error: {result.error}\n")
        sys.stderr.flush()
        return
    labels = ", ".join(f"{p.label} {p.score:.3f}" for p in result.predictions)
    sys.stdout.write(f"{result.path}: {labels}\n")
    sys.stdout.flush()
