"""`playground evaluate --model M DATA [--json]`: score a classifier on labelled data, or a
fine-tuned language model against its base.

DATA is a folder of class sub-folders (image classifiers) or a labelled CSV/TSV (text
classifiers). With `--json` one object is printed: {"accuracy", "per_class": {label:
{"precision", "recall", "f1", "support"}}, "labels", "confusion" (rows = true labels,
columns = predicted, in the order of "labels"), "misclassified": [{"path" or "text",
"true", "predicted", "score"}]}. Without it, a short report.

A text-generation model (a LoRA run of `playground finetune lm`, or any causal LM) is scored by
`core.evaluate_lm` on DATA in a format `finetune lm` reads: the run's base and the run on the same
examples. `--json` prints {"task": "text-generation", "model", "base_model", "data", "split",
"examples", "data_format", "models": [{"model", "role": "base"|"tuned", "loss", "perplexity",
"exact_match"}], "rows": [{"prompt", "expected", "base", "tuned", "base_match", "tuned_match"}],
"changed"}; without it, a two-line table and how many examples changed.
"""

from __future__ import annotations

import sys

from playground.commands import common
from playground.core.wording import plural


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class scores and confusion matrix of a classifier")
    p.add_argument("data", metavar="DATA", help="folder of class sub-folders, or a labelled CSV/TSV file")
    p.add_argument("--model", required=True,
                   help="image or text classifier (a folder, an exported .onnx file, an id), or a language model "
                        "(a LoRA run folder: scored against its base)")
    p.add_argument("--split", choices=("all", "validation"), default="all",
                   help="all examples (default) or only the training run's validation split of DATA")
    p.add_argument("--val-share", type=common.share, default=None,
                   help="with --split validation: the run's validation share (default: from the model)")
    p.add_argument("--seed", type=int, default=None,
                   help="with --split validation: the run's seed (default: the one saved with the model)")
    p.add_argument("--text-column", default=None, help="text column of a table (default: the model's or guessed)")
    p.add_argument("--label-column", default=None, help="label column of a table (default: the model's or guessed)")
    p.add_argument("--batch-size", type=common.at_least_one, default=None,
                   help="examples per forward pass (default 32; a language model: its run's batch size)")
    p.add_argument("--base", default=None,
                   help="language models: the base to compare with (default: a LoRA run's own base; "
                        "another causal LM is scored alone)")
    p.add_argument("--max-length", type=common.at_least_one, default=None,
                   help="language models: tokens per example (default: the run's, else 256)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate, input_paths={"data": "file or folder"})


def cmd_evaluate(args) -> int:
    from playground.core import evaluate, evaluate_lm
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    if evaluate_lm.is_language_model(args.model):
        return _report_lm(args, run_sync(Job(evaluate_lm.evaluate_lm, (args.model, args.data),
                                             {"split": args.split, "base": args.base, "val_share": args.val_share,
                                              "seed": args.seed, "max_length": args.max_length,
                                              "batch_size": args.batch_size}), None, cancel))
    if args.base or args.max_length:
        raise common.UsageError("--base and --max-length are for language models; the model is a classifier")
    result = run_sync(Job(evaluate.evaluate, (args.model, args.data),
                          {"split": args.split, "val_share": args.val_share, "seed": args.seed,
                           "text_column": args.text_column, "label_column": args.label_column,
                           "batch_size": args.batch_size or evaluate.BATCH_SIZE}), None, cancel)
    if args.json:
        common.print_json(result.to_dict())
        return common.EXIT_OK
    out = sys.stdout
    out.write(f"{result.model} on {result.data}: accuracy {result.accuracy:.4f} ({plural(result.total, 'example')})\n")
    width = max(8, *(len(x) for x in result.labels))
    out.write(f"{'class':{width}}  precision  recall     f1  support\n")
    for label in result.labels:
        s = result.per_class[label]
        out.write(f"{label:{width}}  {s.precision:9.3f}  {s.recall:6.3f}  {s.f1:5.3f}  {s.support:7d}\n")
    out.write(f"{len(result.misclassified)} misclassified\n")
    return common.EXIT_OK


def _report_lm(args, result) -> int:
    """A language model's before and after: one JSON object, or a two-line table and the changed count."""
    if args.json:
        common.print_json(result.to_dict())
        return common.EXIT_OK
    out = sys.stdout
    out.write(f"{result.model} on {result.data} ({result.split}, {plural(result.examples, 'example')})\n")
    width = max(len(s.model) for s in result.scores)
    out.write(f"{'':5}  {'model':{width}}  exact match    loss  perplexity\n")
    for s in result.scores:
        em = "-" if s.exact_match is None else f"{s.exact_match:.4f}"
        out.write(f"{s.role:5}  {s.model:{width}}  {em:>11}  {s.loss:6.4f}  {s.perplexity:10.3f}\n")
    if result.rows and result.base_model:
        out.write(f"{result.changed} of {plural(result.examples, 'example')} changed: {result.fixed} now right, "
                  f"{result.changed - result.fixed} now wrong\n")
    return common.EXIT_OK
