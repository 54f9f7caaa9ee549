"""Merging overlapping detections (core.faces.nms) for any detector, and the combined detectors."""
from __future__ import annotations

import numpy as np
import pytest

from core.faces.base import Face
from core.faces.nms import (
    FallbackDetector,
    MergingDetector,
    UnionDetector,
    merge_overlapping,
    overlap,
    weighted_nms,
)


class Fixed:
    """A stand-in detector that returns fixed boxes and counts its calls."""

    def __init__(self, faces):
        self.faces, self.calls = list(faces), 0

    def detect(self, image):
        self.calls += 1
        return list(self.faces)


def test_overlap_iou_and_containment():
    big, inner = Face(0, 0, 100, 100, 0.9), Face(10, 10, 40, 40, 0.8)
    iou, inside = overlap(big, inner)
    assert iou == pytest.approx(1600 / 10000) and inside == pytest.approx(1.0)
    assert overlap(big, Face(200, 200, 10, 10, 1.0)) == (0.0, 0.0)


def test_two_boxes_on_one_face_become_one_the_most_confident():
    faces = [Face(100, 100, 80, 80, 0.6), Face(110, 105, 90, 90, 0.9), Face(400, 100, 80, 80, 0.7)]
    merged = merge_overlapping(faces)
    assert merged == [Face(110, 105, 90, 90, 0.9), Face(400, 100, 80, 80, 0.7)]  # largest first


def test_a_small_box_inside_a_large_one_is_dropped_even_at_low_iou():
    faces = [Face(0, 0, 200, 200, 0.5), Face(50, 50, 60, 60, 0.9)]  # IoU 0.09, but fully inside
    assert merge_overlapping(faces) == [Face(50, 50, 60, 60, 0.9)]


def test_neighbouring_faces_are_kept():
    faces = [Face(0, 0, 100, 100, 0.9), Face(80, 0, 100, 100, 0.9)]  # IoU 0.11, 20% inside
    assert len(merge_overlapping(faces)) == 2
    assert merge_overlapping([]) == []


def test_keep_order_lets_the_first_detector_win():
    first, second = Face(0, 0, 100, 100, 0.5), Face(5, 5, 100, 100, 0.99)
    assert merge_overlapping([first, second], keep_order=True) == [first]


def test_weighted_nms_averages_a_cluster():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    out_boxes, out_scores = weighted_nms(boxes, scores, 0.3)
    assert out_scores.tolist() == pytest.approx([0.9, 0.8])
    assert out_boxes[0] == pytest.approx([0.25, 0.25, 10.25, 10.25])  # (0.9*0 + 0.3*1) / 1.2
    assert weighted_nms(np.zeros((0, 4)), np.zeros(0))[0].shape == (0, 4)


def test_merging_detector_wraps_any_detector():
    inner = Fixed([Face(0, 0, 100, 100, 0.9), Face(10, 10, 90, 90, 0.8)])
    assert MergingDetector(inner).detect(None) == [Face(0, 0, 100, 100, 0.9)]


def test_fallback_runs_only_when_the_primary_finds_nothing():
    primary, fallback = Fixed([Face(0, 0, 50, 50, 0.9)]), Fixed([Face(200, 0, 50, 50, 0.9)])
    assert FallbackDetector(primary, fallback).detect(None) == [Face(0, 0, 50, 50, 0.9)]
    assert fallback.calls == 0
    empty = Fixed([])
    assert FallbackDetector(empty, fallback).detect(None) == [Face(200, 0, 50, 50, 0.9)]


def test_union_keeps_one_box_per_face_preferring_the_first_detector():
    first = Fixed([Face(0, 0, 100, 100, 0.6)])
    second = Fixed([Face(5, 5, 100, 100, 0.99), Face(300, 0, 60, 60, 0.9)])
    assert UnionDetector(first, second).detect(None) == [Face(0, 0, 100, 100, 0.6), Face(300, 0, 60, 60, 0.9)]

