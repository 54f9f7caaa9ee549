"""Every detector's box mapped to the framing a model was trained on, so the crop, and so the answer,
does not depend on which detector found the face.

Detectors frame faces differently (BlazeFace draws a box 10-25% smaller than Haar's on the same
face), and FER2013's 48x48 crops are framed loosely. A model's record names its training framing
(:attr:`core.models.record.Preprocessing.framing`); for each framing and detector, ``framing.json``
next to this module holds a map fitted on FER2013 faces pasted into scenes (where the true square
is known): the square's side as a multiple of the box's (geometric mean of width and height), and
its centre's offset from the box's centre as fractions of that side. ``make framing``
(``python -m core.bench.framing --fit``) rewrites it; docs/ARTIFACTS.md describes it.

Before mapping, :func:`refine` re-places the face by one BlazeFace look at a square around it, so
that the crop comes from one model at one scale whichever detector found the face; :func:`cut`
cuts it, optionally turned so that the eyes are level. A box from a detector without a map, or a
framing without maps, is cropped as the detector drew it.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.faces.base import Face, crop_face

MAPS_PATH = Path(__file__).with_name("framing.json")
DETECTOR_FRAMING = "detector"  # a framing that means: crop the detector's box as it is


@dataclass(frozen=True)
class FramingMap:
    """A detector's box -> the training framing's square: side ``scale`` x the box's, centre moved by
    (``dx``, ``dy``) x the box's side."""

    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def apply(self, face: Face) -> Face:
        side = math.sqrt(max(face.w, 1) * max(face.h, 1))
        cx = face.x + face.w / 2 + self.dx * side
        cy = face.y + face.h / 2 + self.dy * side
        new = self.scale * side
        return replace(face, x=int(round(cx - new / 2)), y=int(round(cy - new / 2)), w=int(round(new)),
                       h=int(round(new)))

    @classmethod
    def fitted(cls, pairs) -> FramingMap:
        """The median map over ``(detector box, true square)`` pairs (medians: robust to odd boxes)."""
        import statistics

        scales, dxs, dys = [], [], []
        for box, square in pairs:
            side = math.sqrt(box.w * box.h)
            scales.append(math.sqrt(square.w * square.h) / side)
            dxs.append((square.x + square.w / 2 - box.x - box.w / 2) / side)
            dys.append((square.y + square.h / 2 - box.y - box.h / 2) / side)
        return cls(round(statistics.median(scales), 4), round(statistics.median(dxs), 4),
                   round(statistics.median(dys), 4))


@functools.lru_cache(maxsize=4)
def _stored(path: str) -> dict:
    file = Path(path)
    return json.loads(file.read_text()) if file.is_file() else {}


def maps(framing: str, path: str | Path = MAPS_PATH) -> dict[str, FramingMap]:
    """The fitted maps of ``framing``, by detector name (empty for an unknown framing or no file)."""
    stored = _stored(str(path)).get("maps", {}).get(framing, {})
    return {detector: FramingMap(**values) for detector, values in stored.items()}


def frame(face: Face, framing: str, path: str | Path = MAPS_PATH) -> Face:
    """``face`` as a model trained on ``framing`` saw its faces, from its box (unchanged without a map
    for its detector). Squares built from BlazeFace's eye and mouth keypoints instead were measured
    and placed faces no better (README, Face detectors), so the box's map is the one used."""
    if framing == DETECTOR_FRAMING or not face.detector:
        return face
    mapping = maps(framing, path).get(face.detector)
    return mapping.apply(face) if mapping else face


# refine() re-places every detector's face, BlazeFace's own too, so that a face's crop comes from one
# model at one scale whichever detector found it (measured against refining Haar's only, or Haar's and
# the full range's: README, "One face, one answer").
REFINED_MAP = "blazeface"  # the map of refined boxes: they are BlazeFace short-range boxes
REFINE_GROW = 2.0


@functools.lru_cache(maxsize=1)
def _refiner():
    from core.faces.blazeface import BlazeFaceDetector

    return BlazeFaceDetector("short")


def refine(image: np.ndarray, face: Face, detectors=None) -> Face:
    """``face`` re-placed by BlazeFace's short-range model run once on a square ``REFINE_GROW`` times
    its side (the face about half the model's input), so that every detector's face ends up framed
    from the same box and keypoints; ``face`` itself when no detector drew it, when its detector is not
    one of ``detectors`` (None: any) or when BlazeFace does not find it there. One small BlazeFace
    call per face."""
    if not face.detector or (detectors is not None and face.detector not in detectors):
        return face
    height, width = image.shape[:2]
    side = REFINE_GROW * max(face.w, face.h)
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
    if min(x1 - x0, y1 - y0) < 2:
        return face
    found = [replace(f, x=f.x + x0, y=f.y + y0, keypoints=tuple((px + x0, py + y0) for px, py in f.keypoints))
             for f in _refiner().detect(image[y0:y1, x0:x1])]
    found = [f for f in found if f.iou(face) > 0.3]
    return max(found, key=face.iou) if found else face


def framed_box(image: np.ndarray, face: Face, framing: str) -> Face:
    """The part of ``image`` that :func:`cut` takes (without alignment): ``face`` refined, mapped to
    ``framing`` and clipped to the image, e.g. to place a heat map's peak in the photo."""
    square = frame(refine(image, face), framing)
    height, width = image.shape[:2]
    x0, y0 = max(0, square.x), max(0, square.y)
    x1, y1 = min(width, square.x + square.w), min(height, square.y + square.h)
    return replace(square, x=x0, y=y0, w=max(0, x1 - x0), h=max(0, y1 - y0))


MIN_TURN_DEGREES = 1.0  # an eye line tilted less than this is left as it is (keypoint noise, not a tilt)


def eye_angle(face: Face) -> float | None:
    """The eye line's tilt in degrees (counter-clockwise as shown, OpenCV's convention), or None
    without keypoints."""
    if len(face.keypoints) < 2:
        return None
    (rx, ry), (lx, ly) = face.keypoints[:2]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def cut(image: np.ndarray, face: Face, framing: str, align: bool = False) -> np.ndarray:
    """The face as a ``framing`` model saw faces in training; with ``align``, turned so that its eyes
    are level (faces with keypoints only; the corners are filled by repeating the edge)."""
    import cv2

    square = frame(face, framing)
    angle = eye_angle(face) if align else None
    if angle is None or abs(angle) < MIN_TURN_DEGREES:
        return crop_face(image, square)
    side = max(1, square.w)
    matrix = cv2.getRotationMatrix2D((square.x + side / 2, square.y + side / 2), angle, 1.0)
    matrix[:, 2] -= (square.x, square.y)  # the square's centre to the output's centre
    return cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def framed_crops(image: np.ndarray, faces, framings, align: bool = False) -> dict[str, list[np.ndarray]]:
    """Per framing, every face cut out as a model of that framing saw faces in training (one cut per
    framing, however many models share it); with ``align``, turned so that the eyes are level."""
    faces = [refine(image, face) for face in faces]  # every detector's face placed from BlazeFace's box
    return {framing: [cut(image, face, framing, align) for face in faces] for framing in dict.fromkeys(framings)}
