"""The evaluation report's builders (core/presentation/report.py): the headline table and numbers, the
confusion matrices, the per-class table and the calibration figures that Evaluation, Your data and About
draw."""
from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pytest
from scipy.special import softmax

from core.analysis.calibration import add_calibration
from core.presentation import explain_figures, report
from core.presentation.report import ModelScores

LABELS = ["angry", "happy", "sad"]


def metrics(accuracy: float, counts, **extra) -> dict:
    per_class = {l: {"precision": 0.5 + i / 10, "recall": 0.4 + i / 10, "f1": 0.45 + i / 10, "support": 10}
                 for i, l in enumerate(LABELS)}
    return {"accuracy": accuracy, "macro_f1": 0.5, "weighted_f1": 0.55, "n_images": int(np.sum(counts)),
            "labels": LABELS, "per_class": per_class,
            "confusion_matrix": {"labels": LABELS, "counts": counts},
            "top_confusions": [{"true": "sad", "predicted": "angry", "count": 3, "share_of_true": 0.3}],
            "images_per_second": 70.0, "created_at": "2026-11-22T05:00:00Z", "commit": "abc1234def567",
            "flip_tta_accuracy": None, "limit": None, **extra}


COUNTS = [[8, 1, 1], [0, 10, 0], [3, 0, 7]]
CNN = ModelScores(name="fer2013_cnn", metrics=metrics(0.8333, COUNTS))
DEEPFACE = ModelScores(name="deepface", metrics=metrics(0.5, COUNTS))


def calibrated(temperature: float | None) -> dict:
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(300, 3)) * 3
    truth = rng.integers(0, 3, 300)
    return add_calibration({}, softmax(logits, axis=1), truth, temperature)["calibration"]


def test_the_module_examples_run():
    assert doctest.testmod(report).failed == 0


# --------------------------------------------------------------------------- headline


def test_headline_table_in_percent_with_empty_optional_columns_dropped():
    table = report.headline_table([CNN, DEEPFACE])
    assert list(table.columns) == ["model", "folder", "accuracy", "macro F1", "weighted F1", "images", "images / s",
                                   "evaluated", "commit"]  # no flip-TTA, no limit: empty for both
    assert table["model"].tolist() == ["CNN", "DeepFace"] and table["folder"].tolist() == ["fer2013_cnn", "deepface"]
    assert table["accuracy"].tolist() == pytest.approx([83.33, 50.0])
    assert table.loc[0, "images"] == 30 and table.loc[0, "evaluated"] == "2026-11-22 05:00 UTC"
    assert table.loc[0, "commit"] == "abc1234def"


def test_headline_table_keeps_an_optional_column_one_model_fills():
    limited = ModelScores(name="x", metrics=metrics(0.5, COUNTS, limit=20, flip_tta_accuracy=0.52))
    table = report.headline_table([CNN, limited])
    assert table["limit"].tolist()[1] == 20 and table["flip-TTA accuracy"].tolist()[1] == pytest.approx(52.0)


def test_headline_table_columns_chosen_by_the_page():
    yours = ModelScores(name="x", metrics=metrics(0.5, COUNTS, excluded_labels={"contempt": 2}))
    table = report.headline_table([yours], columns=("model", "accuracy", "images", "left out"))
    assert table.to_dict("records") == [{"model": "x", "accuracy": 50.0, "images": 30, "left out": 2}]
    split = ModelScores(name="x", metrics=metrics(0.5, COUNTS), split="fer2013 / PrivateTest")
    assert report.headline_table([split], columns=("model", "dataset / split")).iloc[0].tolist() == [
        "x", "fer2013 / PrivateTest"]
    assert "left out" not in report.headline_table([CNN], columns=("model", "left out")).columns  # never recorded


def test_headline_metrics_with_the_difference_between_two_models():
    numbers = report.headline_metrics([CNN, DEEPFACE])
    assert [n.label for n in numbers] == ["CNN accuracy", "CNN macro F1", "DeepFace accuracy", "DeepFace macro F1"]
    assert numbers[0].value == "83.3%" and numbers[0].delta == "+33.3 pts vs DeepFace"
    assert numbers[0].help == "Share of the 30 test images that CNN got right."
    assert numbers[1].value == "0.500" and numbers[1].delta is None
    assert report.headline_metrics([CNN])[0].delta is None
    assert "images with an emotion it knows" in report.headline_metrics([CNN], images="images with an emotion it "
                                                                                       "knows")[0].help
    assert not report.different_sizes([CNN, DEEPFACE])


