"""Evaluating any emotion classifier on a labelled dataset split, into the stored artifacts.

:func:`evaluate` runs a classifier (our CNN or DeepFace, through the same
:class:`~core.models.base.EmotionClassifier` interface, on the same face crops: the dataset images
are already crops) over one split and writes ``metrics.json`` and ``predictions.csv`` as
``docs/ARTIFACTS.md`` describes, under ``models/<name>/eval/<dataset>-<split>/``.

Metrics come from scikit-learn. Their label set is the union of the classifier's and the dataset's
labels, in :data:`core.labels.EMOTIONS` order; macro and weighted F1 average over the labels that
occur in the truth (a class with no true face has no F1; it is named in ``classes_absent``), and
every score has a seeded 95% bootstrap interval (:mod:`core.evaluation.intervals`). The main accuracy is always a
single pass; with ``flip_tta`` the mean of the probabilities of the image and its mirror image is
reported apart, as ``flip_tta_accuracy``; ``calibration`` holds ECE, NLL and Brier of the single pass
(and, with the model's fitted temperature, the same after temperature scaling); ``wall_seconds`` and ``images_per_second`` time the single
pass, image reading included. Results are deterministic: a rerun gives the same
metrics, apart from ``wall_seconds``, ``images_per_second``, ``created_at`` and ``commit``.

Command line: ``python -m core evaluate --model fer2013_cnn --data DIR --split PrivateTest``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.evaluation.metrics import compute_metrics, metric_labels
from core.models.base import ARRAY_BATCHES
from core.paths import atomic_write, write_json


def eval_dir(models_dir: str | Path, model_name: str, dataset_name: str, split: str) -> Path:
    """``models_dir/<model_name>/eval/<dataset_name>-<split>``."""
    return Path(models_dir) / model_name / "eval" / f"{dataset_name}-{split}"


def model_identity(classifier) -> tuple[str, str]:
    """(id, kind) for the artifacts: the model's one id (its record's name) and its family."""
    name = getattr(classifier, "name", type(classifier).__name__)
    return name, getattr(classifier, "kind", name)


def predict_records(classifier, dataset, records, batch_size: int = 256, flip: bool = False,
                    progress: bool = True, desc: str | None = None,
                    on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Probabilities ``(len(records), len(classifier.labels))`` for dataset records, in batches.

    A classifier with the ``array_batches`` capability (the CNN) takes a fast path (grayscale read,
    its own preprocessing, batched forward pass); any
    other classifier gets the crops as BGR uint8 arrays through ``predict``. ``flip`` mirrors
    every image horizontally first. ``on_progress(done, total)`` is called after each batch (e.g. to
    move a progress bar in the app).
    """
    import cv2
    from tqdm import tqdm

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    k = len(classifier.labels)
    out = np.empty((len(records), k), dtype=np.float64)
    fast = ARRAY_BATCHES in getattr(classifier, "capabilities", ())
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
            if on_progress is not None:
                on_progress(start + len(chunk), len(records))
    return out


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


def write_model_card(model_dir: str | Path, classifier) -> Path | None:
    """``model_dir/model.json`` for a model that describes itself (``classifier.model_card()``, e.g.
    DeepFace's card with its published figures) and has no exporter writing it; None for the others."""
    import contextlib

    from core.models.card import ModelCard, ModelCardError

    card = classifier.model_card() if hasattr(classifier, "model_card") else None
    if card is None:
        return None
    with contextlib.suppress(ModelCardError):  # a fitted temperature (`calibrate --model NAME`) survives
        card.calibration = ModelCard.read(model_dir).calibration
    return card.write(model_dir)


def add_calibration(metrics: dict, probs: np.ndarray, truth_index, temperature: float | None) -> dict:
    """``metrics["calibration"]`` (see :func:`core.analysis.calibration.add_calibration`) over the images
    whose true label the model has; with the model's fitted temperature, the scaled figures too."""
    from core.analysis import calibration

    truth_index = np.asarray(truth_index, np.int64)
    known = truth_index >= 0
    if not known.any():
        return metrics
    calibration.add_calibration(metrics, probs[known], truth_index[known], temperature)
    if not known.all():
        metrics["calibration"]["n_images"] = int(known.sum())
    return metrics


def spread_sample(records: list, limit: int | None) -> list:
    """``limit`` records at evenly spaced positions (all of them when ``limit`` is None or too big)."""
    if limit is None or limit >= len(records):
        return list(records)
    positions = np.linspace(0, len(records) - 1, limit).round().astype(int)
    return [records[i] for i in positions]


