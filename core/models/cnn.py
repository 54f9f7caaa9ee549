"""Our Keras 3 CNN from a model folder (``model.keras`` + ``model.json``), run through a compiled
forward pass (a ``tf.function`` with a fixed input signature)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from core.models.base import ARRAY_BATCHES, EmotionClassifier, Explainer, ModelUnavailable, to_gray
from core.models.card import ModelCard, ModelCardError
from core.models.keras_forward import CompiledForward

TRAIN_HINT = "train one with `python -m core train --data DATASET`"


def has_model(folder: str | Path) -> bool:
    """Whether ``folder`` holds both files a CNN needs."""
    folder = Path(folder)
    return (folder / "model.json").is_file() and (folder / "model.keras").is_file()


def missing_reason(folder: str | Path) -> str | None:
    """Why ``folder`` holds no loadable CNN (None when both files are there)."""
    folder = Path(folder)
    for name in ("model.json", "model.keras"):
        if not (folder / name).is_file():
            return f"no CNN model at {folder}: {name} is missing ({TRAIN_HINT})"
    return None


class CnnClassifier(CompiledForward, EmotionClassifier):
    """Our CNN, loaded in Keras safe mode, with a compiled batched forward pass."""

    kind = "cnn"
    capabilities = frozenset({ARRAY_BATCHES})

    def __init__(self, model_dir: str | Path, batch_size: int = 64, name: str | None = None):
        import keras

        model_dir = Path(model_dir)
        reason = missing_reason(model_dir)
        if reason:
            raise ModelUnavailable(reason)
        meta_path, weights_path = model_dir / "model.json", model_dir / "model.keras"
        try:
            self.card = ModelCard.read(model_dir)
            self.labels = tuple(self.card.labels)
            self.input_size = self.card.input_size
            self.scale, self.offset = self.card.normalization
        except ModelCardError as exc:
            raise ModelUnavailable(f"{meta_path}: invalid model metadata ({exc.problem})") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(f"{meta_path}: invalid model metadata ({exc})") from None
        self.metadata = self.card.to_dict()
        try:
            self.model = keras.models.load_model(weights_path, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises many types for a broken file
            raise ModelUnavailable(f"{weights_path}: cannot load the model ({exc})") from None
        if self.model.output_shape[-1] != len(self.labels):
            raise ModelUnavailable(f"{model_dir}: model has {self.model.output_shape[-1]} outputs "
                                   f"but model.json lists {len(self.labels)} labels")
        self.name = name or model_dir.name
        self.model_dir = model_dir
        self.compile_forward(self.input_size, batch_size)

    def preprocess(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        h, w = self.input_size
        batch = np.empty((len(faces), h, w, 1), np.float32)
        for i, face in enumerate(faces):
            if face.size == 0:
                raise ValueError("empty face crop")
            gray = to_gray(face)
            if gray.shape != (h, w):
                gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA)
            batch[i, ..., 0] = gray * self.scale + self.offset
        return batch

    @property
    def temperature(self) -> float | None:
        return self.card.temperature

    def explainer(self) -> Explainer:
        return Explainer(self.model, self.preprocess, letterbox=False)

    def describe(self) -> dict:
        return {"name": self.name, "labels": list(self.labels), "model_dir": str(self.model_dir),
                "parameters": int(self.model.count_params())}
