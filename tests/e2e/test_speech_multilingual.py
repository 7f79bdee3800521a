"""Whisper base (bundled, multilingual): languages detected, French word for word, translation
to English, word timestamps, the CLI's language/task/word options and the English-only message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech_support import speak, transcribe

from playground import cli
from playground.core.speech import accuracy, languages
from playground.core.errors import InputError

BASE = "bundled/whisper-base"
# espeak-ng's French is hard for Whisper base (its default voice is often heard as Thai or Polish);
# this phrase came out within one word in every voice and pace tried (fr+m1/m3, 120-140 words/min).
FRENCH = ("fr+m3", 130, "Merci beaucoup, je suis très content de vous voir ici ce soir.")
GERMAN = ("de", 150, "Der Hund läuft jeden Morgen durch den Park und spielt mit den anderen Hunden.")
SPANISH = ("es", 150, "El perro corre todas las mañanas por el parque y juega con los otros perros.")


@pytest.fixture(scope="module", autouse=True)
def home(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("PLAYGROUND_HOME", str(tmp_path_factory.mktemp("home")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("langs")
    return {code: speak(text, d / f"{code}.wav", voice=voice, speed=pace)
            for code, (voice, pace, text) in {"fr": FRENCH, "de": GERMAN, "es": SPANISH}.items()}


def test_languages_detected_and_french_word_for_word(clips):
    for code, clip in clips.items():
        t = transcribe(clip, model=BASE)
        assert t.language == code, (code, t.language, t.text)
        assert 0 < t.language_probability <= 1
    t = transcribe(clips["fr"], model=BASE)
    assert accuracy.word_error_rate(FRENCH[2], t.text) < 0.35, t.text
    given = transcribe(clips["fr"], model=BASE, options=languages.SpeechOptions("fr"))
    assert given.language == "fr" and given.language_probability == 1.0
    assert accuracy.word_error_rate(FRENCH[2], given.text) < 0.35, given.text


def test_translate_gives_english_words(clips, tmp_path):
    # Whisper base translates espeak's German well but not every time (once in CI it kept half the
    # sentence German): the same sentence at two paces, and one of them must come out in English.
    outs = []
    for clip in (clips["de"], speak(GERMAN[2], tmp_path / "de-slow.wav", voice=GERMAN[0], speed=130)):
        t = transcribe(clip, model=BASE, options=languages.SpeechOptions(task="translate"))
        assert t.language == "de" and t.task == "translate"
        words = set(accuracy.normalise_words(t.text))
        outs.append(t.text)
        if words & {"the", "dog", "park", "every", "morning", "and", "with"} and not words & {"der", "und", "jeden",
                                                                                                "durch"}:
            return
    raise AssertionError(f"no English translation: {outs}")


def test_word_timestamps_rise_inside_their_segment(clips):
    t = transcribe(clips["es"], model=BASE, options=languages.SpeechOptions(word_timestamps=True))
    assert t.segments and all(s.words for s in t.segments)
    for s in t.segments:
        starts = [w.start for w in s.words]
        assert starts == sorted(starts)
        assert all(s.start <= w.start <= w.end <= s.end for w in s.words)
        assert all(0 <= w.probability <= 1 for w in s.words)
    assert "".join(w.word for s in t.segments for w in s.words).strip().split()[0].lower().startswith("el")


def test_english_only_model_says_so_in_one_sentence(clips):
    with pytest.raises(InputError, match=r"English only.*whisper-base") as info:
        transcribe(clips["fr"], options=languages.SpeechOptions("fr"))
    assert str(info.value).count(". ") == 0
    with pytest.raises(InputError, match="cannot translate"):
        transcribe(clips["fr"], options=languages.SpeechOptions(task="translate"))
    with pytest.raises(InputError, match="Unknown language 'klingon'"):
        languages.SpeechOptions.parse("klingon")


def test_cli_language_task_words_and_cues(capsys, clips):
    code = cli.main(["transcribe", str(clips["es"]), "--model", BASE, "--word-timestamps", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    data = json.loads(out)
    assert {"text", "segments", "duration", "language", "language_probability"} <= set(data)
    assert data["language"] == "es" and 0 < data["language_probability"] <= 1
    assert all(set(w) == {"start", "end", "word", "probability"} for s in data["segments"] for w in s["words"])

    code = cli.main(["transcribe", str(clips["es"]), "--model", BASE, "--language", "es", "--format", "srt",
                     "--cues", "word"])
    out, _ = capsys.readouterr()
    cues = [b for b in out.strip().split("\n\n") if b]
    assert code == 0 and len(cues) >= 10 and all(len(b.splitlines()[2].split()) == 1 for b in cues)

    code = cli.main(["transcribe", str(clips["fr"]), "--language", "fr"])
    _, err = capsys.readouterr()
    assert code != 0 and "English only" in err and err.count("\n") == 1


def test_listen_takes_model_language_and_task(capsys, clips):
    code = cli.main(["listen", "--from-file", str(clips["fr"]), "--model", BASE, "--task", "translate", "--json",
                     "--no-autosave", "--speed", "0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    finals = [e for e in map(json.loads, out.splitlines()) if e.get("type") == "final" and e.get("text")]
    words = set(accuracy.normalise_words(" ".join(e["text"] for e in finals)))
    assert words & {"thank", "you", "very", "much", "happy", "see", "tonight"}, finals
    code = cli.main(["listen", "--from-file", str(clips["fr"]), "--language", "fr", "--no-autosave", "--speed", "0"])
    _, err = capsys.readouterr()
    assert code != 0 and "English only" in err
