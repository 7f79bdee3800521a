"""What a recogniser can be asked: the spoken language and the task, and the rule on English-only models.

The rule lives here once: the Speech tab checks a model's id before it starts a job
(`options_problem`), and the recognisers check the loaded model again (`check_options`, which
also catches a Hub model whose id does not say it is English-only). Nothing here loads numpy,
so the tab can use it before its first paint.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.core.errors import InputError

DEFAULT_MODEL = "bundled/whisper-tiny.en"  # English only
MULTILINGUAL_MODEL = "bundled/whisper-base"
TASKS = ("transcribe", "translate")
# The languages the Speech tab's picker lists first (any of Whisper's 99 codes can be typed); None: detect it.
LANGUAGES: tuple[tuple[str | None, str], ...] = (
    (None, "Auto-detect"), ("en", "English"), ("fr", "French"), ("de", "German"), ("es", "Spanish"),
    ("it", "Italian"), ("pt", "Portuguese"), ("nl", "Dutch"), ("pl", "Polish"), ("ru", "Russian"),
    ("uk", "Ukrainian"), ("tr", "Turkish"), ("ar", "Arabic"), ("hi", "Hindi"), ("zh", "Chinese"),
    ("ja", "Japanese"), ("ko", "Korean"), ("sv", "Swedish"), ("lv", "Latvian"),
)
LANGUAGE_NAMES = {code: name for code, name in LANGUAGES if code}
_MULTILINGUAL_CHOICE = f"Whisper base ({MULTILINGUAL_MODEL}, multilingual)"


@dataclass(frozen=True)
class SpeechOptions:
    """What to ask the recogniser: the spoken language (None: detect it), the task, word times."""

    language: str | None = None
    task: str = "transcribe"  # or "translate": any language to English text
    word_timestamps: bool = False
    # Live decodes: one decode at temperature 0 (no fallback re-decodes, which cost seconds) with a
    # bounded number of tokens, and a segment that loops ("see you next time, see you next time...")
    # is dropped rather than shown: live text must come in time.
    live: bool = False

    @classmethod
    def parse(cls, language: str | None = None, task: str | None = None,
              word_timestamps: bool = False) -> SpeechOptions:
        """From user text: `language` "auto"/None/"" or a code such as "fr"; one sentence when unknown."""
        code = (language or "").strip().lower()
        code = None if code in ("", "auto") else code
        if code is not None and code not in language_codes():
            raise InputError(f"Unknown language '{language}': give a code such as en, fr, de, es (or auto).")
        task = (task or "transcribe").strip().lower()
        if task not in TASKS:
            raise InputError(f"Unknown task '{task}': use transcribe or translate.")
        return cls(code, task, bool(word_timestamps))


def language_codes() -> tuple[str, ...]:
    """The language codes multilingual Whisper knows (99)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(_LANGUAGE_CODES)


def english_only(model: str) -> bool:
    """What a model's id says: the bundled tiny.en and *.en Hub ids understand English only."""
    return model.rstrip("/").lower().endswith(".en")


def options_problem(model: str, language: str | None, task: str, multilingual: bool | None = None) -> str:
    """One sentence when an English-only model is asked for another language or a translation ("" if fine).

    `multilingual`: what the loaded model says of itself (None: judge by `model`'s id)."""
    if multilingual is None:
        multilingual = not english_only(model)
    if multilingual:
        return ""
    name = model.removeprefix("bundled/")
    if language not in (None, "en"):
        return (f"{name} understands English only: choose {_MULTILINGUAL_CHOICE} "
                f"to transcribe {LANGUAGE_NAMES.get(language, language)}.")
    if task == "translate":
        return f"{name} understands English only and cannot translate: choose {_MULTILINGUAL_CHOICE}."
    return ""


def check_options(recognizer, options: SpeechOptions | None) -> None:
    """InputError (one sentence) when a loaded English-only recogniser is asked for what it cannot do."""
    if options is None:
        return
    problem = options_problem(recognizer.model_id, options.language, options.task,
                              getattr(recognizer, "multilingual", True))
    if problem:
        raise InputError(problem)
