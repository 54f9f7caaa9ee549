"""DeepFace's emotion input, built as ``DeepFace.analyze(detector_backend="skip")`` builds it.

``analyze`` scales a BGR crop to [0, 1] (only when its maximum is above 1), letterboxes it to 224x224
(``preprocessing.resize_image``: bilinear resize, black bars), and its emotion model takes the grey of
that square and resizes it to 48x48 (bilinear). Here the grey is taken first and only one channel is
resized: bilinear resizing and the BGR weights are both linear, so only float rounding differs (within
2e-7 of DeepFace's own steps on crops of every shape and channel count, tested), and it is several
times cheaper (the robustness lab prepares 81,000 faces).
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

LETTERBOX = 224  # analyze letterboxes every face to this square before the emotion model
INPUT = 48  # the emotion model's input side


def _grey(face: np.ndarray) -> np.ndarray:
    """The crop's grey in [0, 1], float32 (scaled by 1/255 only when its maximum is above 1, as analyze
    scales the BGR image)."""
    if face.size == 0:
        raise ValueError("empty face crop")
    if face.ndim == 3 and face.shape[2] == 4:
        face = cv2.cvtColor(face, cv2.COLOR_BGRA2BGR)
    if face.ndim == 2 or face.shape[2] == 1:
        grey = face.reshape(face.shape[:2]).astype(np.float32)
    else:
        grey = cv2.cvtColor(face.astype(np.float32), cv2.COLOR_BGR2GRAY)
    return grey * np.float32(1 / 255) if face.max() > 1 else grey


def letterboxed(grey: np.ndarray, side: int = LETTERBOX) -> np.ndarray:
    """``grey`` resized to fit a ``side`` square and centred on black, as ``resize_image`` does."""
    factor = min(side / grey.shape[0], side / grey.shape[1])
    new_w, new_h = int(grey.shape[1] * factor), int(grey.shape[0] * factor)
    if new_w == 0 or new_h == 0:
        raise ValueError(f"a {grey.shape[1]}x{grey.shape[0]} face crop is too thin for DeepFace's letterbox")
    small = cv2.resize(grey, (new_w, new_h))
    pad_y, pad_x = side - new_h, side - new_w
    if not (pad_y or pad_x):
        return small
    return cv2.copyMakeBorder(small, pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2,
                              cv2.BORDER_CONSTANT, value=0)


def deepface_preprocess(faces: Sequence[np.ndarray]) -> np.ndarray:
    """Face crops (BGR, BGRA or grey, any size) -> DeepFace's emotion input, float32 (n, 48, 48, 1)."""
    batch = np.empty((len(faces), INPUT, INPUT, 1), np.float32)
    for i, face in enumerate(faces):
        batch[i, ..., 0] = cv2.resize(letterboxed(_grey(face)), (INPUT, INPUT))
    return batch
