"""Photos with every face boxed, numbered and labelled with each model's emotion, as the Compare page
shows and offers them for download (made in memory only).

Labels are placed like DeepFace's and fer's demos (a tag on the box), but never over another face's
box or label and never cut off by the image's edge: each tag tries above the box, below it, then
inside its top edge, and is shortened when faces are too close for the full tag (group photos).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

FACE_COLOR_BGR = (60, 200, 60)  # our detector's boxes
DEEPFACE_COLOR_BGR = (12, 121, 232)  # DeepFace's own boxes ("full" mode), the DeepFace orange
FONT = cv2.FONT_HERSHEY_SIMPLEX
TAG_VERSIONS = 4  # see _tag_versions


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


def _tag_versions(face: dict, names: Mapping[str, str], labels: bool) -> list[list[tuple[str | None, str]]]:
    """The face's tag, longest first: number and "Model emotion NN%" lines; then without the model
    names (the colour swatch still says which model); then one line, the number and the answers;
    then the number alone."""
    number = [(None, str(face["face"]))]
    if not labels or not face.get("models"):
        return [number] * TAG_VERSIONS
    short = [(model, f"{p['dominant_emotion']} {p['confidence'] * 100:.0f}%") for model, p in face["models"].items()]
    answers = list(dict.fromkeys(p["dominant_emotion"] for p in face["models"].values()))
    one_line = [(None, f"{face['face']} {'/'.join(answers)}")]
    return [number + _label_lines(face, names), number + short, one_line, number]


def layout_tags(faces: Sequence[dict], width: int, height: int, font_scale: float, text_thickness: int,
                names: Mapping[str, str] | None = None, labels: bool = True) -> list[tuple[tuple, list]]:
    """Where each face's tag goes and what it says: ``[(rect (x0, y0, x1, y1), lines), ...]``.

    Each tag sits above its box, else below it, else inside its top edge, always inside the image,
    never over a box or an earlier tag; when no place is free, a shorter version is tried (see
    :func:`_tag_versions`). Only when even the number alone finds no free place does it overlap.
    """
    names = names or {}
    for start in range(TAG_VERSIONS):  # one version for every face where they all fit: tags look alike
        tags, shortest = _layout_from(start, faces, width, height, font_scale, text_thickness, names, labels)
        if shortest == start:
            break
    return tags


def _layout_from(start: int, faces, width, height, font_scale, text_thickness, names, labels):
    occupied: list[tuple] = [(f["region"]["x"], f["region"]["y"], f["region"]["x"] + f["region"]["w"],
                              f["region"]["y"] + f["region"]["h"]) for f in faces
                             if f.get("source") not in ("whole_image", "face_crop")]
    out, shortest = [], start
    for face in faces:
        boxed = face.get("source") not in ("whole_image", "face_crop")
        region = face["region"]
        x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h")) if boxed else (0, 0, width, 0)
        placed = None
        for version, lines in list(enumerate(_tag_versions(face, names, labels)))[start:]:
            size = _tag_size(lines, font_scale, text_thickness)
            placed = _free_place(x, y, w, h, size, width, height, occupied)
            if placed:
                shortest = max(shortest, version)
                break
        if placed is None:  # nowhere free: the number alone, above the box, kept inside the image
            shortest = TAG_VERSIONS
            tag_w, tag_h = size
            left, top = int(min(max(0, x), max(0, width - tag_w))), int(min(max(0, y - tag_h), max(0, height - tag_h)))
            placed = (left, top, left + tag_w, top + tag_h)
        occupied.append(placed)
        out.append((placed, lines))
    return out, shortest


def _tag_size(lines, font_scale: float, text_thickness: int) -> tuple[int, int]:
    sizes = [cv2.getTextSize(text, FONT, font_scale, text_thickness) for _, text in lines]
    line_h = max(th + base for (_, th), base in sizes) + 6
    return max(tw for (tw, _), _ in sizes) + 12, line_h * len(lines) + 4


def _free_place(x, y, w, h, size, width, height, occupied) -> tuple | None:
    tag_w, tag_h = size
    if tag_w > width or tag_h > height:
        return None
    lefts = dict.fromkeys(int(min(max(0, left), width - tag_w)) for left in (x, x + w - tag_w))
    for top in (y - tag_h - 1, y + h + 1, y + 1):
        if top < 0 or top + tag_h > height:
            continue
        for left in lefts:
            rect = (left, top, left + tag_w, top + tag_h)
            if not any(_overlaps(rect, other) for other in occupied):
                return rect
    return None


def annotate_faces(image_bgr: np.ndarray, faces: Sequence[dict], show_deepface_boxes: bool = True,
                   names: Mapping[str, str] | None = None, colors: Mapping[str, str] | None = None,
                   labels: bool = True) -> np.ndarray:
    """A copy of the photo with every face boxed and numbered (the ``face`` index of the result) and,
    when ``labels``, a tag per face with each model's emotion and confidence (``names`` and
    ``colors``: display name and ``#rrggbb`` colour per model), placed by :func:`layout_tags`.

    Our detector's boxes are green; DeepFace's own boxes (its detector, ``deepface_region``) are
    drawn in orange when they differ. A whole-image pseudo-face is not boxed; its tag sits top left.
    """
    names, colors = names or {}, colors or {}
    out = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    height, width = out.shape[:2]
    thickness = max(2, round(max(width, height) / 400))
    font_scale = max(0.5, max(width, height) / 1100)
    text_thickness = max(1, round(font_scale * 1.6))
    tags = layout_tags(faces, width, height, font_scale, text_thickness, names, labels)
    for face, (placed, lines) in zip(faces, tags):
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
        x0, y0, x1, y1 = placed
        line_h = (y1 - y0 - 4) // len(lines)
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
