"""Evaluating any emotion classifier on a labelled dataset split, into the stored artifacts.

:func:`evaluate` runs a classifier (our CNN or DeepFace, through the same
:class:`~core.classifiers.EmotionClassifier` interface, on the same face crops: the dataset images
are already crops) over one split and writes ``metrics.json`` and ``predictions.csv`` as
``docs/ARTIFACTS.md`` describes, under ``models/<name>/eval/<dataset>-<split>/``.

Metrics come from scikit-learn. Their label set is the union of the classifier's and the dataset's
labels, in :data:`core.labels.EMOTIONS` order; macro and weighted F1 average over the labels that
occur in the truth or the predictions (scikit-learn's default). The main accuracy is always a
single pass; with ``flip_tta`` the mean of the probabilities of the image and its mirror image is
reported apart, as ``flip_tta_accuracy``; ``wall_seconds`` and ``images_per_second`` time the single
pass, image reading included. Results are deterministic: a rerun gives the same
metrics, apart from ``wall_seconds``, ``images_per_second``, ``created_at`` and ``commit``.

Command line: ``python -m core evaluate --model fer2013_cnn --data DIR --split PrivateTest``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from core.labels import EMOTIONS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODELS_DIR = PROJECT_ROOT / "models"
MAX_TOP_CONFUSIONS = 10

# Figures published by others for DeepFace's emotion model (not measured by this project).
DEEPFACE_PUBLISHED = {
    "note": "figures published by others, not measured by this project; see eval/ for our measurements",
    "figures": {
        "fer2013-PublicTest": {
            "accuracy": 0.574,
            "source": "reported by DeepFace's author, Sefik Ilkin Serengil (deepface documentation and blog)",
        },
    },
}


def eval_dir(models_dir: str | Path, model_name: str, dataset_name: str, split: str) -> Path:
    """``models_dir/<model_name>/eval/<dataset_name>-<split>``."""
    return Path(models_dir) / model_name / "eval" / f"{dataset_name}-{split}"


def model_identity(classifier) -> tuple[str, str]:
    """(name, kind) for the artifacts: the model folder's name for a CNN, ``deepface`` for DeepFace."""
    from core.classifiers import CnnClassifier, DeepFaceClassifier

    if isinstance(classifier, CnnClassifier):
        return Path(classifier.model_dir).name, "cnn"
    if isinstance(classifier, DeepFaceClassifier):
        return "deepface", "deepface"
    name = getattr(classifier, "name", type(classifier).__name__)
    return name, getattr(classifier, "kind", name)


def metric_labels(classifier_labels, dataset_labels) -> list[str]:
    """The union of both label sets, in :data:`EMOTIONS` order (unknown names last, sorted)."""
    union = set(classifier_labels) | set(dataset_labels)
    return [label for label in EMOTIONS if label in union] + sorted(union - set(EMOTIONS))


def predict_records(classifier, dataset, records, batch_size: int = 256, flip: bool = False,
                    progress: bool = True, desc: str | None = None) -> np.ndarray:
    """Probabilities ``(len(records), len(classifier.labels))`` for dataset records, in batches.

    The CNN takes a fast path (grayscale read, its own preprocessing, batched forward pass); any
    other classifier gets the crops as BGR uint8 arrays through ``predict``. ``flip`` mirrors
    every image horizontally first.
    """
    import cv2
    from tqdm import tqdm

    from core.classifiers import CnnClassifier

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    k = len(classifier.labels)
    out = np.empty((len(records), k), dtype=np.float64)
    fast = isinstance(classifier, CnnClassifier)
    with tqdm(total=len(records), desc=desc or f"{getattr(classifier, 'name', 'model')} {'flipped ' if flip else ''}",
              unit="img", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, len(records), batch_size):
            chunk = records[start:start + batch_size]
            if fast:
                batch = classifier.preprocess([dataset.read(r, grayscale=True) for r in chunk])
                if flip:
                    batch = np.ascontiguousarray(batch[:, :, ::-1, :])
                probs = classifier.predict_arrays(batch)
            else:
                faces = [dataset.read(r, grayscale=False) for r in chunk]
                if flip:
                    faces = [cv2.flip(face, 1) for face in faces]
                probs = np.asarray(classifier.predict(faces), dtype=np.float64)
            if probs.shape != (len(chunk), k):
                raise ValueError(f"{getattr(classifier, 'name', 'classifier')} returned shape {probs.shape}, "
                                 f"expected {(len(chunk), k)}")
            out[start:start + len(chunk)] = probs
            bar.update(len(chunk))
    return out


