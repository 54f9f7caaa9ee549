"""Emotion classifiers behind one interface: ``labels`` and ``predict(face_crops) -> (n, k)``.

* :class:`CnnClassifier`: our Keras 3 CNN from ``models/<name>/`` (``model.keras`` + ``model.json``),
  run through a compiled forward pass (a ``tf.function`` with a fixed input signature).
* :class:`DeepFaceClassifier`: DeepFace's emotion model through its public ``DeepFace.analyze``,
  on our crops (``detector_backend="skip"``) or with its own detector on the whole image.
"""
from __future__ import annotations

import json
import os
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.labels import FER2013_LABELS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = PROJECT_ROOT / "models" / "fer2013_cnn"


class ModelUnavailable(RuntimeError):
    """A classifier that cannot be loaded here; the message says why and what to do."""


class EmotionClassifier(ABC):
    """Turns face crops (BGR or grayscale uint8 arrays of any size) into class probabilities."""

    name: str
    labels: tuple[str, ...]

    @abstractmethod
    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities, shape (len(faces), len(labels)), rows summing to 1."""

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels)}


def _to_gray(face: np.ndarray) -> np.ndarray:
    if face.ndim == 2:
        return face
    if face.shape[2] == 1:
        return face[..., 0]
    if face.shape[2] == 4:
        return cv2.cvtColor(face, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)


def _to_bgr(face: np.ndarray) -> np.ndarray:
    if face.ndim == 2 or face.shape[2] == 1:
        return cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    if face.shape[2] == 4:
        return cv2.cvtColor(face, cv2.COLOR_BGRA2BGR)
    return face


class CnnClassifier(EmotionClassifier):
    """Our CNN, loaded in Keras safe mode, with a compiled batched forward pass."""

    def __init__(self, model_dir: str | Path = DEFAULT_MODEL_DIR, batch_size: int = 64):
        import keras
        import tensorflow as tf

        model_dir = Path(model_dir)
        meta_path, weights_path = model_dir / "model.json", model_dir / "model.keras"
        for path in (meta_path, weights_path):
            if not path.is_file():
                raise ModelUnavailable(f"no CNN model at {model_dir}: {path.name} is missing "
                                       f"(train one with `python -m core train --data DATASET`)")
        try:
            self.metadata = json.loads(meta_path.read_text())
            self.labels = tuple(self.metadata["labels"])
            self.input_size = tuple(self.metadata["input"]["size"])
            norm = self.metadata["preprocessing"]["normalization"]
            self.scale, self.offset = float(norm["scale"]), float(norm["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"{meta_path}: invalid model metadata ({exc})") from None
        try:
            self.model = keras.models.load_model(weights_path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a broken file
            raise ModelUnavailable(f"{weights_path}: cannot load the model ({exc})") from None
        if self.model.output_shape[-1] != len(self.labels):
            raise ModelUnavailable(f"{model_dir}: model has {self.model.output_shape[-1]} outputs "
                                   f"but model.json lists {len(self.labels)} labels")
        self.name = "cnn"
        self.model_dir = model_dir
        self.batch_size = batch_size
        h, w = self.input_size
        signature = [tf.TensorSpec((None, h, w, 1), tf.float32)]
        self._forward = tf.function(lambda x: self.model(x, training=False), input_signature=signature)
        self._forward(np.zeros((1, h, w, 1), np.float32))  # trace once, at load time

    def preprocess(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        h, w = self.input_size
        batch = np.empty((len(faces), h, w, 1), np.float32)
        for i, face in enumerate(faces):
            if face.size == 0:
                raise ValueError("empty face crop")
            gray = _to_gray(face)
            if gray.shape != (h, w):
                gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
            batch[i, ..., 0] = gray * self.scale + self.offset
        return batch

    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        batch = self.preprocess(faces)
        out = [self._forward(batch[i:i + self.batch_size]).numpy() for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out).astype(np.float64)

    def predict_arrays(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for an already preprocessed float32 (n, h, w, 1) batch."""
        out = [self._forward(batch[i:i + self.batch_size]).numpy() for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(self.labels)))

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels), "model_dir": str(self.model_dir),
                "parameters": int(self.model.count_params())}


def deepface_to_probabilities(emotion: dict, labels: Sequence[str] = FER2013_LABELS) -> np.ndarray:
    """DeepFace's ``{"angry": 12.3, ...}`` percentages -> probabilities in ``labels`` order."""
    values = np.array([float(emotion.get(label, 0.0)) for label in labels], dtype=np.float64)
    total = values.sum()
    return values / total if total > 0 else np.full(len(labels), 1.0 / len(labels))


_DEEPFACE_LOCK = threading.Lock()


class DeepFaceClassifier(EmotionClassifier):
    """DeepFace's emotion model through ``DeepFace.analyze(actions=["emotion"])``.

    Raises :class:`ModelUnavailable` at construction when the weights file is missing, so that
    nothing tries (and fails, offline) to download it mid-analysis.
    """

    def __init__(self, detector_backend: str = "opencv"):
        os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "tensorflow")
        from core.deepface_weights import missing_weights_message, weights_path

        path = weights_path()
        if not path.is_file():
            raise ModelUnavailable(missing_weights_message(path))
        try:
            from deepface import DeepFace
            from deepface.modules import modeling

            with _DEEPFACE_LOCK:
                modeling.build_model(task="facial_attribute", model_name="Emotion")  # load once, now
        except Exception as exc:  # import errors, broken weights file
            raise ModelUnavailable(f"DeepFace cannot load its emotion model: {exc}") from None
        self._deepface = DeepFace
        self.name = "deepface"
        self.labels = FER2013_LABELS
        self.detector_backend = detector_backend
        self.weights_path = path

    def _analyze(self, image, detector_backend: str) -> list[dict]:
        with _DEEPFACE_LOCK:  # DeepFace keeps global model caches; serialise access
            result = self._deepface.analyze(image, actions=["emotion"], detector_backend=detector_backend,
                                            enforce_detection=False, silent=True)
        return result

    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Classify our own crops (DeepFace's detector skipped, so both models see the same face)."""
        rows = []
        for face in faces:
            if face.size == 0:
                raise ValueError("empty face crop")
            result = self._analyze(np.ascontiguousarray(_to_bgr(face)), "skip")
            rows.append(deepface_to_probabilities(result[0]["emotion"], self.labels))
        return np.array(rows).reshape(len(rows), len(self.labels))

    def analyze_image(self, image: np.ndarray) -> list[dict]:
        """DeepFace exactly as it ships: its own detector and alignment over the whole image.

        Returns one dict per face with ``region``, ``face_confidence`` and ``probabilities``
        (an empty list when DeepFace finds no face).
        """
        faces = []
        for item in self._analyze(np.ascontiguousarray(image), self.detector_backend):
            region = {k: int(item["region"][k]) for k in ("x", "y", "w", "h")}
            confidence = float(item.get("face_confidence") or 0.0)
            whole = region["w"] >= image.shape[1] - 1 and region["h"] >= image.shape[0] - 1
            if whole and confidence == 0:  # enforce_detection=False returns the whole frame for "no face"
                continue
            faces.append({"region": region, "face_confidence": confidence,
                          "probabilities": deepface_to_probabilities(item["emotion"], self.labels)})
        return faces

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels), "weights": str(self.weights_path),
                "detector_backend": self.detector_backend}


def timed_predict(classifier: EmotionClassifier, faces: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
    """``classifier.predict(faces)`` and the wall time it took, in milliseconds."""
    start = time.perf_counter()
    probabilities = classifier.predict(faces)
    return probabilities, (time.perf_counter() - start) * 1000.0
