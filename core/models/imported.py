"""A model brought by the user (any format :mod:`core.models.formats` reads) as an :class:`EmotionClassifier`.

What turns a face crop into the network's input is a :class:`Convention`: channel order, pixel
scaling and resize interpolation. It is stored in the model card, never guessed at run time: the
input check (:mod:`core.evaluation.input_check`) proposes one and the user confirms it.

An imported model's folder ``models/<name>/`` holds ``model.<format suffix>`` (the file as given) and
``model.json`` with ``"kind": "imported"`` (docs/ARTIFACTS.md); :func:`from_folder` loads it.
"""
from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.models.base import EmotionClassifier, Explainer, ModelUnavailable, to_bgr, to_gray
from core.models.card import ModelCard, ModelCardError
from core.models.formats import ModelRefused, Network, format_of, load_network
from core.models.record import Preprocessing, Provenance

KIND = "imported"
CHANNELS = ("gray", "rgb", "bgr")
# pixel * scale + offset; ImageNet's mean/std is per channel (below)
SCALINGS = {"0..1": (1 / 255, 0.0), "-1..1": (2 / 255, -1.0), "0..255": (1.0, 0.0), "imagenet": None}
RESIZES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR}
IMAGENET_MEAN_RGB, IMAGENET_STD_RGB = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
OUTPUTS = ("probabilities", "logits")


@dataclass(frozen=True)
class Convention:
    """How a crop becomes input: ``channels`` (gray, rgb, bgr; gray is repeated into a 3-channel input),
    ``scaling`` (a key of :data:`SCALINGS`) and ``resize`` (area or bilinear)."""

    channels: str = "gray"
    scaling: str = "0..1"
    resize: str = "area"

    def __post_init__(self):
        for value, choices, what in ((self.channels, CHANNELS, "channels"), (self.scaling, SCALINGS, "scaling"),
                                     (self.resize, RESIZES, "resize")):
            if value not in choices:
                raise ValueError(f"unknown {what} {value!r}; choose {', '.join(choices)}")

    @classmethod
    def parse(cls, text: str) -> Convention:
        """``"gray,-1..1,bilinear"`` (any order; parts left out keep their defaults)."""
        values = {}
        for part in (p.strip().lower() for p in str(text).split(",") if p.strip()):
            key = next((k for k, choices in (("channels", CHANNELS), ("scaling", SCALINGS), ("resize", RESIZES))
                        if part in choices), None)
            if key is None:
                raise ValueError(f"unknown input setting {part!r}; choose from channels {', '.join(CHANNELS)}, "
                                 f"scaling {', '.join(SCALINGS)}, resize {', '.join(RESIZES)}")
            values[key] = part
        return cls(**values)

    def __str__(self) -> str:
        return f"{self.channels},{self.scaling},{self.resize}"

    def to_dict(self) -> dict:
        return {"channels": self.channels, "scaling": self.scaling, "resize": self.resize}


def _scale(batch: np.ndarray, convention: Convention, channels: int) -> np.ndarray:
    if convention.scaling != "imagenet":
        scale, offset = SCALINGS[convention.scaling]
        return batch * np.float32(scale) + np.float32(offset)
    mean, std = np.array(IMAGENET_MEAN_RGB, np.float32), np.array(IMAGENET_STD_RGB, np.float32)
    if channels == 1 or convention.channels == "gray":
        mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
    elif convention.channels == "bgr":
        mean, std = mean[::-1], std[::-1]
    return (batch / np.float32(255) - mean) / std


def prepare(faces: Sequence[np.ndarray], convention: Convention, size: tuple[int, int], channels: int) -> np.ndarray:
    """Face crops (BGR or gray uint8) -> float32 ``(n, h, w, channels)`` under ``convention``."""
    h, w = size
    batch = np.empty((len(faces), h, w, channels), np.float32)
    for i, face in enumerate(faces):
        if face.size == 0:
            raise ValueError("empty face crop")
        if channels == 1 or convention.channels == "gray":
            image = to_gray(face)[..., None]
        else:
            image = to_bgr(face)
            image = image[..., ::-1] if convention.channels == "rgb" else image
        if image.shape[:2] != (h, w):
            image = cv2.resize(np.ascontiguousarray(image), (w, h), interpolation=RESIZES[convention.resize])
            image = image.reshape(h, w, -1)
        batch[i] = image if image.shape[2] == channels else np.repeat(image, channels, axis=2)
    return _scale(batch, convention, channels)


def softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def probability_problem(outputs: np.ndarray) -> str | None:
    """Why these outputs are not probability vectors (None when every row is one)."""
    if not len(outputs):
        return None
    sums = outputs.sum(axis=1)
    if np.all(np.isfinite(outputs)) and outputs.min() >= -1e-6 and np.all(np.abs(sums - 1) < 1e-3):
        return None
    return (f"the outputs are not probabilities (rows sum to {sums.min():.3g} to {sums.max():.3g}, values "
            f"{outputs.min():.3g} to {outputs.max():.3g}): logits? a softmax is applied with --output logits")


