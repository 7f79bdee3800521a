"""`playground finetune image|text|charlm|sound|lm ...`: the Train tab's jobs, headless.

With `--json`, one JSON object per line: step, epoch, checkpoint ... and a
final `done` line. Ctrl+C saves a checkpoint and stops; `--resume` continues
from OUT's last checkpoint.
"""

from __future__ import annotations

import argparse
import sys
import time

from playground.commands import common
from playground.core.training import defaults


def _common(p, kind: str) -> None:
    """The options every job takes, with the job's defaults (the ones the Train tab shows too)."""
    d = defaults.for_kind(kind)
    p.add_argument("--out", default=None, help="model folder to write (default: <models folder>/<name>)")
    p.add_argument("--name", default=None, help="model name (default: from the data's name)")
    if not d.by_steps:
        p.add_argument("--epochs", type=int, default=d.length, help=f"epochs (default {d.length})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"batch size (default {d.batch_size})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr:g})")
    p.add_argument("--val-share", type=float, default=None,
                   help=f"share of the data held out for validation (default {d.val_share:g})")
    p.add_argument("--patience", type=int, default=None,
                   help=f"stop after this many evaluations without a better validation loss (0: never; "
                        f"default {d.patience})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--no-mixed-precision", action="store_true", help="train in fp32 on a GPU too")
    p.add_argument("--resume", action="store_true", help="continue from OUT's last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model in OUT")
    p.add_argument("--json", action="store_true", help="print one JSON object per line")
    g = p.add_argument_group("several processes, GPUs or machines (data parallel, through torch.distributed.run)")
    g.add_argument("--nproc", type=int, default=1, help="processes on this machine: one per GPU, or CPU processes")
    g.add_argument("--nnodes", type=int, default=1, help="machines taking part (run the command on each)")
    g.add_argument("--node-rank", type=int, default=0, help="this machine's number, 0 .. nnodes-1")
    g.add_argument("--master-addr", default=None, help="address of machine 0 (default 127.0.0.1)")
    g.add_argument("--master-port", type=int, default=None, help="a free port on machine 0 (default: any)")
    g.add_argument("--print-launch", action="store_true",
                   help="print the equivalent torchrun and accelerate launch commands and a Slurm script, and exit")
    g.add_argument("--control-file", default=None, help=argparse.SUPPRESS)  # the Train tab: run / pause / cancel


