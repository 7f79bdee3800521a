"""Which tab a dropped path belongs to."""

from __future__ import annotations

from playground.ui import drop_router


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_files_by_type(tmp_path):
    cases = {"cat.JPG": "image", "scan.tiff": "image", "talk.wav": "speech", "song.mp3": "speech",
             "memo.flac": "speech", "data.csv": "train", "data.tsv": "train", "lines.txt": "train",
             "weights.bin": None, "README": None}
    for name, target in cases.items():
        assert drop_router.classify_path(touch(tmp_path / name)) == target, name


def test_folders(tmp_path):
    classes = tmp_path / "digits"
    for label in ("zero", "one", "two"):
        for i in range(2):
            touch(classes / label / f"{i}.png")
    assert drop_router.classify_path(classes) == "train"

    photos = tmp_path / "photos"
    for i in range(3):
        touch(photos / f"p{i}.jpg")
    touch(photos / "notes.txt")
    assert drop_router.classify_path(photos) == "image"

    recordings = tmp_path / "recordings"
    touch(recordings / "a.wav")
    touch(recordings / "b.ogg")
    assert drop_router.classify_path(recordings) == "speech"

    texts = tmp_path / "sentiment"
    touch(texts / "pos" / "1.txt")
    touch(texts / "neg" / "1.txt")
    assert drop_router.classify_path(texts) == "train"

    one_sub = tmp_path / "album"
    touch(one_sub / "2024" / "a.png")
    assert drop_router.classify_path(one_sub) is None  # one sub-folder only and nothing loose

    empty = tmp_path / "empty"
    empty.mkdir()
    assert drop_router.classify_path(empty) is None


def test_mixed_drop_is_split_and_main_target_has_most(tmp_path):
    paths = [touch(tmp_path / "a.png"), touch(tmp_path / "b.wav"), touch(tmp_path / "c.jpg"),
             touch(tmp_path / "d.csv"), touch(tmp_path / "e.exe")]
    routing = drop_router.classify(paths)
    assert routing.groups == {"image": [str(paths[0]), str(paths[2])], "speech": [str(paths[1])],
                              "train": [str(paths[3])]}
    assert routing.unknown == [str(paths[4])]
    assert routing.main_target == "image"
