"""`playground text embed | zero-shot | similar | classify`: the Text tab's engine, headless."""

from __future__ import annotations

import sys
from pathlib import Path

from playground.commands import common
from playground.core.jobs import Job
from playground.core.runner import run_sync
from playground.core.wording import plural


def register(tasks) -> None:
    p = tasks.add_parser("embed", help="sentence embeddings (bundled all-MiniLM-L6-v2 by default)")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--model", default=None, help="embedding model: catalog id, folder or Hub id")
    p.add_argument("--json", action="store_true", help='print [{"text":..., "embedding":[...]}]')
    p.set_defaults(func=cmd_embed)

    p = tasks.add_parser("zero-shot", help="score candidate labels for each text without training")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--labels", required=True, help="comma-separated candidate labels")
    p.add_argument("--template", default=None, help="label sentence with {} for the label "
                                                     "(default: 'This text is about {}.')")
    p.add_argument("--multi-label", action="store_true", help="score each label on its own")
    p.add_argument("--model", default=None, help="bundled MiniLM (default), an embedding model or an NLI model")
    p.add_argument("--json", action="store_true", help='print [{"text":..., "scores":[{"label":..., "score":...}]}]')
    p.set_defaults(func=cmd_zero_shot)

    p = tasks.add_parser("similar", help="rank candidate sentences by meaning against a query")
    p.add_argument("candidates", nargs="*", metavar="CANDIDATE")
    p.add_argument("--query", required=True)
    p.add_argument("--candidates-file", default=None, help="a text file, one candidate per line")
    p.add_argument("--top-k", type=int, default=None, help="show only the K best")
    p.add_argument("--model", default=None, help="embedding model: catalog id, folder or Hub id")
    p.add_argument("--json", action="store_true", help='print [{"text":..., "score":...}], best first')
    p.set_defaults(func=cmd_similar, input_paths={"candidates_file": "file"})

    p = tasks.add_parser("classify", help="classify texts with a sequence-classification model")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--model", required=True, help="Hub id, model folder or one you trained")
    p.add_argument("--allow-pickle", action="store_true", help="allow pickle (.bin) weights for this model")
    p.add_argument("--json", action="store_true", help='print [{"text":..., "scores":[{"label":..., "score":...}]}]')
    p.set_defaults(func=cmd_classify)


def _run(fn, *args, **kwargs):
    return run_sync(Job(fn, args, kwargs), _progress_to_stderr, common.cancel_on_sigint())


def _progress_to_stderr(event) -> None:
    # Loading and download messages go to stderr so stdout stays clean JSON.
    text = getattr(event, "text", "")
    if text and sys.stderr.isatty():
        sys.stderr.write(f"\r{text[:100]:100}")
        sys.stderr.flush()


def _notice_truncated(count: int, limit: int | None) -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 100 + "\r")
    if count:
        where = f" at {limit} tokens" if limit else ""
        verb = "was" if count == 1 else "were"
        sys.stderr.write(f"playground: note: {plural(count, 'text')} longer than the model's limit {verb} "
                         f"truncated{where}.\n")


def cmd_embed(args) -> int:
    from playground.core import text

    res = _run(text.embed, args.texts, model=args.model)
    _notice_truncated(sum(res.truncated), res.max_tokens)
    if args.json:
        common.print_json(res.to_list())
    else:
        for t, v in zip(res.texts, res.vectors, strict=True):
            head = ", ".join(f"{x:+.4f}" for x in v[:6])
            print(f"{t}\n  [{head}, ...] ({len(v)} dims)")
    return common.EXIT_OK


def _print_scores(res, as_json: bool) -> None:
    _notice_truncated(res.truncated, res.max_tokens)
    if as_json:
        common.print_json([s.to_dict() for s in res.items])
        return
    for item in res.items:
        print(item.text)
        for s in item.scores:
            bar = "#" * round(s.score * 30)
            print(f"  {s.score:6.1%}  {bar:30}  {s.label}")


def cmd_zero_shot(args) -> int:
    from playground.core import text

    labels = [x for x in args.labels.split(",") if x.strip()]
    if len(labels) < 2:
        raise common.UsageError("--labels needs at least two labels separated by commas")
    kwargs = {"model": args.model, "multi_label": args.multi_label}
    if args.template:
        kwargs["template"] = args.template
    _print_scores(_run(text.zero_shot, args.texts, labels, **kwargs), args.json)
    return common.EXIT_OK


def cmd_similar(args) -> int:
    from playground.core import text
    from playground.core.errors import InputError

    candidates = list(args.candidates)
    if args.candidates_file:
        path = Path(args.candidates_file).expanduser()
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise InputError(f"Candidates file not found: {path}") from exc
        except OSError as exc:
            raise InputError(f"Cannot read the candidates file {path}: {exc.strerror or exc}.") from exc
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"The candidates file {path} is not UTF-8 text.") from exc
        candidates += [line.strip() for line in content.splitlines() if line.strip()]
    if not candidates:
        raise common.UsageError("give candidate sentences as arguments or with --candidates-file")
    if args.top_k is not None and args.top_k < 1:
        raise common.UsageError("--top-k must be at least 1")
    res = _run(text.similar, args.query, candidates, top_k=args.top_k, model=args.model)
    _notice_truncated(res.truncated, None)
    if args.json:
        common.print_json([h.to_dict() for h in res.hits])
    else:
        for h in res.hits:
            print(f"{h.score:+.3f}  {h.text}")
    return common.EXIT_OK


def cmd_classify(args) -> int:
    from playground.core import text

    _print_scores(_run(text.classify, args.texts, args.model, allow_pickle=args.allow_pickle), args.json)
    return common.EXIT_OK
