"""Evaluation: metrics.json and predictions.csv per docs/ARTIFACTS.md, for the CNN, DeepFace and a fake."""
from __future__ import annotations

import io
import json
import re
import shutil
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from core.data.datasets import load_dataset
from core.evaluation.evaluate import eval_dir, evaluate, predict_records
from core.labels import EMOTIONS
from core.models.base import EmotionClassifier
from core.models.cnn import CnnClassifier

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VOLATILE = {"wall_seconds", "images_per_second", "created_at", "commit"}
METRIC_TYPES = {
    "model": str, "model_kind": str, "dataset": dict, "labels": list, "n_images": int, "accuracy": float,
    "macro_f1": float, "weighted_f1": float, "per_class": dict, "confusion_matrix": dict, "top_confusions": list,
    "flip_tta_accuracy": (float, type(None)), "wall_seconds": float, "images_per_second": (float, type(None)),
    "created_at": str, "commit": (str, type(None)), "limit": (int, type(None)), "calibration": dict,
    "intervals": dict, "baselines": dict, "classes_absent": list,
}


def make_fer(root: Path, per_class: dict[str, dict[str, int]], value=None) -> Path:
    """FER2013 folder layout; ``value(label, i)`` gives a constant pixel value (PNG), else random noise (JPEG)."""
    rng = np.random.default_rng(1)
    n = 0
    for split, counts in per_class.items():
        sub = "train" if split == "Training" else "test"
        for label, count in counts.items():
            folder = root / sub / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                if value is None:
                    image, suffix = rng.integers(0, 256, (48, 48), dtype=np.uint8), "jpg"
                else:
                    image, suffix = np.full((48, 48), value(label, i), np.uint8), "png"
                assert cv2.imwrite(str(folder / f"{split}_{n:04d}.{suffix}"), image)
                n += 1
    return root


@pytest.fixture(scope="module")
def noise_fer(tmp_path_factory):
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    root = make_fer(tmp_path_factory.mktemp("noise") / "fer2013",
                    {"Training": {label: 1 for label in labels}, "PublicTest": {label: 3 for label in labels},
                     "PrivateTest": {label: 2 for label in labels}})
    return load_dataset(root)


@pytest.fixture
def models_dir(tmp_path, tiny_model_dir) -> Path:
    """A models folder holding a copy of the tiny CNN (the session fixture itself stays untouched)."""
    out = tmp_path / "models"
    shutil.copytree(tiny_model_dir, out / "tiny_cnn")
    return out


def check_artifacts(out: Path, metrics: dict, dataset, split: str) -> pd.DataFrame:
    """Everything ARTIFACTS.md promises about metrics.json and predictions.csv, and their consistency."""
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert set(metrics) - {"comparisons"} == set(METRIC_TYPES)  # the CLI adds comparisons with other stored models
    assert isinstance(metrics.get("comparisons", []), list)
    for key, kind in METRIC_TYPES.items():
        assert isinstance(metrics[key], kind), (key, metrics[key])
    assert metrics["dataset"] == {"name": dataset.name, "split": split, "n_files": len(dataset.split(split)),
                                  "root": dataset.root.name}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metrics["created_at"])
    labels = metrics["labels"]
    assert labels == [label for label in EMOTIONS if label in labels]
    n = metrics["n_images"]
    counts = np.array(metrics["confusion_matrix"]["counts"])
    assert metrics["confusion_matrix"]["labels"] == labels
    assert counts.shape == (len(labels), len(labels)) and counts.sum() == n
    assert list(metrics["per_class"]) == labels
    for i, label in enumerate(labels):
        per_class = metrics["per_class"][label]
        assert set(per_class) == {"precision", "recall", "f1", "support"}
        assert per_class["support"] == counts[i].sum()
        assert isinstance(per_class["support"], int)
    assert 0 <= metrics["accuracy"] <= 1 and metrics["accuracy"] == pytest.approx(np.trace(counts) / n)
    assert len(metrics["top_confusions"]) <= 10
    shown = [c["count"] for c in metrics["top_confusions"]]
    assert shown == sorted(shown, reverse=True)
    for c in metrics["top_confusions"]:
        i, j = labels.index(c["true"]), labels.index(c["predicted"])
        assert i != j and c["count"] == counts[i, j] and c["share_of_true"] == pytest.approx(counts[i, j] / counts[i].sum())

    frame = pd.read_csv(out / "predictions.csv")
    assert list(frame.columns) == ["path", "true", "predicted", "confidence"] + [f"p_{label}" for label in labels]
    assert len(frame) == n
    records = {r.rel_path: r for r in dataset.split(split)}
    order = list(records)
    assert set(frame["path"]) <= set(records) and frame["path"].is_unique
    assert [order.index(p) for p in frame["path"]] == sorted(order.index(p) for p in frame["path"])  # split order kept
    records = [records[p] for p in frame["path"]]
    assert frame["true"].tolist() == [r.label for r in records]
    assert all((dataset.root / p).is_file() for p in frame["path"])
    probs = frame[[f"p_{label}" for label in labels]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(frame["confidence"], probs.max(axis=1), atol=1e-12)
    assert frame["predicted"].tolist() == [labels[i] for i in probs.argmax(axis=1)]
    assert metrics["accuracy"] == pytest.approx((frame["true"] == frame["predicted"]).mean(), abs=1e-12)
    per_true = frame.groupby("true").size()
    for label in labels:
        assert metrics["per_class"][label]["support"] == per_true.get(label, 0)
    return frame


def stable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in VOLATILE}


