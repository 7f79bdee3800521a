"""`playground text generate|answer|entities|translate`: generation and the offline text tasks."""

from __future__ import annotations

import sys

from playground.commands import common
from playground.core.generation import DEFAULT_DECODING
from playground.core.jobs import Job, Progress
from playground.core.runner import run_sync


def register(tasks) -> None:
    p = tasks.add_parser("generate", help="generate text with a causal LM (streams to stdout)")
    p.add_argument("prompt", metavar="PROMPT", help="the prompt (use - to read it from stdin)")
    p.add_argument("--model", default=None, help="Hub id or local folder (default: the bundled SmolLM2)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="tokens to generate at most (default 128)")
    p.add_argument("--temperature", type=float, default=DEFAULT_DECODING.temperature,
                   help=f"sampling temperature; 0 = greedy (default {DEFAULT_DECODING.temperature})")
    p.add_argument("--top-p", type=float, default=DEFAULT_DECODING.top_p,
                   help=f"nucleus sampling probability mass (default {DEFAULT_DECODING.top_p})")
    p.add_argument("--repetition-penalty", type=float, default=None,
                   help=f"1 = none (default {DEFAULT_DECODING.repetition_penalty}; none for a char-level model)")
    p.add_argument("--no-repeat-ngram", type=int, default=None, metavar="N",
                   help=f"never repeat a token N-gram; 0 = off (default {DEFAULT_DECODING.no_repeat_ngram_size}; "
                        "off for a char-level model)")
    p.add_argument("--seed", type=int, default=None, help="random seed, for reproducible sampling")
    p.add_argument("--system", default="", help="system prompt (chat models)")
    p.add_argument("--no-chat", action="store_true", help="continue the prompt as plain text, no chat template")
    p.add_argument("--backend", choices=("auto", "ctranslate2", "transformers"), default="auto",
                   help="auto (default): CTranslate2 int8 for the Llama/Mistral/Qwen/Gemma families, "
                        "else transformers; or force one")
    _common(p)
    p.set_defaults(func=cmd_generate)

    p = tasks.add_parser("answer", help="answer a question from a passage")
    p.add_argument("question", metavar="QUESTION")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--context", help="the passage")
    src.add_argument("--context-file", help="a UTF-8 text file holding the passage")
    p.add_argument("--model", default=None, help="extractive QA model or causal LM (default: the bundled SmolLM2)")
    _common(p)
    p.set_defaults(func=cmd_answer, input_paths={"context_file": "file"})

    p = tasks.add_parser("entities", help="named entities in each text")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--model", default=None, help="token-classification Hub id or folder (default: spaCy, offline)")
    _common(p)
    p.set_defaults(func=cmd_entities)

    p = tasks.add_parser("translate", help="translate each text (offline: English <-> Portuguese)")
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument("--to", dest="target", required=True, help="target language code: pt or en offline, others via Hub")
    p.add_argument("--from", dest="source", default=None, help="source language code (default: the other of en/pt)")
    p.add_argument("--model", default=None, help="translation Hub id or folder")
    _common(p)
    p.set_defaults(func=cmd_translate)


def _common(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--allow-pickle", action="store_true", help="allow pickle weights for this model")
    p.add_argument("--trust-remote-code", action="store_true", help="allow the model's own Python code")


def _safety(args) -> dict:
    return {"allow_pickle": args.allow_pickle, "trust_remote_code": args.trust_remote_code}


def _stderr_progress(event) -> None:
    # Progress only on a terminal: piped/scripted runs keep stderr to the one error line.
    if isinstance(event, Progress) and event.text and sys.stderr.isatty():
        sys.stderr.write(event.text + "\n")
        sys.stderr.flush()


def _run(job: Job, sink=_stderr_progress):
    cancel = common.cancel_on_sigint()
    return run_sync(job, sink, cancel), cancel


def cmd_generate(args) -> int:
    from playground.core import generation

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if args.max_new_tokens < 1:
        raise common.UsageError("--max-new-tokens must be at least 1")
    if args.temperature < 0:
        raise common.UsageError("--temperature cannot be negative (0 means greedy)")
    if not 0 < args.top_p <= 1:
        raise common.UsageError("--top-p must be in (0, 1]")
    if args.repetition_penalty is not None and args.repetition_penalty <= 0:
        raise common.UsageError("--repetition-penalty must be positive (1 means none)")
    if args.no_repeat_ngram is not None and args.no_repeat_ngram < 0:
        raise common.UsageError("--no-repeat-ngram cannot be negative (0 means off)")

    def sink(event) -> None:
        if isinstance(event, generation.TokenEvent):
            if not args.json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        else:
            _stderr_progress(event)

    job = Job(generation.generate, (prompt, args.model), {
        "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_p": args.top_p,
        "seed": args.seed, "system": args.system, "repetition_penalty": args.repetition_penalty,
        "no_repeat_ngram_size": args.no_repeat_ngram, "chat": False if args.no_chat else None, "backend": args.backend,
        **_safety(args)},
        name="generate")
    result, _ = _run(job, sink)
    if result.notice:
        sys.stderr.write(result.notice + "\n")
    if args.json:
        common.print_json(result.to_dict())
    else:
        sys.stdout.write("\n")
        sys.stdout.flush()
    if result.stopped:
        return common.fail("cancelled")
    return common.EXIT_OK


def cmd_answer(args) -> int:
    from playground.core import answer

    if args.context_file:
        try:
            with open(args.context_file, encoding="utf-8") as fh:
                context = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            return common.fail(f"cannot read {args.context_file}: {exc}")
    else:
        context = args.context
    result, _ = _run(Job(answer.answer, (context, args.question, args.model), _safety(args), name="answer"))
    if args.json:
        common.print_json(result.to_dict())
    else:
        print(result.answer)
    return common.EXIT_OK


def cmd_entities(args) -> int:
    from playground.core import entities

    results, _ = _run(Job(entities.find_entities, (args.texts, args.model), _safety(args), name="entities"))
    if args.json:
        common.print_json([r.to_dict() for r in results])
        return common.EXIT_OK
    for r in results:
        print(r.text)
        for e in r.entities:
            score = f"  {e.score:.2f}" if e.score is not None else ""
            print(f"  {e.label:12} {e.text}  [{e.start}:{e.end}]{score}")
        if not r.entities:
            print("  (no entities)")
    return common.EXIT_OK


def cmd_translate(args) -> int:
    from playground.core import translate

    results, _ = _run(Job(translate.translate, (args.texts, args.target, args.source, args.model), _safety(args),
                          name="translate"))
    if args.json:
        common.print_json([r.to_dict() for r in results])
        return common.EXIT_OK
    for r in results:
        print(r.translation)
    return common.EXIT_OK
