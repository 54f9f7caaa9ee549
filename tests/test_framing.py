"""Canonical framing: detector boxes mapped to a model's training framing (core.faces.framing)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.analysis.classify import classify_faces, framed_crops
from core.faces import framing
from core.faces.base import Face


def test_a_known_box_maps_to_the_known_square():
    """Non-regression test for issue 22: a 100 px BlazeFace-style box -> the 125 px square above it."""
    mapping = framing.FramingMap(scale=1.25, dx=0.0, dy=-0.1)
    square = mapping.apply(Face(200, 100, 100, 100, 0.9, "blazeface"))
    assert (square.x, square.y, square.w, square.h) == (188, 78, 125, 125)
    assert square.detector == "blazeface" and square.confidence == 0.9
    wide = mapping.apply(Face(0, 0, 144, 100, 0.9, "haar"))  # side: the geometric mean, 120 px
    assert (wide.w, wide.h) == (150, 150)


def test_fitting_recovers_a_known_map():
    truth = framing.FramingMap(scale=1.2, dx=0.05, dy=-0.08)
    boxes = [Face(x, y, s, s, 1.0, "haar") for x, y, s in ((10, 20, 50), (300, 40, 90), (120, 200, 64))]
    fitted = framing.FramingMap.fitted([(b, truth.apply(b)) for b in boxes])
    assert fitted.scale == pytest.approx(1.2, abs=0.02)
    assert fitted.dx == pytest.approx(0.05, abs=0.02) and fitted.dy == pytest.approx(-0.08, abs=0.02)


def test_frame_reads_the_stored_maps_per_detector(tmp_path):
    path = tmp_path / "framing.json"
    path.write_text(json.dumps({"maps": {"fer2013": {"blazeface": {"scale": 2.0, "dx": 0.0, "dy": 0.0}}}}))
    box = Face(100, 100, 50, 50, 1.0, "blazeface")
    assert framing.frame(box, "fer2013", path) == Face(75, 75, 100, 100, 1.0)
    assert framing.frame(Face(100, 100, 50, 50, 1.0, "haar"), "fer2013", path) == Face(100, 100, 50, 50, 1.0)
    assert framing.frame(box, framing.DETECTOR_FRAMING, path) == box  # "as the detector drew it"
    assert framing.frame(Face(100, 100, 50, 50, 1.0), "fer2013", path) == Face(100, 100, 50, 50, 1.0)  # no detector


def test_the_shipped_maps_cover_every_single_detector_and_grow_blazefaces_box():
    from core.bench.framing import DETECTORS

    maps = framing.maps("fer2013")
    assert set(DETECTORS) <= set(maps)
    assert maps["blazeface"].scale > 1.0  # BlazeFace frames tighter than FER2013 does
    assert all(0.5 < m.scale < 2.0 and abs(m.dx) < 0.3 and abs(m.dy) < 0.3 for m in maps.values())


def test_every_model_gets_the_faces_in_its_own_framing():
    class Seen:
        labels = ("a", "b")

        def __init__(self, framing_name):
            self.record = type("R", (), {"preprocessing": type("P", (), {"framing": framing_name})})()
            self.shapes = []

        def predict(self, crops):
            self.shapes += [c.shape[:2] for c in crops]
            return np.tile([0.7, 0.3], (len(crops), 1))

    image = np.zeros((400, 400, 3), np.uint8)
    face = Face(150, 150, 60, 60, 0.9, "blazeface")
    fer, raw = Seen("fer2013"), Seen(framing.DETECTOR_FRAMING)
    answers, errors, _ = classify_faces({"fer": fer, "raw": raw}, image, [face])
    assert not errors and set(answers) == {"fer", "raw"}
    square = framing.frame(face, "fer2013")
    assert fer.shapes == [(square.h, square.w)] and raw.shapes == [(60, 60)]
    assert list(framed_crops(image, [face], ["fer2013", "fer2013"])) == ["fer2013"]  # one cut per framing


def test_alignment_turns_the_eyes_level():
    from core.faces.framing import cut, eye_angle

    tilted = Face(100, 100, 80, 80, 0.9, "blazeface", ((120.0, 120.0), (160.0, 140.0), (140, 150), (140, 170)))
    assert eye_angle(tilted) == pytest.approx(26.57, abs=0.01)
    assert eye_angle(Face(0, 0, 10, 10, 1.0)) is None
    image = np.zeros((300, 300, 3), np.uint8)
    image[:, 150:] = 255  # a vertical edge through the face's centre leans once the face is turned
    square = framing.frame(tilted, "fer2013")
    plain, turned = cut(image, tilted, "fer2013"), cut(image, tilted, "fer2013", align=True)
    assert plain.shape == turned.shape == (square.h, square.w, 3)
    assert not np.array_equal(plain, turned)
    upright = Face(100, 100, 80, 80, 0.9, "blazeface", ((120.0, 130.0), (160.0, 130.0)))
    assert np.array_equal(cut(image, upright, "fer2013", align=True), cut(image, upright, "fer2013"))


def test_a_haar_box_is_re_placed_by_blazeface_before_mapping():
    """Every detector's face ends up framed from BlazeFace's box and keypoints on the same square
    around it (one small extra call per face), so two detectors' crops of one face nearly agree."""
    from core.faces.catalogue import build
    from core.media.images import example_photo

    image = example_photo()
    haar = build("haar").detect(image)[0]
    refined = framing.refine(image, haar)
    assert haar.detector == "haar" and refined.detector == "blazeface" and len(refined.keypoints) == 6
    assert refined.iou(haar) > 0.3 and refined != haar
    blaze = build("blazeface").detect(image)[0]
    again = framing.refine(image, blaze)  # BlazeFace's own faces get the same second look, at the same scale
    assert again.detector == "blazeface" and again.iou(refined) > 0.8
    assert framing.refine(image, blaze, detectors=("haar",)) is blaze
    nothing = Face(0, 0, 40, 40, 0.5, "haar")  # no face there: the box stays as Haar drew it
    assert framing.refine(np.zeros((200, 200, 3), np.uint8), nothing) is nothing


