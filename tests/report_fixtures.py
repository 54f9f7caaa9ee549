"""Stored evaluations for the HTML report tests: test_app's 70-image artifacts plus issue 26's fields
(intervals, baselines, absent classes, paired comparisons), written as the evaluation will write them."""
from __future__ import annotations

import json
from pathlib import Path

from test_app import KEY, LABELS, cnn_guess, deepface_guess, write_dataset, write_evaluation

SENTENCE = ("On these 70 faces the CNN is right 15.7 points more often than DeepFace (95% CI 4.3 to 27.1; "
            "McNemar p = 0.011): the difference is real.")
COMPARISON = {"a": "fer2013_cnn", "b": "deepface", "n": 70, "difference": 0.157, "interval": [0.043, 0.271],
              "both_right": 30, "only_a": 16, "only_b": 5, "both_wrong": 19, "mcnemar_p": 0.0106, "sentence": SENTENCE}


def add_issue26_fields(eval_dir: Path, accuracy_span, *, comparison: bool) -> dict:
    path = eval_dir / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["intervals"] = {
        "method": "percentile bootstrap over faces", "confidence": 0.95, "n_resamples": 2000, "seed": 0,
        "accuracy": list(accuracy_span), "macro_f1": [0.41, 0.62],
        "per_class": {label: {"precision": [0.3, 0.9], "recall": [0.2, 0.8], "f1": [0.25, 0.85]} for label in LABELS}}
    metrics["baselines"] = {"majority_class": {"label": "angry", "accuracy": 0.1429}, "stratified_chance": 0.1429}
    metrics["classes_absent"] = []
    bins = [{"lower": i / 15, "upper": (i + 1) / 15, "count": 5 if i > 5 else 0,
             "confidence": (i + 0.5) / 15 if i > 5 else None, "accuracy": i / 16 if i > 5 else None} for i in range(15)]
    metrics["calibration"] = {"ece": 0.05, "nll": 0.9, "brier": 0.4, "log_loss": 0.9, "bins": bins}
    if comparison:
        metrics["comparisons"] = [COMPARISON]
    path.write_text(json.dumps(metrics, indent=2))
    return metrics


def write_models(root: Path, *, with_intervals: bool = True) -> Path:
    """``root/models`` holding the CNN's and DeepFace's PrivateTest evaluations (and model cards)."""
    models = root / "models"
    cnn = write_evaluation(models / "fer2013_cnn", "fer2013_cnn", "cnn", cnn_guess)
    deepface = write_evaluation(models / "deepface", "deepface", "deepface", deepface_guess)
    (models / "fer2013_cnn" / "model.json").write_text(json.dumps({
        "name": "fer2013_cnn", "kind": "keras-cnn", "labels": LABELS, "training": {"best_epoch": 4},
        "calibration": {"temperature": 0.9, "fitted_on": "PublicTest", "n_images": 3589}}))
    (models / "deepface" / "model.json").write_text(json.dumps({
        "name": "deepface", "kind": "deepface", "labels": LABELS, "description": "DeepFace's emotion model (test)"}))
    if with_intervals:
        add_issue26_fields(cnn, (0.54, 0.77), comparison=True)
        add_issue26_fields(deepface, (0.38, 0.62), comparison=True)
    return models


__all__ = ["KEY", "LABELS", "SENTENCE", "write_dataset", "write_models"]
