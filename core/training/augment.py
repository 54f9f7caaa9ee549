"""Reproducible training augmentation for 48x48 grayscale faces (OpenCV, NumPy).

Each batch gets its own generator seeded by (seed, epoch, batch), so an interrupted run that is
resumed sees exactly the batches it would have seen without the interruption.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSpec:
    flip: bool = True
    rotation_deg: float = 15.0
    shift: float = 0.10  # fraction of the side
    zoom: float = 0.15  # scale drawn from [1 - zoom, 1 + zoom]
    brightness: float = 0.15  # additive, fraction of 255
    contrast: float = 0.20  # multiplicative around the mean
    erase_prob: float = 0.25  # random erasing of one rectangle (occlusion robustness)

    def to_dict(self) -> dict:
        return asdict(self)


def replace_augment(spec: AugmentSpec, changes: dict) -> AugmentSpec:
    """``spec`` with some settings changed; unknown names and out-of-range values raise ValueError."""
    types = {f.name: f.type for f in fields(AugmentSpec)}
    unknown = sorted(set(changes) - set(types))
    if unknown:
        raise ValueError(f"unknown augmentation setting(s) {', '.join(unknown)}; known: {', '.join(types)}")
    values = {}
    for name, value in changes.items():
        if types[name] in (bool, "bool"):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(f"augmentation setting {name} takes true or false, not {value!r}")
                value = value.lower() in ("true", "1", "yes")
            values[name] = bool(value)
            continue
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"augmentation setting {name} takes a number, not {value!r}") from None
        upper = 180.0 if name == "rotation_deg" else 1.0
        if not 0 <= values[name] <= upper:
            raise ValueError(f"augmentation setting {name} must lie in [0, {upper:g}], not {value}")
    return replace(spec, **values)


def parse_augment_changes(text: str) -> dict[str, str]:
    """``"erase_prob=0.1,rotation_deg=10"`` -> ``{"erase_prob": "0.1", "rotation_deg": "10"}`` (checked by replace_augment)."""
    changes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"expected NAME=VALUE, not {item!r}")
        changes[name.strip()] = value.strip()
    return changes


def augment_batch(images: np.ndarray, rng: np.random.Generator, spec: AugmentSpec = AugmentSpec()) -> np.ndarray:
    """Randomly flip, rotate, shift, zoom, relight and partly erase a batch of (n, h, w) uint8 faces."""
    n, h, w = images.shape
    out = np.empty_like(images)
    centre = (w / 2.0, h / 2.0)
    for i in range(n):
        angle = rng.uniform(-spec.rotation_deg, spec.rotation_deg)
        scale = rng.uniform(1 - spec.zoom, 1 + spec.zoom)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        matrix[:, 2] += rng.uniform(-spec.shift, spec.shift, size=2) * (w, h)
        if spec.flip and rng.random() < 0.5:
            matrix[0] = -matrix[0]
            matrix[0, 2] += w - 1
        out[i] = cv2.warpAffine(images[i], matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    x = out.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    contrast = rng.uniform(1 - spec.contrast, 1 + spec.contrast, size=(n, 1, 1))
    brightness = rng.uniform(-spec.brightness, spec.brightness, size=(n, 1, 1)) * 255
    x = (x - mean) * contrast + mean + brightness
    for i in np.flatnonzero(rng.random(n) < spec.erase_prob):
        eh, ew = rng.integers(h // 8, h // 3, endpoint=True), rng.integers(w // 8, w // 3, endpoint=True)
        top, left = rng.integers(0, h - eh + 1), rng.integers(0, w - ew + 1)
        x[i, top:top + eh, left:left + ew] = rng.uniform(0, 255)
    return np.clip(x, 0, 255).astype(np.uint8)
