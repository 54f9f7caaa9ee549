"""Labelled *photos* (not face crops): find the largest face in each, keep its crop, count the misses.

The result is a :class:`CropDataset`, a :class:`~core.data.inmemory.LabelledData` whose images are the crops
held in memory, so the evaluation runs on it unchanged. Photos in which the detector finds no face are
listed (by their path in the upload) and counted in the notes, not silently dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.data.datasets import DatasetError, Record
from core.data.inmemory import LabelledData

DETECT_MAX_SIDE = 1280  # photos are searched for faces at this size at most (the page's detector works below it)


@dataclass
class CropDataset(LabelledData):
    """Face crops (BGR uint8 arrays, keyed by the photo's ``rel_path``) held in memory."""

    crops: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    no_face: list[str] = field(default_factory=list)

    def read(self, record: Record, grayscale: bool = True, max_side: int | None = None) -> np.ndarray:
        import cv2

        crop = self.crops[record.rel_path]
        return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if grayscale else crop


def largest_face(faces):
    """The face with the biggest box (None for no face)."""
    return max(faces, key=lambda f: f.w * f.h, default=None)


def detect_faces_first(dataset: LabelledData, detector, margin: float = 0.0,
                       on_progress: Callable[[int, int], None] | None = None) -> CropDataset:
    """Each photo's largest face (``detector.detect(bgr) -> [Face]``), as a dataset of crops.

    Raises :class:`DatasetError` when no photo holds a face the detector finds.
    """
    from core.faces import crop_face

    records, crops, missed = [], {}, []
    for i, record in enumerate(dataset.records):
        image = dataset.read(record, grayscale=False, max_side=DETECT_MAX_SIDE)
        face = largest_face(detector.detect(image))
        if face is None:
            missed.append(record.rel_path)
        else:
            crops[record.rel_path] = crop_face(image, face, margin)
            records.append(record)
        if on_progress is not None:
            on_progress(i + 1, len(dataset.records))
    notes = list(dataset.notes)
    if missed:
        notes.append(f"no face found in {len(missed)} of {len(dataset.records)} photos, left out "
                     f"(e.g. {missed[0]!r})")
    if not records:
        raise DatasetError(f"no face found in any of the {len(dataset.records)} photos: are they face crops? "
                           f"Choose 'face crops' instead")
    return CropDataset(dataset.name, dataset.root, records, dataset.splits, layout=dataset.layout, notes=notes,
                       skipped={**dataset.skipped, "no face found": len(missed)} if missed else dict(dataset.skipped),
                       crops=crops, no_face=missed)
