"""Dataset loaders on small generated datasets, and the real FER2013 counts when FER2013_DIR is set."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data.datasets import (
    FER2013_SPLITS,
    GENERIC_SPLITS,
    DatasetError,
    load_class_folders,
    load_dataset,
    load_fer2013_csv,
    load_fer2013_folder,
    load_kdef,
    stratified_split,
)
from core.labels import FER2013_LABELS, parse_classes


def _write_image(path: Path, value: int, size: int = 48, color: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = np.full((size, size, 3) if color else (size, size), value, dtype=np.uint8)
    assert cv2.imwrite(str(path), image)


def make_fer_folder(root: Path, per_split: dict[str, int] | None = None,
                    labels=("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")) -> Path:
    """FER2013 folder layout: train/<emotion>/Training_<id>.jpg, test/<emotion>/{Public,Private}Test_<id>.jpg."""
    per_split = per_split or {"Training": 3, "PublicTest": 2, "PrivateTest": 1}
    n = 0
    for split, count in per_split.items():
        sub = "train" if split == "Training" else "test"
        for label in labels:
            for _ in range(count):
                _write_image(root / sub / label / f"{split}_{n}.jpg", (n * 37) % 256)
                n += 1
    return root


def test_fer2013_folder_layout(tmp_path):
    root = make_fer_folder(tmp_path / "fer")
    dataset = load_fer2013_folder(root)
    assert dataset.name == "fer2013"
    assert dataset.splits == FER2013_SPLITS
    assert dataset.labels == FER2013_LABELS
    counts = dataset.counts()
    assert list(counts.index) == list(FER2013_SPLITS)
    assert counts.loc["Training"].drop("total").tolist() == [3] * 7
    assert counts.loc["PublicTest", "total"] == 14
    assert counts.loc["PrivateTest", "total"] == 7
    record = dataset.split("PublicTest")[0]
    assert record.rel_path.startswith("test/") and "/PublicTest_" in record.rel_path
    assert dataset.read(record).shape == (48, 48)
    assert dataset.read(record, grayscale=False).shape == (48, 48, 3)
    x, y = dataset.load_arrays(dataset.split("Training"), size=32)
    assert x.shape == (21, 32, 32) and x.dtype == np.uint8
    assert Counter(y.tolist()) == {i: 3 for i in range(7)}
    # auto-detection
    assert load_dataset(root).name == "fer2013"
    assert len(load_dataset(root, kind="fer2013").records) == len(dataset.records)


def test_fer2013_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match="missing test/"):
        (tmp_path / "only_train" / "train" / "happy").mkdir(parents=True)
        load_fer2013_folder(tmp_path / "only_train")
    bad = make_fer_folder(tmp_path / "bad_prefix", {"Training": 1, "PublicTest": 1})
    _write_image(bad / "test" / "happy" / "Validation_99.jpg", 5)
    with pytest.raises(DatasetError, match="Validation_99.jpg: file name does not start with"):
        load_fer2013_folder(bad)
    unknown = make_fer_folder(tmp_path / "unknown", {"Training": 1, "PublicTest": 1})
    _write_image(unknown / "train" / "bored" / "Training_77.jpg", 5)
    with pytest.raises(DatasetError, match="bored.*unknown emotion label 'bored'"):
        load_fer2013_folder(unknown)
    with pytest.raises(DatasetError, match="no such file or directory"):
        load_dataset(tmp_path / "does_not_exist")
    with pytest.raises(DatasetError, match="unknown dataset kind 'xml'"):
        load_dataset(unknown, kind="xml")
    dataset = load_fer2013_folder(make_fer_folder(tmp_path / "ok", {"Training": 1, "PublicTest": 1}))
    with pytest.raises(DatasetError, match="no split 'PrivateTest'; splits: PublicTest, Training"):
        dataset.split("PrivateTest")


def _csv_row(emotion, pixels, usage) -> str:
    return f"{emotion},{' '.join(str(p) for p in pixels)},{usage}\n"


def test_fer2013_csv(tmp_path):
    path = tmp_path / "fer2013.csv"
    rng = np.random.default_rng(0)
    rows = [(0, "Training"), (3, "Training"), (6, "PublicTest"), (1, "PrivateTest"), (5, "Training")]
    images = [rng.integers(0, 256, 48 * 48) for _ in rows]
    path.write_text("emotion,pixels,Usage\n" + "".join(_csv_row(e, img, u) for (e, u), img in zip(rows, images)))
    dataset = load_dataset(path)  # auto-detected by suffix
    assert dataset.splits == FER2013_SPLITS
    assert [r.label for r in dataset.records] == ["angry", "happy", "neutral", "disgust", "surprise"]
    assert [r.split for r in dataset.records] == [u for _, u in rows]
    assert dataset.records[2].rel_path == "fer2013.csv#2"
    np.testing.assert_array_equal(dataset.read(dataset.records[1]), images[1].reshape(48, 48).astype(np.uint8))
    assert dataset.read(dataset.records[1], grayscale=False).shape == (48, 48, 3)
    assert len(dataset.split("Training")) == 3


@pytest.mark.parametrize("body, message", [
    ("7,{px},Training\n", "row 2: emotion 7 is not a FER2013 code"),
    ("-1,{px},Training\n", "row 2: emotion -1 is not a FER2013 code"),
    ("happy,{px},Training\n", "row 2: invalid literal"),
    ("3,1 2 3,Training\n", "row 2: 3 pixels is not a square image"),
    ("3,,Training\n", "row 2: 0 pixels is not a square image"),
    ("3,{big},Training\n", "row 2: .*out of bounds"),
    ("3,{px},Validation\n", "row 2: unknown Usage 'Validation'"),
    ("3,{px}\n", "row 2: missing columns"),
])
def test_fer2013_csv_bad_rows(tmp_path, body, message):
    px = " ".join(["7"] * 2304)
    big = " ".join(["300"] * 2304)
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n" + body.format(px=px, big=big))
    with pytest.raises(DatasetError, match=message):
        load_fer2013_csv(path)


def test_fer2013_csv_bad_header_and_empty(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("label,image\n1,2\n")
    with pytest.raises(DatasetError, match="expected columns emotion,pixels,Usage"):
        load_fer2013_csv(path)
    path.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_fer2013_csv(path)
    with pytest.raises(DatasetError, match="no such file"):
        load_fer2013_csv(tmp_path / "missing.csv")


KDEF_CODES = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
              "SU": "surprise"}


def make_kdef(root: Path, actors: int = 4, angles=("S", "HL", "FR")) -> Path:
    for session in "AB":
        for actor in range(1, actors + 1):
            sex = "F" if actor % 2 else "M"
            folder = root / f"{session}{sex}{actor:02d}"
            for code in KDEF_CODES:
                for angle in angles:
                    _write_image(folder / f"{session}{sex}{actor:02d}{code}{angle}.JPG", actor * 10, 64, color=True)
    (root / "README.txt").write_text("not an image")
    _write_image(root / "notes" / "cover.jpg", 1)  # not a KDEF name: ignored
    return root


def test_kdef(tmp_path):
    root = make_kdef(tmp_path / "KDEF")
    dataset = load_dataset(root)  # auto-detected from the file names
    assert dataset.name == "kdef" and dataset.splits == GENERIC_SPLITS
    assert len(dataset.records) == 2 * 4 * 7 * 3
    for record in dataset.records:
        code = Path(record.rel_path).stem[4:6]
        assert record.label == KDEF_CODES[code]
    frontal = load_kdef(root, frontal_only=True)
    assert len(frontal.records) == 2 * 4 * 7
    assert all(Path(r.rel_path).stem.endswith("S") for r in frontal.records)
    assert Counter(r.label for r in frontal.records) == {label: 8 for label in KDEF_CODES.values()}
    assert load_dataset(root, kind="kdef", frontal_only=True).records == frontal.records
    # lower-case names are accepted too
    _write_image(tmp_path / "lower" / "af01ans.jpg", 3)
    assert load_kdef(tmp_path / "lower").records[0].label == "angry"
    with pytest.raises(DatasetError, match="no KDEF images"):
        load_kdef(tmp_path / "KDEF" / "notes")


CK_FOLDERS = ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise")


def test_ck_plus_folders(tmp_path):
    root = tmp_path / "CK+48"
    for i, folder in enumerate(CK_FOLDERS):
        for j in range(20):
            _write_image(root / folder / f"S{i:03d}_{j:03d}.png", j)
    dataset = load_dataset(root)
    assert dataset.name == "ck+48"
    assert dataset.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise", "contempt")
    counts = dataset.counts()
    assert counts.loc["train"].drop("total").tolist() == [14] * 7
    assert counts.loc["validation"].drop("total").tolist() == [3] * 7
    assert counts.loc["test"].drop("total").tolist() == [3] * 7


def test_generic_class_folders_with_their_own_split(tmp_path):
    root = tmp_path / "mine"
    for split, n in (("train", 4), ("val", 2), ("test", 1)):
        for label in ("Happy", "SAD", "neutral"):
            for j in range(n):
                _write_image(root / split / label / f"{j}.jpg", j)
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    dataset = load_class_folders(root)
    assert dataset.labels == ("happy", "sad", "neutral")
    assert {split: len(dataset.split(split)) for split in GENERIC_SPLITS} == {"train": 12, "validation": 6, "test": 3}
    assert load_dataset(root).records == dataset.records


def test_class_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a folder with one subfolder per class"):
        load_class_folders(tmp_path / "empty")
    _write_image(tmp_path / "odd" / "boredom" / "1.jpg", 1)
    with pytest.raises(DatasetError, match="boredom: unknown emotion label"):
        load_dataset(tmp_path / "odd")
    (tmp_path / "no_images" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found"):
        load_class_folders(tmp_path / "no_images")


def test_stratified_split_is_reproducible_and_stratified():
    labels = ["happy"] * 100 + ["sad"] * 40 + ["fear"] * 20
    first = stratified_split(labels)
    assert first == stratified_split(labels)  # the fixed seed
    assert first != stratified_split(labels, seed=99)
    for label, n in (("happy", 100), ("sad", 40), ("fear", 20)):
        got = Counter(s for s, lab in zip(first, labels) if lab == label)
        n_val, n_test = round(n * 0.15), round(n * 0.15)
        assert got == {"train": n - n_val - n_test, "validation": n_val, "test": n_test}
    # the split of a folder dataset is the same every time it is loaded
    assert set(first) == set(GENERIC_SPLITS)


def test_folder_split_reproducible(tmp_path):
    root = tmp_path / "faces"
    for label in ("happy", "sad"):
        for j in range(30):
            _write_image(root / label / f"{j:02d}.png", j)
    a, b = load_class_folders(root), load_class_folders(root)
    assert [r.split for r in a.records] == [r.split for r in b.records]
    assert [r.split for r in a.records] != [r.split for r in load_class_folders(root, seed=7).records]


def test_with_classes_and_parse_classes(tmp_path):
    assert parse_classes("happy,sad,angry") == ("happy", "sad", "angry")
    assert parse_classes(" Happiness , SADNESS,anger ") == ("happy", "sad", "angry")
    assert parse_classes("") is None and parse_classes(None) is None
    with pytest.raises(ValueError, match="duplicate class"):
        parse_classes("happy,joy")
    with pytest.raises(ValueError, match="unknown emotion label 'bored'"):
        parse_classes("happy,bored")
    dataset = load_fer2013_folder(make_fer_folder(tmp_path / "fer"))
    subset = dataset.with_classes(parse_classes("happy,sad,angry"))
    assert subset.labels == ("angry", "happy", "sad")
    assert {r.label for r in subset.records} == {"angry", "happy", "sad"}
    assert len(subset.records) == 3 * 6
    assert dataset.with_classes(None) is dataset
    small = dataset.with_classes(("happy",))
    with pytest.raises(DatasetError, match="has no images of sad"):
        small.with_classes(("happy", "sad"))


# The table in /work/shared/datasets/README.md.
FER2013_COUNTS = {
    "Training": {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "neutral": 4965, "sad": 4830,
                 "surprise": 3171, "total": 28709},
    "PublicTest": {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "neutral": 607, "sad": 653,
                   "surprise": 415, "total": 3589},
    "PrivateTest": {"angry": 491, "disgust": 55, "fear": 528, "happy": 879, "neutral": 626, "sad": 594,
                    "surprise": 416, "total": 3589},
}


@pytest.mark.dataset
def test_fer2013_counts_match_the_readme(fer2013_dir):
    dataset = load_dataset(fer2013_dir)
    assert dataset.name == "fer2013"
    counts = dataset.counts()
    assert list(counts.index) == list(FER2013_SPLITS)
    got = {split: {label: int(counts.loc[split, label]) for label in counts.columns} for split in counts.index}
    assert got == FER2013_COUNTS