def compute_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, F1s, per-class figures, confusion matrix and top confusions (ARTIFACTS.md keys)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    y_true, y_pred = list(y_true), list(y_pred)
    present = [label for label in labels if label in set(y_true) | set(y_pred)]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    confusions = []
    for i, true in enumerate(labels):
        row_total = int(counts[i].sum())
        for j, predicted in enumerate(labels):
            if i != j and counts[i, j] > 0:
                confusions.append({"true": true, "predicted": predicted, "count": int(counts[i, j]),
                                   "share_of_true": float(counts[i, j] / row_total)})
    # largest first; ties in label order, so the list is deterministic
    confusions.sort(key=lambda c: (-c["count"], labels.index(c["true"]), labels.index(c["predicted"])))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=present, average="weighted", zero_division=0)),
        "per_class": {label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                              "support": int(support[i])} for i, label in enumerate(labels)},
        "confusion_matrix": {"labels": labels, "counts": counts.astype(int).tolist()},
        "top_confusions": confusions[:MAX_TOP_CONFUSIONS],
    }


def _expand(probs: np.ndarray, classifier_labels, labels) -> np.ndarray:
    """Probabilities in ``labels`` order (zero for labels the classifier does not have)."""
    full = np.zeros((len(probs), len(labels)), dtype=np.float64)
    for j, label in enumerate(classifier_labels):
        full[:, labels.index(label)] = probs[:, j]
    return full


def predictions_frame(records, probs: np.ndarray, classifier_labels, labels):
    """The ``predictions.csv`` table: path, true, predicted, confidence, ``p_<label>``..."""
    import pandas as pd

    classifier_labels = list(classifier_labels)
    best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=int)
    frame = pd.DataFrame({
        "path": [r.rel_path for r in records],
        "true": [r.label for r in records],
        "predicted": [classifier_labels[i] for i in best],
        "confidence": probs[np.arange(len(probs)), best] if len(probs) else np.zeros(0),
    })
    full = _expand(probs, classifier_labels, labels)
    for j, label in enumerate(labels):
        frame[f"p_{label}"] = full[:, j]
    return frame


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_deepface_model_json(model_dir: str | Path, classifier=None) -> Path:
    """``models/deepface/model.json``: what DeepFace's emotion model is, and its published figures."""
    from core.deepface_weights import WEIGHTS_FILE, WEIGHTS_URLS
    from core.labels import FER2013_LABELS

    try:
        from importlib.metadata import version

        deepface_version = version("deepface")
    except Exception:  # noqa: BLE001 - not installed, or no metadata
        deepface_version = None
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    metadata = {
        "name": "deepface",
        "kind": "deepface",
        "labels": list(getattr(classifier, "labels", FER2013_LABELS)),
        "description": "DeepFace's facial-expression model (serengil/deepface, TensorFlow backend): a small CNN "
                       "trained by DeepFace's author on FER2013, run through DeepFace.analyze(actions=['emotion']) "
                       "on our face crops (detector_backend='skip'), so both models see the same faces.",
        "input": {"size": [48, 48], "color_mode": "grayscale", "channels": 1,
                  "preprocessing": "DeepFace's own: the crop scaled to [0, 1], padded and resized to 224x224, "
                                   "converted to grayscale and resized to 48x48"},
        "architecture": {"description": "Conv5x5(64)-MaxPool-Conv3x3(64)x2-AvgPool-Conv3x3(128)x2-AvgPool-"
                                        "Dense(1024)x2 with dropout-softmax(7)"},
        "weights": {"file": WEIGHTS_FILE, "source": WEIGHTS_URLS[0]},
        "deepface_version": deepface_version,
        "published": DEEPFACE_PUBLISHED,
    }
    path = model_dir / "model.json"
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(metadata, indent=2) + "\n"))
    return path


