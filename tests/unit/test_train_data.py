"""Data checks before training: one clear sentence per problem, warnings for soft problems,
and output names that can never leave the output folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.core.errors import InputError
from playground.core.training import data as tdata
from playground.core.training import preview as tpreview


def _png(path: Path, value: int = 0) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (value, value, value)).save(path)


def _classes(root: Path, counts: dict[str, int]) -> Path:
    for name, n in counts.items():
        for i in range(n):
            _png(root / name / f"{i}.png", i * 10)
    return root


def test_image_folder_ok_with_non_images_skipped_and_counted(tmp_path):
    root = _classes(tmp_path / "d", {"cat": 3, "dog": 3})
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "empty.png").write_bytes(b"")
    (root / "dog" / ".hidden.png").write_bytes(b"x")
    data = tdata.scan_image_folder(root)
    assert data.labels == ["cat", "dog"] and data.counts == {"cat": 3, "dog": 3}
    assert data.skipped == 2
    assert data.warnings[0].startswith("Skipped 2 files that are not images")


@pytest.mark.parametrize("setup, message", [
    (lambda r: r.mkdir(), "the folder is empty"),
    (lambda r: _classes(r, {"only": 4}), "only one class ('only')"),
    (lambda r: _classes(r, {"a": 3, "b": 1}), "class 'b' has fewer than 2 examples"),
    (lambda r: [_png(r / f"{i}.png") for i in range(3)], "no class sub-folders"),
    (lambda r: (r / "a").mkdir(parents=True) or (r / "a" / "x.txt").write_text("x"), "contain no images"),
])
def test_image_folder_problems_are_one_sentence(tmp_path, setup, message):
    root = tmp_path / "data"
    setup(root)
    with pytest.raises(InputError) as info:
        tdata.scan_image_folder(root)
    text = str(info.value)
    assert message in text and text.startswith("data:") and "\n" not in text


def test_missing_folder_and_a_file_instead_of_a_folder(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        tdata.scan_image_folder(tmp_path / "nope")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(InputError, match="is a file"):
        tdata.scan_image_folder(tmp_path / "f.png")


def test_imbalance_is_a_warning_not_an_error(tmp_path):
    data = tdata.scan_image_folder(_classes(tmp_path / "d", {"big": 12, "small": 2}))
    assert any("Strong class imbalance" in w and "'small' only 2" in w for w in data.warnings)


def test_unreadable_images_are_dropped_and_counted(tmp_path):
    root = _classes(tmp_path / "d", {"a": 3, "b": 3})
    data = tdata.scan_image_folder(root)
    out = tdata.drop_unreadable(data, [0])
    assert out.skipped == 1 and len(out.files) == 5 and out.counts == {"a": 2, "b": 3}
    assert out.warnings[0].startswith("Skipped 1 file that is not a readable image")
    with pytest.raises(InputError, match="fewer than 2"):
        tdata.drop_unreadable(data, [0, 1])


def _csv(tmp_path, text, name="t.csv", mode="w"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_table_with_guessed_and_chosen_columns_and_skipped_rows(tmp_path):
    path = _csv(tmp_path, "id,review,stars,sentiment\n1,great,5,pos\n2,awful,1,neg\n3,,3,pos\n4,nice,4,pos\n"
                          "5,bad,2,neg\n")
    data = tdata.read_table(path)
    assert (data.text_column, data.label_column) == ("review", "sentiment")
    assert data.texts == ["great", "awful", "nice", "bad"] and data.labels == ["neg", "pos"]
    assert data.skipped == 1 and data.warnings[0] == "Skipped 1 row with an empty text or label."
    cols, t, lab = tdata.table_columns(path)
    assert cols == ["id", "review", "stars", "sentiment"] and (t, lab) == ("review", "sentiment")


def test_tsv_and_semicolon_tables(tmp_path):
    tsv = _csv(tmp_path, "text\tlabel\nhello there\ta\nbye now\tb\nhi\ta\nciao\tb\n", "t.tsv")
    assert tdata.read_table(tsv).labels == ["a", "b"]
    semi = _csv(tmp_path, "text;label\nhello, there;a\nbye;b\nhi;a\nciao;b\n", "s.csv")
    assert tdata.read_table(semi).texts[0] == "hello, there"


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\x00\x01\x02binary", "binary file"),
    (b"text\nonly one column\n", "needs at least two columns"),
    (b"text,label\n", "no data rows"),
    (b"text,label\nhello,a\nbye,a\n", "only one class ('a')"),
    (b"text,label\nhello,a\nbye,b\nok,a\n", "class 'b' has fewer than 2 examples"),
])
def test_table_problems_are_one_sentence(tmp_path, content, message):
    path = _csv(tmp_path, content)
    with pytest.raises(InputError) as info:
        tdata.read_table(path)
    assert message in str(info.value) and str(info.value).startswith("t.csv:")


def test_missing_label_column_names_the_columns(tmp_path):
    path = _csv(tmp_path, "text,label\nhello,a\nbye,b\n")
    with pytest.raises(InputError, match=r"no label column 'sentiment'; its columns are: text, label\."):
        tdata.read_table(path, label_column="sentiment")


def test_text_file_checks(tmp_path):
    assert len(tdata.read_text_file(_csv(tmp_path, "abc " * 100, "a.txt"))) == 400
    with pytest.raises(InputError, match="the file is empty"):
        tdata.read_text_file(_csv(tmp_path, "  \n", "e.txt"))
    with pytest.raises(InputError, match="at least 200"):
        tdata.read_text_file(_csv(tmp_path, "short", "s.txt"))
    with pytest.raises(InputError, match="not UTF-8"):
        tdata.read_text_file(_csv(tmp_path, b"\xff\xfe\xfa" * 100, "b.txt"))


def test_stratified_split_keeps_every_class_in_training():
    targets = [0] * 10 + [1] * 2 + [2] * 30
    train, val = tdata.split_indices(targets, 0.2, seed=1)
    assert sorted(train + val) == list(range(len(targets)))
    assert {targets[i] for i in train} == {0, 1, 2} and {targets[i] for i in val} == {0, 1, 2}
    assert tdata.split_indices(targets, 0.2, seed=1) == (train, val)
    with pytest.raises(InputError, match="validation share"):
        tdata.split_indices(targets, 0.0)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "..", ".", "a/../../b", "~/x", "C:\\win",
                                  "名前", "", "   ", ".hidden", "a" * 300])
def test_output_names_never_leave_the_models_folder(tmp_path, name):
    target = tdata.output_dir_for(name, tmp_path)
    assert target.parent == tmp_path.resolve()
    assert not target.name.startswith(".") and "/" not in target.name and target.name not in ("", ".", "..")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_name_stays_inside(name):
    root = Path("/tmp/playground-names-root")
    target = tdata.output_dir_for(name, root)
    assert target.parent == root.resolve() and 0 < len(target.name) <= 64


def test_unique_output_dir_adds_a_number(tmp_path):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits-2").mkdir()
    assert tdata.unique_output_dir("digits", tmp_path).name == "digits-3"


def test_preview_for_each_kind(tmp_path):
    root = _classes(tmp_path / "pets", {"cat": 2, "dog": 2})
    p = tpreview.preview(None, "image", root)
    assert p.summary == "4 images in 2 classes" and p.suggested_name == "pets-classifier"
    table = _csv(tmp_path, "sentence,label\nhello,a\nbye,b\nhi,a\nciao,b\n")
    p = tpreview.preview(None, "text", table)
    assert p.columns == ["sentence", "label"] and p.text_column == "sentence" and p.counts == {"a": 2, "b": 2}
    assert tpreview.guess_kind(root) == "image" and tpreview.guess_kind(table) == "text"
    (tmp_path / "book.txt").write_text("once upon a time")
    assert tpreview.guess_kind(tmp_path / "book.txt") == "charlm"
    assert tpreview.guess_kind(tmp_path / "missing.txt") is None  # cannot tell: the job stays as chosen
