"""Image corruptions at five severities, for the robustness lab (ImageNet-C's design, for face crops).

Each :class:`Family` maps a grayscale uint8 face crop and one parameter value to a corrupted crop of the
same size. ``values[0]`` is the identity (severity 0 returns the face unchanged) and ``values[1:]`` are
severities 1-5, strictly monotone in the parameter, so a curve reads from clean to worst.

Built on OpenCV and NumPy directly: albumentations' wheels depend on ``opencv-python-headless``, a second
OpenCV beside the project's ``opencv-contrib-python-headless``. Sizes are given for a 48 px face (FER2013)
and scaled with the face's shorter side, so a 200 px face gets the same relative blur or shift.

Randomness (noise, motion-blur angle, rotation sign, shift direction, patch places) comes from a generator
seeded by ``(seed, face key, family)``: the same face gets the same draws at every severity (stronger
severities scale the same noise field, add patches to the same ones) and on every run.
"""
from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

LIBRARY = f"OpenCV {cv2.__version__} and NumPy {np.__version__} (no albumentations: it pulls a second OpenCV)"
REFERENCE_SIDE = 48  # sizes below are in pixels of a 48 px face, scaled by the face's shorter side / 48
SEVERITIES = (1, 2, 3, 4, 5)
EYE_LINE = 0.40  # where the eyes sit in a FER2013-framed crop, as a fraction of its height
MASK_FILL, GLASSES_FILL, PATCH_FILL = 200, 15, 128
PATCH_SIDE = 0.22  # one patch's side, as a fraction of the face's shorter side
MAX_PATCHES = 8


@dataclass(frozen=True)
class Family:
    """One corruption: what it imitates, its parameter and the value at each severity (index 0: clean)."""

    name: str
    group: str
    title: str
    parameter: str
    values: tuple
    apply: Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
    imitates: str

    def value(self, severity: int):
        if not 0 <= severity < len(self.values):
            raise ValueError(f"{self.name}: severity must be 0 to {len(self.values) - 1}, not {severity}")
        return self.values[severity]

    def to_dict(self) -> dict:
        """Every parameter, for the artifact."""
        return {"name": self.name, "group": self.group, "title": self.title, "parameter": self.parameter,
                "values": list(self.values), "imitates": self.imitates}


def _scale(face: np.ndarray) -> float:
    return min(face.shape[:2]) / REFERENCE_SIDE


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _lut(face: np.ndarray, table: np.ndarray) -> np.ndarray:
    return cv2.LUT(face, _clip(table))


def brightness_down(face, factor, _rng):
    return face if factor == 1 else _lut(face, np.arange(256) * factor)


def brightness_up(face, offset, _rng):
    return face if offset == 0 else _lut(face, np.arange(256) + offset)


def contrast(face, factor, _rng):
    if factor == 1:
        return face
    mean = float(face.mean())
    return _lut(face, mean + (np.arange(256) - mean) * factor)


def gamma(face, value, _rng):
    return face if value == 1 else _lut(face, 255 * (np.arange(256) / 255) ** value)


def gaussian_blur(face, sigma, _rng):
    return face if sigma == 0 else cv2.GaussianBlur(face, (0, 0), sigma * _scale(face), borderType=cv2.BORDER_REFLECT)


def motion_blur(face, length, rng):
    angle = rng.uniform(0, 180)  # drawn first, so the direction is the same at every severity
    size = int(round(length * _scale(face)))
    if length <= 1 or size <= 1:
        return face
    kernel = np.zeros((size, size), np.float32)
    kernel[size // 2, :] = 1
    turn = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (size, size))
    return cv2.filter2D(face, -1, kernel / max(kernel.sum(), 1e-6), borderType=cv2.BORDER_REFLECT)


def gaussian_noise(face, sigma, rng):
    field = rng.standard_normal(face.shape)
    return face if sigma == 0 else _clip(face + field * sigma)


def jpeg(face, quality, _rng):
    if quality is None:
        return face
    ok, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else face


def downscale(face, side, _rng):
    """Shrink to ``side`` px on the longer side (area averaging), then back up (bilinear): a small face."""
    h, w = face.shape[:2]
    if side is None or side >= max(h, w):
        return face
    small = (max(1, round(w * side / max(h, w))), max(1, round(h * side / max(h, w))))
    return cv2.resize(cv2.resize(face, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)


def _warp(face, matrix):
    h, w = face.shape[:2]
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _rotation_sign(rng) -> int:
    return 1 if rng.random() < 0.5 else -1


def rotation(face, degrees, rng):
    sign = _rotation_sign(rng)
    if degrees == 0:
        return face
    h, w = face.shape[:2]
    return _warp(face, cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), sign * degrees, 1.0))


def shift(face, fraction, rng):
    angle = rng.uniform(0, 2 * np.pi)
    if fraction == 0:
        return face
    side = min(face.shape[:2])
    dx, dy = fraction * side * np.cos(angle), fraction * side * np.sin(angle)
    return _warp(face, np.float32([[1, 0, dx], [0, 1, dy]]))


def zoom(face, kept, _rng):
    """A tighter crop: the central ``kept`` fraction of the side, enlarged back to the face's size."""
    if kept == 1:
        return face
    h, w = face.shape[:2]
    return _warp(face, cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0, 1 / kept))


def sunglasses(face, height, _rng):
    """A dark band over the eyes, ``height`` of the face's height, centred on the eye line."""
    if height == 0:
        return face
    h, w = face.shape[:2]
    out = face.copy()
    top, bottom = round(h * (EYE_LINE - height / 2)), round(h * (EYE_LINE + height / 2))
    out[max(top, 0):bottom, round(w * 0.06):round(w * 0.94)] = GLASSES_FILL
    return out


