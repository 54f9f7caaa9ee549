"""A fourth model, registered with its own id, name and colour and nothing else, appears everywhere:
in ``predict``, ``evaluate`` and ``video`` output and on every page (AppTest), named and coloured by
its record. Non-regression test for "one record per model": no table keyed by model name may be
needed to show a model."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from video_clips import face_clip
from zipfaces import labelled_zip

from core.cli import main
from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import EmotionClassifier
from core.models.registry import Availability, ModelSpec

ID, NAME, COLOUR = "sienna_net", "Sienna net", "#a0522d"


class Sienna(EmotionClassifier):
    """Always "surprise" at 70%: what it says is not the point, where it shows up is."""

    kind = "test"
    labels = FER2013_LABELS

    def predict(self, faces):
        out = np.full((len(faces), len(self.labels)), 0.05)
        out[:, self.labels.index("surprise")] = 0.70
        return out


@pytest.fixture
def fourth():
    spec = registry.register(ModelSpec(name=ID, kind="test", display_name=NAME, color=COLOUR,
                                       factory=lambda **_: Sienna(),
                                       availability=lambda: Availability(True, "", "in memory")))
    yield spec
    registry.unregister(ID)


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_shows_it_by_name_and_keys_it_by_id(fourth, tmp_path, astronaut, capsys):
    import cv2

    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), astronaut)
    code, out, err = run(capsys, "predict", photo, "--model", f"cnn,{ID}")
    assert code == 0, err
    assert out.strip().endswith(f"| {NAME} surprise 70.0%"), out
    code, out, _ = run(capsys, "predict", photo, "--json")  # the default, all, includes it
    payload = json.loads(out)
    assert payload["models"][ID]["display_name"] == NAME and payload["models"][ID]["color"] == COLOUR
    assert payload["results"][0]["faces"][0]["models"][ID]["dominant_emotion"] == "surprise"
    rows = tmp_path / "rows.csv"
    assert run(capsys, "predict", photo, "--model", ID, "--csv", rows)[0] == 0
    (row,) = csv.DictReader(rows.open())
    assert (row["model"], row["dominant_emotion"], row["p_surprise"]) == (ID, "surprise", "70.0")


def test_evaluate_writes_its_artifacts_under_its_id(fourth, tmp_path, capsys):
    data = tmp_path / "faces.zip"
    data.write_bytes(labelled_zip(per_class=3))
    code, out, err = run(capsys, "evaluate", "--model", ID, "--data", data, "--out", tmp_path / "out")
    assert code == 0, err
    metrics = json.loads((tmp_path / "out" / ID / "metrics.json").read_text())
    assert metrics["model"] == ID and metrics["per_class"]["surprise"]["recall"] == 1.0
    lines = out.splitlines()
    assert any(line.startswith(f"{ID} on faces") for line in lines), out
    assert any(line.startswith(f"note: {NAME} has no contempt class") for line in lines), out


def test_video_rows_carry_its_id(fourth, tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(face_clip(count=10, faces=1, rate=10))
    code, out, err = run(capsys, "video", clip, "--every", 5, "--model", ID, "--detector", "blazeface")
    assert code == 0, err
    rows = list(csv.DictReader(out.splitlines()))
    assert rows and {r["model"] for r in rows} == {ID} and {r["dominant_emotion"] for r in rows} == {"surprise"}
