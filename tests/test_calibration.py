"""Calibration measures, temperature scaling (core.analysis.calibration) and the reliability diagram."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from core.analysis.calibration import (
    add_calibration,
    apply_temperature,
    calibration_report,
    fit_calibration,
    fit_temperature,
    predictions_from_csv,
)
from core.presentation.explain_figures import calibration_rows, reliability_figure

K = 7


def sample_labels(probs: np.ndarray, rng) -> np.ndarray:
    """One label per row drawn from that row's distribution: the probabilities are then calibrated."""
    cumulative = probs.cumsum(axis=1)
    return (rng.random((len(probs), 1)) > cumulative).sum(axis=1).clip(0, probs.shape[1] - 1)


@pytest.fixture(scope="module")
def logits():
    return np.random.default_rng(0).normal(0.0, 2.0, size=(20000, K))


def test_ece_is_near_zero_when_calibrated_and_clearly_above_when_over_confident(logits):
    rng = np.random.default_rng(1)
    probs = softmax(logits, axis=1)
    y = sample_labels(probs, rng)
    calibrated = calibration_report(probs, y)
    over_confident = calibration_report(softmax(logits * 2.5, axis=1), y)
    assert calibrated["ece"] < 0.015
    assert over_confident["ece"] > 0.08
    assert over_confident["nll"] > calibrated["nll"] and over_confident["brier"] > calibrated["brier"]


def test_report_bins_and_scores_on_a_small_known_case():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    y = np.array([0, 1, 0, 1])
    report = calibration_report(probs, y)
    bins = report["bins"]
    assert len(bins) == 15 and sum(b["count"] for b in bins) == 4
    assert bins[0]["lower"] == 0 and bins[-1]["upper"] == 1
    top = bins[13]  # (0.8667, 0.9333]: the two 0.9 rows, one right
    assert top["count"] == 2 and top["confidence"] == pytest.approx(0.9) and top["accuracy"] == 0.5
    assert bins[0]["count"] == 0 and bins[0]["confidence"] is None
    # |0.5-0.9|*2 + |1-0.6| + |1-0.8| over 4 rows
    assert report["ece"] == pytest.approx((0.8 + 0.4 + 0.2) / 4)
    assert report["nll"] == pytest.approx(-np.mean(np.log([0.9, 0.1, 0.6, 0.8])))
    assert report["brier"] == pytest.approx(np.mean([0.02, 1.62, 0.32, 0.08]))


@pytest.mark.parametrize("true_temperature", [0.6, 1.7])
def test_fit_recovers_a_known_temperature(logits, true_temperature):
    y = sample_labels(softmax(logits / true_temperature, axis=1), np.random.default_rng(2))
    assert fit_temperature(logits, y, logits=True) == pytest.approx(true_temperature, rel=0.05)
    # stored probabilities instead of logits: log p differs from z by a per-row constant
    assert fit_temperature(softmax(logits, axis=1), y) == pytest.approx(true_temperature, rel=0.05)


def test_temperature_agrees_with_scikit_learn_and_keeps_the_arg_max(logits):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class Stored(ClassifierMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.classes_ = np.arange(K)
            return self

        def predict_proba(self, X):
            return np.asarray(X)

        def predict(self, X):
            return np.asarray(X).argmax(axis=1)

    probs = softmax(logits[:3000] * 0.6, axis=1)
    y = sample_labels(softmax(logits[:3000], axis=1), np.random.default_rng(3))
    temperature = fit_temperature(probs, y)
    scaled = apply_temperature(probs, temperature)
    reference = CalibratedClassifierCV(FrozenEstimator(Stored().fit(probs)), method="temperature").fit(probs, y)
    assert np.allclose(scaled, reference.predict_proba(probs), atol=1e-3)
    assert (scaled.argmax(axis=1) == probs.argmax(axis=1)).all()
    assert np.allclose(apply_temperature(probs, 1.0), probs)
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(probs, 0.0)


def test_metrics_gain_a_calibration_section(logits):
    probs = softmax(logits[:2000] * 0.5, axis=1)  # under-confident: T < 1 should help
    y = sample_labels(softmax(logits[:2000], axis=1), np.random.default_rng(4))
    fitted = fit_calibration(probs, y, split="PublicTest")
    assert fitted["temperature"] < 1 and fitted["fitted_on"] == "PublicTest"
    assert fitted["nll_after"] < fitted["nll_before"]
    metrics = add_calibration({"accuracy": 0.5}, probs, y, fitted["temperature"])
    section = metrics["calibration"]
    assert metrics["accuracy"] == 0.5
    assert {"ece", "nll", "brier", "bins", "temperature", "ece_temperature_scaled",
            "nll_temperature_scaled"} <= section.keys()
    assert section["ece_temperature_scaled"] < section["ece"]
    assert "temperature" not in add_calibration({}, probs, y)["calibration"]


def test_bad_input_is_a_one_line_error():
    probs = np.full((3, K), 1 / K)
    with pytest.raises(ValueError, match="one true class per row"):
        calibration_report(probs, [0, 1])
    with pytest.raises(ValueError, match="integers in 0..6"):
        calibration_report(probs, [0, 1, 7])
    with pytest.raises(ValueError, match="finite"):
        calibration_report(np.full((3, K), np.nan), [0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        fit_temperature(np.zeros(5), [0])


def test_predictions_csv_is_read_in_label_order(tmp_path):
    path = tmp_path / "predictions.csv"
    path.write_text("path,true,predicted,confidence,p_happy,p_sad\n"
                    "a.jpg,sad,happy,0.7,0.7,0.3\nb.jpg,happy,happy,0.9,0.9,0.1\n")
    probs, y, labels = predictions_from_csv(path)
    assert labels == ("happy", "sad") and y.tolist() == [1, 0]
    assert probs.tolist() == [[0.7, 0.3], [0.9, 0.1]]
    assert predictions_from_csv(path, labels=("sad", "happy"))[1].tolist() == [0, 1]
    (tmp_path / "bad.csv").write_text("path,true\na.jpg,sad\n")
    with pytest.raises(ValueError, match="not a predictions.csv"):
        predictions_from_csv(tmp_path / "bad.csv")


def test_reliability_figure_has_the_diagonal_and_one_trace_per_series(logits):
    probs = softmax(logits[:2000], axis=1)
    y = sample_labels(probs, np.random.default_rng(5))
    section = add_calibration({}, probs, y, 0.9)["calibration"]
    fig = reliability_figure({"before": section["bins"], "after (T=0.90)": section["bins_temperature_scaled"]},
                             title="fer2013_cnn")
    names = [trace.name for trace in fig.data]
    assert names == ["perfectly calibrated", "before", "after (T=0.90)"]
    assert list(fig.data[0].x) == [0, 1] and list(fig.data[0].y) == [0, 1]
    used = [b for b in section["bins"] if b["count"]]
    before = fig.data[1]
    assert list(before.x) == pytest.approx([b["confidence"] for b in used])
    assert list(before.y) == pytest.approx([b["accuracy"] for b in used])
    biggest = int(np.argmax([b["count"] for b in used]))
    assert before.marker.size[biggest] == max(before.marker.size)
    assert fig.layout.title.text == "fer2013_cnn"
    rows = calibration_rows(section)
    assert [r["measure"].split()[0] for r in rows] == ["expected", "log", "Brier"]
    assert rows[0]["before"] == section["ece"] and rows[0]["after temperature scaling"] == section["ece_temperature_scaled"]
