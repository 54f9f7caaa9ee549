"""A labelled face-detection set generated on the fly, and the per-detector evaluation on it.

Two parts, both deterministic for a seed:

* **generated** 640x480 scenes: faces pasted with soft edges at known places, sizes (about 36 to
  240 px) and in-plane rotations (0, +-15, +-30 degrees, with a little jitter) onto varied backgrounds
  (crops of scikit-image's texture and object photos, gradients, noise), 0-3 faces per scene.
  The faces are FER2013 test images (``FER2013_DIR``, or the ``fer_dir`` argument) when the dataset
  is there, else the example photo's head and shoulders (``core.bench.scenes.head_and_shoulders``),
  varied in brightness, contrast and mirroring. Nothing is written to disk.
* **group photos** (:func:`group_scenes`, scored apart): 1280x720 scenes of 4-12 faces of 40-100 px.
* **example photos** from scikit-image with hand-labelled face boxes (the astronaut, the cameraman)
  and photos without a face (the cat, coffee, a rocket, coins, ...) where every box is a false positive.

Ground truth is the face's *upright* box (forehead to chin, as the detectors draw it) of the
pasted size, centred where the face is, whatever the rotation. A detection counts when it matches a
face with IoU >= 0.4 (the detectors frame faces differently: BlazeFace tighter than Haar).
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.faces.base import Face

FRAME_SIZE = (640, 480)
GROUP_SIZE = (1280, 720)
MATCH_IOU = 0.4
SMALL_FACE_PX = 80  # recall is also reported for faces below / above this side length
DEFAULT_SEED = 13
# The face inside a FER2013 48x48 crop, as fractions of the crop (x, y, w, h): measured as the
# median box Haar and BlazeFace draw on crops pasted at 200 px (Haar ~ the whole crop, BlazeFace
# ~ (0.07, 0.17, 0.8, 0.8)).
FER_FACE_BOX = (0.05, 0.08, 0.9, 0.9)
# The face in core.bench.scenes.head_and_shoulders()'s tile (the astronaut, hand-labelled).
HEAD_TILE_FACE_BOX = (81, 60, 98, 106)
ANGLES = (0, 0, -15, 15, -30, 30)
# Hand-labelled faces in scikit-image's photos: name -> boxes (x, y, w, h), forehead to chin.
EXAMPLE_FACES = {
    "astronaut": [(176, 70, 98, 106)],
    "camera": [(202, 110, 64, 84)],
    "chelsea": [], "coffee": [], "rocket": [], "coins": [], "horse": [],
    "hubble_deep_field": [], "page": [],
}
BACKGROUNDS = ("brick", "grass", "gravel", "coffee", "rocket", "hubble_deep_field", "moon", "page", "text",
               "coins", "cell")


@dataclass(frozen=True)
class LabelledImage:
    """One image of the set (BGR) and its true face boxes, with each face's size and rotation."""

    name: str
    image: np.ndarray = field(repr=False)
    faces: tuple[Face, ...]
    angles: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()  # each face's FER2013 emotion ("" for the synthetic head)


@dataclass(frozen=True)
class DetectorScore:
    detector: str
    faces: int
    found: int
    false_positives: int
    recall_small: float  # faces under SMALL_FACE_PX
    recall_large: float
    ms_median: float  # per 640x480 scene (all images when the set has none)
    ms_p95: float

    @property
    def recall(self) -> float:
        return self.found / self.faces if self.faces else 0.0

    def row(self) -> dict:
        return {"detector": self.detector, "recall": round(self.recall, 3), "found": self.found,
                "faces": self.faces, "false_positives": self.false_positives,
                f"recall_under_{SMALL_FACE_PX}px": round(self.recall_small, 3),
                f"recall_{SMALL_FACE_PX}px_up": round(self.recall_large, 3),
                "ms_median": round(self.ms_median, 1), "ms_p95": round(self.ms_p95, 1)}


def _skimage_bgr(name: str) -> np.ndarray:
    from skimage import data, util

    image = util.img_as_ubyte(getattr(data, name)())
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(image[..., 2::-1])


def example_photos() -> list[LabelledImage]:
    """scikit-image's photos with their hand-labelled faces (most have none)."""
    return [LabelledImage(f"skimage:{name}", _skimage_bgr(name), tuple(Face(*box, 1.0) for box in boxes))
            for name, boxes in EXAMPLE_FACES.items()]


def _fer_faces(fer_dir: str | Path, count: int, rng: np.random.Generator, split: str = "PrivateTest"
               ) -> list[tuple[np.ndarray, tuple]]:
    from core.data.datasets import load_fer2013_folder

    dataset = load_fer2013_folder(fer_dir)
    records = sorted((r for r in dataset.records if r.split == split), key=lambda r: r.rel_path)
    chosen = rng.choice(len(records), size=min(count, len(records)), replace=False)
    faces = []
    for index in chosen:
        image = dataset.read(records[index], grayscale=False)
        size = image.shape[0]
        box = tuple(round(v * size) for v in FER_FACE_BOX)
        faces.append((image, box, records[index].label))
    return faces


