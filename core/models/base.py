"""The one interface every emotion classifier implements, and what a classifier says about itself.

A classifier turns face crops into probabilities (``predict``) and carries its identity, so that
no caller needs to know its concrete class:

* ``name``: its id, the one of its record in :mod:`core.models.registry` (the key of its results, its
  artifacts folder ``models/<name>/``, its CSV columns), e.g. ``fer2013_cnn``;
* ``kind``: the family, e.g. ``"keras-cnn"`` or ``"deepface"``;
* ``labels``, and ``record``: everything else known about it (display name, colour, capabilities);
* ``capabilities``: optional extra code paths, named by the constants below.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

# ``analyze_image(image) -> [{"region", "face_confidence", "probabilities"}]``: the model can run
# its own detector over a whole photo (DeepFace as it ships).
FULL_PHOTO_PIPELINE = "full_photo_pipeline"
# ``preprocess(faces) -> batch`` and ``predict_arrays(batch)``: a fast path for evaluation (the
# batch can be mirrored for flip test-time augmentation).
ARRAY_BATCHES = "array_batches"


class ModelUnavailable(RuntimeError):
    """A classifier that cannot be loaded here; the message says why and what to do."""


@dataclass(frozen=True)
class Explainer:
    """What Grad-CAM needs from a classifier: its Keras network (Keras 3 or tf_keras), the function
    that turns face crops into that network's input batch, and whether that function letterboxes
    crops to a square (so maps are mapped back onto the crop correctly)."""

    model: object
    preprocess: Callable[[Sequence[np.ndarray]], np.ndarray]
    letterbox: bool = False


class EmotionClassifier(ABC):
    """Turns face crops (BGR or grayscale uint8 arrays of any size) into class probabilities."""

    name: str
    labels: tuple[str, ...]
    kind: str
    capabilities: frozenset[str] = frozenset()
    # A fitted temperature (``model.json``'s ``calibration.temperature``) or None: dividing log
    # probabilities by it makes the confidences calibrated (``core.analysis.calibration``).
    temperature: float | None = None

    @property
    def record(self):
        """This model's :class:`~core.models.record.ModelSpec` (a bare one when it is not registered)."""
        from core.models import registry

        return registry.describe(self.name)

    @property
    def display_name(self) -> str:
        return self.record.title

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @abstractmethod
    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities, shape (len(faces), len(labels)), rows summing to 1."""

    def predict_bulk(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`predict` for thousands of faces at once (the robustness lab): a classifier with a faster
        batched path for that (an ONNX Runtime twin, DeepFace's network called directly) overrides it."""
        return self.predict(faces)

    def bulk_note(self) -> str:
        """How :meth:`predict_bulk` ran (after a call), for the artifacts that used it."""
        return "the classifier's own predict"

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels)}

    def model_card(self):
        """A :class:`~core.models.card.ModelCard` describing the model, for models with no exporter of
        their own (evaluation writes it beside their results), or None (the default)."""
        return None

    def explainer(self) -> Explainer | None:
        """The Keras network behind this classifier for Grad-CAM, or None when it has none to show
        (the default). ``core.analysis.gradcam.GradCam(e.model, preprocess=e.preprocess,
        letterbox=e.letterbox)`` explains its answers."""
        return None


def to_gray(face: np.ndarray) -> np.ndarray:
    if face.ndim == 2:
        return face
    if face.shape[2] == 1:
        return face[..., 0]
    if face.shape[2] == 4:
        return cv2.cvtColor(face, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)


def to_bgr(face: np.ndarray) -> np.ndarray:
    if face.ndim == 2 or face.shape[2] == 1:
        return cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    if face.shape[2] == 4:
        return cv2.cvtColor(face, cv2.COLOR_BGRA2BGR)
    return face
