"""Labelled faces held in memory (an uploaded zip), evaluated like any dataset on disk.

:class:`LabelledData` is a :class:`core.data.datasets.Dataset` with an ``"all"`` split (a user's own data is
evaluated whole), the detected layout and notes on what was skipped. :class:`InMemoryDataset` keeps each
image's encoded bytes and decodes them in :meth:`~InMemoryDataset.read`, so the evaluation code, which only
calls ``dataset.split``, ``dataset.read``, ``dataset.labels`` and ``dataset.name``, runs unchanged and
nothing is written to disk.

Labels a model does not have (contempt, for the 7-class models) stay in the data, counted per class, and are
left out of that model's scores by :func:`scoreable`.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from core.data.datasets import Dataset, DatasetError, Record
from core.labels import EMOTIONS

ALL = "all"  # the split holding every record
# The longest side a user's image is decoded to for the models (their inputs are 48-64 px), the
# mistakes gallery and the upload check: a 40-megapixel file costs a 256-px image in memory.
READ_MAX_SIDE = 256


@dataclass
class LabelledData(Dataset):
    """A dataset to evaluate as a whole: ``split("all")`` is every record, whatever its own split."""

    layout: str = "folders"
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    read_max_side: ClassVar[int | None] = READ_MAX_SIDE

    def split(self, name: str) -> list[Record]:
        return list(self.records) if name == ALL else super().split(name)

    def with_classes(self, classes: tuple[str, ...] | None) -> LabelledData:
        """A copy (same type, same images) restricted to ``classes`` (``None`` keeps all)."""
        if not classes:
            return self
        missing = set(classes) - set(self.labels)
        if missing:
            raise DatasetError(f"dataset {self.name!r} has no images of {', '.join(sorted(missing))}")
        return dataclasses.replace(self, records=[r for r in self.records if r.label in classes])

    def class_counts(self) -> dict[str, int]:
        """Images per label, in :data:`EMOTIONS` order."""
        counts = Counter(r.label for r in self.records)
        return {label: counts[label] for label in EMOTIONS if counts[label]}


@dataclass
class InMemoryDataset(LabelledData):
    """Records whose images are encoded bytes in ``blobs`` (keyed by ``rel_path``), decoded on read."""

    blobs: dict[str, bytes] = field(default_factory=dict, repr=False)

    def read(self, record: Record, grayscale: bool = True, max_side: int | None = None) -> np.ndarray:
        """The record's pixels, decoded from memory: grayscale (H, W) or BGR (H, W, 3) uint8, at most
        ``max_side`` (default :data:`READ_MAX_SIDE`) pixels on the longer side.

        Raises :class:`core.media.images.ImageDecodeError` (one line, naming the entry) for a bad image.
        """
        import cv2

        from core.media.images import decode_image

        image = decode_image(self.blobs[record.rel_path], name=record.rel_path,
                             max_side=max_side or self.read_max_side)
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if grayscale else image

    @property
    def nbytes(self) -> int:
        return sum(len(blob) for blob in self.blobs.values())


def excluded_counts(records: Sequence[Record], model_labels: Sequence[str]) -> dict[str, int]:
    """Images per label that the model cannot predict (e.g. ``{"contempt": 18}`` for a 7-class model)."""
    known = set(model_labels)
    counts = Counter(r.label for r in records if r.label not in known)
    return {label: counts[label] for label in sorted(counts, key=lambda x: (x not in EMOTIONS, x))}


def excluded_note(excluded: dict[str, int], model_name: str) -> str | None:
    """One line saying which labelled images a model's scores leave out, or None when none are."""
    if not excluded:
        return None
    parts = ", ".join(f"{n} {label}" for label, n in excluded.items())
    total = sum(excluded.values())
    return (f"{model_name} has no {'/'.join(excluded)} class: {parts} image{'s' if total != 1 else ''} "
            f"left out of its accuracy and F1 (still counted per class)")


def scoreable(dataset: Dataset, model_labels: Sequence[str], model_name: str = "model"):
    """``(view, note)``: the dataset restricted to labels the model has, and the :func:`excluded_note`.

    Raises ``DatasetError`` when the model shares no label with the data.
    """
    excluded = excluded_counts(dataset.records, model_labels)
    if not excluded:
        return dataset, None
    keep = tuple(label for label in dataset.labels if label in set(model_labels))
    if not keep:
        raise DatasetError(f"{model_name} knows none of the labels in {dataset.name!r} "
                           f"({', '.join(dataset.labels)})")
    return dataset.with_classes(keep), excluded_note(excluded, model_name)
