"""core.presentation.artifacts: every reader returns the data or one ArtifactError with a one-line explanation."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from core import paths
from core.presentation import artifacts, evaluations
from core.presentation.artifacts import ArtifactError

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
HISTORY = ("epoch,accuracy,epoch_seconds,learning_rate,loss,val_accuracy,val_loss\n"
           "0,0.3,5,0.001,1.8,0.35,1.7\n1,0.4,5,0.002,1.5,0.45,1.5\n2,0.5,5,0.001,1.3,0.44,1.6\n")


def metrics_dict(**changes) -> dict:
    counts = [[5 if i == j else (1 if j == (i + 1) % 7 else 0) for j in range(7)] for i in range(7)]
    counts[2][5] = 4  # fear -> surprise, the top confusion
    data = {
        "model": "cnn", "model_kind": "cnn", "labels": LABELS, "n_images": 70, "accuracy": 0.6, "macro_f1": 0.55,
        "per_class": {l: {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 10} for l in LABELS},
        "confusion_matrix": {"labels": LABELS, "counts": counts},
    }
    data.update(changes)
    return data


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line(error: ArtifactError) -> str:
    message = str(error)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- locations


def test_locations_follow_the_environment(monkeypatch, tmp_path):
    for name in ("EMOTION_MODELS_ROOT", "EMOTION_MODEL_DIR", "EMOTION_RUNS_ROOT", "EMOTION_BENCHMARKS"):
        monkeypatch.delenv(name, raising=False)
    assert artifacts.models_root() == paths.PROJECT_ROOT / "models"
    assert artifacts.model_dir() == paths.PROJECT_ROOT / "models" / "fer2013_cnn"
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path))
    assert artifacts.model_dir() == tmp_path / "fer2013_cnn"
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tmp_path / "other"))
    assert artifacts.model_dir() == tmp_path / "other"
    monkeypatch.setenv("EMOTION_BENCHMARKS", str(tmp_path / "b.json"))
    assert artifacts.benchmarks_path() == tmp_path / "b.json"
    monkeypatch.setenv("FER2013_DIR", "")
    assert artifacts.dataset_dir_from_env() is None
    monkeypatch.setenv("FER2013_DIR", str(tmp_path))
    assert artifacts.dataset_dir_from_env() == tmp_path


# --------------------------------------------------------------------------- model.json


def test_model_json(tmp_path):
    write(tmp_path / "model.json", json.dumps({"labels": LABELS, "training": {"epochs_run": 3}}))
    assert artifacts.read_model_json(tmp_path)["training"]["epochs_run"] == 3


@pytest.mark.parametrize("text, problem, kind", [
    (None, "file is missing", "missing"),
    ("{oops", "corrupt JSON (Expecting property name", "corrupt"),
    ("", "corrupt JSON", "corrupt"),
    ("[1, 2]", "expected a JSON object, found list", "invalid"),
    ('{"name": "x"}', "field 'labels' must be a non-empty list", "invalid"),
    ('{"labels": ["happy"], "training": [1]}', "field 'training' must be an object", "invalid"),
])
def test_model_json_problems(tmp_path, text, problem, kind):
    if text is not None:
        write(tmp_path / "model.json", text)
    with pytest.raises(ArtifactError) as info:
        artifacts.read_model_json(tmp_path)
    assert problem in one_line(info.value) and info.value.kind == kind
    assert "model.json" in str(info.value) and "make train" in info.value.hint


def test_binary_json_is_corrupt(tmp_path):
    (tmp_path / "model.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ArtifactError, match="corrupt JSON"):
        artifacts.read_model_json(tmp_path)


# --------------------------------------------------------------------------- history.csv


def test_history(tmp_path):
    write(tmp_path / "history.csv", HISTORY)
    history = artifacts.read_history(tmp_path)
    assert list(history["epoch"]) == [0, 1, 2] and list(history["epoch_number"]) == [1, 2, 3]
    assert history["learning_rate"].dtype.kind == "f"
    assert artifacts.read_history(tmp_path / "history.csv").equals(history)


def test_history_keeps_the_last_of_a_repeated_epoch(tmp_path):
    write(tmp_path / "history.csv", HISTORY + "2,0.55,5,0.001,1.2,0.5,1.4\n")
    history = artifacts.read_history(tmp_path)
    assert len(history) == 3 and history["val_accuracy"].iloc[-1] == 0.5


@pytest.mark.parametrize("text, problem, kind", [
    (None, "file is missing", "missing"),
    ("", "empty file", "corrupt"),
    ("epoch,accuracy,loss,val_accuracy,val_loss\n", "no epoch recorded yet", "invalid"),
    ("epoch,accuracy\n0,0.5\n", "missing columns loss, val_accuracy, val_loss", "invalid"),
    ("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1,high,1\n", "non-numeric value 'high' in column val_accuracy",
     "invalid"),
    ('epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1,0.5,1\n"1,0.5\n', "corrupt CSV", "corrupt"),
    ("epoch,accuracy,loss,val_accuracy,val_loss\n0,1,2,3,4\n1,1,2,3,4,5,6\n", "Expected 5 fields in line 3, saw 7",
     "corrupt"),
])
def test_history_problems(tmp_path, text, problem, kind):
    if text is not None:
        write(tmp_path / "history.csv", text)
    with pytest.raises(ArtifactError) as info:
        artifacts.read_history(tmp_path)
    assert problem in one_line(info.value), str(info.value)
    assert info.value.kind == kind


# --------------------------------------------------------------------------- best epoch, status


def test_best_epoch_from_model_json_is_one_based():
    history = pd.DataFrame({"epoch": [0, 1, 2], "val_accuracy": [0.3, 0.5, 0.4]})
    assert artifacts.best_epoch({"training": {"best_epoch": 3}}, history) == (3, "model.json (training.best_epoch)")
    assert artifacts.best_epoch({"training": {"best_epoch": 3}}, None)[0] == 3


def test_best_epoch_falls_back_to_the_best_validation_accuracy():
    history = pd.DataFrame({"epoch": [0, 1, 2], "val_accuracy": [0.3, 0.5, 0.4]})
    for meta in (None, {}, {"training": {}}, {"training": {"best_epoch": "2"}}, {"training": {"best_epoch": 9}},
                 {"training": {"best_epoch": True}}, {"training": "x"}):
        assert artifacts.best_epoch(meta, history) == (2, "highest validation accuracy in history.csv")
    assert artifacts.best_epoch(None, None) == (None, "")


@pytest.mark.parametrize("training, state", [
    ({"epochs_run": 10, "epochs_planned": 10}, "finished"),
    ({"epochs_run": 4, "epochs_planned": 10}, "interim"),
    ({"epochs_run": 4, "epochs_planned": 10, "stopped_early": True}, "stopped_early"),
    ({"epochs_run": 4}, "unknown"),
    ({}, "unknown"),
])
def test_training_status(training, state):
    status = artifacts.training_status({"training": training})
    assert status.state == state
    assert status.interim == (state == "interim")
    if state == "interim":
        assert "interim checkpoint: 4 of 10" in status.describe()


def test_run_progress(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTION_RUNS_ROOT", str(tmp_path))
    assert artifacts.run_progress("fer2013_cnn") is None
    write(tmp_path / "fer2013_cnn" / "config.json", json.dumps({"epochs": 50}))
    progress = artifacts.run_progress("fer2013_cnn")
    assert progress["history"] is None and "history.csv" in progress["error"] and progress["epochs_planned"] == 50
    write(tmp_path / "fer2013_cnn" / "history.csv", HISTORY)
    assert len(artifacts.run_progress("fer2013_cnn")["history"]) == 3


def test_find_evaluations(tmp_path):
    root = tmp_path / "models"
    for model, key in (("fer2013_cnn", "fer2013-PrivateTest"), ("deepface", "fer2013-PrivateTest"),
                       ("fer2013_cnn", "ckplus-test"), ("deepface", "a-b-c-test")):
        write(root / model / "eval" / key / "metrics.json", "{}")
    write(root / "fer2013_cnn" / "eval" / "no-metrics" / "predictions.csv", "path\n")
    outside = write(tmp_path / "elsewhere" / "my_cnn" / "eval" / "fer2013-PrivateTest" / "metrics.json", "{}").parents[2]
    found = evaluations.find_evaluations(root, extra_model_dirs=[outside, root / "fer2013_cnn"])
    assert list(found) == ["fer2013-PrivateTest", "a-b-c-test", "ckplus-test"]
    assert list(found["fer2013-PrivateTest"]) == ["fer2013_cnn", "deepface", "my_cnn"]  # the registry's order
    ref = found["a-b-c-test"]["deepface"]
    assert (ref.dataset, ref.split) == ("a-b-c", "test")
    assert ref.metrics_path == root / "deepface" / "eval" / "a-b-c-test" / "metrics.json"
    assert evaluations.find_evaluations(tmp_path / "missing") == {}


def test_metrics(tmp_path):
    write(tmp_path / "metrics.json", json.dumps(metrics_dict()))
    m = evaluations.read_metrics(tmp_path)
    assert m["accuracy"] == 0.6 and m["per_class"]["fear"]["support"] == 10
    top = m["top_confusions"][0]
    assert (top["true"], top["predicted"], top["count"]) == ("fear", "surprise", 4)
    assert top["share_of_true"] == pytest.approx(4 / 10)
    assert len(m["top_confusions"]) <= 10 and m["dataset"] == {}


def test_metrics_keep_stored_top_confusions_and_fill_n_images(tmp_path):
    stored = [{"true": "sad", "predicted": "neutral", "count": 9, "share_of_true": 0.1}]
    data = metrics_dict(top_confusions=stored)
    del data["n_images"]
    write(tmp_path / "metrics.json", json.dumps(data))
    m = evaluations.read_metrics(tmp_path)
    assert m["top_confusions"] == stored
    assert m["n_images"] == sum(map(sum, data["confusion_matrix"]["counts"]))


@pytest.mark.parametrize("changes, problem", [
    ({"labels": []}, "field 'labels' must be a non-empty list"),
    ({"accuracy": "0.6"}, "field 'accuracy' must be a number between 0 and 1"),
    ({"macro_f1": 1.5}, "field 'macro_f1' must be a number between 0 and 1"),
    ({"accuracy": None}, "field 'accuracy' must be a number"),
    ({"confusion_matrix": None}, "missing field 'confusion_matrix'"),
    ({"confusion_matrix": {"labels": LABELS, "counts": [[1, 2], [3, 4]]}}, "must be a 7x7 table"),
    ({"confusion_matrix": {"labels": ["a", "b"], "counts": [[1, -2], [3, 4]]}}, "non-negative numbers"),
    ({"per_class": None}, "missing field 'per_class'"),
    ({"per_class": {"happy": {"precision": 0.5, "recall": "x", "f1": 0.5}}}, "per_class.happy.recall must be a number"),
])
def test_metrics_problems(tmp_path, changes, problem):
    write(tmp_path / "metrics.json", json.dumps(metrics_dict(**changes)))
    with pytest.raises(ArtifactError) as info:
        evaluations.read_metrics(tmp_path)
    assert problem in one_line(info.value), str(info.value)
    assert "make evaluate" in info.value.hint


def test_metrics_missing_field(tmp_path):
    data = metrics_dict()
    del data["accuracy"]
    write(tmp_path / "metrics.json", json.dumps(data))
    with pytest.raises(ArtifactError, match="missing field 'accuracy'"):
        evaluations.read_metrics(tmp_path)


def test_metrics_nan_is_refused(tmp_path):
    write(tmp_path / "metrics.json", json.dumps(metrics_dict()).replace('"accuracy": 0.6', '"accuracy": NaN'))
    with pytest.raises(ArtifactError, match="'accuracy' must be a number"):
        evaluations.read_metrics(tmp_path)


# --------------------------------------------------------------------------- predictions.csv


PREDICTIONS = ("path,true,predicted,confidence,p_happy,p_sad\n"
               "test/happy/a.jpg,happy,sad,0.7,0.3,0.7\ntest/sad/b.jpg,sad,sad,0.9,0.1,0.9\n")


def test_predictions(tmp_path):
    write(tmp_path / "predictions.csv", PREDICTIONS)
    frame = evaluations.read_predictions(tmp_path)
    assert list(frame["predicted"]) == ["sad", "sad"] and frame["confidence"].dtype.kind == "f"
    write(tmp_path / "empty" / "predictions.csv", "path,true,predicted,confidence\n")
    assert evaluations.read_predictions(tmp_path / "empty").empty


@pytest.mark.parametrize("text, problem", [
    (None, "file is missing"),
    ("path,true\na,happy\n", "missing columns predicted, confidence"),
    ("path,true,predicted,confidence\na,happy,sad,sure\n", "non-numeric value 'sure' in column confidence"),
    ("path,true,predicted,confidence\na,happy,sad,1.7\n", "between 0 and 1"),
    ("path,true,predicted,confidence\na,,sad,0.5\n", "empty value in column true"),
    ("path,true,predicted,confidence,p_sad\na,happy,sad,0.5,x\n", "non-numeric value 'x' in column p_sad"),
])
def test_predictions_problems(tmp_path, text, problem):
    if text is not None:
        write(tmp_path / "predictions.csv", text)
    with pytest.raises(ArtifactError) as info:
        evaluations.read_predictions(tmp_path)
    assert problem in one_line(info.value), str(info.value)


def test_dataset_files_stay_inside_the_root(tmp_path):
    write(tmp_path / "data" / "test" / "fear" / "a.jpg", "x")
    write(tmp_path / "secret.txt", "x")
    root = tmp_path / "data"
    assert evaluations.resolve_dataset_file(root, "test/fear/a.jpg") == (root / "test/fear/a.jpg").resolve()
    assert evaluations.resolve_dataset_file(root, "../secret.txt") is None
    assert evaluations.resolve_dataset_file(root, str(tmp_path / "secret.txt")) is None
    assert evaluations.resolve_dataset_file(root, "test/fear/missing.jpg") is None
    assert evaluations.resolve_dataset_file(root, "test/fear") is None


# --------------------------------------------------------------------------- benchmarks


def test_load_benchmarks_returns_the_latest_run_as_stored(tmp_path):
    path = write(tmp_path / "results.json", json.dumps([{"date": "old"}, {"date": "new", "photos": {"a": {"p50": 1}}}]))
    assert artifacts.load_benchmarks(path) == {"date": "new", "photos": {"a": {"p50": 1}}}


@pytest.mark.parametrize("text, problem, kind", [
    (None, "no benchmark results yet", "missing"),
    ("{", "corrupt JSON", "corrupt"),
    ("42", "expected a JSON object", "invalid"),
    ("{}", "expected a JSON object", "invalid"),
])
def test_benchmark_problems(tmp_path, text, problem, kind):
    path = tmp_path / "results.json"
    if text is not None:
        write(path, text)
    with pytest.raises(ArtifactError) as info:
        artifacts.load_benchmarks(path)
    assert problem in one_line(info.value) and info.value.kind == kind and "make bench" in info.value.hint


def test_core_imports_no_streamlit():
    """Every module of ``core`` imported in a fresh interpreter leaves Streamlit out of ``sys.modules``
    (catches ``from streamlit import ...`` and indirect imports, which a text search misses)."""
    import subprocess
    import sys

    script = ("import importlib, pkgutil, sys, core\n"
              "names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.') if not m.name.endswith('__main__')]\n"
              "culprit = next((n for n in names if importlib.import_module(n) and 'streamlit' in sys.modules), None)\n"
              "print(len(names), culprit)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=paths.PROJECT_ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    count, culprit = proc.stdout.strip().splitlines()[-1].split(" ", 1)
    assert int(count) > 30, "the walk found too few core modules"
    assert culprit == "None", f"importing {culprit} loaded Streamlit"
