"""Merging overlapping detections (non-maximum suppression) for any detector, and the combined
detectors built on it (the catalogue of named detectors is :mod:`core.faces.catalogue`).

A detector is anything with ``detect(image) -> list[Face]``. Haar's cascade and BlazeFace both
sometimes report one face twice (two boxes of clearly different size, or a small box inside a
larger one), which the app then scored as two faces. :func:`merge_overlapping` keeps one box per
face: a box is dropped when it overlaps a kept box by IoU above ``iou_threshold`` *or* when most of
it (``containment_threshold`` of its own area) lies inside a kept box.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from core.faces.base import Face

IOU_THRESHOLD = 0.3
CONTAINMENT_THRESHOLD = 0.7


class Detector(Protocol):
    def detect(self, image: np.ndarray) -> list[Face]: ...


def overlap(a: Face, b: Face) -> tuple[float, float]:
    """``(IoU, intersection / the smaller box's area)`` of two boxes."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    smaller = min(a.area, b.area)
    return (inter / union if union else 0.0), (inter / smaller if smaller else 0.0)


def merge_overlapping(faces: Sequence[Face], iou_threshold: float = IOU_THRESHOLD,
                      containment_threshold: float = CONTAINMENT_THRESHOLD, keep_order: bool = False) -> list[Face]:
    """One box per face, largest first (as the detectors return them).

    Boxes are considered most confident first (``keep_order=True``: in the given order, so that an
    earlier detector's boxes win over a later one's whose confidences are not comparable).
    """
    ranked = list(faces) if keep_order else sorted(faces, key=lambda f: (-f.confidence, -f.area, f.x, f.y))
    kept: list[Face] = []
    for face in ranked:
        if all(_distinct(face, other, iou_threshold, containment_threshold) for other in kept):
            kept.append(face)
    kept.sort(key=lambda f: (-f.area, f.x, f.y))
    return kept


def _distinct(a: Face, b: Face, iou_threshold: float, containment_threshold: float) -> bool:
    iou, inside = overlap(a, b)
    return iou <= iou_threshold and inside < containment_threshold


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = IOU_THRESHOLD
                 ) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS over ``(n, 4 + k)`` rows ``[x0, y0, x1, y1, ...]`` (extra columns,
    e.g. keypoints, are averaged with the box): each cluster of boxes overlapping the best remaining
    one (IoU above the threshold) becomes their score-weighted mean, with the best score. SSD
    detectors fire on many neighbouring anchors; averaging them steadies the box from frame to
    frame, which plain NMS does not."""
    boxes = np.asarray(boxes, dtype=np.float32)
    boxes = boxes.reshape(-1, boxes.shape[-1] if boxes.ndim == 2 else 4)
    scores = np.asarray(scores, dtype=np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    remaining = np.ones(len(boxes), dtype=bool)
    out_boxes, out_scores = [], []
    for i in range(len(boxes)):
        if not remaining[i]:
            continue
        ix = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        inter = ix * iy
        union = areas[i] + areas - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        cluster = remaining & (iou > iou_threshold)
        cluster[i] = True
        weights = scores[cluster]
        out_boxes.append((boxes[cluster] * weights[:, None]).sum(axis=0) / weights.sum())
        out_scores.append(scores[i])
        remaining &= ~cluster
    if not out_boxes:
        return np.zeros((0, boxes.shape[1]), np.float32), np.zeros(0, np.float32)
    return np.stack(out_boxes).astype(np.float32), np.asarray(out_scores, np.float32)


class MergingDetector:
    """Any detector with its overlapping boxes merged."""

    def __init__(self, detector: Detector, iou_threshold: float = IOU_THRESHOLD,
                 containment_threshold: float = CONTAINMENT_THRESHOLD):
        self.detector = detector
        self.iou_threshold = iou_threshold
        self.containment_threshold = containment_threshold

    def detect(self, image: np.ndarray) -> list[Face]:
        return merge_overlapping(self.detector.detect(image), self.iou_threshold, self.containment_threshold)


class FallbackDetector:
    """The primary detector's faces; the fallback's only when the primary finds none (e.g. Haar for the
    small faces BlazeFace misses). Costs the primary's time on most frames."""

    def __init__(self, primary: Detector, fallback: Detector):
        self.primary = primary
        self.fallback = fallback

    def detect(self, image: np.ndarray) -> list[Face]:
        faces = merge_overlapping(self.primary.detect(image))
        return faces if faces else merge_overlapping(self.fallback.detect(image))


class UnionDetector:
    """Both detectors' faces, one box per face; where they overlap the first detector's box is kept (the two confidences are not on one scale). Costs both detectors' time."""

    def __init__(self, first: Detector, second: Detector, iou_threshold: float = IOU_THRESHOLD,
                 containment_threshold: float = CONTAINMENT_THRESHOLD):
        self.first = first
        self.second = second
        self.iou_threshold = iou_threshold
        self.containment_threshold = containment_threshold

    def detect(self, image: np.ndarray) -> list[Face]:
        first = merge_overlapping(self.first.detect(image), self.iou_threshold, self.containment_threshold)
        second = merge_overlapping(self.second.detect(image), self.iou_threshold, self.containment_threshold)
        return merge_overlapping(first + second, self.iou_threshold, self.containment_threshold, keep_order=True)
