"""Labelled faces from an in-memory zip: layouts, evaluation through the unchanged evaluate(), every bad zip
the issue lists (one-line ArchiveError, nothing crashes), and nothing written to disk.

Faces come from a small FER2013 sample when FER2013_DIR is set, synthetic PNGs otherwise.
"""
from __future__ import annotations

import io
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data.archive import (
    DEFAULT_LIMITS,
    ArchiveError,
    Limits,
    load_labelled,
    read_archive,
    read_entry,
    with_split,
)
from core.data.datasets import DatasetError
from core.data.inmemory import (
    ALL,
    InMemoryDataset,
    excluded_counts,
    excluded_note,
    scoreable,
)
from core.labels import FER2013_LABELS

LABELS = ("angry", "happy", "sad", "neutral")


def synthetic_face(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    cv2.circle(image, (24, 24), 10 + seed % 8, 255, -1)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


@pytest.fixture(scope="module")
def faces() -> dict[str, list[tuple[str, bytes]]]:
    """3 images per label: ``{label: [(file name, bytes), ...]}``."""
    root = os.environ.get("FER2013_DIR")
    out = {}
    for i, label in enumerate(LABELS):
        folder = Path(root) / "test" / label if root else None
        if folder is not None and folder.is_dir():
            files = sorted(folder.iterdir())[:3]
            out[label] = [(f.name, f.read_bytes()) for f in files]
        else:
            out[label] = [(f"PublicTest_{i}{j}.png", synthetic_face(10 * i + j)) for j in range(3)]
    return out


def make_zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def class_folder_zip(faces, top: str = "", names: dict | None = None) -> bytes:
    names = names or {}
    return make_zip({f"{top}{names.get(label, label)}/{name}": data
                     for label, items in faces.items() for name, data in items})


def assert_one_line_error(data: bytes, match: str, limits: Limits = DEFAULT_LIMITS) -> ArchiveError:
    with pytest.raises(ArchiveError, match=match) as info:
        read_archive(data, limits=limits)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)
    return info.value


# ---------------------------------------------------------------- layouts

def test_class_folders_nested_under_a_top_folder(faces):
    dataset = read_archive(class_folder_zip(faces, top="my faces/"), name="mine")
    assert isinstance(dataset, InMemoryDataset)
    assert dataset.layout == "folders" and dataset.name == "mine"
    assert dataset.class_counts() == {"angry": 3, "happy": 3, "sad": 3, "neutral": 3}
    assert {r.split for r in dataset.records} == {ALL} and len(dataset.split(ALL)) == 12
    assert all(r.rel_path.startswith("my faces/") for r in dataset.records)
    gray, bgr = dataset.read(dataset.records[0]), dataset.read(dataset.records[0], grayscale=False)
    assert gray.dtype == np.uint8 and gray.ndim == 2 and bgr.shape == (*gray.shape, 3)
    assert dataset.notes == []


def test_folder_names_any_alias_the_labels_know(faces):
    aliases = {"angry": "Anger", "happy": "happiness", "sad": "SADNESS", "neutral": "calm"}
    dataset = read_archive(class_folder_zip(faces, names=aliases))
    assert dataset.labels == ("angry", "happy", "sad", "neutral")


def test_fer2013_layout_keeps_its_splits():
    entries = {}
    for i, label in enumerate(LABELS):
        entries[f"fer/train/{label}/Training_{i}.png"] = synthetic_face(i)
        entries[f"fer/test/{label}/PublicTest_{i}.png"] = synthetic_face(10 + i)
        entries[f"fer/test/{label}/PrivateTest_{i}.png"] = synthetic_face(20 + i)
    dataset = read_archive(make_zip(entries))
    assert dataset.layout == "fer2013"
    assert {r.split for r in dataset.records} == {"Training", "PublicTest", "PrivateTest"}
    private = with_split(dataset, "PrivateTest")
    assert len(private.split(ALL)) == 4 and all(r.split == "PrivateTest" for r in private.records)
    assert private.blobs is dataset.blobs


def test_split_folders_without_fer_names():
    entries = {f"{split}/{label}/{split}{i}.png": synthetic_face(i)
               for i, label in enumerate(LABELS) for split in ("train", "val", "test")}
    dataset = read_archive(make_zip(entries))
    assert dataset.layout == "split-folders"
    assert {r.split for r in dataset.records} == {"train", "validation", "test"}


def test_kdef_names_anywhere():
    entries = {f"KDEF/{actor}/{actor}{code}S.JPG": synthetic_face(i)
               for i, (actor, code) in enumerate([("AF01", "HA"), ("AF01", "SA"), ("BM02", "AN"), ("BM02", "NE")])}
    entries["KDEF/readme.txt"] = b"KDEF"
    dataset = read_archive(make_zip(entries))
    assert dataset.layout == "kdef"
    assert {r.rel_path.rsplit("/", 1)[1]: r.label for r in dataset.records} == {
        "AF01HAS.JPG": "happy", "AF01SAS.JPG": "sad", "BM02ANS.JPG": "angry", "BM02NES.JPG": "neutral"}
    assert dataset.skipped == {"non-image files": 1}