def register(sub) -> None:
    parser = sub.add_parser("finetune", help="fine-tune a classifier or train a character-level GPT")
    kinds = parser.add_subparsers(dest="finetune_kind", metavar="KIND", parser_class=type(parser))
    kinds.required = True

    p = kinds.add_parser("image", help="image classifier from a folder of class sub-folders")
    p.add_argument("data", metavar="DIR", help="folder with one sub-folder of images per class")
    _common(p, "image")
    p.add_argument("--backbone", default=defaults.IMAGE_BACKBONE,
                   help="bundled/efficientnet-lite0, a timm model name, or a fine-tuned image model folder")
    p.add_argument("--image-size", type=int, default=defaults.IMAGE_SIZE,
                   help=f"input size in pixels (default {defaults.IMAGE_SIZE})")
    p.add_argument("--head-only", action="store_true", help="train only the new classification head")
    p.add_argument("--no-augment", action="store_true", help="no random crops or colour jitter")
    p.add_argument("--flip", action="store_true", help="also flip images horizontally at random")
    p.set_defaults(func=cmd_finetune, finetune_parser=p, input_paths={"data": "folder"},
                   check_options=_check_options)

    p = kinds.add_parser("text", help="text classifier from a CSV or TSV file")
    p.add_argument("data", metavar="FILE", help="CSV/TSV file with a header row")
    _common(p, "text")
    p.add_argument("--text-column", default=None, help="column with the text (default: guessed)")
    p.add_argument("--label-column", default=None, help="column with the label (default: guessed)")
    p.add_argument("--model", default=defaults.TEXT_ENCODER, help="encoder: bundled id, Hub id or folder")
    p.add_argument("--max-length", type=int, default=defaults.TEXT_MAX_LENGTH,
                   help=f"tokens per text (default {defaults.TEXT_MAX_LENGTH})")
    p.add_argument("--head-only", action="store_true", help="train only the classification head")
    p.set_defaults(func=cmd_finetune, finetune_parser=p, input_paths={"data": "file"},
                   check_options=_check_options)

    p = kinds.add_parser("charlm", help="character-level GPT from a text file, from scratch")
    p.add_argument("data", metavar="FILE", help="plain UTF-8 text file")
    _common(p, "charlm")
    steps = defaults.for_kind("charlm").length
    p.add_argument("--steps", type=int, default=steps, help=f"training steps (default {steps})")
    p.add_argument("--block-size", type=int, default=128, help="context length in characters (default 128)")
    p.add_argument("--layers", type=int, default=4, help="transformer layers (default 4)")
    p.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    p.add_argument("--embed", type=int, default=128, help="embedding size (default 128)")
    p.add_argument("--eval-every", type=int, default=None, help="evaluate every N steps")
    p.set_defaults(func=cmd_finetune, finetune_parser=p, input_paths={"data": "file"},
                   check_options=_check_options)

    p = kinds.add_parser("sound", help="sound classes from a folder of class sub-folders of audio clips")
    p.add_argument("data", metavar="DIR", help="folder with one sub-folder of audio clips per class")
    _common(p, "sound")
    p.add_argument("--features", choices=("whisper", "logmel"), default="whisper",
                   help="features: the bundled Whisper tiny.en encoder (default) or log-mel statistics")
    p.set_defaults(func=cmd_finetune, finetune_parser=p, input_paths={"data": "folder"},
                   check_options=_check_options)

    p = kinds.add_parser("lm", help="LoRA fine-tuning of a language model on your own examples")
    p.add_argument("data", metavar="FILE",
                   help="JSONL with prompt/response (or messages), CSV/TSV with prompt and response columns, "
                        "or a .txt file (continued pre-training)")
    _common(p, "lm")
    p.add_argument("--base", default=defaults.LM_BASE,
                   help="bundled/smollm2-135m-instruct (default), bundled/gemma-3-270m, a causal-LM folder or Hub id")
    p.add_argument("--lora-rank", type=int, default=defaults.LORA_RANK,
                   help=f"LoRA rank on every projection (default {defaults.LORA_RANK})")
    p.add_argument("--max-length", type=int, default=defaults.LM_MAX_LENGTH,
                   help=f"tokens per example; longer ones are truncated (default {defaults.LM_MAX_LENGTH})")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a Hub base's own code to run")
    p.set_defaults(func=cmd_finetune, finetune_parser=p, input_paths={"data": "file"},
                   check_options=_check_options)


def _check_options(args) -> None:
    """Usage errors (exit 2), checked by `cli.run` before the data path is."""
    _positive(args, "epochs", "batch_size", "lr", "steps", "block_size", "layers", "heads", "embed", "eval_every",
              "image_size", "max_length", "lora_rank", "checkpoint_every", "nproc", "nnodes")
    if not 0 <= args.node_rank < args.nnodes:
        raise common.UsageError(f"--node-rank must be between 0 and {args.nnodes - 1} (got {args.node_rank})")


def _positive(args, *names) -> None:
    for name in names:
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            raise common.UsageError(f"--{name.replace('_', '-')} must be positive (got {value})")


