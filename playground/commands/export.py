"""`playground export --model M --format onnx --out FILE.onnx`: export a fine-tuned classifier.

The file has a dynamic batch dimension and carries its label names and preprocessing in
its metadata; after writing, onnxruntime is checked against torch on the model's
validation set (or `--check-data`). Prints the agreement (JSON with `--json`); an export
that agrees on fewer than 99% of the examples fails and writes nothing.
"""

from __future__ import annotations

import sys

from playground.commands import common


def register(sub) -> None:
    p = sub.add_parser("export", help="export a fine-tuned image or text classifier to ONNX")
    p.add_argument("--model", required=True, help="a fine-tuned image or text classifier folder")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="output format (onnx)")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="the file to write")
    p.add_argument("--check-data", default=None,
                   help="labelled folder or table to check on (default: the model's validation split)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_export, input_paths={"model": "model folder", "check_data": "file or folder"})


def cmd_export(args) -> int:
    from playground.core import onnx_export
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    result = run_sync(Job(onnx_export.export, (args.model, args.out),
                          {"format": args.format, "check_data": args.check_data}), None, cancel)
    if args.json:
        common.print_json(result.to_dict())
        return common.EXIT_OK
    agreement = (f"same top-1 as torch on {result.agreement:.2%} of {result.checked} {result.check_source} examples"
                 if result.agreement is not None else "not checked")
    sys.stdout.write(f"{result.path}: {result.size_bytes / 1e6:.1f} MB, {agreement}\n")
    for note in result.warnings:
        sys.stderr.write(f"playground: warning: {note}\n")
    return common.EXIT_OK
