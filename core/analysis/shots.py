"""Shot cuts in a sequence of frames, by colour-histogram difference.

A face track must not continue across a cut: the person in the same place after a cut is usually
someone else. PySceneDetect is the established library for this, but it depends on the full
``opencv-python``, a second OpenCV beside the headless one this project uses; its histogram test
is small enough to do here. Each frame's hue-saturation histogram (on a small copy) is compared
with the previous frame's by Bhattacharyya distance (0 identical, 1 disjoint): a cut is a distance
above ``threshold``.
"""
from __future__ import annotations

import cv2
import numpy as np

CUT_THRESHOLD = 0.35
_SIDE = 160  # frames are compared at most this long: the histogram needs no detail


def colour_histogram(image: np.ndarray) -> np.ndarray:
    """The normalised hue-saturation histogram of a BGR (or grayscale) frame."""
    height, width = image.shape[:2]
    scale = min(1.0, _SIDE / max(height, width, 1))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(histogram, histogram).flatten()


class ShotCuts:
    """Feed frames in order; :meth:`is_cut` says whether a frame starts a new shot (never the first)."""

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.cuts = 0

    def distance(self, image: np.ndarray) -> float | None:
        """The Bhattacharyya distance to the previous frame (None for the first), and remember this one."""
        histogram = colour_histogram(image)
        previous, self._previous = self._previous, histogram
        if previous is None:
            return None
        return float(cv2.compareHist(previous, histogram, cv2.HISTCMP_BHATTACHARYYA))

    def is_cut(self, image: np.ndarray) -> bool:
        distance = self.distance(image)
        cut = distance is not None and distance > self.threshold
        self.cuts += cut
        return cut
