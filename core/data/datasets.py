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
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.labels import EMOTIONS, FER2013_LABELS, normalize_label

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm"}
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

    def read(self, record: Record, grayscale: bool = True) -> np.ndarray:
        """The record's pixels: 8-bit grayscale (H, W) or BGR (H, W, 3)."""
        import cv2

        if record.pixels is not None:
            image = record.pixels
        else:
            from core.media.images import decode_image

            image = decode_image(self.root / record.rel_path)
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


def _class_dirs(folder: Path) -> list[Path]:
    """Subfolders, without hidden ones (``.ipynb_checkpoints``) and macOS archive debris."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__")))


def _image_files(folder: Path):
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


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


def load_fer2013_folder(root: str | Path) -> Dataset:
    """FER2013 in its folder layout; the split comes from each file name's prefix."""
    root = Path(root)
    records = []
    for sub in ("train", "test"):
        base = root / sub
        if not base.is_dir():
            raise DatasetError(f"{root}: not a FER2013 folder (missing {sub}/)")
        for class_dir in _class_dirs(base):
            label = _folder_label(class_dir)
            for path in _image_files(class_dir):
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


def load_kdef(root: str | Path, frontal_only: bool = False, seed: int = SPLIT_SEED) -> Dataset:
    """KDEF / KDEF-dyn stills named like ``AF01ANS.JPG`` (session, sex, actor, emotion, angle)."""
    root = Path(root)
    found = []
    for path in _image_files(root):
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


def load_class_folders(root: str | Path, name: str | None = None, seed: int = SPLIT_SEED) -> Dataset:
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
                    records += [Record(p.relative_to(root).as_posix(), label, split) for p in _image_files(class_dir)]
    else:
        found = []
        for class_dir in sorted(subdirs.values()):
            label = _folder_label(class_dir)
            found += [(p.relative_to(root).as_posix(), label) for p in _image_files(class_dir)]
        splits = stratified_split([label for _, label in found], seed)
        records = [Record(rel, label, split) for (rel, label), split in zip(found, splits)]
    if not records:
        raise DatasetError(f"{root}: no images found in the class folders")
    return Dataset(name or root.name.lower(), root, records, GENERIC_SPLITS)


def load_dataset(path: str | Path, kind: str = "auto", frontal_only: bool = False) -> Dataset:
    """Open a dataset, detecting its layout unless ``kind`` is one of fer2013, csv, kdef, folders."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or directory")
    if kind == "auto":
        if path.is_file() and path.suffix.lower() == ".csv":
            kind = "csv"
        elif (path / "train").is_dir() and any((path / "train").rglob("Training_*")):
            kind = "fer2013"
        elif path.is_dir() and any(KDEF_NAME.match(p.stem) for p in _image_files(path)[:200]):
            kind = "kdef"
        else:
            kind = "folders"
    loaders = {
        "fer2013": lambda: load_fer2013_folder(path),
        "csv": lambda: load_fer2013_csv(path),
        "kdef": lambda: load_kdef(path, frontal_only=frontal_only),
        "folders": lambda: load_class_folders(path),
    }
    if kind not in loaders:
        raise DatasetError(f"unknown dataset kind {kind!r}; choose one of auto, {', '.join(loaders)}")
    return loaders[kind]()
