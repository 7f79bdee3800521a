"""Which moments decided a sound class: occlusion over time points at the beep in a second of noise."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

import explain_support as es
from playground.core.errors import InputError
from playground.core.explain import sound as explain_sound
from playground.core.jobs import JobContext


@pytest.fixture(scope="module")
def beeps(tmp_path_factory):
    return es.train_beep_classifier(tmp_path_factory.mktemp("beeps") / "beeps")


@pytest.mark.parametrize("at", [0.1, 0.45, 0.75])
def test_the_moment_that_decided_is_the_beep(beeps, tmp_path, at):
    path = tmp_path / "clip.wav"
    soundfile.write(path, es.beep_clip(at, seed=999), 16000)
    result = explain_sound.explain(JobContext(), str(path), beeps)
    assert result.label == "beep" and result.method == "occlusion"
    assert result.importance.shape == (100,) and result.clip.shape == (16000,)
    assert at - 0.05 <= result.peak_time <= at + 0.2  # inside the 0.15 s beep (10 ms bins, 0.1 s windows)
    # a 0.1 s window hides part of the beep from 0.1 s before it to its end: that stretch holds the mass
    near = result.importance[max(0, int((at - 0.1) * 100)):int((at + 0.15) * 100)]
    assert near.sum() > 0.9 * np.clip(result.importance, 0, None).sum()


def test_another_class_and_an_unknown_one(beeps):
    clip = es.beep_clip(0.3, seed=5)
    noise = explain_sound.explain_samples(JobContext(), clip, beeps, "background noise")
    assert noise.label == "background noise"
    assert noise.importance[30:45].mean() < 0  # the beep speaks against 'background noise'
    with pytest.raises(InputError, match="'music' is not one of the classes"):
        explain_sound.explain_samples(JobContext(), clip, beeps, "music")
