"""`playground evaluate --model M DATA [--json]`: score a classifier on labelled data.

DATA is a folder of class sub-folders (image classifiers) or a labelled CSV/TSV (text
classifiers). With `--json` one object is printed: {"accuracy", "per_class": {label:
{"precision", "recall", "f1", "support"}}, "labels", "confusion" (rows = true labels,
columns = predicted, in the order of "labels"), "misclassified": [{"path" or "text",
"true", "predicted", "score"}]}. Without it, a short report.
"""

from __future__ import annotations

import sys

from playground import cli
from playground.core.wording import plural


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix of a classifier")
    p.add_argument("data", metavar="DATA", help="folder of class sub-folders, or a labelled CSV/TSV file")
    p.add_argument("--model", required=True, help="image or text classifier: a folder, an exported .onnx file, an id")
    p.add_argument("--split", choices=("all", "validation"), default="all",
                   help="all examples (default) or only the training run's validation split of DATA")
    p.add_argument("--val-share", type=cli.share, default=None,
                   help="with --split validation: the run's validation share (default: from the model)")
    p.add_argument("--seed", type=int, default=None,
                   help="with --split validation: the run's seed (default: the one saved with the model)")
    p.add_argument("--text-column", default=None, help="text column of a table (default: the model's or guessed)")
    p.add_argument("--label-column", default=None, help="label column of a table (default: the model's or guessed)")
    p.add_argument("--batch-size", type=cli.at_least_one, default=32, help="examples per forward pass (default 32)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate, input_paths={"data": "file or folder"})


def cmd_evaluate(args) -> int:
    from playground.core import evaluate
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = cli.cancel_on_sigint()
    result = run_sync(Job(evaluate.evaluate, (args.model, args.data),
                          {"split": args.split, "val_share": args.val_share, "seed": args.seed,
                           "text_column": args.text_column, "label_column": args.label_column,
                           "batch_size": args.batch_size}), None, cancel)
    if args.json:
        cli.print_json(result.to_dict())
        return cli.EXIT_OK
    out = sys.stdout
    out.write(f"{result.model} on {result.data}: accuracy {result.accuracy:.4f} ({plural(result.total, 'example')})\n")
    width = max(8, *(len(x) for x in result.labels))
    out.write(f"{'class':{width}}  precision  recall     f1  support\n")
    for label in result.labels:
        s = result.per_class[label]
        out.write(f"{label:{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}\n")
    out.write(f"{len(result.misclassified)} misclassified\n")
    return cli.EXIT_OK
