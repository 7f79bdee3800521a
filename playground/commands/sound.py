"""`playground classify-sound --model DIR FILE... [--top-k K] [--json]`: a trained sound classifier on audio files.

With `--json` one JSON array, shaped like `classify-image`'s: `{"path", "predictions": [{"label",
"score"}]}` (or `{"path", "error"}`) per file. A file longer than a second is judged by its
loudest second. Exit 0 when every file succeeded, 1 when any failed (the others are still printed).
"""

from __future__ import annotations

import sys

from playground.commands import common


def register(sub) -> None:
    p = sub.add_parser("classify-sound", help="classify audio clips with a sound classifier from 'finetune sound'")
    p.add_argument("paths", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, MP3, OGG ...) or folders")
    p.add_argument("--model", required=True, help="the model folder 'playground finetune sound' wrote")
    p.add_argument("--top-k", type=common.at_least_one, default=None, help="how many labels per file (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=cmd_classify_sound, input_paths={"model": "model folder", "paths": "file"})


def _expand(paths: list[str]) -> list[str]:
    from pathlib import Path

    from playground.core import audio

    out = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            out += [str(f) for f in sorted(path.rglob("*")) if f.is_file() and audio.is_audio_path(f)]
        else:
            out.append(p)
    return out


def cmd_classify_sound(args) -> int:
    from playground.core import sound
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()

    def sink(event) -> None:
        if isinstance(event, sound.SoundResult) and not args.json:
            if event.error is not None:
                sys.stderr.write(f"{event.path}: error: {event.error}\n")
            else:
                sys.stdout.write(f"{event.path}: " + ", ".join(f"{p.label} {p.score:.3f}" for p in event.predictions)
                                 + "\n")
            sys.stdout.flush()

    results = run_sync(Job(sound.classify_files, (_expand(list(args.paths)), args.model), {"top_k": args.top_k},
                           name="classify sounds"), sink, cancel)
    if args.json:
        common.print_json([r.to_dict() for r in results])
    return common.EXIT_FAILURE if any(r.error is not None for r in results) else common.EXIT_OK
