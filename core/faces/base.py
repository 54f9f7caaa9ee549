"""A detected face and cutting it out of the photo: shared by every face detector."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Face:
    """A detected face: its box in full-resolution pixels, the detector's confidence in [0, 1], and
    which single detector drew the box (its catalogue name, "" when none did): boxes are mapped to a
    model's training framing per detector (:mod:`core.faces.framing`)."""

    x: int
    y: int
    w: int
    h: int
    confidence: float
    detector: str = field(default="", compare=False)
    # BlazeFace's six keypoints (x, y) in full-image pixels (core.faces.blazeface.KEYPOINTS); () otherwise
    keypoints: tuple = field(default=(), compare=False, repr=False)

    @property
    def area(self) -> int:
        return self.w * self.h

    def region(self) -> dict:
        """The box as DeepFace writes it: ``{"x", "y", "w", "h"}`` (plain ints)."""
        return {"x": int(self.x), "y": int(self.y), "w": int(self.w), "h": int(self.h)}

    def iou(self, other: Face) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union else 0.0


def crop_face(image: np.ndarray, face: Face, margin: float = 0.0) -> np.ndarray:
    """The face's box grown by ``margin`` (fraction of its size) on each side, clipped to the image."""
    height, width = image.shape[:2]
    dx, dy = int(round(face.w * margin)), int(round(face.h * margin))
    x0, y0 = max(0, face.x - dx), max(0, face.y - dy)
    x1, y1 = min(width, face.x + face.w + dx), min(height, face.y + face.h + dy)
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def whole_image_face(image: np.ndarray, confidence: float = 0.0) -> Face:
    """A pseudo-face covering the whole image ("classify the whole image" when none is found, with
    confidence 0; or an image that is already a face crop, with confidence 1)."""
    return Face(0, 0, int(image.shape[1]), int(image.shape[0]), confidence)
