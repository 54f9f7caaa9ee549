"""Datasets on disk turned into records of (image, label, split, relative path).

Supported layouts:

* FER2013 folders: ``train/<emotion>/Training_*.jpg`` and ``test/<emotion>/{PublicTest,PrivateTest}_*.jpg``;
* the original FER2013 Kaggle CSV (``emotion,pixels,Usage``);
* KDEF (``AF01ANS.JPG``: session, sex, actor, emotion code, angle);
* CK+-style folders and any folder with one subfolder per class.

Every emotion name is mapped onto :data:`core.labels.EMOTIONS`. Datasets without a standard split
get a stratified 70/15/15 train/validation/test split with a fixed seed.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from core.labels import EMOTIONS, FER2013_LABELS, normalize_label
from core.media.images import IMAGE_SUFFIXES

FER2013_SPLITS = ("Training", "PublicTest", "PrivateTest")
GENERIC_SPLITS = ("train", "validation", "test")
SPLIT_SEED = 1234

KDEF_EMOTIONS = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral",
                 "SA": "sad", "SU": "surprise"}
KDEF_NAME = re.compile(r"^([AB])([FM])(\d{2})(AF|AN|DI|HA|NE|SA|SU)(S|HL|HR|FL|FR)$", re.IGNORECASE)


class DatasetError(ValueError):
    """A dataset directory or file that cannot be read as any supported layout."""


@dataclass(frozen=True)
class Record:
    """One labelled image. ``pixels`` is set for datasets stored inside a file (the CSV)."""

    rel_path: str
    label: str
    split: str
    pixels: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass
class Dataset:
    """A labelled dataset: its name, root and records, with the roles of its splits."""

    name: str
    root: Path
    records: list[Record]
    splits: tuple[str, str, str]  # (train, validation, test) split names
    # Longest side an image is decoded to by read() (None: full size). Evaluating a user's data needs no
    # more than the models' inputs, so its datasets set one and memory stays bounded whatever the files.
    read_max_side: ClassVar[int | None] = None

    @property
    def labels(self) -> tuple[str, ...]:
        present = {r.label for r in self.records}
        return tuple(label for label in EMOTIONS if label in present)

    def split(self, name: str) -> list[Record]:
        """Records of one split; raises ``DatasetError`` naming the splits that exist."""
        records = [r for r in self.records if r.split == name]
        if not records:
            known = sorted({r.split for r in self.records})
            raise DatasetError(f"dataset {self.name!r} has no split {name!r}; splits: {', '.join(known)}")
        return records

    def with_classes(self, classes: tuple[str, ...] | None) -> Dataset:
        """A copy restricted to the given classes (``None`` keeps all)."""
        if not classes:
            return self
        missing = set(classes) - set(self.labels)
        if missing:
            raise DatasetError(f"dataset {self.name!r} has no images of {', '.join(sorted(missing))}")
        kept = [r for r in self.records if r.label in classes]
        return Dataset(self.name, self.root, kept, self.splits)

    def counts(self):
        """A pandas table of image counts: one row per split, one column per label, plus total."""
        import pandas as pd

        frame = pd.DataFrame([(r.split, r.label) for r in self.records], columns=["split", "label"])
        table = pd.crosstab(frame["split"], frame["label"]).reindex(columns=list(self.labels), fill_value=0)
        order = [s for s in self.splits if s in table.index] + [s for s in table.index if s not in self.splits]
        table = table.loc[order]
        table["total"] = table.sum(axis=1)
        return table

    def read(self, record: Record, grayscale: bool = True, max_side: int | None = None) -> np.ndarray:
        """The record's pixels: 8-bit grayscale (H, W) or BGR (H, W, 3), decoded with at most ``max_side``
        (default :attr:`read_max_side`) pixels on the longer side."""
        import cv2

        if record.pixels is not None:
            image = record.pixels
        else:
            from core.media.images import decode_image

            image = decode_image(self.root / record.rel_path, name=record.rel_path,
                                 max_side=max_side or self.read_max_side)
        if grayscale and image.ndim == 3:
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if not grayscale and image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return image

    def load_arrays(self, records: list[Record], size: int = 48, grayscale: bool = True,
                    labels: tuple[str, ...] | None = None, progress: bool = False):
        """Stack records into ``(x uint8 (n, size, size[, 3]), y int (n,))`` with ``y`` indexing ``labels``."""
        import cv2
        from tqdm import tqdm

        labels = labels or self.labels
        index = {label: i for i, label in enumerate(labels)}
        shape = (len(records), size, size) if grayscale else (len(records), size, size, 3)
        x = np.empty(shape, dtype=np.uint8)
        y = np.empty(len(records), dtype=np.int64)
        for i, record in enumerate(tqdm(records, desc=f"loading {self.name}", disable=not progress, unit="img")):
            image = self.read(record, grayscale=grayscale)
            if image.shape[:2] != (size, size):
                image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            x[i] = image
            y[i] = index[record.label]
        return x, y


def _folder_label(folder: Path) -> str:
    """The emotion a class folder holds, or a ``DatasetError`` naming the folder."""
    try:
        return normalize_label(folder.name)
    except ValueError as exc:
        raise DatasetError(f"{folder}: {exc}") from None


def _hidden(name: str) -> bool:
    """Hidden folders and files (``.git``, ``.ipynb_checkpoints``) and macOS archive debris (``__MACOSX``)."""
    return name.startswith((".", "__"))


def _class_dirs(folder: Path) -> list[Path]:
    """Subfolders, without hidden ones and macOS archive debris."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not _hidden(p.name))