class _Printer:
    """Human-readable progress lines on stderr, or JSON lines on stdout."""

    def __init__(self, as_json: bool, world_size: int = 1, accuracy_name: str = "val accuracy"):
        self.as_json = as_json
        self.accuracy_name = accuracy_name
        self.world_size = world_size
        self.last = 0.0
        self.live_said = False

    def __call__(self, event) -> None:
        from playground.core.jobs import Progress
        from playground.core.training import events as ev

        if isinstance(event, Progress):
            return
        if self.as_json:
            if hasattr(event, "to_dict"):
                common.print_json_line(_clean(event.to_dict() | {"world_size": self.world_size}))
            return
        if isinstance(event, ev.StepEvent):
            now = time.monotonic()
            if now - self.last < 1.0 and event.step != event.total_steps:
                return
            self.last = now
            left = f", {event.time_left_s:.0f} s left" if event.time_left_s is not None else ""
            sys.stderr.write(f"step {event.step}/{event.total_steps}  epoch {event.epoch}  loss {event.loss:.4f}  "
                             f"lr {event.lr:.2e}  {event.samples_per_s:.1f} samples/s{left}\n")
        elif isinstance(event, ev.EpochEvent):
            acc = f"  {self.accuracy_name} {event.val_accuracy:.4f}" if event.val_accuracy is not None else ""
            sys.stderr.write(f"epoch {event.epoch}: train loss {event.train_loss:.4f}  val loss {event.val_loss:.4f}{acc}\n")
        elif isinstance(event, ev.DataReport):
            sys.stderr.write(f"data: {event.n_train} training, {event.n_val} validation"
                             + (f", {len(event.labels)} classes" if event.labels else "") + "\n")
            for w in event.warnings:
                sys.stderr.write(f"warning: {w}\n")
        elif isinstance(event, ev.RunStarted):
            where = f", resumed at step {event.start_step}" if event.start_step else ""
            amp = f", mixed precision {event.mixed_precision}" if event.mixed_precision else ""
            ranks = (f" x {event.world_size} processes ({event.backend}), batch {event.per_rank_batch_size} each, "
                     f"effective batch {event.effective_batch_size}"
                     + (f", learning rate scaled x{event.lr_scale:.3g}" if event.lr_scale != 1.0 else "")
                     if event.world_size > 1 else "")
            sys.stderr.write(f"training on {event.device}{ranks}{amp}: {event.total_steps} steps{where}\n")
        elif isinstance(event, ev.LiveCheckpoint) and not self.live_said:
            self.live_said = True  # once: the folder stays the same, its newest step is loaded
            sys.stderr.write(f"try it while it trains: playground text generate --model {event.path} PROMPT\n")
        elif isinstance(event, ev.CheckpointSaved) and event.reason == "cancel":
            sys.stderr.write(f"checkpoint saved at step {event.step}: continue with --resume\n")
        elif isinstance(event, ev.EarlyStopped):
            sys.stderr.write(f"early stop after epoch {event.epoch} (best: epoch {event.best_epoch})\n")
        elif isinstance(event, ev.DeviceFallback):
            sys.stderr.write(f"warning: {event.message}\n")
        sys.stderr.flush()


def _clean(data: dict) -> dict:
    """JSON has no NaN: turn non-finite floats into null."""
    import math

    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


LAUNCH_OPTIONS = ("nproc", "nnodes", "node_rank", "master_addr", "master_port", "print_launch")


def worker_argv(args) -> list[str]:
    """This command again without the launch options: what every rank runs (`-m playground ...`)."""
    argv = ["--device", args.device] if getattr(args, "device", None) else []
    argv += ["finetune", args.finetune_kind]
    for action in args.finetune_parser._actions:
        dest = action.dest
        if dest in ("help", *LAUNCH_OPTIONS) or not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        if not action.option_strings:
            argv.append(str(value))
        elif isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(action.option_strings[0])
        elif value is not None and value != action.default:
            argv += [action.option_strings[0], str(value)]
    return argv


def _default_out(args):
    """The model folder the job will write (for the launcher's messages)."""
    from pathlib import Path

    from playground.core.errors import PlaygroundError
    from playground.core.training.data import output_dir_for

    if args.out:
        return Path(args.out).expanduser().resolve()
    data = Path(args.data).expanduser()
    default = f"{data.name if args.finetune_kind in ('image', 'sound') else data.stem}-" \
              f"{ {'charlm': 'charlm', 'sound': 'sounds', 'lm': 'lm'}.get(args.finetune_kind, 'classifier')}"
    try:
        return output_dir_for(args.name or default)
    except (OSError, ValueError, PlaygroundError):
        return None


def _launch(args) -> int:
    """`--nproc N` / `--nnodes M`: the same command on N processes here, through torch.distributed.run."""
    from playground.core import devices
    from playground.core.errors import Cancelled
    from playground.core.training import launch

    plan = launch.Plan(args.nproc, args.nnodes, args.node_rank, args.master_addr, args.master_port)
    if args.print_launch:
        gpus = devices.choose_device().startswith("cuda") if args.device != "cpu" else False
        found = launch.commands(plan, worker_argv(args), gpus)
        if args.json:
            common.print_json(found)
        else:
            print(f"# torchrun (on each machine, with its --node-rank)\n{found['torchrun']}\n")
            print(f"# accelerate launch (on each machine, with its --machine_rank)\n{found['accelerate']}\n")
            print(f"# Slurm: save as finetune.sbatch, then: sbatch finetune.sbatch\n{found['sbatch']}")
        return common.EXIT_OK
    try:
        return launch.launch(plan, worker_argv(args), _default_out(args), args.json)
    except Cancelled:
        if args.json:
            common.print_json_line({"type": "cancelled", "world_size": plan.world_size})
        raise
    except launch.RankFailed as exc:
        if args.json:
            common.print_json_line({"type": "error", "message": str(exc), "world_size": plan.world_size})
        raise