def spread_sample(records: list, limit: int | None) -> list:
    """``limit`` records at evenly spaced positions (all of them when ``limit`` is None or too big)."""
    if limit is None or limit >= len(records):
        return list(records)
    positions = np.linspace(0, len(records) - 1, limit).round().astype(int)
    return [records[i] for i in positions]


def evaluate(classifier, dataset, split: str, out_dir: str | Path | None = None, limit: int | None = None,
             flip_tta: bool = False, batch_size: int = 256, progress: bool = True) -> dict:
    """Evaluate ``classifier`` on ``dataset``'s ``split``; returns the ``metrics.json`` dict.

    ``out_dir`` is the folder that receives ``metrics.json`` and ``predictions.csv`` (see
    :func:`eval_dir`; ``None`` writes nothing); for DeepFace in the standard layout,
    ``models/deepface/model.json`` is written too. ``limit`` keeps N images spread evenly over the
    split in the dataset's order (which is sorted by class, so every class stays represented),
    and is recorded.
    """
    from core.training import git_commit

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, not {limit}")
    all_records = dataset.split(split)
    records = spread_sample(all_records, limit)
    model_name, model_kind = model_identity(classifier)
    classifier_labels = list(classifier.labels)
    labels = metric_labels(classifier_labels, dataset.labels)

    started = time.perf_counter()
    probs = predict_records(classifier, dataset, records, batch_size, progress=progress,
                            desc=f"{model_name} {dataset.name}-{split}")
    wall = time.perf_counter() - started
    predicted = [classifier_labels[i] for i in probs.argmax(axis=1)]
    truth = [r.label for r in records]
    flip_accuracy = None
    if flip_tta:
        flipped = predict_records(classifier, dataset, records, batch_size, flip=True, progress=progress,
                                  desc=f"{model_name} {dataset.name}-{split} flipped")
        mean = (probs + flipped) / 2.0
        flip_accuracy = float(np.mean([classifier_labels[i] == t for i, t in zip(mean.argmax(axis=1), truth)]))

    metrics = {
        "model": model_name, "model_kind": model_kind,
        "dataset": {"name": dataset.name, "split": split, "n_files": len(all_records), "root": Path(dataset.root).name},
        "labels": labels,
        "n_images": len(records),
    }
    metrics.update(compute_metrics(truth, predicted, labels))
    metrics.update({
        "flip_tta_accuracy": flip_accuracy,
        "wall_seconds": round(wall, 3),
        "images_per_second": round(len(records) / wall, 1) if wall > 0 else None,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": git_commit(),
        "limit": limit,
    })
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        frame = predictions_frame(records, probs, classifier_labels, labels)
        _atomic_write(out / "predictions.csv", lambda tmp: frame.to_csv(tmp, index=False))
        _atomic_write(out / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2) + "\n"))
        if model_kind == "deepface" and out.parent.name == "eval":  # models/deepface/eval/<dataset>-<split>
            write_deepface_model_json(out.parent.parent, classifier)
    return metrics