# --------------------------------------------------------------------------- confusion and per class


def test_confusion_figure_counts_and_row_normalised_in_the_model_colours():
    counts = report.confusion_figure(CNN)
    assert np.array(counts.data[0].z).tolist() == COUNTS and counts.layout.title.text == "CNN"
    shares = np.array(report.confusion_figure(CNN, normalize=True).data[0].z)
    assert shares[2].tolist() == pytest.approx([0.3, 0.0, 0.7])
    assert report.confusion_figure(CNN).data[0].colorscale != report.confusion_figure(DEEPFACE).data[0].colorscale


def test_per_class_table_measure_by_measure_and_the_figure():
    table = report.per_class_table([CNN, DEEPFACE])
    assert list(table.columns) == ["emotion", "CNN precision", "DeepFace precision", "CNN recall", "DeepFace recall",
                                   "CNN F1", "DeepFace F1", "CNN support", "DeepFace support"]
    assert table["emotion"].tolist() == LABELS
    assert table.loc[1, "CNN recall"] == pytest.approx(0.5) and table.loc[2, "DeepFace F1"] == pytest.approx(0.65)
    figure = report.per_class_figure([CNN, DEEPFACE])
    assert [t.name for t in figure.data] == ["CNN"] * 3 + ["DeepFace"] * 3  # precision, recall, F1 each
    assert list(figure.data[0].x) == LABELS


def test_confusions_table_in_percent_or_none():
    table = report.confusions_table(CNN)
    assert table.iloc[0].tolist() == ["sad", "angry", 3, pytest.approx(30.0)]
    perfect = ModelScores(name="p", metrics={**CNN.metrics, "top_confusions": []})
    assert report.confusions_table(perfect) is None


# --------------------------------------------------------------------------- calibration


def test_reliability_axes_run_from_0_to_100_percent_in_any_width():
    """Non-regression: a full-width diagram on Your data ran its x axis from -50% to 150%."""
    figure = report.reliability(ModelScores(name="m", metrics={**CNN.metrics,
                                                                         "calibration": calibrated(0.9)}))
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        assert tuple(axis.range) == (0, 1) and axis.tickformat == ".0%"
        assert axis.constrain == "domain"  # a square plot narrows instead of widening the range
    assert figure.layout.yaxis.scaleanchor == "x"


def test_calibration_before_and_after_temperature():
    section = calibrated(0.9)
    card = {"calibration": {"fitted_on": "PublicTest", "n_images": 3589}}
    score = ModelScores(name="m", metrics={**CNN.metrics, "calibration": section}, card=card)
    figure = report.reliability(score)
    assert [t.name for t in figure.data] == ["perfectly calibrated", "as the model gives them",
                                             "temperature-scaled (T=0.90)"]
    used = [b for b in section["bins"] if b["count"]]
    assert list(figure.data[1].x) == pytest.approx([b["confidence"] for b in used])
    table = report.calibration_table(score)
    assert list(table.columns) == ["measure", "before", "after T"]
    assert table["before"].tolist() == pytest.approx([section["ece"], section["nll"], section["brier"]])
    assert table.loc[2, "after T"] == pytest.approx(section["brier_temperature_scaled"])
    assert report.calibration_note(score).startswith("T = 0.9000, fitted on PublicTest, 3,589 images")


def test_calibration_without_temperature_or_without_figures():
    score = ModelScores(name="deepface", metrics={**CNN.metrics, "calibration": calibrated(None)})
    assert [t.name for t in report.reliability(score).data] == ["perfectly calibrated", "as the model gives them"]
    assert list(report.calibration_table(score).columns) == ["measure", "before"]
    assert "python -m core calibrate --model deepface" in report.calibration_note(score)
    assert report.reliability(CNN) is None and report.calibration_table(CNN) is None
    assert report.calibration_note(CNN).startswith("No calibration figures")


def test_reliability_figure_keeps_its_axes_for_any_series():
    figure = explain_figures.reliability_figure({"a": calibrated(None)["bins"]}, title="t")
    assert tuple(figure.layout.xaxis.range) == (0, 1) and figure.layout.xaxis.constrain == "domain"


def test_report_builders_do_not_import_streamlit():
    assert "streamlit" not in Path(report.__file__).read_text()
