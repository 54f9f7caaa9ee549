"""Stable face numbers across the frames of a video or a live stream.

Detectors return faces largest first, so "face 1" in one frame can be another person in the next.
:class:`FaceTracker` matches each frame's boxes to the previous ones by overlap (greedy, highest
IoU first) so a face keeps its number while it stays in view; a new face gets the next unused
number. Charts and smoothing are per number, so two people are never averaged together.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.faces.base import Face

MATCH_IOU = 0.3


@dataclass
class _Track:
    number: int
    face: Face
    missing: int = 0


class FaceTracker:
    """Numbers faces 1, 2, ... across frames; a face unseen for ``max_missing`` frames is forgotten.

    Not thread-safe: one tracker per stream or video.
    """

    def __init__(self, match_iou: float = MATCH_IOU, max_missing: int = 15):
        self.match_iou = match_iou
        self.max_missing = max_missing
        self._tracks: list[_Track] = []
        self._next = 1

    def reset(self) -> None:
        self._tracks = []
        self._next = 1

    def end_shot(self) -> None:
        """A shot cut: every track ends; faces after it get new numbers."""
        self._tracks = []

    def update(self, faces: list[Face]) -> list[int]:
        """The number of each face, in the order given."""
        pairs = sorted(((track.face.iou(face), t, f) for t, track in enumerate(self._tracks)
                        for f, face in enumerate(faces)), key=lambda p: (-p[0], p[1], p[2]))
        numbers: list[int | None] = [None] * len(faces)
        used: set[int] = set()
        for iou, t, f in pairs:
            if iou < self.match_iou:
                break
            if t in used or numbers[f] is not None:
                continue
            used.add(t)
            numbers[f] = self._tracks[t].number
            self._tracks[t].face, self._tracks[t].missing = faces[f], 0
        for t, track in enumerate(self._tracks):
            if t not in used:
                track.missing += 1
        self._tracks = [track for track in self._tracks if track.missing <= self.max_missing]
        for f, face in enumerate(faces):
            if numbers[f] is None:
                numbers[f] = self._next
                self._tracks.append(_Track(self._next, face))
                self._next += 1
        return [int(n) for n in numbers]
