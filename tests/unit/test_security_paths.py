"""Security: dataset paths and names cannot make training write outside its output folder;
the Hugging Face token never reaches the log file."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from playground.core import paths
from playground.core.errors import InputError, ModelError
from playground.core.jobs import Job, JobContext

HOSTILE_NAMES = ["../../evil", "..", "../", "/etc/passwd", "a/../../b", "~/x", "..\\..\\evil", "C:\\Windows\\x",
                 "\x00null", "", "   ", ".hidden", "-rf", "a" * 400, "\u202eevil", "con", "x/" * 40]


def _files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_model_names_from_data_stay_inside_the_models_folder(name):
    from playground.core.training.data import output_dir_for, safe_model_name

    root = paths.models_dir().resolve()
    target = output_dir_for(name)
    assert target.parent == root, (name, target)
    assert target.name == safe_model_name(name)
    assert "/" not in target.name and "\\" not in target.name and not target.name.startswith(".")


@pytest.mark.parametrize("name", ["../../evil", "/tmp/evil", "..\\..\\evil"])
def test_named_training_output_is_resolved_inside_the_models_folder(name):
    from playground.core.training.common import resolve_out

    out = resolve_out(None, name, "default", resume=False, overwrite=False)
    assert out.parent == paths.models_dir().resolve()


def test_ensure_inside_refuses_escapes(tmp_path):
    from playground.core.training.data import ensure_inside

    base = tmp_path / "models"
    base.mkdir()
    for bad in (base / ".." / "evil", base, tmp_path / "elsewhere"):
        with pytest.raises(InputError, match="outside the output folder"):
            ensure_inside(bad, base)
    outside = tmp_path / "outside"
    outside.mkdir()
    (base / "link").symlink_to(outside)
    with pytest.raises(InputError):
        ensure_inside(base / "link" / "x", base)


def test_csv_label_values_are_only_labels(tmp_path):
    from playground.core.training.data import read_table

    table = tmp_path / "data.csv"
    rows = ["text,label"] + [f"sample {i},../../x" for i in range(4)] + [f"other {i},/etc/passwd" for i in range(4)]
    table.write_text("\n".join(rows) + "\n")
    before = _files_under(tmp_path)
    data = read_table(table)
    assert data.labels == ["/etc/passwd", "../../x"] or sorted(data.labels) == ["../../x", "/etc/passwd"]
    assert _files_under(tmp_path) == before
    assert not (tmp_path.parent / "x").exists()


def _write_png(path: Path, seed: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)


@pytest.mark.slow
def test_image_training_with_hostile_class_names_writes_only_its_output(tmp_path):
    """Class folders named like paths, a dataset folder named '..evil', a symlink leaving the dataset:
    after a real (tiny) fine-tune, every new file is inside the model folder."""
    from playground.core.training.image import train_image_classifier

    world = tmp_path / "world"
    data = world / "..evil-data"
    outside = world / "outside-target"
    outside.mkdir(parents=True)
    for k, cls in enumerate(["a\\..\\..\\escape", "~root", "$HOME", "..hidden"]):
        for i in range(3):
            _write_png(data / cls / f"{i}.png", k * 10 + i)
    (data / "linked").symlink_to(outside, target_is_directory=True)
    for i in range(2):
        _write_png(outside / f"{i}.png", 100 + i)
    before = _files_under(world)
    models_root = paths.models_dir().resolve()
    models_before = _files_under(models_root)

    result = train_image_classifier(JobContext(), data, name="../../" + data.name, image_size=32, head_only=True,
                                    augment=False, epochs=1, batch_size=8, device="cpu")
    out = Path(result.model_dir)
    assert out.parent == models_root
    assert _files_under(world) == before, "training wrote into the dataset or beside it"
    new = _files_under(models_root) - models_before
    assert new and all(p.is_relative_to(out) for p in new), sorted(map(str, new))
    import json

    meta = json.loads((out / "playground_model.json").read_text())
    assert {"a\\..\\..\\escape", "~root", "$HOME"} <= set(meta["labels"])  # kept as plain text
    assert "..hidden" not in meta["labels"]  # dot folders are hidden and skipped


# -- the token never reaches the log -------------------------------------------------


@pytest.fixture
def logfile():
    from playground import logsetup

    path = logsetup.setup_logging(logging.DEBUG)
    yield path
    logsetup.shutdown_logging()


def test_hub_token_from_settings_never_reaches_the_log(logfile, settings, monkeypatch, qtbot, worker):
    """The token the user typed (no 'hf_' prefix) travels into a Hub call that fails and a job
    traceback; the log file holds none of it."""
    from playground import logsetup
    from playground.core import model_store, models
    from playground.settings import Key, apply_environment

    token = "Zq9secretTokenValue42"
    hf_like = "hf_AbCdEfGhIjKlMnOpQrStUv"
    settings.set(Key.HUB_TOKEN, token)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    apply_environment(settings)
    try:
        assert os.environ.get("HF_TOKEN") == token
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(models, "hub_cached_folder", lambda repo_id: None)

        def leaky(self, repo_id, **kw):
            raise ConnectionError(f"GET https://huggingface.co/api/models/{repo_id} "
                                  f"headers={{'authorization': 'Bearer {self.token}'}} also {hf_like}")

        monkeypatch.setattr("huggingface_hub.HfApi.model_info", leaky)
        handle = worker.submit(Job(model_store.download_model, ("org/private-model",), name="download"))
        with qtbot.waitSignal(handle.finished, timeout=20000):
            pass
        assert handle.error_message and "org/private-model" in handle.error_message
        logging.getLogger("playground.test").info("token in a message: %s and %s", token, hf_like)
        logging.getLogger("playground.test").warning("env %s", dict(HF_TOKEN=os.environ["HF_TOKEN"]))
        try:
            raise ModelError(f"failed with {token}")
        except ModelError:
            logging.getLogger("playground.test").exception("traceback with the token")
    finally:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    for h in logging.getLogger().handlers:
        h.flush()
    text = Path(logfile).read_text(encoding="utf-8")
    assert "job 'download' failed" in text  # the failure itself is logged ...
    assert "traceback with the token" in text
    assert token not in text and hf_like not in text  # ... without the token
    assert logsetup.MASK in text or "***" in text


@pytest.mark.slow
def test_text_training_with_path_like_labels_writes_only_its_output(tmp_path):
    """CSV labels '../../x' and '/tmp/evil', a table named '..evil.csv', no --out: after a real (tiny)
    fine-tune every new file is inside `<models>/<safe name>/`, and the labels are kept as text."""
    import json

    from playground.core.training.text import train_text_classifier

    world = tmp_path / "world"
    world.mkdir()
    table = world / "..evil.csv"
    rows = ["text,label"] + [f"good thing number {i},../../x" for i in range(6)] + \
        [f"bad thing number {i},/tmp/evil" for i in range(6)]
    table.write_text("\n".join(rows) + "\n")
    before = _files_under(world)
    models_root = paths.models_dir().resolve()
    models_before = _files_under(models_root)

    result = train_text_classifier(JobContext(), table, head_only=True, max_length=16, epochs=1, batch_size=8,
                                   device="cpu")
    out = Path(result.model_dir)
    assert out.parent == models_root and not out.name.startswith(".")
    assert _files_under(world) == before
    new = _files_under(models_root) - models_before
    assert new and all(p.is_relative_to(out) for p in new), sorted(map(str, new))
    assert not Path("/tmp/evil").exists() and not (tmp_path / "x").exists()
    meta = json.loads((out / "playground_model.json").read_text())
    assert sorted(meta["labels"]) == ["../../x", "/tmp/evil"]
