"""Labelled zips for the data tests, built in memory: FER2013 faces when FER2013_DIR is set, synthetic otherwise."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np

from core.labels import FER2013_LABELS


def synthetic_face(label_index: int, i: int, size: int = 48) -> np.ndarray:
    """A face-like grayscale crop (oval, eyes, a mouth whose curve depends on the class), with noise."""
    rng = np.random.default_rng(label_index * 100 + i)
    image = np.full((size, size), 40 + 20 * label_index, np.uint8)
    cv2.ellipse(image, (size // 2, size // 2), (size // 3, size * 2 // 5), 0, 0, 360, 170, -1)
    for x in (size // 3, size * 2 // 3):
        cv2.circle(image, (x, size * 2 // 5), 3, 30, -1)
    curve = (label_index - 3) * 2
    cv2.ellipse(image, (size // 2, size * 2 // 3), (size // 6, abs(curve) + 1), 0, 0 if curve > 0 else 180,
                180 if curve > 0 else 360, 40, 2)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def faces_per_label(per_class: int = 6, labels=FER2013_LABELS) -> dict[str, list[tuple[str, bytes]]]:
    """``{label: [(file name, jpeg bytes)]}`` from FER2013's PrivateTest when FER2013_DIR is set."""
    root = os.environ.get("FER2013_DIR")
    out: dict[str, list[tuple[str, bytes]]] = {}
    for c, label in enumerate(labels):
        folder = Path(root) / "test" / label if root else None
        if folder is not None and folder.is_dir():
            files = sorted(folder.glob("PrivateTest_*.jpg"))[:per_class]
            out[label] = [(f.name, f.read_bytes()) for f in files]
        else:
            out[label] = [(f"{label}_{i}.png", cv2.imencode(".png", synthetic_face(c, i))[1].tobytes())
                          for i in range(per_class)]
    return out


def labelled_zip(per_class: int = 6, top: str = "myfaces", contempt: int = 3, extras: bool = True) -> bytes:
    """A zip with one folder per emotion (plus ``contempt`` images, a README and a non-emotion folder)."""
    faces = faces_per_label(per_class)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for label, items in faces.items():
            for name, data in items:
                archive.writestr(f"{top}/{label}/{name}", data)
        happy = faces["happy"]
        for i in range(contempt):
            archive.writestr(f"{top}/contempt/c{i}_{happy[i % len(happy)][0]}", happy[i % len(happy)][1])
        if extras:
            archive.writestr(f"{top}/README.txt", b"my faces")
            archive.writestr(f"{top}/cats/cat.png", happy[0][1])
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
