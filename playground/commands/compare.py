"""`playground compare --models A B [C ...] DATA [--json]`: a leaderboard of models on your own data.

The task comes from the models (all classifiers of images, texts or sounds, or all speech
recognisers) and DATA must fit it: a folder of class sub-folders or a labelled CSV/TSV for
classifiers, audio files with reference transcripts beside them (.txt or .srt) for speech.
The models run one after another. With `--json` one object is printed: {"task", "rows": [{"model",
"accuracy", "macro_f1" (or "wer", "cer"), "examples", "examples_per_s", "size_bytes",
"peak_memory_bytes", "error"}]}, best first. Without it, an aligned table, best first.
Exit 1 when a model could not run (its row says why; the others are still shown).
"""

from __future__ import annotations

import sys

from playground.commands import common

HEADINGS = {"accuracy": "accuracy", "macro_f1": "macro-F1", "wer": "WER", "cer": "CER"}


def register(sub) -> None:
    p = sub.add_parser("compare", help="a leaderboard of two or more models on your own labelled data")
    # DATA may follow the models (`--models A B DATA`): --models then took it, and _check_options moves it back.
    p.add_argument("data", metavar="DATA", nargs="?",
                   help="folder of class sub-folders, labelled CSV/TSV, or audio with reference .txt/.srt beside it")
    p.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                   help="two or more models of one task: classifiers or speech recognisers (ids or folders)")
    p.add_argument("--batch-size", type=common.at_least_one, default=32,
                   help="classifiers: examples per forward pass (default 32)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_compare, input_paths={"data": "file or folder"}, check_options=_check_options)


def _check_options(args) -> None:
    if args.data is None and len(args.models) > 1:
        args.data = args.models.pop()
    if args.data is None:
        raise common.UsageError("compare needs the labelled data (DATA) after the models")
    if len(args.models) < 2:
        raise common.UsageError("compare needs at least two models (--models A B ...)")


def cmd_compare(args) -> int:
    from playground.core import compare
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    result = run_sync(Job(compare.compare, (list(args.models), args.data), {"batch_size": args.batch_size}),
                      None, cancel)
    if args.json:
        common.print_json(result.to_dict())
    else:
        sys.stdout.write(table(result))
    return common.EXIT_OK if all(r.ok for r in result.rows) else common.EXIT_FAILURE


def table(result) -> str:
    """The leaderboard as aligned text, best first; a failed model's row says why."""
    from playground.core.devices import format_bytes

    heads = ["#", "model", *(HEADINGS[m] for m in result.metrics), "examples", "examples/s", "size", "peak memory"]
    lines = []
    for rank, row in enumerate(result.ranked(), 1):
        if not row.ok:
            lines.append([str(rank), row.model, f"error: {row.error}"])
            continue
        rate = row.examples_per_s
        lines.append([str(rank), row.model, *(f"{row.metrics[m]:.4f}" for m in result.metrics), str(row.examples),
                      f"{rate:.1f}" if rate is not None else "-", format_bytes(row.size_bytes),
                      format_bytes(row.peak_memory_bytes)])
    widths = [max([len(heads[i])] + [len(line[i]) for line in lines if len(line) == len(heads) or i < 2])
              for i in range(len(heads))]
    left = {0, 1}

    def fmt(cells: list[str]) -> str:
        if len(cells) != len(heads):  # an error row: rank and model aligned, then the reason
            return f"{cells[0]:>{widths[0]}}  {cells[1]:{widths[1]}}  {cells[2]}"
        return "  ".join(c.ljust(w) if i in left - {0} else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    title = (f"{result.task.replace('-', ' ')} on {result.data}: {len(result.rows)} models, one after another\n")
    return title + "\n".join(fmt(c) for c in [heads, *lines]) + "\n"