def test_about_states_the_invariance_and_small_face_figures_from_the_bench():
    from core.presentation.detectors import detector_facts

    bench = {"framing": {"same_top_emotion": {"fer2013_cnn": {"rate": 0.908, "faces_by_2_plus_detectors": 76}},
                         "targets": {"same_top_emotion": 0.95}},
             "group_photos": {"scenes": 20, "size": "1280x720", "target_recall": 0.9,
                              "target_false_positives_per_photo": 1.0,
                              "detectors": [{"detector": "blazeface-tiles", "recall": 0.874, "faces": 151,
                                             "false_positives_per_photo": 1.15, "ms_median": 250.2}]}}
    same, small = detector_facts(bench)
    assert "90.8% (of 76)" in same and "target is 95.0%" in same
    assert "found 87.4%" in small and "1.15 false faces per photo" in small
    assert detector_facts({}) == []
    bench["framing"]["same_top_emotion"]["fer2013_cnn"].update(rate=0.914, faces_by_2_plus_detectors=394,
                                                               rate_ci95=[0.882, 0.938])
    assert "91.4% (of 394, 95% interval 88.2%-93.8%)" in detector_facts(bench)[0]


def test_the_cli_offers_alignment_off_by_default():
    import argparse

    from core.cli import predict
    from core.cli.common import analysis_options

    parser = argparse.ArgumentParser()
    predict.add_parser(parser.add_subparsers())
    assert analysis_options(parser.parse_args(["predict", "x.jpg", "--align"])).align is True
    assert analysis_options(parser.parse_args(["predict", "x.jpg"])).align is False


def test_the_pipeline_gap_comes_with_its_paired_interval_and_test():
    """points_apart's uncertainty: a paired bootstrap interval in points and the exact McNemar p-value,
    from the same faces classified both ways."""
    from core.bench.framing import _paired_gap

    truth = ["happy"] * 8 + ["sad"] * 8
    squares = list(truth)
    pipeline = ["sad"] * 4 + truth[4:]  # four faces lost by the pipeline, none won
    gap = _paired_gap(pipeline, squares, truth)
    lo, hi = gap["points_apart_ci95"]
    assert -50 < lo < -25 < hi < 0  # the 25-point loss inside; on 16 faces it still excludes zero
    assert gap["mcnemar_p"] == 0.125  # 4 of 4 discordant one way: 2 * 0.5**4
    even = _paired_gap(list(truth), squares, truth)
    assert even == {"points_apart_ci95": [0.0, 0.0], "mcnemar_p": 1.0}
    assert _paired_gap([], [], []) == {"points_apart_ci95": None, "mcnemar_p": None}
