"""``python -m core evaluate --model A,B --out DIR``: the pairwise comparison in comparison.json, in each
metrics.json and on the terminal (issue 26)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from zipfaces import faces_per_label, zip_of

from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import EmotionClassifier
from core.models.registry import Availability, ModelSpec


class Always(EmotionClassifier):
    kind = "test"
    labels = FER2013_LABELS

    def __init__(self, name: str, label: str):
        self.name, self.label = name, label

    def predict(self, faces):
        out = np.full((len(faces), 7), 0.05)
        out[:, FER2013_LABELS.index(self.label)] = 0.7
        return out


@pytest.fixture
def two_models():
    for name, label in (("always_happy", "happy"), ("always_sad", "sad")):
        registry.register(ModelSpec(name=name, kind="test", factory=lambda label=label, name=name, **_: Always(name, label),
                                    availability=lambda: Availability(True, "", "memory"),
                                    display_name=name.replace("_", " ")))
    yield
    for name in ("always_happy", "always_sad"):
        registry.unregister(name)


def test_cli_writes_and_prints_the_comparison(two_models, tmp_path, capsys):
    from core.cli import main

    faces = faces_per_label(8)
    entries = {f"f/happy/{n}": d for n, d in faces["happy"]}
    entries.update({f"f/{label}/{n}": d for label in ("sad", "angry") for n, d in faces[label][:2]})
    data = tmp_path / "faces.zip"
    data.write_bytes(zip_of(entries))
    out = tmp_path / "out"
    assert main(["evaluate", "--model", "always_happy,always_sad", "--data", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["dataset"] == "faces" and saved["split"] == "all"
    (pair,) = saved["comparisons"]
    assert (pair["a"], pair["b"], pair["n"]) == ("always_happy", "always_sad", 12)
    assert (pair["both_right"], pair["only_a"], pair["only_b"], pair["both_wrong"]) == (0, 8, 2, 2)
    assert pair["difference"] == pytest.approx(6 / 12)
    assert pair["mcnemar_p"] == pytest.approx(2 * (1 + 10 + 45) / 2 ** 10)  # 2 P(X <= 2), X ~ Bin(10, 1/2)
    assert "within noise; about" in pair["sentence"] and pair["sentence"] in printed
    expected = (1.959964 * math.sqrt(10 / 12) + 0.841621 * math.sqrt(10 / 12 - 0.25)) ** 2 / 0.25
    assert pair["faces_to_settle"] == math.ceil(expected)
    happy = json.loads((out / "always_happy" / "metrics.json").read_text())
    assert happy["comparisons"] == [pair]
    sad = json.loads((out / "always_sad" / "metrics.json").read_text())
    assert sad["comparisons"][0]["only_a"] == 2 and sad["comparisons"][0]["difference"] == pytest.approx(-0.5)
    assert "accuracy 66.67% (95% CI" in printed and "baselines: always happy 66.7%" in printed
    assert "no true face of disgust, fear, surprise, neutral: left out of macro F1" in printed
