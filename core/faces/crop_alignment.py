"""A lone face crop turned level by its eyes, when there is no photo around it to detect the face in
(the robustness lab's rotation family with alignment on).

A FER2013 crop is the face edge to edge; BlazeFace's short-range model places its keypoints on a face
about half its input (as :func:`core.faces.framing.refine` places faces), so the crop is padded by
half its side on every side before the one look. The padding is black: on 300 FER2013 PublicTest
faces at each rotation severity BlazeFace found eyes on 95-100% of them with a black margin, 88-99%
with the edges repeated (which smears the face into the margin), at the same angle error (median 5-7
degrees from the applied rotation, the faces' own tilt included).
The crop is then turned about its centre by the eye line's angle (:func:`core.faces.framing.eye_angle`),
edges repeated, as the rotation corruption turns it.
"""
from __future__ import annotations

import cv2
import numpy as np

from core.faces.framing import MIN_TURN_DEGREES, eye_angle

PAD_FRACTION = 0.5  # black margin on each side, as a fraction of the crop's long side


def crop_eye_angle(crop: np.ndarray, detector) -> float | None:
    """The eye line's tilt in ``crop`` (degrees, counter-clockwise as shown) from one look by
    ``detector`` (a BlazeFace detector) at the padded crop; None when it finds no face there."""
    pad = int(round(PAD_FRACTION * max(crop.shape[:2])))
    padded = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    found = detector.detect(padded)
    return eye_angle(found[0]) if found else None


def level(crop: np.ndarray, angle: float | None) -> np.ndarray:
    """``crop`` turned by ``angle`` about its centre so that its eyes are level, edges repeated; the crop
    itself when ``angle`` is None or under :data:`MIN_TURN_DEGREES`."""
    if angle is None or abs(angle) < MIN_TURN_DEGREES:
        return crop
    h, w = crop.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, 1.0)
    return cv2.warpAffine(crop, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