def _accuracy_name(kind: str) -> str:
    """A tuned language model's "accuracy" is the exact match of its greedy answers."""
    return "val exact match" if kind == "lm" else "val accuracy"


def _metric(result, kind: str) -> str:
    loss = f"validation loss {result.val_loss:.4f}"
    if result.val_accuracy is None:
        return loss
    if kind == "lm":
        return f"{loss}, exact match {result.val_accuracy:.4f}"
    return loss if result.task == "text-generation" else f"validation accuracy {result.val_accuracy:.4f}"


def cmd_finetune(args) -> int:
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.training import distributed, job_for

    ranks = distributed.from_env()
    if args.print_launch or ((args.nproc > 1 or args.nnodes > 1) and not ranks.active):
        return _launch(args)
    options = {"batch_size": args.batch_size, "lr": args.lr, "val_share": args.val_share, "patience": args.patience,
               "seed": args.seed, "checkpoint_every": args.checkpoint_every,
               "mixed_precision": not args.no_mixed_precision, "device": args.device}
    kind = args.finetune_kind
    if kind == "image":
        options |= {"epochs": args.epochs, "backbone": args.backbone, "image_size": args.image_size,
                    "head_only": args.head_only, "augment": not args.no_augment, "flip": args.flip}
    elif kind == "text":
        options |= {"epochs": args.epochs, "text_column": args.text_column, "label_column": args.label_column,
                    "model": args.model, "max_length": args.max_length, "head_only": args.head_only}
    elif kind == "sound":
        options |= {"epochs": args.epochs, "features": args.features}
    elif kind == "lm":
        options |= {"epochs": args.epochs, "base": args.base, "lora_rank": args.lora_rank,
                    "max_length": args.max_length, "trust_remote_code": args.trust_remote_code}
    else:
        options |= {"steps": args.steps, "block_size": args.block_size, "layers": args.layers, "heads": args.heads,
                    "embed": args.embed, "eval_every": args.eval_every}
    options = {k: v for k, v in options.items() if v is not None}
    control = None
    if args.control_file:
        control = distributed.FileControl(args.control_file)
    job = Job(job_for(kind), (args.data, args.out),
              options | {"name": args.name, "resume": args.resume, "overwrite": args.overwrite, "control": control},
              name=f"finetune {kind}")
    cancel = common.cancel_on_sigint()
    if ranks.active:
        return _run_rank(job, args, ranks, cancel)
    result = run_sync(job, _Printer(args.json, accuracy_name=_accuracy_name(kind)), cancel)
    if not args.json:
        print(f"saved {result.model_dir} ({_metric(result, kind)})")
    return common.EXIT_OK


def _run_rank(job, args, ranks, cancel) -> int:
    """One rank of a launched run: rank 0 prints the events; a cancel every rank agreed on exits
    EXIT_CANCELLED (the launcher tells it from a failure); an error is left for the launcher's sentence."""
    from playground.core.errors import Cancelled, PlaygroundError, friendly_message
    from playground.core.runner import run_sync
    from playground.core.training import distributed, launch

    printer = _Printer(args.json, ranks.world_size, _accuracy_name(args.finetune_kind)) if ranks.main else None
    try:
        result = run_sync(job, printer, cancel)
    except Cancelled:
        return distributed.EXIT_CANCELLED
    except Exception as exc:
        launch.record_rank_error(str(exc) if isinstance(exc, PlaygroundError) else friendly_message(exc))
        raise
    if ranks.main and not args.json:
        print(f"saved {result.model_dir} ({_metric(result, args.finetune_kind)}, {ranks.world_size} processes)")
    return common.EXIT_OK
