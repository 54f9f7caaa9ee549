"""The generated detection set and the per-detector evaluation (core.bench.detection_set)."""
from __future__ import annotations

import numpy as np
import pytest

from core.bench import detection_set as ds
from core.faces.base import Face
from core.faces.catalogue import DEFAULT_DETECTOR, build


@pytest.fixture(scope="module")
def small_set():
    """12 synthetic scenes (no dataset needed) and the scikit-image photos."""
    return ds.generated_images(12, seed=5, fer_dir="") + ds.example_photos()


def test_the_set_is_deterministic_and_labelled():
    a, b = ds.generated_images(4, seed=3, fer_dir=""), ds.generated_images(4, seed=3, fer_dir="")
    assert [x.faces for x in a] == [x.faces for x in b]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b))
    assert all(x.image.shape == (480, 640, 3) for x in a)
    faces = [f for x in ds.generated_images(20, seed=3, fer_dir="") for f in x.faces]
    assert len(faces) > 10 and all(f.x >= 0 and f.x + f.w <= 640 and f.y >= 0 and f.y + f.h <= 480 for f in faces)


def test_example_photos_have_hand_labelled_faces():
    photos = {p.name: p for p in ds.example_photos()}
    assert len(photos["skimage:astronaut"].faces) == 1 and photos["skimage:chelsea"].faces == ()


def test_matching_counts_hits_and_false_positives():
    truths = [Face(0, 0, 100, 100, 1.0), Face(300, 0, 100, 100, 1.0)]
    detections = [Face(10, 10, 100, 100, 0.9), Face(0, 0, 90, 90, 0.8), Face(600, 300, 20, 20, 0.5)]
    found, false_positives = ds.match(truths, detections)
    assert found == [True, False] and false_positives == 2


def test_fer2013_faces_are_used_when_the_dataset_is_there(tmp_path):
    import cv2

    for label in ("happy", "sad"):
        folder = tmp_path / "test" / label
        folder.mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(folder / f"PrivateTest_{label}{i}.png"), np.full((48, 48), 60 * i + 20, np.uint8))
    (tmp_path / "train").mkdir()
    images = ds.generated_images(3, seed=1, fer_dir=tmp_path)
    assert all(x.name.startswith("fer2013:") for x in images)


def test_default_detector_recall_is_at_least_haars(fer2013_dir):
    """On the FER2013-based set the default was chosen on (the synthetic fallback's one cartoon head
    is not a fair test of BlazeFace: there the fallback finds 0.455 against Haar's 0.500)."""
    scenes = ds.generated_images(16, fer_dir=fer2013_dir) + ds.example_photos()
    assert scenes[0].name.startswith("fer2013:")
    haar = ds.evaluate("haar", build("haar"), scenes)
    default = ds.evaluate(DEFAULT_DETECTOR, build(DEFAULT_DETECTOR), scenes)
    assert haar.faces == default.faces > 10
    assert default.recall >= haar.recall
    assert default.found > 0 and haar.row()["faces"] == haar.faces