@pytest.mark.slow
def test_cnn_evaluation(noise_fer, models_dir):
    classifier = CnnClassifier(models_dir / "tiny_cnn")
    out = eval_dir(models_dir, "tiny_cnn", noise_fer.name, "PublicTest")
    assert out == models_dir / "tiny_cnn" / "eval" / "fer2013-PublicTest"
    metrics = evaluate(classifier, noise_fer, "PublicTest", out_dir=out, flip_tta=True, batch_size=8, progress=False)
    assert (metrics["model"], metrics["model_kind"]) == ("tiny_cnn", "cnn")
    assert metrics["n_images"] == 21 and metrics["limit"] is None
    assert isinstance(metrics["flip_tta_accuracy"], float)
    assert [metrics["per_class"][label]["support"] for label in metrics["labels"]] == [3] * 7
    check_artifacts(out, metrics, noise_fer, "PublicTest")
    first_csv = (out / "predictions.csv").read_text()

    again = evaluate(classifier, noise_fer, "PublicTest", out_dir=out, flip_tta=True, batch_size=8, progress=False)
    assert stable(again) == stable(metrics)
    assert (out / "predictions.csv").read_text() == first_csv
    # another batch size changes the float rounding of the forward pass, nothing more
    other = evaluate(classifier, noise_fer, "PublicTest", out_dir=out, batch_size=5, progress=False)
    assert other["accuracy"] == metrics["accuracy"]
    first, second = pd.read_csv(io.StringIO(first_csv)), pd.read_csv(out / "predictions.csv")
    pd.testing.assert_frame_equal(first, second, check_exact=False, atol=1e-6)

    # the fast path (grayscale, preprocess, batched forward) equals the classifier's public predict on BGR crops
    records = noise_fer.split("PublicTest")
    fast = predict_records(classifier, noise_fer, records, batch_size=8, progress=False)
    public = classifier.predict([noise_fer.read(r, grayscale=False) for r in records])
    np.testing.assert_allclose(fast, public, atol=1e-6)
    flipped = predict_records(classifier, noise_fer, records, batch_size=8, flip=True, progress=False)
    public_flipped = classifier.predict([cv2.flip(noise_fer.read(r, grayscale=False), 1) for r in records])
    np.testing.assert_allclose(flipped, public_flipped, atol=1e-6)
    expected_tta = np.mean([classifier.labels[i] == r.label for i, r in zip((fast + flipped).argmax(axis=1), records)])
    assert metrics["flip_tta_accuracy"] == pytest.approx(expected_tta)

    limited = evaluate(classifier, noise_fer, "PrivateTest", out_dir=models_dir / "limited", limit=5, progress=False)
    assert limited["limit"] == 5 and limited["n_images"] == 5 and limited["dataset"]["n_files"] == 14
    assert limited["flip_tta_accuracy"] is None
    check_artifacts(models_dir / "limited", limited, noise_fer, "PrivateTest")
    paths = pd.read_csv(models_dir / "limited" / "predictions.csv")["path"].tolist()
    all_paths = [r.rel_path for r in noise_fer.split("PrivateTest")]
    assert paths == [all_paths[i] for i in (0, 3, 6, 10, 13)]  # spread evenly, first and last included