class ImportedClassifier(EmotionClassifier):
    """One imported network with its labels and its confirmed input convention."""

    kind = KIND

    def __init__(self, network: Network, labels: Sequence[str], convention: Convention, name: str = "imported",
                 output: str = "probabilities", temperature: float | None = None, batch_size: int = 128):
        if len(labels) != network.outputs:
            raise ModelRefused(f"the model has {network.outputs} outputs but {len(labels)} labels were given "
                               f"({', '.join(labels)})")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(OUTPUTS)}")
        self.network, self.labels, self.convention = network, tuple(labels), convention
        self.name, self.output, self.temperature, self.batch_size = name, output, temperature, batch_size
        self.input_size = (network.height, network.width)

    def preprocess(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        return prepare(faces, self.convention, self.input_size, self.network.channels)

    def raw_outputs(self, batch: np.ndarray) -> np.ndarray:
        out = [self.network.run(batch[i:i + self.batch_size]) for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, len(self.labels)))

    def predict(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float64)
        out = self.raw_outputs(self.preprocess(faces))
        return softmax(out) if self.output == "logits" else out

    def explainer(self) -> Explainer | None:
        """Grad-CAM's parts for a Keras network over NHWC images with a spatial convolution (else None)."""
        model = self.network.keras_model
        if model is None or self.network.layout != "NHWC" or self.output != "probabilities":
            return None
        spatial = any("Conv" in type(layer).__name__ and len(getattr(layer, "output", None).shape or ()) == 4
                      for layer in model.layers if getattr(layer, "output", None) is not None)
        return Explainer(model, self.preprocess, letterbox=False) if spatial else None

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "labels": list(self.labels), "format": self.network.format,
                "input": str(self.convention), "parameters": self.network.parameters}


# ---------------------------------------------------------------------------------- cards and folders


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_for(classifier: ImportedClassifier, data: bytes, source: str, display_name: str = "",
             input_check: dict | None = None) -> ModelCard:
    """The ``model.json`` of an imported model (the fields docs/ARTIFACTS.md lists)."""
    net = classifier.network
    suffix = {"keras": ".keras", "h5": ".h5", "onnx": ".onnx", "tflite": ".tflite"}[net.format]
    card = {
        "name": classifier.name, "kind": KIND, "labels": list(classifier.labels),
        "display_name": display_name or classifier.name,
        "input": {"size": [net.height, net.width], "channels": net.channels, "layout": net.layout, "dtype": "float32"},
        "preprocessing": {**classifier.convention.to_dict(), "output": classifier.output},
        "file": {"name": f"model{suffix}", "format": net.format, "sha256": sha256(data), "bytes": len(data)},
        "architecture": {"parameters": net.parameters},
        "provenance": {"source": source, "imported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                       "training_data": "not recorded", "test_split_exposure": "not recorded"},
    }
    if input_check:
        card["input_check"] = input_check
    return ModelCard.from_dict(card)



def record_facts(card) -> dict:
    """Record fields an imported model's card gives (preprocessing, provenance, description)."""
    prep, info, prov = card.preprocessing or {}, card.extra.get("file") or {}, card.provenance or {}
    size = tuple((card.input or {}).get("size") or (48, 48))
    return {"preprocessing": Preprocessing(size, str(prep.get("channels", "gray")), str(prep.get("scaling", "")),
                                           str(prep.get("resize", "")), "fer2013"),
            "provenance": Provenance(source=str(prov.get("source", "imported")),
                                     training_data=str(prov.get("training_data", "not recorded")),
                                     test_split_exposure=str(prov.get("test_split_exposure", "not recorded"))),
            "explainable": info.get("format") in ("keras", "h5"),
            "description": f"imported {info.get('format', '')} model ({info.get('name', '')}, "
                           f"SHA-256 {str(info.get('sha256', ''))[:12]}…)"}



def from_bytes(data: bytes, filename: str, labels: Sequence[str], convention: Convention, name: str,
               output: str = "probabilities", temperature: float | None = None) -> ImportedClassifier:
    return ImportedClassifier(load_network(data, format_of(filename)), labels, convention, name, output, temperature)


def missing_reason(folder: str | Path) -> str | None:
    """Why ``folder`` holds no loadable imported model (None when its card and file are there)."""
    try:
        card = ModelCard.read(folder)
        file = Path(folder) / str(card.extra["file"]["name"])
    except (ModelCardError, KeyError, TypeError) as exc:
        return f"{folder}: not an imported model's folder ({exc})"
    return None if file.is_file() else f"{folder}: the model file {file.name} is missing"


def from_folder(folder: str | Path, name: str | None = None, **_options) -> ImportedClassifier:
    """The model in an imported model's folder; its file must still match the SHA-256 on its card."""
    folder = Path(folder)
    reason = missing_reason(folder)
    if reason:
        raise ModelUnavailable(reason)
    card = ModelCard.read(folder)
    info, prep = card.extra["file"], card.preprocessing or {}
    data = (folder / info["name"]).read_bytes()
    if info.get("sha256") and sha256(data) != info["sha256"]:
        raise ModelUnavailable(f"{folder / info['name']}: the file no longer matches the SHA-256 on its model card")
    convention = Convention(**{k: prep[k] for k in ("channels", "scaling", "resize") if k in prep})
    return from_bytes(data, info["name"], card.labels, convention, name or folder.name,
                      prep.get("output", "probabilities"), card.temperature)
