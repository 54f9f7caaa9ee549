"""DeepFace's emotion model through its public ``DeepFace.analyze(actions=["emotion"])``: on our
crops (``detector_backend="skip"``) or, as it ships, with its own detector on the whole photo."""
from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence

import numpy as np

from core.labels import FER2013_LABELS
from core.models.base import FULL_PHOTO_PIPELINE, EmotionClassifier, Explainer, ModelUnavailable, to_bgr
from core.models.deepface_input import deepface_preprocess

# Figures published by others for DeepFace's emotion model (not measured by this project): the one
# place the 57.4% lives; the model card, the Evaluation page and the About page read it from here.
PUBLISHED_ACCURACY = {"fer2013-PublicTest": 0.574}
PUBLISHED_SOURCE = "reported by DeepFace's author, Sefik Ilkin Serengil (deepface documentation and blog)"
DEEPFACE_PUBLISHED = {
    "note": "figures published by others, not measured by this project; see eval/ for our measurements",
    "figures": {key: {"accuracy": value, "source": PUBLISHED_SOURCE} for key, value in PUBLISHED_ACCURACY.items()},
}


def published_accuracy_text(key: str = "fer2013-PublicTest") -> str:
    """``"57.4%"``: DeepFace's published accuracy on that split, as people write it."""
    return f"{PUBLISHED_ACCURACY[key] * 100:.1f}%"


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

    kind = "deepface"
    capabilities = frozenset({FULL_PHOTO_PIPELINE})

    def __init__(self, detector_backend: str = "opencv"):
        os.environ.setdefault("DEEPFACE_BACKEND_ENGINE", "tensorflow")
        from core.models.deepface_weights import missing_weights_message, weights_path

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
            result = self._analyze(np.ascontiguousarray(to_bgr(face)), "skip")
            rows.append(deepface_to_probabilities(result[0]["emotion"], self.labels))
        return np.array(rows).reshape(len(rows), len(self.labels))

    def predict_bulk(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`predict` in batches: the preprocessing ``DeepFace.analyze(detector_backend="skip")`` applies
        (:func:`deepface_preprocess`), then DeepFace's emotion network itself (on its ONNX Runtime twin when
        it passed its check), instead of one ``analyze`` call per face; tests hold the two equal."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float64)
        scores = self._bulk.run(deepface_preprocess(faces))
        return scores / scores.sum(axis=1, keepdims=True)  # analyze's percentages, as probabilities

    def bulk_note(self) -> str:
        return f"DeepFace's emotion network with analyze's preprocessing, in batches; {self._bulk.reason}"

    @functools.cached_property
    def _bulk(self):
        import tensorflow as tf
        from deepface.modules import modeling

        from core.models.onnx_twin import LazyTwin

        with _DEEPFACE_LOCK:
            network = modeling.build_model(task="facial_attribute", model_name="Emotion").model
        forward = tf.function(lambda x: network(x, training=False),
                              input_signature=[tf.TensorSpec((None, 48, 48, 1), tf.float32)])

        def reference(batch):
            with _DEEPFACE_LOCK:
                return np.concatenate([forward(batch[i:i + 256]).numpy() for i in range(0, len(batch), 256)])

        return LazyTwin(forward, (48, 48, 1), reference)

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

    @functools.cached_property
    def temperature(self) -> float | None:
        """Only when ``<models root>/deepface/model.json`` holds a fitted ``calibration``; read once per
        classifier (as the CNN reads its card at load), not on every photo or frame."""
        from core import paths
        from core.models.card import stored_temperature

        return stored_temperature(paths.models_root() / "deepface")

    def explainer(self) -> Explainer | None:
        """DeepFace's emotion network (tf_keras) with the preprocessing ``analyze(detector_backend="skip")``
        applies (letterboxed to a square first)."""
        try:
            from deepface.modules import modeling

            with _DEEPFACE_LOCK:
                network = modeling.build_model(task="facial_attribute", model_name="Emotion").model
        except Exception:  # noqa: BLE001 - nothing to explain without the network
            return None
        return Explainer(network, deepface_preprocess, letterbox=True)

    def model_card(self):
        return deepface_card(self.labels)

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels), "weights": str(self.weights_path),
                "detector_backend": self.detector_backend}


def deepface_card(labels: Sequence[str] = FER2013_LABELS):
    """The model card of ``models/deepface/model.json``: what the model is, and its published figures."""
    from core.models.card import ModelCard
    from core.models.deepface_weights import WEIGHTS_FILE, WEIGHTS_URLS

    try:
        from importlib.metadata import version

        deepface_version = version("deepface")
    except Exception:  # noqa: BLE001 - not installed, or no metadata
        deepface_version = None
    return ModelCard(
        name="deepface", kind="deepface", labels=list(labels),
        input={"size": [48, 48], "color_mode": "grayscale", "channels": 1,
               "preprocessing": "DeepFace's own: the crop scaled to [0, 1], padded and resized to 224x224, "
                                "converted to grayscale and resized to 48x48"},
        architecture={"description": "Conv5x5(64)-MaxPool-Conv3x3(64)x2-AvgPool-Conv3x3(128)x2-AvgPool-"
                                     "Dense(1024)x2 with dropout-softmax(7)"},
        extra={"description": "DeepFace's facial-expression model (serengil/deepface, TensorFlow backend): a small "
                              "CNN trained by DeepFace's author on FER2013, run through "
                              "DeepFace.analyze(actions=['emotion']) on our face crops (detector_backend='skip'), "
                              "so both models see the same faces.",
               "weights": {"file": WEIGHTS_FILE, "source": WEIGHTS_URLS[0]},
               "deepface_version": deepface_version,
               "published": DEEPFACE_PUBLISHED})