def format_summary(metrics: dict, out_dir: str | Path | None = None) -> str:
    """A few lines for the terminal: accuracy, macro F1, recall per class, top confusions, files."""
    d = metrics["dataset"]
    limited = f", {metrics['n_images']} spread over {d['n_files']}" if metrics.get("limit") else ""
    lines = [f"{metrics['model']} on {d['name']} {d['split']} ({metrics['n_images']} images{limited}): "
             f"accuracy {metrics['accuracy'] * 100:.2f}%, macro F1 {metrics['macro_f1']:.3f}, "
             f"weighted F1 {metrics['weighted_f1']:.3f}"]
    if metrics.get("flip_tta_accuracy") is not None:
        lines.append(f"with flip TTA: accuracy {metrics['flip_tta_accuracy'] * 100:.2f}%")
    lines.append("recall: " + ", ".join(f"{label} {m['recall'] * 100:.1f}% (n={m['support']})"
                                        for label, m in metrics["per_class"].items()))
    top = metrics["top_confusions"][:5]
    if top:
        lines.append("top confusions: " + ", ".join(
            f"{c['true']}->{c['predicted']} {c['count']} ({c['share_of_true'] * 100:.1f}% of {c['true']})" for c in top))
    if metrics.get("images_per_second"):
        lines.append(f"{metrics['wall_seconds']:.1f} s, {metrics['images_per_second']:.0f} images/s")
    if out_dir is not None:
        lines.append(f"wrote {Path(out_dir) / 'metrics.json'} and {Path(out_dir) / 'predictions.csv'}")
    return "\n".join(lines)


def load_named_classifier(name: str, models_dir: str | Path = DEFAULT_MODELS_DIR):
    """``deepface``, or a CNN model folder: ``models_dir/<name>`` or a path to one."""
    from core.classifiers import CnnClassifier, DeepFaceClassifier, ModelUnavailable

    if name == "deepface":
        return DeepFaceClassifier()
    candidate = Path(models_dir) / name
    if not candidate.is_dir() and Path(name).is_dir():
        candidate = Path(name)
    if not candidate.is_dir():
        raise ModelUnavailable(f"no model {name!r}: {candidate} does not exist "
                               f"(use deepface or a folder under {models_dir}, e.g. fer2013_cnn)")
    return CnnClassifier(candidate)


def _cmd_evaluate(args) -> int:
    from core.classifiers import ModelUnavailable
    from core.datasets import DatasetError, load_dataset

    try:
        classifier = load_named_classifier(args.model, args.models_dir)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        dataset = load_dataset(args.data, args.kind)
        dataset.split(args.split)  # fail early, naming the splits that exist
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    from core.imaging import ImageDecodeError

    model_name, _ = model_identity(classifier)
    out = eval_dir(args.models_dir, model_name, dataset.name, args.split)
    try:
        metrics = evaluate(classifier, dataset, args.split, out_dir=out, limit=args.limit, flip_tta=args.flip_tta,
                           batch_size=args.batch_size)
    except ImageDecodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_summary(metrics, out))
    return 0


def _positive_int(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def add_parser(subparsers) -> None:
    """Register ``evaluate`` on the ``python -m core`` sub-command parser."""
    p = subparsers.add_parser("evaluate", help="evaluate a model on a dataset split; writes models/NAME/eval/",
                              description="Evaluate the CNN or DeepFace on one split of a labelled dataset and "
                                          "write metrics.json and predictions.csv under "
                                          "MODELS_DIR/NAME/eval/DATASET-SPLIT/.")
    p.add_argument("--model", required=True, metavar="NAME",
                   help="deepface, or a model folder under --models-dir (e.g. fer2013_cnn)")
    p.add_argument("--data", required=True, help="dataset folder or FER2013 CSV")
    p.add_argument("--split", required=True, help="e.g. PublicTest or PrivateTest (FER2013), validation or test")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--limit", type=_positive_int, help="evaluate only N images, spread evenly over the split (all classes)")
    p.add_argument("--flip-tta", action="store_true",
                   help="also report accuracy with horizontal-flip test-time augmentation")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--models-dir", default=str(DEFAULT_MODELS_DIR))
    p.set_defaults(func=_cmd_evaluate)
