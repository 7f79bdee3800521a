"""Sound classes end to end: espeak-ng "yes" / "no" / "stop" in several voices and speeds plus noise,
the real Whisper tiny.en features, the head trained by the shared loop; held out: voices never used."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sound_support as ss

from playground import cli
from playground.core.jobs import Job
from playground.core.runner import run_sync


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from playground.core.training.sound import train_sound_classifier

    root = tmp_path_factory.mktemp("sound")
    train = ss.make_word_folder(root / "train", speeds=(130, 175), seed=0)
    held = ss.make_word_folder(root / "held", voices=ss.HELD_OUT_VOICES, speeds=(120, 160, 200), noise_clips=6,
                               seed=1)
    result = run_sync(Job(train_sound_classifier, (train, root / "model"), {}))
    return result, held


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_held_out_voices_are_recognised(trained):
    from playground.core import models, sound, tasks

    result, held = trained
    meta = models.read_marker(Path(result.model_dir))
    assert meta["task"] == "audio-classification" and meta["features"] == "whisper"
    assert sorted(meta["labels"]) == sorted([*ss.WORDS, ss.NOISE_CLASS])
    clf = sound.load_classifier(result.model_dir)
    files = ss.labelled_files(held)
    probs = clf.scores([sound.load_clip(p) for p, _ in files])
    predicted = [clf.labels[i] for i in probs.argmax(1)]
    accuracy = sum(p == t for p, (_, t) in zip(predicted, files, strict=True)) / len(files)
    print(f"held-out accuracy {accuracy:.3f} on {len(files)} clips")
    assert accuracy >= 0.9
    assert tasks.trained_by("sound").id == "audio-classification"


@pytest.mark.slow
def test_classify_sound_cli_json_is_shaped_like_classify_image(trained, tmp_path, capsys):
    result, held = trained
    good = held / "yes" / min(p.name for p in (held / "yes").iterdir())
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio at all")
    code = cli.main(["classify-sound", "--model", result.model_dir, str(good), str(bad), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_FAILURE  # one input failed; the other is still printed
    assert [set(r) for r in out] == [{"path", "predictions"}, {"path", "error"}]
    first = out[0]
    assert first["path"] == str(good)
    assert [set(p) for p in first["predictions"]] == [{"label", "score"}] * 4
    assert first["predictions"][0]["label"] == "yes"
    assert abs(sum(p["score"] for p in first["predictions"]) - 1.0) < 1e-3
    code = cli.main(["classify-sound", "--model", result.model_dir, str(held / "stop"), "--top-k", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_OK and all(len(r["predictions"]) == 1 for r in out)


def test_a_folder_without_classes_and_a_wrong_model_say_why(tmp_path, capsys):
    from playground.core.errors import InputError
    from playground.core.training import data as tdata

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no class sub-folders"):
        tdata.scan_sound_folder(tmp_path / "empty")
    clip = tmp_path / "x.wav"  # a real clip: a missing one is reported first, before any model is read
    sf.write(clip, np.zeros(1600, dtype=np.float32), 16000)
    code = cli.main(["classify-sound", "--model", str(tmp_path / "empty"), str(clip), "--json"])
    assert code == cli.EXIT_FAILURE and "not a sound classifier" in capsys.readouterr().err
    code = cli.main(["classify-sound", "--model", str(tmp_path / "empty"), str(tmp_path / "missing.wav")])
    assert code == cli.EXIT_FAILURE and "missing.wav: file not found." in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_and_the_picker_take_a_sound_classifier(trained, capsys):
    from playground.core import models, tasks

    result, held = trained
    code = cli.main(["evaluate", "--model", result.model_dir, str(held), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == cli.EXIT_OK and out["accuracy"] >= 0.9
    n = sum(sum(row) for row in out["confusion"])
    assert n == len(ss.labelled_files(held)) == sum(c["support"] for c in out["per_class"].values())
    assert len(out["misclassified"]) == n - sum(out["confusion"][i][i] for i in range(len(out["labels"])))
    assert all("path" in m for m in out["misclassified"])
    import shutil

    from playground.core import paths

    shutil.copytree(result.model_dir, paths.models_dir() / "words-sounds")
    served = tasks.models_for("audio-classification", tasks.catalog(include_hub=False))
    assert [e.source for e in served] == ["finetuned"] and served[0].location.endswith("words-sounds")