class Walk:
    """A budget shared by every folder walk of one dataset load: the walk stops, with a
    ``DatasetError``, as soon as it has seen more than ``max_files`` images or ``max_entries`` entries
    of any kind, instead of listing a huge tree first and counting afterwards."""

    def __init__(self, max_files: int | None = None, max_entries: int | None = None):
        self.max_files, self.max_entries = max_files, max_entries
        self.files = self.entries = 0

    def images(self, folder: Path, stop_after: int | None = None) -> list[Path]:
        """Image files under ``folder`` (recursively, sorted, hidden folders and files skipped).

        ``stop_after`` makes it a layout probe: it ends quietly once that many images are found or the
        entry budget is spent, with what it found so far."""
        found: list[Path] = []
        for current, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not _hidden(d))
            self.entries += len(dirs) + len(files)
            for name in files:
                if (not _hidden(name) and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES
                        and os.path.isfile(os.path.join(current, name))):  # not a pipe or a broken link
                    found.append(Path(current) / name)
                    if stop_after is not None and len(found) >= stop_after:
                        return sorted(found)
                    self.files += 1
                    if self.max_files is not None and self.files > self.max_files:
                        raise DatasetError(f"more than {self.max_files:,} images; the limit is {self.max_files:,}")
            if self.max_entries is not None and self.entries > self.max_entries:
                if stop_after is not None:
                    break
                raise DatasetError(f"more than {self.max_entries:,} files and folders to look through; "
                                   f"the limit is {self.max_entries:,}")
        return sorted(found)


def _image_files(folder: Path, walk: Walk | None = None) -> list[Path]:
    return (walk or Walk()).images(folder)


def stratified_split(labels: list[str], seed: int = SPLIT_SEED,
                     fractions: tuple[float, float, float] = (0.70, 0.15, 0.15)) -> list[str]:
    """Assign each item a split name of :data:`GENERIC_SPLITS`, stratified by label, reproducibly."""
    rng = np.random.default_rng(seed)
    assigned = [""] * len(labels)
    for label in sorted(set(labels)):
        idx = np.array([i for i, lab in enumerate(labels) if lab == label])
        rng.shuffle(idx)
        n = len(idx)
        n_val = int(round(n * fractions[1]))
        n_test = int(round(n * fractions[2]))
        n_train = max(n - n_val - n_test, 0)
        for j, i in enumerate(idx):
            assigned[i] = GENERIC_SPLITS[0] if j < n_train else GENERIC_SPLITS[1] if j < n_train + n_val else GENERIC_SPLITS[2]
    return assigned


def load_fer2013_folder(root: str | Path, walk: Walk | None = None) -> Dataset:
    """FER2013 in its folder layout; the split comes from each file name's prefix."""
    root = Path(root)
    records = []
    for sub in ("train", "test"):
        base = root / sub
        if not base.is_dir():
            raise DatasetError(f"{root}: not a FER2013 folder (missing {sub}/)")
        for class_dir in _class_dirs(base):
            label = _folder_label(class_dir)
            for path in _image_files(class_dir, walk):
                split = path.name.split("_", 1)[0]
                if split not in FER2013_SPLITS:
                    raise DatasetError(f"{path}: file name does not start with one of {', '.join(FER2013_SPLITS)}")
                records.append(Record(path.relative_to(root).as_posix(), label, split))
    if not records:
        raise DatasetError(f"{root}: no images found")
    return Dataset("fer2013", root, records, FER2013_SPLITS)