def test_ck_plus_folders_keep_contempt_counted_but_out_of_a_7_class_model(faces):
    names = {"angry": "anger", "happy": "happy", "sad": "sadness", "neutral": "contempt"}
    dataset = read_archive(class_folder_zip(faces, top="CK+48/", names=names))
    assert dataset.class_counts() == {"angry": 3, "happy": 3, "sad": 3, "contempt": 3}
    assert excluded_counts(dataset.records, FER2013_LABELS) == {"contempt": 3}
    view, note = scoreable(dataset, FER2013_LABELS, "fer_minixception")
    assert view.labels == ("angry", "happy", "sad") and isinstance(view, InMemoryDataset)
    assert note == ("fer_minixception has no contempt class: 3 contempt images left out of its accuracy and F1 "
                    "(still counted per class)")
    assert scoreable(dataset, FER2013_LABELS + ("contempt",))[1] is None
    assert excluded_note({}, "cnn") is None
    with pytest.raises(DatasetError, match="knows none of the labels"):
        scoreable(dataset, ("fear", "disgust"), "odd")


class MeanBrightness:
    """A stand-in classifier (not a model): brightness decides, so predictions are known and fixed."""

    name, kind, labels = "brightness", "stub", FER2013_LABELS

    def predict(self, faces):
        out = np.full((len(faces), 7), 0.01)
        for i, face in enumerate(faces):
            out[i, int(face.mean()) % 7] = 0.94
        return out


def test_evaluate_runs_unchanged_on_the_in_memory_dataset(faces):
    from sklearn.metrics import accuracy_score, f1_score

    from core.evaluation.evaluate import evaluate

    dataset = read_archive(class_folder_zip(faces), name="upload")
    metrics = evaluate(MeanBrightness(), dataset, ALL, out_dir=None, progress=False)
    truth = [r.label for r in dataset.records]
    predicted = [FER2013_LABELS[int(dataset.read(r, grayscale=False).mean()) % 7] for r in dataset.records]
    assert metrics["n_images"] == 12 and metrics["dataset"]["name"] == "upload"
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    present = sorted(set(truth))  # macro F1 averages the classes with a true face (issue 26)
    assert metrics["macro_f1"] == pytest.approx(f1_score(truth, predicted, labels=present, average="macro",
                                                         zero_division=0))


def test_folder_and_zip_paths_on_the_server(tmp_path, faces):
    for label, items in faces.items():
        (tmp_path / "faces" / label).mkdir(parents=True)
        for name, data in items:
            (tmp_path / "faces" / label / name).write_bytes(data)
    folder = load_labelled(tmp_path / "faces")
    assert folder.layout == "folders" and len(folder.split(ALL)) == 12
    assert folder.read(folder.records[0]).ndim == 2
    zipped = tmp_path / "faces.zip"
    zipped.write_bytes(class_folder_zip(faces))
    from_path = load_labelled(zipped)
    assert from_path.name == "faces" and from_path.class_counts() == folder.class_counts()
    upload = io.BytesIO(class_folder_zip(faces))
    upload.name = "Holiday.zip"
    assert load_labelled(upload).name == "holiday"
    with pytest.raises(ArchiveError, match="no such file or directory"):
        load_labelled(tmp_path / "absent")
    (tmp_path / "one" / "happy").mkdir(parents=True)
    (tmp_path / "one" / "happy" / "a.png").write_bytes(faces["happy"][0][1])
    with pytest.raises(ArchiveError, match="only one class"):
        load_labelled(tmp_path / "one")


# ---------------------------------------------------------------- bad input

def test_not_a_zip_and_truncated_zip(faces):
    assert_one_line_error(b"\x89PNG\r\n\x1a\n not a zip", "not a zip archive")
    assert_one_line_error(b"", "not a zip archive")
    assert_one_line_error(class_folder_zip(faces)[:-30], "not a zip archive|corrupt")


def test_ratio_bomb_refused_from_the_central_directory(faces):
    entries = {f"happy/{n}": d for n, d in faces["happy"]} | {f"sad/{n}": d for n, d in faces["sad"]}
    entries["sad/bomb.png"] = b"\0" * (3 * 2**20)  # deflates about 1000x
    assert_one_line_error(make_zip(entries), r"expands \d+x \(limit 100x\): refusing a possible zip bomb")


def test_total_size_and_per_file_limits(faces):
    data = class_folder_zip(faces, top="x/")
    assert_one_line_error(data, "unpacks to .* the limit is", Limits(max_total_bytes=1000))
    big = make_zip({"happy/a.png": os.urandom(5000), "sad/b.png": os.urandom(10)}, zipfile.ZIP_STORED)
    assert_one_line_error(big, "the limit per file is", Limits(max_entry_bytes=4096))


