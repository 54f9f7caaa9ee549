"""Per-slice scores from a metadata CSV (issue 26): matching, Wilson intervals, the test and Holm."""
from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import binom

from core.evaluation import slices
from core.evaluation.intervals import wilson_interval


def test_holm_against_a_hand_computation():
    # sorted 0.01, 0.02, 0.04 -> 3 * 0.01, max(0.03, 2 * 0.02), max(0.04, 1 * 0.04)
    assert slices.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert slices.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])


def test_metadata_is_matched_by_path_or_by_a_unique_file_name():
    meta = slices.read_metadata(b"Image,light\nhappy/a.png,dark\nb.png,bright\nc.png,dark\n")
    paths = pd.Series(["happy/a.png", "sad/b.png", "x/c.png", "y/c.png", "z/d.png"])
    found = slices.match(paths, meta)
    assert list(found["light"].fillna("-")) == ["dark", "bright", "-", "-", "-"]  # c.png is ambiguous, d.png absent
    with pytest.raises(slices.MetadataError, match="file-name column and at least one more"):
        slices.read_metadata(b"file\na.png\n")


def test_a_slice_far_below_overall_is_flagged_and_a_small_one_is_not():
    n_dark, n_bright = 40, 60
    true = ["happy"] * (n_dark + n_bright)
    predicted = ["sad"] * 30 + ["happy"] * 10 + ["happy"] * 58 + ["sad"] * 2  # dark: 10 of 40 right
    frame = pd.DataFrame({"path": [f"{i}.png" for i in range(100)], "true": true, "predicted": predicted})
    group = ["dark"] * n_dark + ["bright"] * n_bright
    subject = ["s1", "s2"] * 50
    meta = pd.DataFrame({"file": frame["path"], "light": group, "subject": subject})
    result = slices.slice_metrics({"m": frame}, meta, {"m": ["happy", "sad"]})
    assert result["n_matched"] == 100 and result["n_unmatched"] == 0 and result["columns"] == ["light", "subject"]
    rows = {(r["column"], r["value"]): r for r in result["slices"]}
    dark = rows[("light", "dark")]
    assert dark["n"] == 40 and dark["accuracy"] == 0.25
    assert dark["accuracy_interval"] == pytest.approx(list(wilson_interval(10, 40)))
    assert dark["p_value"] == pytest.approx(binom.cdf(10, 40, 0.68))  # one-sided: P(X <= 10) at overall 68%
    assert dark["p_holm"] == pytest.approx(min(1.0, 4 * dark["p_value"]))  # the smallest of four p-values
    assert dark["worse"] and not rows[("light", "bright")]["worse"]
    assert not rows[("subject", "s1")]["worse"] and not rows[("subject", "s2")]["worse"]
