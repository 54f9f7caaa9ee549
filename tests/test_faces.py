"""Face detection (OpenCV Haar cascade) on the astronaut photo and synthetic canvases."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.faces.base import Face, crop_face, whole_image_face
from core.faces.haar import CASCADE_WINDOW, SMALLEST_FACE_PX, FaceDetector, level_weight_to_confidence

# skimage.data.astronaut(): Eileen Collins' face, as DeepFace's opencv detector reports it.
ASTRONAUT_FACE = Face(176, 66, 97, 97, 1.0)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int) -> np.ndarray:
    canvas[y:y + image.shape[0], x:x + image.shape[1]] = image
    return canvas


def shifted(face: Face, dx: int, dy: int, scale: float = 1.0) -> Face:
    return Face(round(face.x * scale) + dx, round(face.y * scale) + dy, round(face.w * scale),
                round(face.h * scale), face.confidence)


def assert_valid(faces: list[Face], image: np.ndarray, min_size: int = 1) -> None:
    height, width = image.shape[:2]
    for face in faces:
        assert all(isinstance(v, int) for v in (face.x, face.y, face.w, face.h))
        assert isinstance(face.confidence, float) and 0.0 <= face.confidence <= 1.0
        assert face.x >= 0 and face.y >= 0 and face.x + face.w <= width and face.y + face.h <= height
        assert min(face.w, face.h) >= min_size
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True), "faces must come largest first"


def test_astronaut_has_exactly_one_face(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1, faces
    face = faces[0]
    assert face.iou(ASTRONAUT_FACE) > 0.7, face
    assert abs(face.x - 176) <= 10 and abs(face.y - 66) <= 10 and abs(face.w - 97) <= 15
    assert face.confidence > 0.5
    assert_valid(faces, astronaut, detector.min_face_size)


def test_grayscale_input(detector, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    faces = detector.detect(gray)
    assert len(faces) == 1 and faces[0].iou(ASTRONAUT_FACE) > 0.7
    assert faces == detector.detect(astronaut)  # same pixels the cascade sees


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_image_has_no_face(detector, value):
    assert detector.detect(np.full((480, 640, 3), value, np.uint8)) == []


def test_noise_image_has_no_face(detector):
    noise = np.random.default_rng(0).integers(0, 256, (360, 480, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


@pytest.mark.parametrize("shape", [(10, 10, 3), (10, 10), (1, 1, 3), (23, 400, 3)])
def test_tiny_image_gives_no_face(detector, shape):
    assert detector.detect(np.zeros(shape, np.uint8)) == []


def test_two_copies_side_by_side(detector, astronaut):
    canvas = np.zeros((512, 1024, 3), np.uint8)
    paste(canvas, astronaut, 0, 0)
    paste(canvas, astronaut, 512, 0)
    faces = detector.detect(canvas)
    assert len(faces) == 2, faces
    assert_valid(faces, canvas, detector.min_face_size)
    left = [f for f in faces if f.x < 512]
    right = [f for f in faces if f.x >= 512]
    assert len(left) == 1 and len(right) == 1
    assert left[0].iou(ASTRONAUT_FACE) > 0.7
    assert right[0].iou(shifted(ASTRONAUT_FACE, 512, 0)) > 0.7


@pytest.mark.parametrize("big_on_left", [True, False])
def test_two_faces_largest_first(detector, astronaut, big_on_left):
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((512, 1024, 3), np.uint8)
    big_x, small_x = (0, 600) if big_on_left else (512, 100)
    paste(canvas, astronaut, big_x, 0)
    paste(canvas, half, small_x, 128)
    faces = FaceDetector(max_detect_side=1024).detect(canvas)  # no cap: the ~48 px face is in reach
    assert len(faces) == 2, faces
    assert faces[0].iou(shifted(ASTRONAUT_FACE, big_x, 0)) > 0.7
    assert faces[1].iou(shifted(ASTRONAUT_FACE, small_x, 128, 0.5)) > 0.6
    assert faces[0].area > faces[1].area


def test_min_face_size_filters(astronaut):
    canvas = np.zeros((512, 1024, 3), np.uint8)
    paste(canvas, astronaut, 0, 0)
    paste(canvas, cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA), 600, 128)
    assert len(FaceDetector(min_face_size=40, max_detect_side=1024).detect(canvas)) == 2
    faces = FaceDetector(min_face_size=80, max_detect_side=1024).detect(canvas)  # the half-size face (~48 px) goes
    assert len(faces) == 1 and faces[0].iou(ASTRONAUT_FACE) > 0.7
    assert FaceDetector(min_face_size=150, max_detect_side=1024).detect(canvas) == []


@pytest.mark.parametrize("min_face_size", [20, 60, 90])
def test_faces_respect_min_face_size(astronaut, min_face_size):
    detector = FaceDetector(min_face_size=min_face_size)
    faces = detector.detect(astronaut)
    assert len(faces) == 1 and faces[0].iou(ASTRONAUT_FACE) > 0.7
    assert_valid(faces, astronaut, min_face_size)


def test_min_face_size_must_be_positive():
    with pytest.raises(ValueError, match="min_face_size"):
        FaceDetector(min_face_size=0)


@pytest.mark.parametrize("x,y,background", [(300, 100, 0), (0, 0, 0), (768, 208, 0), (123, 57, 0), (300, 100, 128)])
def test_boxes_map_back_to_full_resolution(detector, astronaut, x, y, background):
    canvas = paste(np.full((720, 1280, 3), background, np.uint8), astronaut, x, y)
    assert detector.detection_scale(1280, 720) < 1.0  # the cascade really ran on a smaller copy
    faces = detector.detect(canvas)
    expected = shifted(ASTRONAUT_FACE, x, y)
    matches = [f for f in faces if f.iou(expected) > 0.7]
    assert len(matches) == 1, (faces, expected)
    if background == 0:
        assert len(faces) == 1, faces
    assert_valid(faces, canvas, detector.min_face_size)


def test_upscaled_photo_boxes_scale_too(detector, astronaut):
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    faces = detector.detect(big)
    assert len(faces) == 1, faces
    assert faces[0].iou(shifted(ASTRONAUT_FACE, 0, 0, 2.0)) > 0.7


class FakeCascade:
    """Stands in for cv2.CascadeClassifier: returns fixed boxes in the downscaled image."""

    def __init__(self, boxes, weights):
        self.boxes, self.weights, self.seen = boxes, weights, []

    def detectMultiScale3(self, gray, **kwargs):  # noqa: N802 (OpenCV's name)
        self.seen.append(gray.shape)
        return np.array(self.boxes, np.int32).reshape(-1, 4), np.zeros(len(self.boxes), np.int32), \
            np.array(self.weights, np.float64)


def test_box_mapping_arithmetic():
    detector = FaceDetector(min_face_size=40, max_detect_side=640, min_confidence=0.3)
    fake = FakeCascade([[10, 20, 30, 30], [300, 150, 40, 40], [5, 5, 30, 30], [50, 50, 100, 100]],
                       [6.0, 6.0, -3.0, 6.0])
    detector._local.cascade = fake
    faces = detector.detect(np.zeros((720, 1280, 3), np.uint8))
    assert fake.seen == [(360, 640)]  # halved
    # the big box first; the low-weight one dropped; the one past the edge clipped to the image
    assert [(f.x, f.y, f.w, f.h) for f in faces] == [(100, 100, 200, 200), (600, 300, 80, 80), (20, 40, 60, 60)]
    assert faces[0].confidence == pytest.approx(level_weight_to_confidence(6.0), abs=1e-4)

    fake = FakeCascade([[600, 340, 40, 40]], [6.0])  # runs past the right and bottom edges
    detector._local.cascade = fake
    (face,) = detector.detect(np.zeros((720, 1280, 3), np.uint8))
    assert (face.x, face.y, face.w, face.h) == (1200, 680, 80, 40)


def test_box_mapping_drops_faces_below_min_size():
    detector = FaceDetector(min_face_size=48, max_detect_side=640)
    detector._local.cascade = FakeCascade([[10, 10, 23, 23], [100, 100, 24, 24]], [6.0, 6.0])
    faces = detector.detect(np.zeros((720, 1280, 3), np.uint8))
    assert [(f.x, f.y, f.w, f.h) for f in faces] == [(200, 200, 48, 48)]  # 23 px -> 46 px: too small


def test_detection_scale_and_effective_min_face_size():
    detector = FaceDetector(min_face_size=40, max_detect_side=640)
    assert detector.detection_scale(512, 512) == pytest.approx(SMALLEST_FACE_PX / 40)
    assert detector.detection_scale(1280, 720) == pytest.approx(0.5)
    assert detector.detection_scale(4000, 3000) == pytest.approx(640 / 4000)
    assert detector.effective_min_face_size(512, 512) == 40
    assert detector.effective_min_face_size(1280, 720) == 60
    assert FaceDetector(min_face_size=10).detection_scale(100, 100) == 1.0  # never upscaled
    assert SMALLEST_FACE_PX >= CASCADE_WINDOW


def test_detection_cap_sets_the_smallest_findable_face(astronaut):
    """The default 400-px cap on a 1024x512 photo: faces under ~77 px are out of reach, larger ones found."""
    detector = FaceDetector()
    assert detector.effective_min_face_size(1024, 512) == 77
    canvas = np.zeros((512, 1024, 3), np.uint8)
    paste(canvas, cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA), 600, 128)  # ~48 px face
    assert detector.detect(canvas) == []
    assert len(FaceDetector(max_detect_side=1024).detect(canvas)) == 1


def test_level_weight_to_confidence():
    values = [level_weight_to_confidence(w) for w in (-5.0, 0.0, 2.0, 4.0, 8.0)]
    assert values == sorted(values)
    assert values[2] == pytest.approx(0.5)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_crop_face_without_margin():
    image = np.arange(100 * 120 * 3, dtype=np.uint32).reshape(100, 120, 3).astype(np.uint8)
    face = Face(30, 20, 40, 50, 0.9)
    crop = crop_face(image, face)
    assert crop.shape == (50, 40, 3)
    np.testing.assert_array_equal(crop, image[20:70, 30:70])
    assert crop.flags["C_CONTIGUOUS"]


def test_crop_face_with_margin():
    image = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    crop = crop_face(image, Face(30, 20, 40, 50, 0.9), margin=0.25)  # +10 px sideways, +12/13 px up/down
    np.testing.assert_array_equal(crop, image[20 - 12:70 + 12, 30 - 10:70 + 10])


def test_crop_face_margin_is_clipped_at_the_edges():
    image = np.random.default_rng(1).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    crop = crop_face(image, Face(0, 0, 40, 40, 0.9), margin=0.5)
    np.testing.assert_array_equal(crop, image[:60, :60])
    crop = crop_face(image, Face(100, 70, 20, 30, 0.9), margin=0.5)
    np.testing.assert_array_equal(crop, image[55:100, 90:120])
    gray = image[..., 0].copy()
    assert crop_face(gray, Face(100, 70, 20, 30, 0.9), margin=0.5).shape == (45, 30)


def test_crop_of_detected_face(detector, astronaut):
    (face,) = detector.detect(astronaut)
    crop = crop_face(astronaut, face)
    assert crop.shape == (face.h, face.w, 3)
    np.testing.assert_array_equal(crop, astronaut[face.y:face.y + face.h, face.x:face.x + face.w])


def test_whole_image_face_and_face_helpers():
    face = whole_image_face(np.zeros((30, 50, 3), np.uint8))
    assert (face.x, face.y, face.w, face.h, face.confidence) == (0, 0, 50, 30, 0.0)
    assert face.area == 1500
    assert face.region() == {"x": 0, "y": 0, "w": 50, "h": 30}
    assert all(type(v) is int for v in Face(np.int64(1), 2, 3, 4, 0.5).region().values())
    a, b = Face(0, 0, 10, 10, 1.0), Face(5, 0, 10, 10, 1.0)
    assert a.iou(a) == 1.0
    assert a.iou(b) == pytest.approx(50 / 150)
    assert a.iou(Face(20, 20, 5, 5, 1.0)) == 0.0
    assert Face(0, 0, 0, 0, 0.0).iou(Face(0, 0, 0, 0, 0.0)) == 0.0


def test_detector_is_thread_safe(detector):
    """Six threads share one detector, each with its own photos (1-3 faces, different sizes and
    places) for many rounds; every result must equal that photo's sequential result."""
    from concurrency import crossed_results

    from core.bench.scenes import make_photo

    photos = [[make_photo(*[(480, 360), (640, 480), (560, 420)][(t + k) % 3], 1 + (t + k) % 3,
                          size=0.5 + 0.04 * t + 0.1 * k, shift=(-1 + 0.4 * t, -0.5 + k)) for k in range(2)]
              for t in range(6)]
    expected = [detector.detect(image) for mine in photos for image in mine]
    assert all(expected) and len({tuple(e) for e in expected}) == len(expected), "inputs must give distinct results"
    mismatches, calls = crossed_results(detector.detect, photos, rounds=6, same=lambda a, b: a == b)
    assert calls == 72 and mismatches == []
