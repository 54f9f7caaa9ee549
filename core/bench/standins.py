"""The models a benchmark times: the shipped ones when present, else architecture-identical stand-ins.

When the shipped CNN is missing and no ``--model-dir`` / ``EMOTION_MODEL_DIR`` is given, an
*untrained* model of the same architecture (the default stages) is written to a temporary folder:
its speed is representative, its predictions are not. Likewise DeepFace runs with
architecture-identical stand-in weights when the real file is absent.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from core.paths import PROJECT_ROOT


def write_untrained_model(out: str | Path, seed: int = 7, stages=None, dense_units: int = 256) -> Path:
    """An untrained CNN saved like a shipped model (``model.keras`` + ``model.json``).

    With the default (shipped) stages its speed is representative of the real model; its
    predictions are meaningless. Tests pass smaller ``stages`` for speed.
    """
    import keras

    from core.labels import FER2013_LABELS
    from core.models.architecture import DEFAULT_STAGES, build_cnn, multiply_adds
    from core.models.card import ModelCard

    out = Path(out)
    keras.utils.set_random_seed(seed)
    stages = stages or DEFAULT_STAGES
    model = build_cnn(len(FER2013_LABELS), 48, stages, dense_units)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    ModelCard(
        name=out.name, kind="keras-cnn", labels=list(FER2013_LABELS),
        input={"size": [48, 48], "color_mode": "grayscale", "channels": 1, "dtype": "float32", "layout": "NHWC"},
        preprocessing={"normalization": {"scale": 1 / 255, "offset": 0.0}},
        architecture={"stages": [list(s) for s in stages], "dense_units": dense_units,
                      "parameters": int(model.count_params()), "multiply_adds": multiply_adds(model)},
        training={"note": "UNTRAINED model for timing and tests; its predictions are meaningless"},
        provenance={"commit": None},
    ).write(out)
    return out


def resolve_model_dir(explicit: str | Path | None = None, scratch: str | Path | None = None) -> tuple[Path, str]:
    """The CNN model folder to use, and where it came from (one line, for the output).

    ``explicit`` (an option), else the registry's ``fer2013_cnn`` (``$EMOTION_MODEL_DIR``, else the
    shipped ``models/fer2013_cnn``), else an untrained stand-in written under ``scratch`` (default:
    a new temporary folder).
    """
    from core.models.base import ModelUnavailable
    from core.models.cnn import has_model
    from core.models.registry import cnn_folder

    for value, origin in ((explicit, "--model-dir"), (os.environ.get("EMOTION_MODEL_DIR"), "EMOTION_MODEL_DIR")):
        if value and str(value).strip():
            path = Path(value) if value is explicit else cnn_folder()
            if not has_model(path):
                raise ModelUnavailable(f"{origin}={path}: no model.json + model.keras there")
            return path, f"model from {origin}: {path}"
    shipped = cnn_folder()
    if has_model(shipped):
        return shipped, f"shipped model: {shipped}"
    scratch = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="emotion_bench_"))
    path = write_untrained_model(scratch / "fer2013_cnn")
    return path, (f"shipped model {shipped} is missing: using an UNTRAINED model of the same "
                  f"architecture written to {path} (timings representative, predictions meaningless)")


def resolve_deepface_home(scratch: str | Path | None = None) -> tuple[Path, str, bool]:
    """A DEEPFACE_HOME holding the emotion weights: ``(home, description, real)``.

    The current ``$DEEPFACE_HOME`` (or ``~``) when the weights file is there, else a temporary home
    with architecture-identical stand-in weights (same speed, meaningless predictions).
    """
    from core.models.deepface_weights import deepface_home, weights_path, write_stand_in_weights

    home = deepface_home()
    if weights_path(home).is_file():
        return home, f"DeepFace weights found at {weights_path(home)} (taken as the real ones)", True
    scratch = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="emotion_bench_deepface_"))
    write_stand_in_weights(scratch)
    return scratch, (f"DeepFace's real weights are missing ({weights_path(home)}): using architecture-identical "
                     f"STAND-IN weights in {scratch} (DeepFace's real code and speed, meaningless predictions)"), False


def cold_load_seconds(model_dir: Path) -> float | None:
    """Seconds a fresh Python process takes to import TensorFlow and load the CNN (what an app start pays)."""
    code = ("import time; t = time.perf_counter(); from core.models.cnn import CnnClassifier; "
            f"CnnClassifier({str(model_dir)!r}); print(time.perf_counter() - t)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
        return round(float(out.stdout.strip().splitlines()[-1]), 3)
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None