class FixedClassifier(EmotionClassifier):
    """Predicts ``labels[k]`` with probability 0.7 (0.1 for the rest) for an image of pixel value 20 + 40 k."""

    name = "fixed"
    labels = ("angry", "happy", "sad", "surprise")  # no neutral; surprise is not in the dataset

    def predict(self, faces):
        out = np.full((len(faces), 4), 0.1)
        for i, face in enumerate(faces):
            k = int(round((float(face.mean()) - 20) / 40))
            out[i, k] = 0.7
        return out


# (true label, predicted label) of every PublicTest image of the fixed dataset
FIXED_CASES = ([("angry", "angry")] * 3 + [("angry", "happy")] + [("happy", "happy")] * 4
               + [("sad", "sad"), ("sad", "happy")] + [("neutral", "surprise")] * 2)


@pytest.fixture(scope="module")
def fixed_fer(tmp_path_factory):
    by_label: dict[str, list[str]] = {}
    for true, predicted in FIXED_CASES:
        by_label.setdefault(true, []).append(predicted)

    def value(label, i):
        return 20 + 40 * FixedClassifier.labels.index(by_label[label][i])

    root = make_fer(tmp_path_factory.mktemp("fixed") / "fer2013",
                    {"Training": {label: 1 for label in by_label},
                     "PublicTest": {label: len(preds) for label, preds in by_label.items()}}, value)
    return load_dataset(root)


def test_fixed_classifier_gives_the_expected_metrics(fixed_fer, tmp_path):
    out = tmp_path / "eval"
    metrics = evaluate(FixedClassifier(), fixed_fer, "PublicTest", out_dir=out, flip_tta=True, progress=False)
    labels = ["angry", "happy", "sad", "surprise", "neutral"]  # union, in EMOTIONS order
    assert metrics["labels"] == labels and metrics["n_images"] == 12
    assert metrics["model"] == "fixed"
    assert metrics["accuracy"] == pytest.approx(8 / 12, abs=1e-12)
    assert metrics["flip_tta_accuracy"] == pytest.approx(8 / 12, abs=1e-12)  # constant images: flip changes nothing
    assert metrics["confusion_matrix"]["counts"] == [
        [3, 1, 0, 0, 0],
        [0, 4, 0, 0, 0],
        [0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 0, 0, 2, 0],
    ]
    f1 = {"angry": Fraction(6, 7), "happy": Fraction(4, 5), "sad": Fraction(2, 3), "neutral": 0}
    support = {"angry": 4, "happy": 4, "sad": 2, "surprise": 0, "neutral": 2}
    precision = {"angry": 1, "happy": Fraction(2, 3), "sad": 1, "neutral": 0}
    recall = {"angry": Fraction(3, 4), "happy": 1, "sad": Fraction(1, 2), "neutral": 0}
    for label in labels:
        got = metrics["per_class"][label]
        assert got["support"] == support[label]
        if label == "surprise":  # no true face: marked, never scored 0 (issue 26)
            assert (got["precision"], got["recall"], got["f1"]) == (None, None, None)
            continue
        assert got["precision"] == pytest.approx(float(precision[label]), abs=1e-12)
        assert got["recall"] == pytest.approx(float(recall[label]), abs=1e-12)
        assert got["f1"] == pytest.approx(float(f1[label]), abs=1e-12)
    # surprise is predicted but has no true face: it is named and left out of the averages
    assert metrics["classes_absent"] == ["surprise"]
    assert metrics["macro_f1"] == pytest.approx(float(sum(f1.values()) / 4), abs=1e-12)
    assert metrics["weighted_f1"] == pytest.approx(float(sum(f1[k] * support[k] for k in f1) / 12), abs=1e-12)
    assert metrics["baselines"] == {"majority_class": {"label": "angry", "accuracy": 4 / 12},
                                    "stratified_chance": pytest.approx((16 + 16 + 4 + 4) / 144)}
    assert metrics["top_confusions"] == [
        {"true": "neutral", "predicted": "surprise", "count": 2, "share_of_true": 1.0},
        {"true": "angry", "predicted": "happy", "count": 1, "share_of_true": 0.25},
        {"true": "sad", "predicted": "happy", "count": 1, "share_of_true": 0.5},
    ]
    frame = check_artifacts(out, metrics, fixed_fer, "PublicTest")
    assert list(zip(frame["true"], frame["predicted"])) == sorted(FIXED_CASES, key=lambda c: c[0])  # folder order
    assert (frame["p_neutral"] == 0).all() and np.allclose(frame["confidence"], 0.7)
    again = evaluate(FixedClassifier(), fixed_fer, "PublicTest", flip_tta=True, progress=False)  # out_dir=None: nothing written
    assert stable(again) == stable(metrics)

    with pytest.raises(ValueError, match="limit must be a positive"):
        evaluate(FixedClassifier(), fixed_fer, "PublicTest", limit=0, progress=False)


