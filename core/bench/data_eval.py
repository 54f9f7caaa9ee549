"""In-app evaluation speed ("Your data"): a labelled zip built in memory, evaluated end to end the way the
page does it (read the zip, then every model over all images), timed per model.

The zip holds FER2013 PrivateTest faces when the dataset is present (``FER2013_DIR`` or the default
location), else synthetic faces; its images never touch the disk.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import numpy as np

TARGET_CNN_IMAGES_PER_S = 200.0
TARGET_ZIP_SECONDS = 30.0  # a 1,000-image zip evaluated by the CNN and the fer model


def sample_zip(count: int = 1000, fer_dir: str | Path | None = None, seed: int = 0) -> tuple[bytes, str]:
    """``(zip bytes, what they hold)``: ``count`` FER2013 PrivateTest faces spread over the classes, one folder
    per emotion, or synthetic 48x48 faces when FER2013 is absent."""
    import cv2

    from core import paths
    from core.labels import FER2013_LABELS

    root = Path(fer_dir) if fer_dir else (paths.dataset_dir_from_env() or Path("/nonexistent"))
    files = sorted((root / "test").glob("*/PrivateTest_*.jpg")) if root and (root / "test").is_dir() else []
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        if files:
            for i in np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int):
                archive.write(files[i], f"sample/{files[i].parent.name}/{files[i].name}")
            source = f"{min(count, len(files))} FER2013 PrivateTest faces"
        else:
            for i in range(count):
                face = rng.integers(0, 255, (48, 48), dtype=np.uint8)
                label = FER2013_LABELS[i % 7]
                archive.writestr(f"sample/{label}/{i}.png", cv2.imencode(".png", face)[1].tobytes())
            source = f"{count} synthetic faces (FER2013 not found)"
    return buffer.getvalue(), source


def time_zip_evaluation(classifiers: dict, count: int = 1000, fer_dir=None) -> dict:
    """Read a ``count``-image zip and evaluate it with every classifier; seconds and images/s per stage."""
    from core.data.archive import load_labelled
    from core.evaluation.labelled import evaluate_model

    data, source = sample_zip(count, fer_dir)
    started = time.perf_counter()
    dataset = load_labelled(data, "sample")
    read_s = time.perf_counter() - started
    out = {"images": len(dataset.records), "source": source, "zip_mib": round(len(data) / 2**20, 2),
           "read_s": round(read_s, 3), "models": {}}
    for key, classifier in classifiers.items():
        classifier.predict([dataset.read(r, grayscale=False) for r in dataset.records[:64]])  # as the app: warm
        t = time.perf_counter()
        result = evaluate_model(classifier, dataset)
        seconds = time.perf_counter() - t
        out["models"][key] = {"seconds": round(seconds, 3), "images_per_s": round(len(dataset.records) / seconds, 1),
                              "accuracy": round(result.metrics["accuracy"], 4)}
    out["total_s"] = round(time.perf_counter() - started, 3)
    out["target_zip_s"] = TARGET_ZIP_SECONDS
    out["target_zip_met"] = out["total_s"] <= TARGET_ZIP_SECONDS
    cnn = out["models"].get("fer2013_cnn")
    out["cnn_images_per_s"] = cnn["images_per_s"] if cnn else None
    out["target_cnn_images_per_s"] = TARGET_CNN_IMAGES_PER_S
    out["target_cnn_met"] = None if cnn is None else cnn["images_per_s"] >= TARGET_CNN_IMAGES_PER_S
    return out


if __name__ == "__main__":  # python -m core.bench.data_eval: the measurement alone (not the whole bench)
    import json

    from core.models import registry

    classifiers = {name: registry.get(name) for name in registry.ready_names() if not registry.describe(name).slow}
    print(json.dumps(time_zip_evaluation(classifiers), indent=2))
