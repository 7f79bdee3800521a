"""`playground transcribe FILE` and `playground listen`: speech to text from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground import cli


def register(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe an audio file (WAV, FLAC, MP3, OGG, ...)")
    p.add_argument("file", help="audio file")
    p.add_argument("--model", default=None,
                   help="catalog id, faster-whisper/transformers Hub id or model folder (default: bundled Whisper tiny.en)")
    p.add_argument("--format", default="txt", choices=("txt", "srt", "vtt", "json"), help="output format (default txt)")
    p.add_argument("--output", "-o", default=None, help="write to this file (atomically) instead of standard output")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("listen", help="live transcription from a microphone or a file played at real-time pace")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", dest="input_device", default=None,
                     help="input device index or name (default: the system's default input)")
    src.add_argument("--from-file", default=None, metavar="FILE",
                     help="play FILE at real-time pace as if it were a microphone, then 1 s of silence")
    src.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--model", default=None, help="speech model (default: bundled Whisper tiny.en)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: type (partial|final), text, start, end, emitted_at")
    p.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--no-autosave", action="store_true", help="do not keep the transcript in the data folder")
    p.set_defaults(func=cmd_listen)


def cmd_transcribe(args) -> int:
    from playground.core import speech, transcript
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = cli.cancel_on_sigint()
    show_progress = sys.stderr.isatty()

    def sink(event) -> None:
        from playground.core.jobs import Progress

        if show_progress and isinstance(event, Progress) and event.text:
            sys.stderr.write(f"\r{event.text[:100]:100}")
            sys.stderr.flush()

    result = run_sync(Job(speech.transcribe_file, (args.file,), {"model": args.model}), sink, cancel)
    if show_progress:
        sys.stderr.write("\r" + " " * 100 + "\r")
    if cancel.is_set():
        return cli.fail("cancelled")
    text = transcript.render(result.segments, args.format, result.duration)
    if args.output:
        transcript.save(result.segments, Path(args.output), args.format)
    else:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
    return cli.EXIT_OK


def cmd_listen(args) -> int:
    from playground.core import streaming
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    if args.list_devices:
        sd = streaming.load_sounddevice()
        found = streaming.list_input_devices(sd)
        if args.json:
            cli.print_json([{"index": d.index, "name": d.name, "channels": d.channels, "samplerate": d.samplerate,
                             "hostapi": d.hostapi, "default": d.is_default} for d in found])
        else:
            for d in found:
                print(f"{'*' if d.is_default else ' '} {d.index:3} {d.label}")
        return cli.EXIT_OK
    if args.speed < 0:
        raise cli.UsageError("--speed must be >= 0")
    if args.from_file:
        source = streaming.FileSource(args.from_file, speed=args.speed, tail_silence=1.0)
    else:
        device = args.input_device
        if device is not None and device.isdigit():
            device = int(device)
        source = streaming.MicrophoneSource(device=device)
        if not args.json:
            sys.stderr.write(f"Listening to '{source.name}'; press Ctrl+C to stop.\n")
    cancel = cli.cancel_on_sigint()
    stop_event = _StopOnCancel(cancel, source)

    def sink(event) -> None:
        if isinstance(event, streaming.LiveText):
            if not event.text:
                return
            if args.json:
                cli.print_json_line(event.to_dict())
            elif event.kind == "final":
                sys.stdout.write(f"[{event.start:7.2f} - {event.end:7.2f}] {event.text}\n")
                sys.stdout.flush()
            elif sys.stderr.isatty():
                sys.stderr.write(f"\r... {event.text[-110:]:110}\r")
                sys.stderr.flush()

    # Ctrl+C behaves like Stop: recording ends, buffered audio is still transcribed.
    result = run_sync(Job(streaming.listen, (source,), {"model": args.model, "autosave": not args.no_autosave}),
                      sink, None)
    stop_event.done()
    if result.error:
        return cli.fail(result.error)
    if source.error is not None:
        return cli.fail(str(source.error))
    return cli.EXIT_OK


class _StopOnCancel:
    """Watches the Ctrl+C flag and stops the source, so the job finishes what it heard."""

    def __init__(self, flag, source):
        import threading

        self._flag, self._source = flag, source
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.1):
            if self._flag.is_set():
                self._source.stop()
                return

    def done(self) -> None:
        self._done.set()