def face_mask(face, covered, _rng):
    """A light, flat band over the lower ``covered`` fraction of the face (a surgical mask)."""
    if covered == 0:
        return face
    out = face.copy()
    out[round(face.shape[0] * (1 - covered)):] = MASK_FILL
    return out


def patches(face, count, rng):
    """``count`` grey squares at places drawn once per face: severity s keeps severity s-1's patches."""
    h, w = face.shape[:2]
    side = max(1, round(PATCH_SIDE * min(h, w)))
    places = rng.integers(0, [max(h - side, 1), max(w - side, 1)], size=(MAX_PATCHES, 2))
    out = face if count == 0 else face.copy()
    for y, x in places[:int(count)]:
        out[y:y + side, x:x + side] = PATCH_FILL
    return out


FAMILIES = (
    Family("brightness_down", "light", "Darker (dim light)", "pixel factor", (1, 0.7, 0.5, 0.35, 0.25, 0.15),
           brightness_down, "a dim room or an under-exposed webcam"),
    Family("brightness_up", "light", "Brighter (over-exposed)", "grey levels added", (0, 30, 60, 90, 120, 150),
           brightness_up, "a window behind the camera, an over-exposed frame"),
    Family("contrast", "light", "Lower contrast", "contrast factor", (1, 0.7, 0.5, 0.35, 0.25, 0.15),
           contrast, "haze, a flat grey image"),
    Family("gamma", "light", "Gamma (dark mid-tones)", "gamma", (1, 1.5, 2.0, 2.5, 3.0, 4.0),
           gamma, "a camera's tone curve crushing mid-tones"),
    Family("gaussian_blur", "blur", "Gaussian blur", "sigma (px at 48 px)", (0, 0.5, 1.0, 1.5, 2.0, 3.0),
           gaussian_blur, "an out-of-focus lens"),
    Family("motion_blur", "blur", "Motion blur", "length (px at 48 px)", (1, 3, 5, 7, 9, 13),
           motion_blur, "a moving head or camera"),
    Family("gaussian_noise", "noise", "Gaussian noise", "sigma (grey levels)", (0, 8, 16, 24, 32, 48),
           gaussian_noise, "sensor noise in low light"),
    Family("jpeg", "compression", "JPEG compression", "JPEG quality (null: not re-encoded)",
           (None, 50, 30, 15, 10, 5), jpeg, "a compressed video frame or chat photo"),
    Family("downscale", "resolution", "Small face", "long side (px; null: unchanged)", (None, 32, 24, 16, 12, 8),
           downscale, "a face far from the camera, a few dozen pixels wide"),
    Family("rotation", "geometry", "In-plane rotation", "degrees (sign drawn per face)", (0, 10, 20, 30, 45, 60),
           rotation, "a tilted head"),
    Family("shift", "framing", "Shifted crop", "shift (fraction of the side, direction drawn per face)",
           (0, 0.05, 0.10, 0.15, 0.20, 0.25), shift, "a detector box off the face's centre"),
    Family("zoom", "framing", "Tighter crop", "fraction of the side kept", (1, 0.9, 0.8, 0.7, 0.6, 0.5),
           zoom, "a detector box too tight, cutting forehead and chin"),
    Family("sunglasses", "occlusion", "Sunglasses", "band height (fraction of the face)",
           (0, 0.10, 0.15, 0.20, 0.25, 0.30), sunglasses, "sunglasses: a dark band over the eyes"),
    Family("face_mask", "occlusion", "Face mask", "lower fraction covered", (0, 0.2, 0.3, 0.4, 0.5, 0.6),
           face_mask, "a face mask over the mouth and nose"),
    Family("patches", "occlusion", "Random patches", "number of patches", (0, 1, 2, 3, 5, 8),
           patches, "hands, hair or objects in front of the face"),
)
BY_NAME = {family.name: family for family in FAMILIES}


def family(name: str) -> Family:
    """The family named ``name``; a one-line ValueError naming the others."""
    if name not in BY_NAME:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(BY_NAME)}")
    return BY_NAME[name]


def face_rng(seed: int, key: str, family_name: str) -> np.random.Generator:
    """The generator one face's draws come from, for one family: the same for every severity and run."""
    return np.random.default_rng([seed, zlib.crc32(key.encode()), zlib.crc32(family_name.encode())])


def corrupt(face: np.ndarray, name: str, severity: int, seed: int = 0, key: str = "") -> np.ndarray:
    """``face`` (grayscale uint8) corrupted by family ``name`` at ``severity`` (0: the face itself).

    ``key`` names the face (its path) so its random draws are its own; ``seed`` fixes them all.
    """
    if face.ndim != 2 or face.dtype != np.uint8:
        raise ValueError(f"corrupt() takes a grayscale uint8 face, not {face.dtype} {face.shape}")
    chosen = family(name)
    return chosen.apply(face, chosen.value(severity), face_rng(seed, key, name))


def corrupt_colour(image: np.ndarray, name: str, severity: int, seed: int = 0, key: str = "") -> np.ndarray:
    """A BGR or grayscale crop corrupted channel by channel with the same draws (Compare's "what if")."""
    if image.ndim == 2:
        return corrupt(image, name, severity, seed, key)
    channels = [corrupt(np.ascontiguousarray(image[..., c]), name, severity, seed, key) for c in range(image.shape[2])]
    return np.stack(channels, axis=-1)


def rotation_degrees(severity: int, seed: int = 0, key: str = "") -> float:
    """The signed angle (counter-clockwise as shown, OpenCV's convention) by which ``corrupt(face,
    "rotation", severity, seed, key)`` turns the face: what an alignment has to undo."""
    return _rotation_sign(face_rng(seed, key, "rotation")) * family("rotation").value(severity)