def _synthetic_faces(count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, tuple]]:
    from core.bench.scenes import head_and_shoulders

    tile = head_and_shoulders().astype(np.float32)
    x, y, w, h = HEAD_TILE_FACE_BOX
    faces = []
    for _ in range(count):
        varied = np.clip(tile * rng.uniform(0.7, 1.2) + rng.uniform(-30, 30), 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            faces.append((varied[:, ::-1].copy(), (varied.shape[1] - x - w, y, w, h), ""))
        else:
            faces.append((varied, (x, y, w, h), ""))
    return faces


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    kind = rng.integers(0, 4)
    if kind == 0:  # a gradient in a random colour
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
        return np.broadcast_to(a + (b - a) * ramp, (height, width, 3)).astype(np.uint8)
    if kind == 1:  # smooth noise
        noise = rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3)).astype(np.float32)
        return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 255).astype(np.uint8)
    photo = _skimage_bgr(BACKGROUNDS[rng.integers(len(BACKGROUNDS))])
    scale = max(width / photo.shape[1], height / photo.shape[0]) * rng.uniform(1.0, 1.6)
    photo = cv2.resize(photo, (int(np.ceil(photo.shape[1] * scale)), int(np.ceil(photo.shape[0] * scale))))
    x0 = rng.integers(0, photo.shape[1] - width + 1)
    y0 = rng.integers(0, photo.shape[0] - height + 1)
    return np.ascontiguousarray(photo[y0:y0 + height, x0:x0 + width])


def _soft_mask(height: int, width: int) -> np.ndarray:
    """1 inside, fading to 0 over the outer ~8% of each side (no hard paste edge)."""
    ramp_y = np.clip(np.minimum(np.arange(height), np.arange(height)[::-1]) / max(1.0, 0.08 * height), 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(width), np.arange(width)[::-1]) / max(1.0, 0.08 * width), 0, 1)
    return (ramp_y[:, None] * ramp_x[None, :]).astype(np.float32)


