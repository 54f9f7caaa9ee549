"""Photos with every face boxed, numbered and labelled with each model's emotion, as the Compare page
shows and offers them for download (made in memory only).

Labels are placed like DeepFace's and fer's demos (a tag on the box), but never over another face's
box or label: each tag tries above the box, below it, then inside its top edge, moving down until it
overlaps nothing already drawn.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

FACE_COLOR_BGR = (60, 200, 60)  # our detector's boxes
DEEPFACE_COLOR_BGR = (12, 121, 232)  # DeepFace's own boxes ("full" mode), the DeepFace orange
FONT = cv2.FONT_HERSHEY_SIMPLEX


def hex_to_bgr(color: str) -> tuple[int, int, int]:
    color = color.lstrip("#")
    r, g, b = (int(color[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r


def _overlaps(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_lines(face: dict, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """``[(model, "CNN happy 88%"), ...]`` in the order of the face's models."""
    return [(model, f"{names.get(model, model)} {p['dominant_emotion']} {p['confidence'] * 100:.0f}%")
            for model, p in face.get("models", {}).items()]


def annotate_faces(image_bgr: np.ndarray, faces: Sequence[dict], show_deepface_boxes: bool = True,
                   names: Mapping[str, str] | None = None, colors: Mapping[str, str] | None = None,
                   labels: bool = True) -> np.ndarray:
    """A copy of the photo with every face boxed and numbered (the ``face`` index of the result) and,
    when ``labels``, a tag per face with each model's emotion and confidence (``names`` and
    ``colors``: display name and ``#rrggbb`` colour per model).

    Our detector's boxes are green; DeepFace's own boxes (its detector, ``deepface_region``) are
    drawn in orange when they differ. A whole-image pseudo-face is not boxed; its tag sits top left.
    """
    names, colors = names or {}, colors or {}
    out = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    height, width = out.shape[:2]
    thickness = max(2, round(max(width, height) / 400))
    font_scale = max(0.5, max(width, height) / 1100)
    text_thickness = max(1, round(font_scale * 1.6))
    occupied: list[tuple] = []
    for face in faces:
        region = face["region"]
        if face.get("source") not in ("whole_image", "face_crop"):
            occupied.append((region["x"], region["y"], region["x"] + region["w"], region["y"] + region["h"]))
    for face in faces:
        boxed = face.get("source") not in ("whole_image", "face_crop")
        region = face["region"]
        x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h"))
        color = DEEPFACE_COLOR_BGR if face.get("source") == "deepface_detector" else FACE_COLOR_BGR
        if boxed:
            cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness, cv2.LINE_AA)
        theirs = face.get("deepface_region")
        if show_deepface_boxes and theirs and theirs != region and face.get("source") != "deepface_detector":
            tx, ty, tw_, th_ = (int(theirs[k]) for k in ("x", "y", "w", "h"))
            cv2.rectangle(out, (tx, ty), (tx + tw_, ty + th_), DEEPFACE_COLOR_BGR, max(1, thickness // 2), cv2.LINE_AA)
        lines = [(None, str(face["face"]))] + (_label_lines(face, names) if labels else [])
        sizes = [cv2.getTextSize(text, FONT, font_scale, text_thickness) for _, text in lines]
        line_h = max(th + base for (_, th), base in sizes) + 6
        tag_w = max(tw for (tw, _), _ in sizes) + 12
        tag_h = line_h * len(lines) + 4
        if not boxed:
            x, y, w, h = 0, 0, width, 0
        left = int(min(max(0, x), max(0, width - tag_w)))
        placed = None
        for top in (y - tag_h, y + h + 1, y + 1):
            top = int(min(max(0, top), max(0, height - tag_h)))
            for step in range(0, height, max(4, line_h // 2)):
                rect = (left, top + step, left + tag_w, top + step + tag_h)
                if rect[3] > height:
                    break
                if not any(_overlaps(rect, other) for other in occupied):
                    placed = rect
                    break
            if placed:
                break
        placed = placed or (left, int(max(0, y - tag_h)), left + tag_w, int(max(0, y - tag_h)) + tag_h)
        occupied.append(placed)
        x0, y0, x1, y1 = placed
        overlay = out.copy()
        cv2.rectangle(overlay, (x0, y0), (x1, y1), (32, 32, 32), -1)
        cv2.addWeighted(overlay, 0.78, out, 0.22, 0, dst=out)
        for i, (model, text) in enumerate(lines):
            baseline = y0 + 2 + line_h * (i + 1) - 6
            swatch = color if model is None else hex_to_bgr(colors.get(model, "#cccccc"))
            cv2.rectangle(out, (x0, y0 + 2 + line_h * i), (x0 + 4, y0 + 2 + line_h * (i + 1)), swatch, -1)
            cv2.putText(out, text, (x0 + 9, baseline), FONT, font_scale, (255, 255, 255), text_thickness, cv2.LINE_AA)
    return out


def to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    if image_bgr.ndim == 2:
        return cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image_bgr[..., ::-1])


def png_bytes(image_rgb: np.ndarray) -> bytes:
    """The image as PNG bytes, encoded in memory (for a download button)."""
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image_rgb[..., ::-1]) if image_rgb.ndim == 3 else image_rgb)
    if not ok:
        raise ValueError("cannot encode the image as PNG")
    return data.tobytes()