def test_bounded_read_enforces_the_budget_whatever_the_headers_say(faces):
    data = make_zip({"happy/a.png": os.urandom(5000)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.infolist()[0]
        assert len(read_entry(archive, info, budget=10_000)) == 5000
        with pytest.raises(ArchiveError, match="more than its declared or allowed size"):
            read_entry(archive, info, budget=4000)


def test_central_directory_that_understates_sizes_is_caught(faces):
    data = bytearray(class_folder_zip(faces))
    at = data.find(b"PK\x01\x02")  # first central-directory header; uncompressed size at offset 24
    struct.pack_into("<I", data, at + 24, 10)
    assert_one_line_error(bytes(data), "corrupt zip")


def test_too_many_files():
    assert DEFAULT_LIMITS.max_files == 20_000
    entries = {f"{'happy' if i % 2 else 'sad'}/{i}.png": b"x" for i in range(11)}
    assert_one_line_error(make_zip(entries), "holds 11 files; the limit is 10", Limits(max_files=10))


def test_nested_zips_ignored_with_a_note(faces):
    inner = class_folder_zip(faces)
    dataset = read_archive(make_zip({"inner.zip": inner, "more/x.tar.gz": b"tar"} | {
        f"{label}/{n}": d for label, items in faces.items() for n, d in items}))
    assert len(dataset.records) == 12 and dataset.skipped["nested archives (not opened)"] == 2
    assert any("nested archives" in note for note in dataset.notes)
    assert_one_line_error(make_zip({"inner.zip": inner}), "no labelled face images found.*nested archives")
    disguised = make_zip({"happy/a.png": inner, "sad/b.png": inner})
    assert_one_line_error(disguised, "no labelled face images found.*not readable images")


def test_path_traversal_names_are_ignored(faces):
    entries = {f"{label}/{n}": d for label, items in faces.items() for n, d in items}
    entries |= {"../happy/evil.png": faces["happy"][0][1], "/etc/sad/abs.png": faces["sad"][0][1],
                "C:\\sad\\win.png": faces["sad"][0][1], "happy/../../up.png": faces["happy"][0][1]}
    dataset = read_archive(make_zip(entries))
    assert len(dataset.records) == 12
    assert dataset.skipped["unsafe names (absolute or '..')"] == 4
    assert not any(".." in r.rel_path or r.rel_path.startswith("/") for r in dataset.records)


def test_non_images_unknown_folders_and_empty_classes_are_noted(faces):
    entries = {f"data/{label}/{n}": d for label, items in faces.items() for n, d in items}
    entries |= {"data/happy/notes.txt": b"hi", "data/sad/fake.jpg": b"not a jpeg",
                "data/sad/truncated.png": faces["sad"][0][1][:60],
                "data/cats/c.png": faces["sad"][0][1], "data/fear/": b"", "data/surprise/info.csv": b"a,b",
                "__MACOSX/data/._x.png": b"x",
                "data/.DS_Store": b"x", "data/loose.png": faces["sad"][0][1]}
    dataset = read_archive(make_zip(entries))
    assert len(dataset.records) == 12
    assert dataset.skipped["non-image files"] == 2 and dataset.skipped["files that are not readable images"] == 2
    assert dataset.skipped["system files"] == 2 and dataset.skipped["unlabelled"] == 2
    notes = " | ".join(dataset.notes)
    assert "not emotion folders, skipped: (not in a class folder) (1 file), cats (1 file)" in notes
    assert "empty classes (no images): fear, surprise" in notes
    assert "loose.png" not in {r.rel_path for r in dataset.records}


def test_single_class_and_no_images_refused(faces):
    one = make_zip({f"happy/{n}": d for n, d in faces["happy"]})
    assert_one_line_error(one, r"only one class \(happy, 3 images\): accuracy needs at least 2 classes")
    assert_one_line_error(make_zip({"readme.txt": b"hi"}), "no labelled face images found")
    assert_one_line_error(make_zip({}), "no labelled face images found")


def test_encrypted_entries_are_skipped(faces):
    data = bytearray(class_folder_zip(faces))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # mark the first entry encrypted in both headers
        at = data.find(header)
        flag_at = at + (6 if header == b"PK\x03\x04" else 8)
        struct.pack_into("<H", data, flag_at, struct.unpack_from("<H", data, flag_at)[0] | 0x1)
    dataset = read_archive(bytes(data))
    assert dataset.skipped == {"encrypted entries": 1} and len(dataset.records) == 11


def test_nothing_written_to_disk(faces, tmp_path, monkeypatch):
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # our own temp dir: /tmp is shared
    monkeypatch.chdir(tmp_path)
    watched = [Path(tempfile.gettempdir()), tmp_path]
    before = {d: sorted(os.listdir(d)) for d in watched}

    def refuse(*args, **kwargs):
        raise AssertionError("extraction attempted")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    dataset = read_archive(class_folder_zip(faces, top="x/"))
    for record in dataset.records:
        dataset.read(record)
    for bad in (b"junk", make_zip({"../a.png": b"x", "a.zip": b"PK"})):
        with pytest.raises(ArchiveError):
            read_archive(bad)
    assert {d: sorted(os.listdir(d)) for d in watched} == before
