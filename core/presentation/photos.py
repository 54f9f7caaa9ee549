"""A photo analysed for the Compare page: the result, a display-sized annotated copy, a thumbnail per
face, and the smallest face findable at that size; plus the session's small LRU of analysed photos.

Everything stays in memory: nothing is written or logged.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import cv2
import numpy as np

from core.analysis.pipeline import AnalysisOptions, Analyzer
from core.media.images import ImageDecodeError
from core.presentation.annotate import annotate_faces, to_rgb

DISPLAY_MAX_SIDE = 1280  # the annotated photo is shown (and kept) at most this large
THUMBNAIL_SIDE = 160  # a face's crop is shown at most this large


def shrink_to(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down (never up) so that its longer side is at most ``max_side``."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def face_thumbnail(image: np.ndarray, region: dict, max_side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """The face's box cut from the BGR photo (the whole photo if the box is empty), small, as RGB."""
    x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h"))
    crop = image[max(0, y):y + h, max(0, x):x + w]
    if crop.size == 0:
        crop = image
    return to_rgb(shrink_to(crop, max_side))


def analyse_photo(analyzer: Analyzer, name: str, payload, options: AnalysisOptions) -> dict:
    """``{"result", "annotated", "crops", "smallest_findable"}``, or ``{"error", "reason"}`` for a
    photo that cannot be decoded. ``payload``: the file's bytes, or an already decoded BGR array."""
    try:
        image, photo = analyzer.decode_and_analyze(payload, name=name, options=options)
    except ImageDecodeError as exc:
        return {"error": str(exc), "reason": exc.reason}
    result = photo.to_dict()
    annotated = annotate_faces(image, result["faces"])
    return {"result": result, "annotated": to_rgb(shrink_to(annotated, DISPLAY_MAX_SIDE)),
            "crops": [face_thumbnail(image, face["region"]) for face in result["faces"]],
            "smallest_findable": analyzer.smallest_findable_face(image.shape[1], image.shape[0], options)}


def payload_digest(payload) -> str:
    """A cache key for a photo's content (``example`` for the built-in, already decoded photo)."""
    return "example" if isinstance(payload, np.ndarray) else hashlib.sha256(payload).hexdigest()


class LruCache(OrderedDict):
    """A dict that keeps at most ``size`` entries, dropping the least recently used first."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def touch(self, keys) -> None:
        """Mark ``keys`` as just used (in order), then drop the oldest beyond the size, never
        dropping any of ``keys``."""
        keys = list(keys)
        for key in keys:
            if key in self:
                self.move_to_end(key)
        while len(self) > max(self.size, len(keys)):
            self.popitem(last=False)
