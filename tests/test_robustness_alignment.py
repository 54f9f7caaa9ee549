"""The robustness lab's rotation family with alignment on: BlazeFace's eye line on a lone crop undoes a
known rotation, severity 0 goes through the same steps, faces without eyes pass as they are, and the
runner stores it apart from the 15-family mean (issue 24, item 5)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_robustness import Faces, MeanBrightness

from core.analysis import corruptions
from core.faces.base import Face
from core.faces.crop_alignment import crop_eye_angle, level


@pytest.fixture(scope="module")
def detector():
    from core.faces.blazeface import BlazeFaceDetector

    return BlazeFaceDetector("short")


@pytest.fixture(scope="module")
def astronaut_face() -> np.ndarray:
    """The astronaut's face framed as FER2013 frames faces (the Robustness page's example), at 48x48 grey."""
    from core.media.images import example_photo

    crop = cv2.cvtColor(example_photo()[30:210, 155:335], cv2.COLOR_BGR2GRAY)
    return cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)


def turned(face: np.ndarray, degrees: float) -> np.ndarray:
    h, w = face.shape
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("degrees", [-60, -30, -10, 10, 20, 45, 60])
def test_the_eye_line_undoes_a_known_rotation_on_a_48px_face(astronaut_face, detector, degrees):
    own = crop_eye_angle(astronaut_face, detector)  # the astronaut's head is tilted a little
    assert own is not None and abs(own) < 15
    rotated = turned(astronaut_face, degrees)
    angle = crop_eye_angle(rotated, detector)
    assert angle is not None
    assert abs(angle - (own - degrees)) < 6  # the applied rotation recovered within 6 degrees
    assert abs(crop_eye_angle(level(rotated, angle), detector)) < 7  # and the face is level again


def test_the_lab_rotation_angle_is_the_one_the_corruption_applies(astronaut_face):
    for key in ("test/happy/1.jpg", "test/sad/2.jpg", "x"):
        degrees = corruptions.rotation_degrees(4, seed=3, key=key)
        assert abs(degrees) == 45
        assert np.array_equal(corruptions.corrupt(astronaut_face, "rotation", 4, 3, key), turned(astronaut_face, degrees))
    assert corruptions.rotation_degrees(0, 3, "x") == 0


class FixedEyes:
    """A stand-in detector: one face whose eye line is tilted by ``tilt`` degrees, or none."""

    name, min_confidence = "fixed", 0.5

    def __init__(self, tilt: float | None):
        self.tilt = tilt

    def detect(self, image):
        if self.tilt is None:
            return []
        t = np.radians(self.tilt)
        return [Face(0, 0, 10, 10, 0.9, "fixed", ((20.0, 20.0), (20 + 10 * np.cos(t), 20 + 10 * np.sin(t))))]


def test_severity_zero_is_aligned_too_and_small_tilts_or_no_eyes_leave_the_face(astronaut_face):
    from core.evaluation.robustness_alignment import align_rotated

    faces, keys = [astronaut_face, astronaut_face[::-1].copy()], ["a", "b"]
    tilted = align_rotated(faces, keys, 0, (2,), detector=FixedEyes(12.0))
    assert tilted.severities == [0, 2] and tilted.eyes_found == {0: 2, 2: 2} and tilted.turned == {0: 2, 2: 2}
    assert np.array_equal(tilted.faces[0][0], turned(astronaut_face, 12.0))  # clean faces are turned as well
    assert tilted.residual_degrees[0] == pytest.approx(12.0, abs=0.01)
    for tilt in (0.5, None):  # under MIN_TURN_DEGREES, or no eyes: the face as it is
        kept = align_rotated(faces, keys, 0, (2,), detector=FixedEyes(tilt))
        assert kept.turned == {0: 0, 2: 0} and kept.eyes_found[0] == (0 if tilt is None else 2)
        assert all(np.array_equal(a, b) for a, b in zip(kept.faces[0], faces))
        assert np.array_equal(kept.faces[2][1], corruptions.corrupt(faces[1], "rotation", 2, 0, "b"))
        assert (kept.residual_degrees[0] is None) is (tilt is None)


def test_runner_stores_alignment_apart_from_the_families_mean():
    from core.evaluation.robustness import format_summary, run_robustness, summarise

    model = MeanBrightness()
    result = run_robustness({"stand_in": model}, Faces(), "test", count=28, families=["rotation", "jpeg"],
                            severities=(1, 5))["stand_in"]
    assert model.calls == [28, 56, 56, 28 * 3]  # clean, two families, then severities 0, 1, 5 aligned at once
    aligned = result["alignment"]
    assert [s["severity"] for s in aligned["severities"]] == [0, 1, 5] and aligned["n_images"] == 28
    # flat grey faces: BlazeFace finds no eyes, so each face is classified as rotated, with the same answer
    rotation = result["families"]["rotation"]["severities"]
    assert [s["eyes_found"] for s in aligned["severities"]] == [0, 0, 0]
    assert [s["accuracy"] for s in aligned["severities"]] == [s["accuracy"] for s in rotation]
    assert [s["unaligned_accuracy"] for s in aligned["severities"]] == [s["accuracy"] for s in rotation]
    assert aligned["unaligned_mean_accuracy"] == pytest.approx(result["families"]["rotation"]["mean_accuracy"])
    assert aligned["parameters"]["min_turn_degrees"] == 1.0 and aligned["parameters"]["pad"] == "black"
    assert result["mean_corruption_accuracy"] == summarise(result["clean"], result["families"])["mean_corruption_accuracy"]
    assert result["timing"]["alignment_seconds"] > 0
    assert "rotation turned back by the eyes: " in format_summary(result)
    bare = run_robustness({"m": MeanBrightness()}, Faces(), "test", count=14, families=["rotation"],
                          severities=(1,), align=False)["m"]
    assert "alignment" not in bare and "turned back" not in format_summary(bare)


def test_without_blazeface_the_lab_runs_and_says_why_alignment_is_missing(monkeypatch):
    from core.evaluation.robustness import run_robustness
    from core.faces import blazeface

    def missing(model):
        raise blazeface.BlazeFaceUnavailable("BlazeFace model file face_detection_short_range.tflite not found")

    monkeypatch.setattr(blazeface, "model_path", missing)
    result = run_robustness({"m": MeanBrightness()}, Faces(), "test", count=14, families=["rotation"],
                            severities=(1,))["m"]
    assert "alignment" not in result and "tflite not found" in result["alignment_skipped"]
    assert [s["severity"] for s in result["families"]["rotation"]["severities"]] == [0, 1]
