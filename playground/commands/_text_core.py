"""`playground text embed | zero-shot | similar | classify`: the Text tab's engine, headless.

`classify` and `zero-shot` take `--explain [--explain-class LABEL]`: each text's row then also has
`attributions` ([{"token", "score"}], integrated gradients for the top label or LABEL, special tokens
left out), `delta` (Captum's convergence delta: how far they miss adding up to the score difference),
`explained` (the label) and `trust` ("good" or "low")."""

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
    _explain_options(p)
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
    _explain_options(p)
    p.set_defaults(func=cmd_classify)


def _explain_options(p) -> None:
    p.add_argument("--explain", action="store_true",
                   help="also say which words decided (integrated gradients, with a convergence delta)")
    p.add_argument("--explain-class", default=None, metavar="LABEL", help="explain this label instead of the top one")
    p.set_defaults(check_options=_check_explain)


def _check_explain(args) -> None:
    if args.explain_class is not None and not args.explain:
        raise common.UsageError("--explain-class goes with --explain")


def _explanations(res, explain_one) -> list:
    """One explanation per scored text."""
    return [_run(explain_one, item.text) for item in res.items]


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


def _print_scores(res, as_json: bool, why: list | None = None) -> None:
    _notice_truncated(res.truncated, res.max_tokens)
    why = why or [None] * len(res.items)
    if as_json:
        common.print_json([s.to_dict() | (_why_dict(w) if w else {}) for s, w in zip(res.items, why, strict=True)])
        return
    for item, w in zip(res.items, why, strict=True):
        print(item.text)
        for s in item.scores:
            bar = "#" * round(s.score * 30)
            print(f"  {s.score:6.1%}  {bar:30}  {s.label}")
        if w is not None:
            words = ", ".join(f"{t.token} {t.score:+.3f}" for t in w.top(5))
            print(f"  why '{w.label}' (trust: {w.trust}, delta {w.delta:.3g}): {words}")


def _why_dict(w) -> dict:
    d = w.to_dict()
    return {"attributions": d["attributions"], "delta": d["delta"], "explained": d["label"], "trust": d["trust"]}


def cmd_zero_shot(args) -> int:
    from playground.core import text

    labels = [x for x in args.labels.split(",") if x.strip()]
    if len(labels) < 2:
        raise common.UsageError("--labels needs at least two labels separated by commas")
    kwargs = {"model": args.model, "multi_label": args.multi_label}
    if args.template:
        kwargs["template"] = args.template
    res = _run(text.zero_shot, args.texts, labels, **kwargs)
    why = None
    if args.explain:
        from playground.core.explain import text as explain_text

        if args.multi_label:
            raise common.UsageError("--explain explains one label among the others; leave out --multi-label")
        options = {"label": args.explain_class, "model": args.model} | (
            {"template": args.template} if args.template else {})
        why = _explanations(res, lambda ctx, t: explain_text.explain_zero_shot(ctx, t, labels, **options))
    _print_scores(res, args.json, why)
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

    res = _run(text.classify, args.texts, args.model, allow_pickle=args.allow_pickle)
    why = None
    if args.explain:
        from playground.core.explain import text as explain_text

        why = _explanations(res, lambda ctx, t: explain_text.explain_classification(ctx, t, args.model,
                                                                                     args.explain_class))
    _print_scores(res, args.json, why)
    return common.EXIT_OK