def paste_face(canvas: np.ndarray, patch: np.ndarray, face_box: tuple, centre: tuple[float, float], side: float,
               angle: float) -> Face:
    """Paste ``patch`` so that its face (``face_box`` in the patch) is ``side`` px wide, centred at
    ``centre`` and turned by ``angle`` degrees (counter-clockwise); returns the true upright box."""
    fx, fy, fw, fh = face_box
    scale = side / fw
    fcx, fcy = fx + fw / 2, fy + fh / 2
    matrix = cv2.getRotationMatrix2D((fcx, fcy), angle, scale)
    matrix[:, 2] += np.array(centre) - np.array([fcx, fcy])
    height, width = canvas.shape[:2]
    warped = cv2.warpAffine(patch, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(_soft_mask(*patch.shape[:2]), matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
    canvas[:] = (canvas * (1 - mask) + warped * mask).astype(np.uint8)
    w, h = fw * scale, fh * scale
    return Face(round(centre[0] - w / 2), round(centre[1] - h / 2), round(w), round(h), 1.0)


def _free_centre(rng: np.random.Generator, size: tuple[int, int], margin: float, truths: list[Face],
                 attempts: int) -> tuple[float, float] | None:
    """A random centre whose ``2 * margin`` square, inside the image, overlaps no face placed so far
    (grown by :func:`_grown`); None after ``attempts`` tries or when the square cannot fit."""
    width, height = size
    for _attempt in range(attempts):
        if width - 2 * margin <= 0 or height - 2 * margin <= 0:
            return None
        centre = (rng.uniform(margin, width - margin), rng.uniform(margin, height - margin))
        box = Face(int(centre[0] - margin), int(centre[1] - margin), int(2 * margin), int(2 * margin), 1.0)
        if all(box.iou(_grown(t)) == 0 for t in truths):
            return centre
    return None


def generated_images(count: int = 60, seed: int = DEFAULT_SEED, fer_dir: str | Path | None = None,
                     size: tuple[int, int] = FRAME_SIZE, split: str = "PrivateTest") -> list[LabelledImage]:
    """``count`` scenes of ``size`` with 0-3 faces each (about one in eight has none), FER2013 faces of
    ``split`` when the dataset is there."""
    rng = np.random.default_rng(seed)
    width, height = size
    fer_dir = fer_dir if fer_dir is not None else os.environ.get("FER2013_DIR")
    use_fer = bool(fer_dir) and Path(fer_dir, "test").is_dir()
    pool_size = 3 * count
    pool = _fer_faces(fer_dir, pool_size, rng, split) if use_fer else _synthetic_faces(pool_size, rng)
    source = "fer2013" if use_fer else "synthetic"
    images = []
    next_face = 0
    for index in range(count):
        canvas = _background(rng, width, height).copy()
        wanted = int(rng.choice([0, 1, 1, 1, 2, 2, 3, 3]))
        truths, angles, labels = [], [], []
        for _ in range(wanted):
            side = float(np.exp(rng.uniform(np.log(36), np.log(240))))
            angle = float(rng.choice(ANGLES) + rng.uniform(-4, 4))
            centre = _free_centre(rng, size, side * 0.75, truths, attempts=30)  # room for rotation and context
            if centre is not None:
                patch, face_box, label = pool[next_face % len(pool)]
                next_face += 1
                truths.append(paste_face(canvas, patch, face_box, centre, side, angle))
                angles.append(angle)
                labels.append(label)
        images.append(LabelledImage(f"{source}:{index:03d}", canvas, tuple(truths), tuple(angles), tuple(labels)))
    return images


def group_scenes(count: int = 20, seed: int = DEFAULT_SEED, fer_dir: str | Path | None = None,
                 size: tuple[int, int] = GROUP_SIZE, split: str = "PrivateTest") -> list[LabelledImage]:
    """``count`` group photos of ``size``: 4-12 faces of 40-100 px each, nearly upright (+-5 degrees),
    FER2013 faces of ``split`` when the dataset is there (else the synthetic head)."""
    rng = np.random.default_rng(seed + 1)
    width, height = size
    fer_dir = fer_dir if fer_dir is not None else os.environ.get("FER2013_DIR")
    use_fer = bool(fer_dir) and Path(fer_dir, "test").is_dir()
    pool = _fer_faces(fer_dir, 12 * count, rng, split) if use_fer else _synthetic_faces(12 * count, rng)
    images, next_face = [], 0
    for index in range(count):
        canvas = _background(rng, width, height).copy()
        truths, angles, labels = [], [], []
        for _ in range(int(rng.integers(4, 13))):
            side, angle = float(rng.uniform(40, 100)), float(rng.uniform(-5, 5))
            centre = _free_centre(rng, size, side, truths, attempts=40)
            if centre is not None:
                patch, face_box, label = pool[next_face % len(pool)]
                next_face += 1
                truths.append(paste_face(canvas, patch, face_box, centre, side, angle))
                angles.append(angle)
                labels.append(label)
        images.append(LabelledImage(f"group-{'fer2013' if use_fer else 'synthetic'}:{index:03d}", canvas,
                                    tuple(truths), tuple(angles), tuple(labels)))
    return images


def _grown(face: Face) -> Face:
    grow = 0.25 * max(face.w, face.h)
    return Face(int(face.x - grow), int(face.y - grow), int(face.w + 2 * grow), int(face.h + 2 * grow), 1.0)


def detection_set(count: int = 60, seed: int = DEFAULT_SEED, fer_dir: str | Path | None = None,
                  with_examples: bool = True) -> list[LabelledImage]:
    """The generated scenes followed by scikit-image's example photos."""
    images = generated_images(count, seed, fer_dir)
    return images + example_photos() if with_examples else images


def match(truths, detections, threshold: float = MATCH_IOU) -> tuple[list[bool], int]:
    """Greedy one-to-one matching by IoU: ``(found flag per true face, false positives)``."""
    pairs = sorted(((t.iou(d), i, j) for i, t in enumerate(truths) for j, d in enumerate(detections)), reverse=True)
    found, used = [False] * len(truths), set()
    for iou, i, j in pairs:
        if iou < threshold:
            break
        if not found[i] and j not in used:
            found[i] = True
            used.add(j)
    return found, len(detections) - len(used)


def evaluate(name: str, detector, images: list[LabelledImage], threshold: float = MATCH_IOU) -> DetectorScore:
    """Recall (overall, small and large faces), false positives and time per image of one detector."""
    detector.detect(images[0].image)  # warm-up: loads the model / cascade
    times, found_small, found_large, small, large, false_positives = [], 0, 0, 0, 0, 0
    frame_times = []
    for item in images:
        start = time.perf_counter()
        detections = detector.detect(item.image)
        times.append((time.perf_counter() - start) * 1000)
        if item.image.shape[1::-1] == FRAME_SIZE:
            frame_times.append(times[-1])
        found, fps = match(item.faces, detections, threshold)
        false_positives += fps
        for truth, hit in zip(item.faces, found):
            if truth.w < SMALL_FACE_PX:
                small, found_small = small + 1, found_small + hit
            else:
                large, found_large = large + 1, found_large + hit
    times = sorted(frame_times or times)
    return DetectorScore(name, small + large, found_small + found_large, false_positives,
                         found_small / small if small else 0.0, found_large / large if large else 0.0,
                         statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))])


def evaluate_detectors(names=None, images: list[LabelledImage] | None = None) -> list[DetectorScore]:
    """Every named detector (default: the whole of :mod:`core.faces.catalogue`) on the set."""
    from core.faces import catalogue

    images = images if images is not None else detection_set()
    return [evaluate(name, catalogue.build(name), images) for name in (names or catalogue.DETECTOR_NAMES)]


if __name__ == "__main__":  # python -m core.bench.detection_set [COUNT]
    import sys

    import pandas as pd

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    print(pd.DataFrame([s.row() for s in evaluate_detectors(images=detection_set(count))]).to_string(index=False))
