"""core.models.deepface_input against DeepFace's own steps (``analyze(detector_backend="skip")``: scale,
``preprocessing.resize_image`` to 224x224, grey, resize to 48) on crops of every shape and channel count."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.models.deepface_input import deepface_preprocess


def deepface_steps(face: np.ndarray) -> np.ndarray:
    from deepface.modules.preprocessing import resize_image

    if face.ndim == 2 or face.shape[2] == 1:
        face = cv2.cvtColor(face.reshape(face.shape[:2]), cv2.COLOR_GRAY2BGR)
    elif face.shape[2] == 4:
        face = cv2.cvtColor(face, cv2.COLOR_BGRA2BGR)
    image = face / 255.0 if face.max() > 1 else face.astype(np.float64)
    square = resize_image(image, target_size=(224, 224))[0]
    return cv2.resize(cv2.cvtColor(square, cv2.COLOR_BGR2GRAY), (48, 48))


def crops() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    shapes = [(48, 48), (48, 48, 1), (48, 48, 3), (224, 224, 3), (37, 90, 3), (300, 41), (13, 200, 4), (7, 9, 3)]
    shapes += [(int(rng.integers(5, 260)), int(rng.integers(5, 260)), 3) for _ in range(12)]
    faces = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in shapes]
    return faces + [np.ones((30, 40, 3), np.uint8), np.zeros((48, 48), np.uint8)]  # maxima of 1 and 0: not rescaled


def test_deepface_input_matches_deepfaces_own_steps():
    faces = crops()
    ours = deepface_preprocess(faces)
    assert ours.shape == (len(faces), 48, 48, 1) and ours.dtype == np.float32
    for face, got in zip(faces, ours):
        np.testing.assert_allclose(got[..., 0], deepface_steps(face), atol=1e-6, err_msg=str(face.shape))
    assert ours[-2].max() > 0.5 and ours[-1].max() == 0.0  # ones stay ones (no /255), black stays black


def test_bad_crops_are_refused_in_one_line():
    with pytest.raises(ValueError, match="empty face crop"):
        deepface_preprocess([np.zeros((0, 4, 3), np.uint8)])
    with pytest.raises(ValueError, match="too thin for DeepFace's letterbox"):
        deepface_preprocess([np.zeros((1, 400), np.uint8)])