def load_fer2013_csv(path: str | Path) -> Dataset:
    """The original Kaggle file: columns ``emotion`` (0-6), ``pixels`` (2304 numbers), ``Usage``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    records = []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"emotion", "pixels", "Usage"} <= set(reader.fieldnames):
            raise DatasetError(f"{path}: expected columns emotion,pixels,Usage")
        for row_number, row in enumerate(reader):
            try:
                if any(row[key] is None for key in ("emotion", "pixels", "Usage")):
                    raise ValueError("missing columns")
                values = np.array(row["pixels"].split(), dtype=np.uint8)
                side = int(round(len(values) ** 0.5))
                if side == 0 or side * side != len(values):
                    raise ValueError(f"{len(values)} pixels is not a square image")
                code = int(row["emotion"])
                if not 0 <= code < len(FER2013_LABELS):
                    raise ValueError(f"emotion {code} is not a FER2013 code (0-{len(FER2013_LABELS) - 1})")
                label = FER2013_LABELS[code]
            except (ValueError, OverflowError) as exc:  # OverflowError: a pixel value outside 0-255
                raise DatasetError(f"{path}: row {row_number + 2}: {exc}") from None
            split = row["Usage"].strip()
            if split not in FER2013_SPLITS:
                raise DatasetError(f"{path}: row {row_number + 2}: unknown Usage {split!r}")
            records.append(Record(f"{path.name}#{row_number}", label, split, values.reshape(side, side)))
    if not records:
        raise DatasetError(f"{path}: no rows")
    return Dataset("fer2013", path.parent, records, FER2013_SPLITS)


def load_kdef(root: str | Path, frontal_only: bool = False, seed: int = SPLIT_SEED,
              walk: Walk | None = None) -> Dataset:
    """KDEF / KDEF-dyn stills named like ``AF01ANS.JPG`` (session, sex, actor, emotion, angle)."""
    root = Path(root)
    found = []
    for path in _image_files(root, walk):
        match = KDEF_NAME.match(path.stem)
        if not match:
            continue
        angle = match.group(5).upper()
        if frontal_only and angle != "S":
            continue
        found.append((path.relative_to(root).as_posix(), KDEF_EMOTIONS[match.group(4).upper()]))
    if not found:
        raise DatasetError(f"{root}: no KDEF images (names like AF01ANS.JPG)")
    splits = stratified_split([label for _, label in found], seed)
    records = [Record(rel, label, split) for (rel, label), split in zip(found, splits)]
    return Dataset("kdef", root, records, GENERIC_SPLITS)


def load_class_folders(root: str | Path, name: str | None = None, seed: int = SPLIT_SEED,
                       walk: Walk | None = None) -> Dataset:
    """Any folder with one subfolder per emotion (CK+ style included).

    If the folder already has ``train``/``validation``/``test`` (or ``val``) subfolders, each holding
    class folders, that split is kept; otherwise a stratified 70/15/15 split is made.
    """
    root = Path(root)
    subdirs = {p.name.lower(): p for p in _class_dirs(root)} if root.is_dir() else {}
    if not subdirs:
        raise DatasetError(f"{root}: not a folder with one subfolder per class")
    split_dirs = {"train": "train", "validation": "validation", "val": "validation", "test": "test"}
    records = []
    if "train" in subdirs and ("test" in subdirs or "validation" in subdirs or "val" in subdirs):
        for dirname, split in split_dirs.items():
            if dirname in subdirs:
                for class_dir in _class_dirs(subdirs[dirname]):
                    label = _folder_label(class_dir)
                    records += [Record(p.relative_to(root).as_posix(), label, split) for p in _image_files(class_dir, walk)]
    else:
        found = []
        for class_dir in sorted(subdirs.values()):
            label = _folder_label(class_dir)
            found += [(p.relative_to(root).as_posix(), label) for p in _image_files(class_dir, walk)]
        splits = stratified_split([label for _, label in found], seed)
        records = [Record(rel, label, split) for (rel, label), split in zip(found, splits)]
    if not records:
        raise DatasetError(f"{root}: no images found in the class folders")
    return Dataset(name or root.name.lower(), root, records, GENERIC_SPLITS)


def load_dataset(path: str | Path, kind: str = "auto", frontal_only: bool = False,
                 max_files: int | None = None) -> Dataset:
    """Open a dataset, detecting its layout unless ``kind`` is one of fer2013, csv, kdef, folders.

    ``max_files`` stops the folder walk (with a ``DatasetError``) as soon as it finds more images than
    that, or ten times as many entries of any kind."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or directory")
    walk = Walk(max_files, None if max_files is None else 10 * max_files)
    if kind == "auto":
        probe = Walk(max_entries=walk.max_entries)
        if path.is_file() and path.suffix.lower() == ".csv":
            kind = "csv"
        elif (path / "train").is_dir() and any(p.name.startswith("Training_")
                                               for p in probe.images(path / "train", stop_after=50)):
            kind = "fer2013"
        elif path.is_dir() and any(KDEF_NAME.match(p.stem) for p in probe.images(path, stop_after=200)):
            kind = "kdef"
        else:
            kind = "folders"
    loaders = {
        "fer2013": lambda: load_fer2013_folder(path, walk),
        "csv": lambda: load_fer2013_csv(path),
        "kdef": lambda: load_kdef(path, frontal_only=frontal_only, walk=walk),
        "folders": lambda: load_class_folders(path, walk=walk),
    }
    if kind not in loaders:
        raise DatasetError(f"unknown dataset kind {kind!r}; choose one of auto, {', '.join(loaders)}")
    return loaders[kind]()