@pytest.mark.slow
def test_deepface_evaluation_and_cli(with_deepface, noise_fer, tmp_path, capsys):
    """Plumbing only, not accuracy: `with_deepface` holds stand-in weights with fixed random values,
    so the real DeepFace code runs on our crops but its predictions mean nothing."""
    from core.cli import main

    models = tmp_path / "models"
    rc = main(["evaluate", "--model", "deepface", "--data", str(noise_fer.root), "--split", "PrivateTest",
               "--limit", "6", "--models-dir", str(models)])
    assert rc == 0
    printed = capsys.readouterr().out
    out = models / "deepface" / "eval" / "fer2013-PrivateTest"
    assert "deepface on fer2013 PrivateTest (6 images, 6 spread over 14)" in printed
    assert "accuracy" in printed and "macro F1" in printed and "recall:" in printed
    assert str(out / "metrics.json") in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["model"], metrics["model_kind"], metrics["limit"]) == ("deepface", "deepface", 6)
    assert metrics["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    check_artifacts(out, metrics, noise_fer, "PrivateTest")
    first = (out / "predictions.csv").read_text()
    meta = json.loads((models / "deepface" / "model.json").read_text())
    assert (meta["name"], meta["kind"]) == ("deepface", "deepface")
    assert meta["labels"] == metrics["labels"] and meta["description"]
    assert "published by others" in meta["published"]["note"]
    assert meta["published"]["figures"]["fer2013-PublicTest"]["accuracy"] == 0.574

    assert main(["evaluate", "--model", "deepface", "--data", str(noise_fer.root), "--split", "PrivateTest",
                 "--limit", "6", "--models-dir", str(models)]) == 0
    assert stable(json.loads((out / "metrics.json").read_text())) == stable(metrics)
    assert (out / "predictions.csv").read_text() == first


def test_cli_deepface_without_weights(without_deepface, noise_fer, tmp_path, capsys):
    from core.cli import main

    rc = main(["evaluate", "--model", "deepface", "--data", str(noise_fer.root), "--split", "PublicTest",
               "--models-dir", str(tmp_path / "models")])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: DeepFace's emotion weights are missing: put facial_expression_model_weights.h5 at")
    assert str(without_deepface) in err
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_cli_cnn(models_dir, noise_fer, capsys):
    from core.cli import main

    rc = main(["evaluate", "--model", "tiny_cnn", "--data", str(noise_fer.root), "--split", "PublicTest",
               "--flip-tta", "--models-dir", str(models_dir)])
    assert rc == 0
    printed = capsys.readouterr().out
    out = models_dir / "tiny_cnn" / "eval" / "fer2013-PublicTest"
    assert "tiny_cnn on fer2013 PublicTest (21 images)" in printed and "with flip TTA" in printed
    assert "top confusions:" in printed and f"wrote {out / 'metrics.json'}" in printed
    check_artifacts(out, json.loads((out / "metrics.json").read_text()), noise_fer, "PublicTest")

    assert main(["evaluate", "--model", "no_such_model", "--data", str(noise_fer.root), "--split", "PublicTest",
                 "--models-dir", str(models_dir)]) == 1
    assert "error: no model 'no_such_model'" in capsys.readouterr().err
    assert main(["evaluate", "--model", "tiny_cnn", "--data", str(noise_fer.root), "--split", "Validation",
                 "--models-dir", str(models_dir)]) == 1
    assert "no split 'Validation'" in capsys.readouterr().err
    assert main(["evaluate", "--model", "tiny_cnn", "--data", str(models_dir / "nowhere"), "--split", "test",
                 "--models-dir", str(models_dir)]) == 2  # a missing folder is a bad argument
    assert "no such file or folder" in capsys.readouterr().err
    broken = make_fer(models_dir.parent / "broken", {"Training": {"happy": 1}, "PublicTest": {"happy": 2}})
    (broken / "test" / "happy" / "PublicTest_0001.jpg").write_bytes(b"not a jpeg")
    assert main(["evaluate", "--model", "tiny_cnn", "--data", str(broken), "--split", "PublicTest",
                 "--models-dir", str(models_dir)]) == 1
    err = capsys.readouterr().err
    last = re.split(r"[\r\n]+", err.strip())[-1]  # after the progress bar
    assert last.startswith("error: ") and "PublicTest_0001.jpg: not an image" in last and "Traceback" not in err


def assert_reproduces_stored_predictions(model_dir: Path, predictions_csv: Path, dataset, split: str,
                                         n: int = 500) -> None:
    """The CNN of ``model_dir``, through its public ``predict`` on BGR crops, gives the stored predictions
    of the first ``n`` images of ``split``: same labels, probabilities within 1e-4."""
    stored = pd.read_csv(predictions_csv)
    classifier = CnnClassifier(model_dir)
    records = dataset.split(split)[:min(n, len(stored))]
    stored = stored.iloc[:len(records)]
    assert stored["path"].tolist() == [r.rel_path for r in records]
    assert stored["true"].tolist() == [r.label for r in records]
    probs = classifier.predict([dataset.read(r, grayscale=False) for r in records])
    assert [classifier.labels[i] for i in probs.argmax(axis=1)] == stored["predicted"].tolist()
    np.testing.assert_allclose(probs, stored[[f"p_{label}" for label in classifier.labels]].to_numpy(), atol=1e-4)


@pytest.mark.slow
def test_stored_predictions_check_on_the_tiny_model(models_dir, noise_fer):
    """The check below, on the tiny model: it passes on its own predictions and catches other ones."""
    out = models_dir / "tiny_cnn" / "eval" / "fer2013-PrivateTest"
    evaluate(CnnClassifier(models_dir / "tiny_cnn"), noise_fer, "PrivateTest", out_dir=out, progress=False)
    assert_reproduces_stored_predictions(models_dir / "tiny_cnn", out / "predictions.csv", noise_fer, "PrivateTest")
    frame = pd.read_csv(out / "predictions.csv")
    frame["p_angry"] += 1e-3
    frame.to_csv(out / "predictions.csv", index=False)
    with pytest.raises(AssertionError):
        assert_reproduces_stored_predictions(models_dir / "tiny_cnn", out / "predictions.csv", noise_fer,
                                             "PrivateTest")


SHIPPED = PROJECT_ROOT / "models" / "fer2013_cnn"


@pytest.mark.dataset
@pytest.mark.slow
@pytest.mark.parametrize("split", ["PrivateTest", "PublicTest"])
def test_shipped_model_reproduces_its_predictions(fer2013_dir, split):
    """models/fer2013_cnn on the first 500 FER2013 images of the split gives its stored predictions.csv.

    PrivateTest is stored only for the finished model (an interim checkpoint is scored on PublicTest).
    """
    stored = SHIPPED / "eval" / f"fer2013-{split}" / "predictions.csv"
    assert stored.is_file(), f"{stored.relative_to(PROJECT_ROOT)} is tracked but missing (restore it with git)"
    assert_reproduces_stored_predictions(SHIPPED, stored, load_dataset(fer2013_dir), split)
