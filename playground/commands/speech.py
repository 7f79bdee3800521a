"""`playground transcribe FILE...` and `playground listen`: speech to text from the command line.

One file prints its transcript (or writes it to `--output`). Several files, or a
folder (walked for audio files), are transcribed one after the other with one
model: each success is printed under a `==> FILE <==` header (`--format json`:
one array of `{"path", "text", "segments", "duration"}` or `{"path", "error"}`),
or written into the `--output` folder as `<name>.<format>`; each failure is one
line on stderr and the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from playground.commands import common


def register(sub) -> None:
    p = sub.add_parser("transcribe", help="transcribe audio files or folders (WAV, FLAC, MP3, OGG, ...)")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files or folders (walked recursively)")
    p.add_argument("--model", default=None,
                   help="catalog id, faster-whisper/transformers Hub id or model folder (default: bundled Whisper tiny.en)")
    p.add_argument("--format", default="txt", choices=("txt", "srt", "vtt", "json"), help="output format (default txt)")
    p.add_argument("--output", "-o", default=None,
                   help="write to this file (atomically) instead of standard output; with several files, "
                        "a folder that gets one <name>.<format> per file")
    _language_args(p)
    p.add_argument("--word-timestamps", action="store_true",
                   help="time each word: a 'words' list (start, end, word, probability) in each JSON segment")
    p.add_argument("--cues", default="segment", choices=("segment", "line", "word"),
                   help="SRT/VTT: one cue per segment (default), per line of words or per word "
                        "(line and word imply --word-timestamps)")
    _speaker_args(p, "label who spoke: Speaker 1..N on each segment and word (N found automatically, "
                     "or given); implies --word-timestamps")
    p.set_defaults(func=cmd_transcribe, input_paths={"files": "file"})

    p = sub.add_parser("listen", help="live transcription from a microphone or a file played at real-time pace")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--device", dest="input_device", default=None,
                     help="input device index or name (default: the system's default input)")
    src.add_argument("--from-file", default=None, metavar="FILE",
                     help="play FILE at real-time pace as if it were a microphone, then 1 s of silence")
    src.add_argument("--system", nargs="?", const="", default=None, metavar="NAME",
                     help="record what the computer plays (a monitor of an output; NAME: part of its name "
                          "as --list-devices shows it; default: the first)")
    src.add_argument("--list-devices", action="store_true",
                     help="list the microphones and what the computer plays, and exit")
    p.add_argument("--model", default=None, help="speech model (default: bundled Whisper tiny.en)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line: type (partial|final), text, start, end, emitted_at; "
                        "finals add utterance (the line), continues (more finals of the line follow), words "
                        "(word, start, end, probability), language and language_probability (and speaker, "
                        "with --speakers); words become final while the speaker goes on")
    p.add_argument("--speed", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--no-autosave", action="store_true", help="do not keep the transcript in the data folder")
    p.add_argument("--record", default=None, metavar="FILE.flac",
                   help="also keep the audio heard in FILE.flac (written when listening ends; "
                        "segment times are seconds into it)")
    _language_args(p)
    _speaker_args(p, "label who spoke on each final (Speaker 1.., a new one when a voice is new; "
                     "N: at most N speakers)")
    p.set_defaults(func=cmd_listen, input_paths={"from_file": "file"})


def _language_args(p) -> None:
    p.add_argument("--language", default="auto", metavar="auto|CODE",
                   help="spoken language: auto (detected; default) or a code such as en, fr, de, es")
    p.add_argument("--task", default="transcribe", choices=("transcribe", "translate"),
                   help="transcribe (default) or translate to English (multilingual models)")


def _speaker_args(p, text: str) -> None:
    p.add_argument("--speakers", nargs="?", const="auto", default=None, metavar="N", help=text)
    p.add_argument("--speaker-names", default=None, metavar="NAME,NAME",
                   help="with --speakers: names for Speaker 1, Speaker 2, ... in the output")


def _speakers(args) -> tuple[bool, int | None]:
    """(--speakers given, its number or None for automatic); a usage error for anything else."""
    if args.speakers is None:
        if args.speaker_names:
            raise common.UsageError("--speaker-names needs --speakers")
        return False, None
    if args.speakers == "auto":
        return True, None
    if not args.speakers.isdigit() or int(args.speakers) < 1:
        raise common.UsageError(f"--speakers takes a number of speakers of at least 1, not '{args.speakers}'")
    return True, int(args.speakers)


def _named(segments, args):
    from playground.core.speech.library import SpeakerNames

    return SpeakerNames.parse(args.speaker_names).apply(segments) if args.speaker_names else segments


def _options(args):
    from playground.core.speech import languages

    words = getattr(args, "word_timestamps", False) or getattr(args, "cues", "segment") != "segment"
    return languages.SpeechOptions.parse(args.language, args.task, words)


def cmd_transcribe(args) -> int:
    from playground.core.speech import file_transcription
    from playground.core.jobs import Job
    from playground.core.runner import run_sync

    cancel = common.cancel_on_sigint()
    show_progress = sys.stderr.isatty()

    def sink(event) -> None:
        from playground.core.jobs import Progress

        if show_progress and isinstance(event, Progress) and event.text:
            sys.stderr.write(f"\r{event.text[:100]:100}")
            sys.stderr.flush()

    with_speakers, num_speakers = _speakers(args)
    kwargs = {"model": args.model, "options": _options(args)}
    if with_speakers:
        kwargs.update(speakers=True, num_speakers=num_speakers)
    run = run_sync(Job(file_transcription.transcribe_files, (list(args.files),), kwargs), sink, cancel)
    if args.speaker_names:
        for r in run.results:
            if r.transcript is not None:
                r.transcript.segments = _named(r.transcript.segments, args)
    if show_progress:
        sys.stderr.write("\r" + " " * 100 + "\r")
    if run.cancelled or cancel.is_set():
        return common.fail("cancelled")
    if len(args.files) == 1 and len(run.results) == 1 and not Path(args.files[0]).is_dir():
        return _one_transcript(run.results[0], args)
    return _many_transcripts(run.results, args)


def _one_transcript(result, args) -> int:
    from playground.core import transcript
    from playground.core.errors import InputError

    if result.error is not None:
        raise InputError(result.error)  # one line, or the traceback with --debug, as for any command
    t = result.transcript
    if args.output:
        transcript.save(t.segments, Path(args.output), args.format, args.cues, t)
    else:
        _write(transcript.render(t.segments, args.format, t.duration, args.cues, t))
    return common.EXIT_OK


def _many_transcripts(results, args) -> int:
    from playground.core import transcript

    done = [r for r in results if r.error is None]
    if args.output:
        folder = Path(args.output)
        if folder.exists() and not folder.is_dir():
            return common.fail(f"{folder}: is a file; several transcripts need a folder.")
        folder.mkdir(parents=True, exist_ok=True)
        used: set[str] = set()
        for r in done:
            stem, n = Path(r.path).stem, 2
            while stem in used:  # the same name in two folders
                stem, n = f"{Path(r.path).stem}-{n}", n + 1
            used.add(stem)
            transcript.save(r.transcript.segments, folder / f"{stem}.{args.format}", args.format, args.cues, r.transcript)
    elif args.format == "json":
        common.print_json([r.to_dict() for r in results])
    else:
        for i, r in enumerate(done):
            _write(("\n" if i else "") + f"==> {r.path} <==\n"
                   + transcript.render(r.transcript.segments, args.format, r.transcript.duration, args.cues))
    for r in results:
        if r.error is not None:
            message = r.error if Path(r.path).name in r.error else f"{r.path}: {r.error}"
            sys.stderr.write(f"playground: error: {message}\n")
    return common.EXIT_FAILURE if len(done) < len(results) else common.EXIT_OK


def _write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()


def cmd_listen(args) -> int:
    from playground.core.jobs import Job
    from playground.core.runner import run_sync
    from playground.core.speech import live, sources
    from playground.core.speech.library import SpeakerNames

    if args.list_devices:
        return _list_sources(args)
    if args.speed < 0:
        raise common.UsageError("--speed must be >= 0")
    if args.record and not args.record.lower().endswith(".flac"):
        raise common.UsageError("--record writes FLAC: give a file name ending in .flac")
    if args.from_file:
        source = sources.FileSource(args.from_file, speed=args.speed, tail_silence=1.0)
    elif args.system is not None:
        source = _system_source(args.system)
        if not args.json:
            sys.stderr.write(f"Listening to '{source.name}'; press Ctrl+C to stop.\n")
    else:
        device = args.input_device
        if device is not None and device.isdigit():
            device = int(device)
        source = sources.MicrophoneSource(device=device)
        if not args.json:
            sys.stderr.write(f"Listening to '{source.name}'; press Ctrl+C to stop.\n")
    with_speakers, max_speakers = _speakers(args)
    names = SpeakerNames.parse(args.speaker_names or "")
    cancel = common.cancel_on_sigint()
    stop_event = _StopOnCancel(cancel, source)

    line = {"open": None}  # the utterance whose printed line goes on

    def sink(event) -> None:
        if isinstance(event, live.LiveText):
            if not event.text:
                return
            if event.speaker:
                event = dataclasses.replace(event, speaker=names.of(event.speaker))
            if args.json:
                common.print_json_line(event.to_dict())
            elif event.kind == "final":
                # A line's finals come as its words become final: the line is printed as they come.
                if line["open"] == event.utterance:
                    sys.stdout.write(f" {event.text}")
                else:
                    who = f"{event.speaker}: " if event.speaker else ""
                    sys.stdout.write(f"[{event.start:7.2f}] {who}{event.text}")
                sys.stdout.write("" if event.continues else "\n")
                line["open"] = event.utterance if event.continues else None
                sys.stdout.flush()
            elif sys.stderr.isatty():
                sys.stderr.write(f"\r... {event.text[-110:]:110}\r")
                sys.stderr.flush()

    # Ctrl+C behaves like Stop: recording ends, buffered audio is still transcribed.
    result = run_sync(Job(live.listen, (source,), {"model": args.model, "autosave": not args.no_autosave,
                                                        "speech_options": _options(args),
                                                        "record_to": args.record,
                                                        "speakers": with_speakers, "max_speakers": max_speakers}),
                      sink, None)
    stop_event.done()
    if args.record and result.recording is None and not result.error:
        sys.stderr.write(f"No audio was kept in {args.record} (nothing was heard, or the disk refused it).\n")
    if result.error:
        return common.fail(result.error)
    if source.error is not None:
        return common.fail(str(source.error))
    return common.EXIT_OK


def _list_sources(args) -> int:
    """Microphones (PortAudio index) and what the computer plays (--system NAME), as the Speech tab lists them."""
    from playground.core.speech import system_audio

    found = system_audio.list_sources()
    if found.mic_problem and not found.system:
        return common.fail(found.mic_problem)
    if args.json:
        common.print_json([{"kind": "microphone", **d.to_dict()} for d in found.microphones]
                       + [{"kind": "system", **s.to_dict()} for s in found.system])
        return common.EXIT_OK
    for d in found.microphones:
        print(f"{'*' if d.is_default else ' '} {d.index:3} {d.label}")
    if found.mic_problem:
        print(f"  microphones: {found.mic_problem}")
    for s in found.system:
        print(f"  --system '{s.name}'  {s.label}")
    if found.system_problem:
        print(f"  {found.system_problem}")
    return common.EXIT_OK


def _system_source(name: str):
    """The monitor whose name or description holds `name` (the first with ""); UsageError names the others."""
    from playground.core.speech import system_audio

    found = system_audio.list_sources()
    if not found.system:
        raise common.UsageError(found.system_problem or "no output whose sound can be recorded was found")
    wanted = name.strip().lower()
    matches = [s for s in found.system if wanted in s.name.lower() or wanted in s.pulse_source.lower()]
    if not matches:
        names = ", ".join(f"'{s.name}'" for s in found.system)
        raise common.UsageError(f"no output named '{name}' (there is {names})")
    return system_audio.SystemAudioSource(matches[0])


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
