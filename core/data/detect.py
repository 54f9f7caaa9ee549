"""Labelled *photos* (not face crops): find the largest face in each, keep its crop, count the misses.

The result is a :class:`CropDataset`, a :class:`~core.data.inmemory.LabelledData` whose images are the crops
held in memory, so the evaluation runs on it unchanged. Each face is cut once per framing the models were
trained on (:func:`core.faces.framing.framed_crops`, as the Photo page cuts it), so a model scores
the same crop here as it would get on the Photo page; :meth:`CropDataset.with_framing` picks one. Photos
in which the detector finds no face are listed (by their path in the upload) and counted in the notes,
not silently dropped.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.data.datasets import DatasetError, Record
from core.data.inmemory import LabelledData
from core.faces.framing import DETECTOR_FRAMING, framed_crops

DETECT_MAX_SIDE = 1280  # photos are searched for faces at this size at most (the page's detector works below it)


@dataclass
class CropDataset(LabelledData):
    """Face crops (BGR uint8 arrays, keyed by the photo's ``rel_path``) held in memory, one set per
    framing (``framed``); :meth:`read` gives the crops of ``framing``."""

    framed: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    framing: str = DETECTOR_FRAMING
    no_face: list[str] = field(default_factory=list)

    @property
    def crops(self) -> dict[str, np.ndarray]:
        return self.framed[self.framing]

    def with_framing(self, framing: str) -> CropDataset:
        """The same faces cut as a ``framing`` model saw faces in training (a view: no copy of the crops)."""
        if framing not in self.framed:
            raise DatasetError(f"faces were not cut for {framing!r} framing (cut: {', '.join(self.framed)})")
        return dataclasses.replace(self, framing=framing)

    def read(self, record: Record, grayscale: bool = True, max_side: int | None = None) -> np.ndarray:
        import cv2

        crop = self.crops[record.rel_path]
        return cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if grayscale else crop


def largest_face(faces):
    """The face with the biggest box (None for no face)."""
    return max(faces, key=lambda f: f.w * f.h, default=None)


def detect_faces_first(dataset: LabelledData, detector, framings: Sequence[str] = (DETECTOR_FRAMING,),
                       on_progress: Callable[[int, int], None] | None = None) -> CropDataset:
    """Each photo's largest face (``detector.detect(bgr) -> [Face]``), cut once per framing in ``framings``
    (the first is the one :meth:`CropDataset.read` gives until :meth:`~CropDataset.with_framing`).

    Raises :class:`DatasetError` when no photo holds a face the detector finds.
    """
    framings = list(dict.fromkeys(framings)) or [DETECTOR_FRAMING]
    records, framed, missed = [], {framing: {} for framing in framings}, []
    for i, record in enumerate(dataset.records):
        image = dataset.read(record, grayscale=False, max_side=DETECT_MAX_SIDE)
        face = largest_face(detector.detect(image))
        if face is None:
            missed.append(record.rel_path)
        else:
            for framing, (crop,) in framed_crops(image, [face], framings).items():
                framed[framing][record.rel_path] = crop
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
                       framed=framed, framing=framings[0], no_face=missed)
