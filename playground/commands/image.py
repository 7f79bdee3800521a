"""`playground classify-image PATH... [--model ID_OR_DIR] [--top-k K] [--json]`.

Folders expand to their images (recursively); URLs are downloaded. With
`--json` one JSON array is printed: `{"path", "predictions": [{"label", "score"}]}`
or `{"path", "error"}` per input. Exit 0 when every input succeeded, 1 when any
failed (the others are still printed). When no path exists the command stops at once,
before the model loads.

`--explain --explain-out DIR [--explain-class LABEL]`: for each image, why the model gives the top
class of its row (or LABEL) as a grayscale PNG the image's size in DIR (brighter = more important: Grad-CAM,
or occlusion for a model without gradients); the JSON row then names it: `"explanation"` (the PNG's
path), `"method"` and `"class"`. An unknown LABEL or a folder that cannot be written stops the
command with one line before any image is classified.
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
    p.add_argument("--explain", action="store_true",
                   help="also save why: a grayscale map per image (brighter = more important) into --explain-out")
    p.add_argument("--explain-class", default=None, metavar="LABEL",
                   help="explain this class instead of each image's top class")
    p.add_argument("--explain-out", default=None, metavar="DIR", help="folder for the maps (created if needed)")
    p.set_defaults(func=cmd_classify_image, input_paths={"paths": "file"}, check_options=_check_explain)


def _check_explain(args) -> None:
    if args.explain and not args.explain_out:
        raise common.UsageError("--explain needs --explain-out DIR (where the maps go)")
    if not args.explain and (args.explain_out or args.explain_class):
        raise common.UsageError("--explain-out and --explain-class go with --explain")


def cmd_classify_image(args) -> int:
    from playground.core import image
    from playground.core.jobs import Job, Progress
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    explain = _Explainer(args, cancel) if args.explain else None  # its errors come before any classifying

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
    extras = explain.run(summary.succeeded, print_rows=not args.json) if explain and not summary.cancelled else {}
    if args.json:
        common.print_json([r.to_dict() | extras.get(r.index, {}) for r in summary.results])
    if summary.cancelled or (explain and explain.cancelled):
        return common.fail("cancelled")
    failed = summary.failed or any("explanation_error" in e for e in extras.values())
    return common.EXIT_FAILURE if failed else common.EXIT_OK


class _Explainer:
    """The maps of `--explain`: the folder and the class checked first, then one map per classified image."""

    def __init__(self, args, cancel):
        from playground.core import image
        from playground.core.explain import image as explain_image

        self.model, self.cancel, self.cancelled = args.model, cancel, False
        self.folder = explain_image.prepare_out_dir(args.explain_out)
        self.class_index = None
        if args.explain_class is not None:
            self.class_index = explain_image.class_index_for(image.load_classifier(args.model), args.explain_class)

    def run(self, rows, print_rows: bool) -> dict[int, dict]:
        from playground.core.errors import Cancelled, PlaygroundError
        from playground.core.explain import image as explain_image
        from playground.core.jobs import Job
        from playground.core.runner import run_sync

        extras, taken = {}, set()
        for row in rows:
            try:
                chosen = self.class_index if self.class_index is not None else row.top.index  # the row's answer
                result = run_sync(Job(explain_image.explain, (row.path,),
                                      {"model": self.model, "class_index": chosen}), None, self.cancel)
                path = explain_image.save_map(result, self.folder, taken)
            except Cancelled:
                self.cancelled = True
                break
            except PlaygroundError as exc:
                extras[row.index] = {"explanation_error": str(exc)}
                sys.stderr.write(f"{row.path}: no explanation: {exc}\n")
                continue
            extras[row.index] = {"explanation": str(path), "method": result.method, "class": result.label}
            if print_rows:
                sys.stdout.write(f"{row.path}: why '{result.label}' ({result.method}): {path}\n")
                sys.stdout.flush()
        return extras


def _print_row(result) -> None:
    if result.error is not None:
        sys.stderr.write(f"{result.path}: error: {result.error}\n")
        sys.stderr.flush()
        return
    labels = ", ".join(f"{p.label} {p.score:.3f}" for p in result.predictions)
    sys.stdout.write(f"{result.path}: {labels}\n")
    sys.stdout.flush()
