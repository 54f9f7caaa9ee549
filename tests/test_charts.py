"""The presentation layer: Plotly figure builders (core/charts.py) and results as tables, downloads
and annotated photos (core/report.py)."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from core import charts, report

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


# --------------------------------------------------------------------------- charts


def test_probability_bars_put_both_models_in_one_chart():
    cnn = {l: (70.0 if l == "happy" else 5.0) for l in LABELS}
    deepface = {l: (40.0 if l == "sad" else 10.0) for l in LABELS}
    fig = charts.probability_bars({"cnn": cnn, "deepface": deepface}, LABELS)
    assert [t.name for t in fig.data] == ["CNN", "DeepFace"]
    assert list(fig.data[0].x) == LABELS and list(fig.data[0].y) == [cnn[l] for l in LABELS]
    assert fig.data[0].marker.color != fig.data[1].marker.color
    assert fig.layout.barmode == "group"
    widths = list(fig.data[1].marker.line.width)  # each model's top emotion is outlined
    assert widths[LABELS.index("sad")] > 0 and sum(w > 0 for w in widths) == 1
    assert fig.data[0].text[LABELS.index("happy")] == "70%" and fig.data[0].text[0] == ""  # the top one only


def test_probability_bars_accept_probabilities_and_missing_labels():
    fig = charts.probability_bars({"cnn": {"happy": 0.9, "sad": 0.1}}, ["happy", "sad", "fear"], percent=False)
    assert list(fig.data[0].y) == pytest.approx([90.0, 10.0, 0.0])
    assert list(charts.probability_bars({"cnn": {"b": 1.0, "a": 2.0}}).data[0].x) == ["b", "a"]


def history_frame() -> pd.DataFrame:
    return pd.DataFrame({"epoch": [0, 1, 2, 3], "epoch_number": [1, 2, 3, 4], "accuracy": [0.3, 0.4, 0.5, 0.6],
                         "loss": [1.8, 1.5, 1.3, 1.1], "val_accuracy": [0.35, 0.45, 0.5, 0.48],
                         "val_loss": [1.7, 1.5, 1.4, 1.45], "learning_rate": [1e-3, 2e-3, 1.5e-3, 1e-3]})


def test_training_curves_mark_the_chosen_epoch():
    fig = charts.training_curves(history_frame(), best_epoch=3)
    names = [t.name for t in fig.data]
    assert names.count("training") == 2 and names.count("validation") == 2 and "learning rate" in names
    star = next(t for t in fig.data if t.name == "chosen epoch 3")
    assert list(star.x) == [3] and list(star.y) == [0.5]
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert len(lines) == 3 and all(s.x0 == 3 for s in lines)  # one marker per panel
    validation = [t for t in fig.data if t.name == "validation"]
    assert list(validation[0].y) == [0.35, 0.45, 0.5, 0.48] and list(validation[1].y) == [1.7, 1.5, 1.4, 1.45]
    assert list(validation[0].x) == [1, 2, 3, 4]  # epochs numbered from 1


def test_training_curves_without_learning_rate_or_best_epoch():
    fig = charts.training_curves(history_frame().drop(columns=["learning_rate"]), best_epoch=None)
    assert "learning rate" not in [t.name for t in fig.data]
    assert not fig.layout.shapes and not any((t.name or "").startswith("chosen") for t in fig.data)


def test_confusion_heatmap_counts_and_row_normalised():
    counts = [[8, 2, 0], [1, 1, 2], [0, 0, 0]]
    fig = charts.confusion_heatmap(["a", "b", "c"], counts)
    heat = fig.data[0]
    assert np.array(heat.z).tolist() == counts
    assert list(heat.text[0]) == ["8", "2", "0"]
    normalised = np.array(charts.confusion_heatmap(["a", "b", "c"], counts, normalize=True).data[0].z)
    assert normalised[0].tolist() == [0.8, 0.2, 0.0] and normalised[1].sum() == pytest.approx(1)
    assert normalised[2].tolist() == [0, 0, 0]  # an empty row stays empty instead of dividing by zero
    assert fig.layout.yaxis.autorange == "reversed"  # true labels read top to bottom


def test_per_class_bars():
    per_class = {
        "CNN": {l: {"precision": 0.5, "recall": 0.6, "f1": 0.55} for l in LABELS},
        "DeepFace": {l: {"precision": 0.4, "recall": 0.3, "f1": 0.35} for l in LABELS if l != "disgust"},
    }
    fig = charts.per_class_bars(per_class)
    assert len(fig.data) == 6  # 2 models x precision/recall/F1
    deepface_recall = [t for t in fig.data if t.name == "DeepFace"][1]
    assert list(deepface_recall.x) == LABELS and deepface_recall.y[1] is None and deepface_recall.y[0] == 0.3
    assert [t.showlegend for t in fig.data].count(True) == 2


def test_model_colours_are_stable():
    assert charts.model_color("cnn") == charts.model_color("CNN") == charts.MODEL_COLORS["cnn"]
    assert charts.model_color("DeepFace") == charts.MODEL_COLORS["deepface"]
    assert charts.display_name("deepface") == "DeepFace" and charts.display_name("other") == "other"


# --------------------------------------------------------------------------- report


def face(index, cnn, deepface=None, source="detector", agree=None):
    models = {"cnn": {"emotion": {l: (80.0 if l == cnn else 20 / 6) for l in LABELS}, "dominant_emotion": cnn,
                      "confidence": 0.8, "time_ms": 2.5}}
    if deepface:
        models["deepface"] = {"emotion": {l: (60.0 if l == deepface else 40 / 6) for l in LABELS},
                              "dominant_emotion": deepface, "confidence": 0.6, "time_ms": 40.0}
    return {"face": index, "region": {"x": 10 * index, "y": 20, "w": 50, "h": 50}, "face_confidence": 0.9,
            "source": source, "models": models, "agree": agree}


RESULTS = [
    {"image": "group.jpg", "width": 640, "height": 480, "no_face_found": False,
     "faces": [face(1, "happy", "happy", agree=True), face(2, "sad", "fear", agree=False)],
     "options": {"no_face": "report", "deepface_mode": "crops", "min_face_size": 40},
     "timings_ms": {"total": 50.0}, "model_errors": {}},
    {"image": "wall.png", "width": 100, "height": 100, "faces": [], "no_face_found": True,
     "options": {}, "timings_ms": {}, "model_errors": {}},
    {"image": "broken.jpg", "error": "not an image in a supported format"},
]


def test_summary_table():
    table = report.summary_table(RESULTS)
    assert list(table.columns) == ["photo", "face", "CNN", "DeepFace", "agree", "note"]
    assert table.iloc[0].tolist()[:5] == ["group.jpg", "1", "happy 80%", "happy 60%", "yes"]
    assert table.iloc[1]["agree"] == "no" and table.iloc[1]["DeepFace"] == "fear 60%"
    assert table.iloc[2]["note"] == "no face found"
    assert table.iloc[3]["note"] == "not analysed: not an image in a supported format"
    cnn_only = report.summary_table([{"image": "x", "faces": [face(1, "happy")]}], ["cnn"])
    assert list(cnn_only.columns) == ["photo", "face", "CNN", "agree", "note"] and cnn_only.iloc[0]["agree"] == "—"


def test_results_csv():
    rows = list(csv.DictReader(io.StringIO(report.results_csv(RESULTS, LABELS).decode())))
    assert len(rows) == 4
    first = rows[0]
    assert first["image"] == "group.jpg" and first["face"] == "1" and first["x"] == "10"
    assert first["cnn_emotion"] == "happy" and float(first["cnn_happy"]) == 80.0 and first["deepface_time_ms"] == "40.0"
    assert rows[1]["agree"] == "False" and rows[1]["deepface_emotion"] == "fear"
    assert rows[2]["image"] == "wall.png" and rows[2]["face"] == "" and rows[2]["no_face_found"] == "True"
    assert rows[3]["error"] == "not an image in a supported format"
    assert json.loads(first["options"])["deepface_mode"] == "crops"


def test_results_json_is_the_cli_format():
    payload = json.loads(report.results_json(RESULTS, {"cnn": {"name": "cnn"}}, {"deepface": "weights missing"}))
    assert set(payload) == {"models", "unavailable", "results"}
    assert payload["results"] == RESULTS and payload["unavailable"] == {"deepface": "weights missing"}


def test_annotate_faces_draws_numbered_boxes_on_a_copy():
    image = np.zeros((200, 300, 3), np.uint8)
    faces = [{"face": 1, "region": {"x": 20, "y": 40, "w": 80, "h": 80}, "source": "detector"},
             {"face": 2, "region": {"x": 0, "y": 0, "w": 300, "h": 200}, "source": "whole_image"},
             {"face": 3, "region": {"x": 150, "y": 60, "w": 60, "h": 60}, "source": "deepface_detector"}]
    out = report.annotate_faces(image, faces)
    assert image.sum() == 0 and out.shape == image.shape
    assert tuple(out[120, 60]) == report.FACE_COLOR_BGR  # bottom edge of box 1
    assert tuple(out[120, 180]) == report.DEEPFACE_COLOR_BGR  # box 3, DeepFace's detector
    assert out[150:, 230:].sum() == 0  # the whole-image pseudo-face is not boxed
    gray = report.annotate_faces(np.zeros((50, 50), np.uint8), [])
    assert gray.shape == (50, 50, 3)
    assert report.to_rgb(np.array([[[1, 2, 3]]], np.uint8)).tolist() == [[[3, 2, 1]]]


def predictions(rows):
    return pd.DataFrame(rows, columns=["path", "true", "predicted", "confidence"])


def test_confusions_join_and_mistakes():
    cnn = predictions([("a", "fear", "surprise", 0.9), ("b", "fear", "surprise", 0.6), ("c", "fear", "fear", 0.8),
                       ("d", "sad", "neutral", 0.7)])
    deepface = predictions([("a", "fear", "fear", 0.5), ("b", "fear", "sad", 0.4)])
    counts = report.confusion_counts(cnn)
    assert counts.iloc[0].tolist() == ["fear", "surprise", 2] and len(counts) == 2
    assert report.confusion_counts(predictions([("a", "x", "x", 1.0)])).empty
    joined = report.join_predictions({"cnn": cnn, "deepface": deepface})
    assert list(joined.columns) == ["path", "true", "cnn_predicted", "cnn_confidence", "deepface_predicted",
                                    "deepface_confidence"]
    assert len(joined) == 4 and pd.isna(joined.loc[joined["path"] == "d", "deepface_predicted"]).all()
    wrong = report.mistakes(joined, "cnn", "fear", "surprise")
    assert wrong["path"].tolist() == ["a", "b"] and wrong.loc[0, "deepface_predicted"] == "fear"
    assert report.mistakes(joined, "cnn", "fear", "surprise", most_confident_first=False)["path"].tolist() == ["b", "a"]


def test_per_class_and_confusions_frames():
    metrics = {"per_class": {"happy": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10}}}
    frame = report.per_class_frame({"cnn": metrics})
    assert frame.iloc[0].tolist() == ["CNN", "happy", 0.9, 0.8, 0.85, 10]
    tops = report.confusions_frame([{"true": "fear", "predicted": "sad", "count": 3, "share_of_true": 0.3}])
    assert tops.iloc[0].tolist() == ["fear", "sad", 3, 0.3]


@pytest.mark.parametrize("module", [charts, report])
def test_presentation_modules_do_not_import_streamlit(module):
    assert "import streamlit" not in open(module.__file__).read()
