"""Synthetic photos for tests and benchmarks, built from the example photo, and a y4m video writer.

The photos are scaled copies of the astronaut's head and shoulders pasted onto a neutral backdrop
(a soft grey gradient); the video is what Chromium's fake webcam plays.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HEAD_BOX = (95, 10, 260, 280)  # x, y, w, h of the astronaut's head and shoulders in the example photo


def head_and_shoulders() -> np.ndarray:
    """The astronaut's head and shoulders (BGR), face about 100 px wide near the top middle."""
    from core.media.images import example_photo

    x, y, w, h = HEAD_BOX
    return np.ascontiguousarray(example_photo()[y:y + h, x:x + w])


def backdrop(width: int, height: int, low: int = 70, high: int = 190) -> np.ndarray:
    """A neutral grey backdrop: a soft left-to-right gradient (BGR)."""
    row = np.linspace(low, high, width, dtype=np.float32).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None, :, None], (height, width, 3)))


def make_photo(width: int, height: int, faces: int, size: float = 0.8, shift: tuple[float, float] = (0.0, 0.0),
               tile: np.ndarray | None = None) -> np.ndarray:
    """A ``width`` x ``height`` BGR photo with ``faces`` copies of the astronaut side by side.

    ``size`` is each copy's height as a fraction of the photo's (capped so that they fit side by
    side); ``shift`` moves the row of copies by that fraction of the free space (-1..1) in x, y.
    """
    import cv2

    canvas = backdrop(width, height).copy()
    if faces <= 0:
        return canvas
    tile = head_and_shoulders() if tile is None else tile
    th, tw = tile.shape[:2]
    scale = min(height * size / th, width / faces * 0.85 / tw)
    new_w, new_h = max(1, int(tw * scale)), max(1, int(th * scale))
    scaled = cv2.resize(tile, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    gap = (width - faces * new_w) // (faces + 1)
    free_y = height - new_h
    y = int(round(free_y / 2 + shift[1] * free_y / 2))
    dx = int(round(shift[0] * gap / 2))
    for i in range(faces):
        x = gap + i * (new_w + gap) + dx
        canvas[y:y + new_h, x:x + new_w] = scaled
    return canvas


def encode(image: np.ndarray, ext: str = ".jpg", quality: int = 90) -> bytes:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buffer = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"cannot encode {ext}")
    return buffer.tobytes()


def photo_key(width: int, height: int, faces: int) -> str:
    return f"{width}x{height}_{faces}face" + ("" if faces == 1 else "s")


def write_y4m(path: str | Path, image: np.ndarray, width: int = 640, height: int = 480, frames: int = 10,
              fps: int = 30) -> Path:
    """A YUV4MPEG2 (C420) video of ``image`` resized to ``width`` x ``height``, for Chromium's fake webcam."""
    import cv2

    frame = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)  # planar Y, then U, then V (4:2:0): C420 layout
    path = Path(path)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(yuv.tobytes())
    return path
