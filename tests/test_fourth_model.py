"""A fourth model, registered with its own id, name and colour and nothing else, appears everywhere:
in ``predict``, ``evaluate`` and ``video`` output and on every page that shows models (AppTest:
Compare, Evaluation, Mistakes, Your data, Live, Video files, About; Training shows our CNN's own run),
named and coloured by its record. Non-regression test for "one record per model": no table keyed by
model name may be needed to show a model (it caught the per-class bars keyed by display name, which
lost every model's colour)."""
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


# --------------------------------------------------------------------------- every page (AppTest)

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import test_app  # noqa: E402
from test_app import assert_ok, plotly_specs, png, run_app, texts, write_evaluation  # noqa: E402

tree, downloads = test_app.tree, test_app.downloads  # fixtures: the generated artifacts, the download recorder
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def surprise_always(c: int, i: int) -> int:
    return 5


@pytest.fixture
def fourth_env(copy_env, fourth, without_deepface) -> dict:
    """The app's test artifacts plus a stored evaluation of the fourth model, as `evaluate` writes it."""
    write_evaluation(copy_env["models"] / ID, ID, "test", surprise_always)
    return copy_env


copy_env = test_app.copy_env


def coloured(at) -> set[str]:
    """The colours of every trace (bars, markers, lines) named after the fourth model on the page."""
    found = set()
    for spec in plotly_specs(at):
        for trace in spec["data"]:
            if NAME in str(trace.get("name", "")):
                found |= {str((trace.get(part) or {}).get("color")) for part in ("marker", "line")}
    return found


def test_compare_names_and_colours_it(fourth_env, astronaut, downloads):
    at = run_app()
    assert ID in at.sidebar.multiselect(key="opt_models").value  # every ready model is chosen by default
    [w for w in at.get("file_uploader")][0].set_value([("face.png", png(astronaut), "image/png")])
    at.run()
    assert_ok(at)
    assert NAME in {m.label for m in at.metric} and COLOUR in coloured(at)
    rows = downloads(at.download_button(key="download_csv")).decode()
    assert f"{ID}_emotion" in rows.splitlines()[0] and ",surprise," in rows


def test_evaluation_and_mistakes_list_it(fourth_env):
    at = run_app("evaluation")
    assert f"{NAME} accuracy" in {m.label for m in at.metric} and COLOUR in coloured(at)
    assert any(NAME in title for title in (s["layout"].get("title", {}).get("text", "") for s in plotly_specs(at)))
    at = run_app("mistakes")
    assert NAME in at.radio(key="mistakes_model_fer2013-PrivateTest").options


def test_your_data_scores_it(fourth_env):
    from zipfaces import labelled_zip

    at = run_app("data")
    at.file_uploader(key="data_upload").set_value(("mine.zip", labelled_zip(per_class=2), "application/zip"))
    at.run()
    at.button(key="data_run").click()
    at.run()
    assert_ok(at)
    assert f"{NAME} accuracy" in {m.label for m in at.metric} and COLOUR in coloured(at)


def test_about_describes_it(fourth_env):
    at = run_app("about")
    assert NAME in {s.value for s in at.subheader}
    zoo = next(d.value for d in at.dataframe if "test splits seen in training?" in d.value.columns)
    assert NAME in set(zoo["model"])
    assert NAME in texts(at)


def test_video_page_shows_its_timeline(fourth_env):
    at = run_app("video")
    at.session_state["video_detector"] = "blazeface"
    at.run()
    at.file_uploader(key="video_upload").set_value([("clip.mp4", face_clip(count=10, faces=1, rate=10), "video/mp4")])
    at.run()
    assert_ok(at)
    assert f"**{NAME}**" in texts(at)
    titles = [str(spec["layout"].get("title", {}).get("text", "")) for spec in plotly_specs(at)]
    assert f"Face 1 · {NAME}" in titles  # its own timeline (lines are emotions there, not models)


LIVE_CHECK = f"""
import json, sys
import streamlit_webrtc  # before TensorFlow, as streamlit_app.py does
import numpy as np
from streamlit.testing.v1 import AppTest
from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import EmotionClassifier
from core.models.registry import Availability, ModelSpec

class Sienna(EmotionClassifier):
    kind, labels = "test", FER2013_LABELS
    def predict(self, faces):
        return np.full((len(faces), 7), 1 / 7)

registry.register(ModelSpec(name={ID!r}, display_name={NAME!r}, color={COLOUR!r}, factory=lambda **_: Sienna(),
                            availability=lambda: Availability(True, "", "in memory")))
app = AppTest.from_file(sys.argv[1], default_timeout=300)
app.run()
print(json.dumps({{"captions": [c.value for c in app.caption]}}))
"""


@pytest.mark.slow
def test_live_runs_it_on_every_frame(fourth_env):
    import os

    proc = subprocess.run([sys.executable, "-c", LIVE_CHECK, str(PROJECT_ROOT / "pages" / "live.py")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    captions = json.loads(proc.stdout.strip().splitlines()[-1])["captions"]
    assert any(c.startswith("Models: ") and NAME in c.split(" on every processed frame")[0] for c in captions), captions
