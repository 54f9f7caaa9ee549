"""Small faces in large photos: BlazeFace run on overlapping tiles, each candidate checked again.

BlazeFace's short-range model sees the photo letterboxed to 128 px, so in a 1280x720 photo it
misses faces under about 128 px. Cutting the photo into overlapping ``tile`` px squares (each shrunk
to 128) makes a 40 px face about a fifth of the model's input, where it finds it. Tiles fire on
texture too, so every candidate is checked: BlazeFace runs once more on a square ``verify_grows[0]``
times the candidate's side, centred on it (the face is then about half the input, BlazeFace's best
case), and on the next, tighter square where that finds nothing. Only candidates found again with
``verify_confidence`` are kept, with the box of that second look (better placed than the tile's),
or, when the second look misses, those the tile was sure of (``sure_confidence``). The whole photo
is also searched as the default detector does, for faces larger than a tile.

The cost is one BlazeFace call per tile and per candidate (about 45 tiles at 1280x720): this is the
detector for group photos, not the default; the figures are in ``benchmarks/results.json``.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from core.faces.base import Face
from core.faces.blazeface import BlazeFaceDetector
from core.faces.nms import IOU_THRESHOLD, Detector, merge_overlapping, overlap, weighted_nms

TILE_PX = 192  # a 40 px face is 21% of the tile, i.e. of the 128 px input
TILE_OVERLAP = 0.25
# Chosen on group scenes of FER2013 Training faces (core.bench.detection_set.group_scenes) for recall at
# <= 1 false face per photo; make bench reports them on PrivateTest faces.
TILE_CONFIDENCE = 0.4
VERIFY_GROWS = (2.0, 1.6)  # the second look's square, then a tighter one where that finds nothing
VERIFY_CONFIDENCE = 0.65
SURE_TILE_CONFIDENCE = 0.7  # a tile's box this sure is kept when the second look misses it
# BlazeFace's box is about 0.8-0.9 of a face's forehead-to-chin size (core.bench.detection_set's
# FER_FACE_BOX note): a box this much below the minimum face size still holds a face of that size.
BOX_TO_FACE = 0.8
SMALLEST_FRACTION_OF_TILE = 40 / 192  # the smallest face the group scenes were measured with


def tile_origins(length: int, tile: int, overlap: float) -> list[int]:
    """Left (or top) edges of tiles of ``tile`` px covering ``length`` px, overlapping by ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, int(tile * (1 - overlap)))
    origins = list(range(0, length - tile + 1, step))
    if origins[-1] + tile < length:
        origins.append(length - tile)
    return origins


class TiledDetector:
    """Faces down to about ``0.21 * tile`` px: ``whole`` on the photo, BlazeFace on tiles, candidates
    verified (see the module docstring). Safe to share between threads."""

    def __init__(self, whole: Detector, tile: int = TILE_PX, overlap: float = TILE_OVERLAP,
                 tile_confidence: float = TILE_CONFIDENCE, verify_grows: tuple[float, ...] = VERIFY_GROWS,
                 verify_confidence: float = VERIFY_CONFIDENCE, sure_confidence: float = SURE_TILE_CONFIDENCE,
                 min_face_size: int = 1):
        self.whole = whole
        self.blazeface = BlazeFaceDetector("short", min_confidence=tile_confidence, min_face_size=1)
        self.tile, self.overlap = int(tile), float(overlap)
        self.tile_confidence = float(tile_confidence)
        self.verify_grows, self.verify_confidence = tuple(verify_grows), float(verify_confidence)
        self.sure_confidence = float(sure_confidence)
        self.min_face_size = int(min_face_size)

    def candidates(self, image: np.ndarray) -> list[Face]:
        """Every box BlazeFace finds on the tiles, merged across tiles (weighted NMS)."""
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        boxes, scores = [], []
        for y in tile_origins(height, self.tile, self.overlap):
            for x in tile_origins(width, self.tile, self.overlap):
                part = rgb[y:y + self.tile, x:x + self.tile]
                found, score = self.blazeface.raw(part)
                keep = score >= self.tile_confidence
                side = max(part.shape[:2])  # raw boxes are in the letterboxed square's [0, 1]
                pad_x, pad_y = (side - part.shape[1]) / 2, (side - part.shape[0]) / 2
                boxes.append(found[keep] * side + np.tile([x - pad_x, y - pad_y], found.shape[1] // 2))
                scores.append(score[keep])
        merged, merged_scores = weighted_nms(np.concatenate(boxes), np.concatenate(scores), IOU_THRESHOLD)
        return [Face(int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)), float(s), "blazeface",
                     tuple((round(float(px), 1), round(float(py), 1)) for px, py in row[4:16].reshape(6, 2)))
                for row, s in zip(merged, merged_scores) for x0, y0, x1, y1 in [row[:4]] if x1 > x0 and y1 > y0]

    def verify(self, image: np.ndarray, face: Face) -> Face | None:
        """The face BlazeFace finds again in a square around ``face`` (its box); else ``face`` itself
        when the tile was sure of it, else None."""
        for grow in self.verify_grows:
            again = self.look(image, face, grow)
            if again is not None:
                return again
        return face if face.confidence >= self.sure_confidence else None

    def look(self, image: np.ndarray, face: Face, grow: float) -> Face | None:
        """BlazeFace's surest face overlapping ``face`` in a square ``grow`` times its side, or None."""
        height, width = image.shape[:2]
        side = max(face.w, face.h) * grow
        cx, cy = face.x + face.w / 2, face.y + face.h / 2
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(width, cx + side / 2)), int(min(height, cy + side / 2))
        again = [replace(f, x=f.x + x0, y=f.y + y0, keypoints=tuple((px + x0, py + y0) for px, py in f.keypoints))
                 for f in self.blazeface.detect(image[y0:y1, x0:x1]) if f.confidence >= self.verify_confidence]
        again = [f for f in again if f.iou(face) > IOU_THRESHOLD]
        return max(again, key=lambda f: f.confidence) if again else None

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces, largest first: the whole-photo detector's, then the verified small ones."""
        if min(image.shape[:2]) < 2:
            return []
        faces = merge_overlapping(self.whole.detect(image))
        fresh = [c for c in self.candidates(image)  # a face the whole photo gave needs no second look
                 if all(max(overlap(c, f)) < IOU_THRESHOLD for f in faces)]
        small = [self.verify(image, f) for f in fresh]
        small = [f for f in small if f is not None and min(f.w, f.h) >= BOX_TO_FACE * self.min_face_size]
        return merge_overlapping(faces + merge_overlapping(small), keep_order=True)