def evaluate(classifier, dataset, split: str, out_dir: str | Path | None = None, limit: int | None = None,
             flip_tta: bool = False, batch_size: int = 256, progress: bool = True,
             on_progress: Callable[[int, int], None] | None = None, return_predictions: bool = False):
    """Evaluate ``classifier`` on ``dataset``'s ``split``; returns the ``metrics.json`` dict.

    ``out_dir`` is the folder that receives ``metrics.json`` and ``predictions.csv`` (see
    :func:`eval_dir`; ``None`` writes nothing); for DeepFace in the standard layout,
    ``models/deepface/model.json`` is written too. ``limit`` keeps N images spread evenly over the
    split in the dataset's order (which is sorted by class, so every class stays represented),
    and is recorded. ``on_progress(done, total)`` follows the single pass batch by batch.
    ``return_predictions=True`` returns ``(metrics, predictions)``, the ``predictions.csv`` table as a
    DataFrame (kept in memory when ``out_dir`` is None: the app's own-data page).
    """
    from core.training.provenance import git_commit

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of images, not {limit}")
    all_records = dataset.split(split)
    records = spread_sample(all_records, limit)
    model_name, model_kind = model_identity(classifier)
    classifier_labels = list(classifier.labels)
    labels = metric_labels(classifier_labels, dataset.labels)

    started = time.perf_counter()
    probs = predict_records(classifier, dataset, records, batch_size, progress=progress,
                            desc=f"{model_name} {dataset.name}-{split}", on_progress=on_progress)
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
    add_calibration(metrics, probs, [classifier_labels.index(t) if t in classifier_labels else -1 for t in truth],
                    getattr(classifier, "temperature", None))
    frame = predictions_frame(records, probs, classifier_labels, labels) if out_dir or return_predictions else None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(out / "predictions.csv", lambda tmp: frame.to_csv(tmp, index=False))
        write_json(out / "metrics.json", metrics)
        if out.parent.name == "eval":  # models/<id>/eval/<dataset>-<split>: the card goes beside it
            write_model_card(out.parent.parent, classifier)
    return (metrics, frame) if return_predictions else metrics


def _ci(interval, scale: float = 1.0, digits: int = 1) -> str:
    """`` (95% CI lo-hi)``, or nothing without an interval."""
    if not interval:
        return ""
    return f" (95% CI {interval[0] * scale:.{digits}f}-{interval[1] * scale:.{digits}f})"


def format_summary(metrics: dict, out_dir: str | Path | None = None) -> str:
    """A few lines for the terminal: accuracy and macro F1 with their intervals, the baselines, recall
    per class, calibration, top confusions, the paired comparisons, files."""
    d = metrics["dataset"]
    ci = metrics.get("intervals") or {}
    limited = f", {metrics['n_images']} spread over {d['n_files']}" if metrics.get("limit") else ""
    lines = [f"{metrics['model']} on {d['name']} {d['split']} ({metrics['n_images']} images{limited}): "
             f"accuracy {metrics['accuracy'] * 100:.2f}%{_ci(ci.get('accuracy'), 100)}, "
             f"macro F1 {metrics['macro_f1']:.3f}{_ci(ci.get('macro_f1'), digits=3)}, "
             f"weighted F1 {metrics['weighted_f1']:.3f}"]
    base = metrics.get("baselines") or {}
    if base.get("majority_class"):
        lines.append(f"baselines: always {base['majority_class']['label']} {base['majority_class']['accuracy']:.1%}, "
                     f"chance with the class shares {base['stratified_chance']:.1%}")
    if metrics.get("classes_absent"):
        lines.append(f"no true face of {', '.join(metrics['classes_absent'])}: left out of macro F1")
    if metrics.get("flip_tta_accuracy") is not None:
        lines.append(f"with flip TTA: accuracy {metrics['flip_tta_accuracy'] * 100:.2f}%")
    per_ci = ci.get("per_class") or {}
    lines.append("recall: " + ", ".join(
        f"{label} {m['recall'] * 100:.1f}%{_ci((per_ci.get(label) or {}).get('recall'), 100)} (n={m['support']})"
        for label, m in metrics["per_class"].items() if m.get("recall") is not None))
    cal = metrics.get("calibration") or {}
    if "ece" in cal:
        lines.append(f"calibration: ECE {cal['ece']:.4f}, Brier {cal['brier']:.4f}, log loss {cal['nll']:.4f}")
    top = metrics["top_confusions"][:5]
    if top:
        lines.append("top confusions: " + ", ".join(
            f"{c['true']}->{c['predicted']} {c['count']} ({c['share_of_true'] * 100:.1f}% of {c['true']})" for c in top))
    lines += [c["sentence"] for c in metrics.get("comparisons") or []]
    if metrics.get("images_per_second"):
        lines.append(f"{metrics['wall_seconds']:.1f} s, {metrics['images_per_second']:.0f} images/s")
    if out_dir is not None:
        lines.append(f"wrote {Path(out_dir) / 'metrics.json'} and {Path(out_dir) / 'predictions.csv'}")
    return "\n".join(lines)
