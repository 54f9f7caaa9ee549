"""Photos with every face boxed and numbered, as the Compare page shows them (in memory only)."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

FACE_COLOR_BGR = (60, 200, 60)  # our detector's boxes
DEEPFACE_COLOR_BGR = (12, 121, 232)  # DeepFace's own boxes ("full" mode), the DeepFace orange


def annotate_faces(image_bgr: np.ndarray, faces: Sequence[dict], show_deepface_boxes: bool = True) -> np.ndarray:
    """A copy of the photo with every face boxed and numbered (the ``face`` index of the result).

    Our detector's boxes are green; DeepFace's own boxes (its detector, ``deepface_region``) are
    drawn in orange when they differ. A whole-image pseudo-face is not boxed.
    """
    out = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    height, width = out.shape[:2]
    thickness = max(2, round(max(width, height) / 400))
    font_scale = max(0.6, max(width, height) / 900)
    for face in faces:
        boxes = []
        if face.get("source") != "whole_image":
            color = DEEPFACE_COLOR_BGR if face.get("source") == "deepface_detector" else FACE_COLOR_BGR
            boxes.append((face["region"], color, thickness))
        theirs = face.get("deepface_region")
        if show_deepface_boxes and theirs and theirs != face.get("region") and face.get("source") != "deepface_detector":
            boxes.append((theirs, DEEPFACE_COLOR_BGR, max(1, thickness // 2)))
        for i, (region, color, line) in enumerate(boxes):
            x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h"))
            cv2.rectangle(out, (x, y), (x + w, y + h), color, line, cv2.LINE_AA)
            if i:
                continue
            label = str(face["face"])
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
            top = y - th - base - 4 if y - th - base - 4 >= 0 else y + 2
            cv2.rectangle(out, (x, top), (x + tw + 8, top + th + base + 4), color, -1)
            cv2.putText(out, label, (x + 4, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                        thickness, cv2.LINE_AA)
    return out


def to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    if image_bgr.ndim == 2:
        return cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image_bgr[..., ::-1])
