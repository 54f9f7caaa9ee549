"""``python -m core calibrate``, the calibration section of ``evaluate``, and ``python -m core explain``.

Calibration runs on a tiny untrained CNN and a generated FER2013-style folder (the figures say
nothing about a real model; the tests check the plumbing and that the numbers are consistent).
The explain tests use the shipped CNN on the built-in example photo (its map must peak inside the
face) and DeepFace's network with architecture-identical stand-in weights (plumbing, not accuracy).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli import main
from core.labels import FER2013_LABELS

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED_CNN = PROJECT / "models" / "fer2013_cnn"


def write_fer_folder(root: Path, per_class: int = 3) -> Path:
    """A FER2013 folder layout: train/ plus PublicTest and PrivateTest images, ``per_class`` of each."""
    rng = np.random.default_rng(3)
    for c, label in enumerate(FER2013_LABELS):
        for sub, prefix in (("train", "Training"), ("test", "PublicTest"), ("test", "PrivateTest")):
            folder = root / sub / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                pixels = rng.integers(0, 255, (48, 48), dtype=np.uint8)
                cv2.circle(pixels, (24, 24), 4 + 3 * c, 255, 2)
                cv2.imwrite(str(folder / f"{prefix}_{c}{i:02d}.png"), pixels)
    return root


@pytest.fixture
def calibration_env(tmp_path, tiny_model_dir) -> dict:
    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models / "tiny")
    return {"models": models, "folder": models / "tiny", "data": write_fer_folder(tmp_path / "fer2013")}


def card(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text())


def test_calibrate_computes_fits_and_writes_the_card(calibration_env, capsys):
    env = calibration_env
    rc = main(["calibrate", "--model", "tiny", "--data", str(env["data"]), "--models-dir", str(env["models"]),
               "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "computing predictions on fer2013 PublicTest (21 images)" in out
    assert f"updated {env['folder'] / 'model.json'}" in out
    calibration = card(env["folder"])["calibration"]
    assert calibration["fitted_on"] == "PublicTest" and calibration["n_images"] == 21
    assert set(calibration) >= {"temperature", "fitted_on", "n_images", "nll_before", "nll_after", "method"}
    assert calibration["temperature"] > 0 and calibration["nll_after"] <= calibration["nll_before"] + 1e-12
    assert card(env["folder"])["labels"] == list(FER2013_LABELS)  # the rest of the card is kept

    from core.models.cnn import CnnClassifier

    assert CnnClassifier(env["folder"]).temperature == pytest.approx(calibration["temperature"])


def test_calibrate_reads_matching_stored_predictions_and_evaluate_adds_calibration(calibration_env, capsys):
    env = calibration_env
    common = ["--data", str(env["data"]), "--models-dir", str(env["models"])]
    assert main(["evaluate", "--model", "tiny", "--split", "PublicTest", *common]) == 0
    metrics = json.loads((env["folder"] / "eval" / "fer2013-PublicTest" / "metrics.json").read_text())
    assert "temperature" not in metrics["calibration"]  # no fit yet: the raw figures only
    assert len(metrics["calibration"]["bins"]) == 15
    capsys.readouterr()

    assert main(["calibrate", "--model", "tiny", "--quiet", *common]) == 0
    out = capsys.readouterr().out
    assert "using the stored predictions" in out and "spot check of 16 images agrees" in out
    stored_fit = card(env["folder"])["calibration"]["temperature"]
    assert main(["calibrate", "--model", "tiny", "--quiet", "--recompute", *common]) == 0
    assert "computing predictions" in capsys.readouterr().out
    assert card(env["folder"])["calibration"]["temperature"] == pytest.approx(stored_fit, rel=1e-4)

    assert main(["evaluate", "--model", "tiny", "--split", "PrivateTest", *common]) == 0
    folder = env["folder"] / "eval" / "fer2013-PrivateTest"
    section = json.loads((folder / "metrics.json").read_text())["calibration"]
    assert section["temperature"] == pytest.approx(card(env["folder"])["calibration"]["temperature"])

    from core.analysis.calibration import apply_temperature, calibration_report, predictions_from_csv

    probs, truth, _ = predictions_from_csv(folder / "predictions.csv")
    raw, scaled = calibration_report(probs, truth), calibration_report(apply_temperature(probs, section["temperature"]), truth)
    assert section["ece"] == pytest.approx(raw["ece"], abs=1e-6) and section["nll"] == pytest.approx(raw["nll"], abs=1e-6)
    assert section["ece_temperature_scaled"] == pytest.approx(scaled["ece"], abs=1e-6)
    assert section["nll_temperature_scaled"] == pytest.approx(scaled["nll"], abs=1e-6)
    assert section["brier_temperature_scaled"] == pytest.approx(scaled["brier"], abs=1e-6)
    assert len(section["bins_temperature_scaled"]) == 15


def test_calibrate_refuses_the_report_split(calibration_env, capsys):
    env = calibration_env
    rc = main(["calibrate", "--model", "tiny", "--data", str(env["data"]), "--models-dir", str(env["models"]),
               "--split", "PrivateTest"])
    err = capsys.readouterr().err
    assert rc == 2 and "PrivateTest is the report split" in err and "PublicTest" in err
    assert "calibration" not in card(env["folder"])


def test_calibrate_unknown_model_is_one_line(calibration_env, capsys):
    rc = main(["calibrate", "--model", "nope", "--data", str(calibration_env["data"]),
               "--models-dir", str(calibration_env["models"])])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: no model 'nope'") and err.count("\n") == 1


# --------------------------------------------------------------------------- explain


@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory) -> Path:
    from core.media.images import example_photo

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    cv2.imwrite(str(path), example_photo())
    return path


@pytest.fixture
def shipped_cnn(monkeypatch):
    if not (SHIPPED_CNN / "model.keras").is_file():
        pytest.skip("the shipped CNN (models/fer2013_cnn/model.keras) is not here")
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(SHIPPED_CNN))


def test_explain_writes_one_map_per_face_and_the_peak_lies_in_the_face(shipped_cnn, astronaut_file, tmp_path, capsys):
    out = tmp_path / "maps"
    rc = main(["explain", str(astronaut_file), "--model", "cnn", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    payload = json.loads(captured.out)
    image = payload["images"][0]
    assert image["image"] == str(astronaut_file) and (image["width"], image["height"]) == (512, 512)
    assert len(image["faces"]) == 1
    face = image["faces"][0]
    m = face["models"]["fer2013_cnn"]
    assert set(m) >= {"file", "emotion", "probability", "peak"}
    assert m["file"] == str(out / "astronaut-face1-fer2013_cnn.png") and Path(m["file"]).is_file()
    assert m["emotion"] == "happy" and 0.5 < m["probability"] <= 1
    r = face["region"]
    assert r["x"] <= m["peak"]["x"] < r["x"] + r["w"] and r["y"] <= m["peak"]["y"] < r["y"] + r["h"]
    # the astronaut's face (not just the detector's box): the upper-left quarter of the photo
    assert 150 < m["peak"]["x"] < 300 and 50 < m["peak"]["y"] < 200
    written = cv2.imread(m["file"])  # the crop predict classifies: the face in FER2013's looser square
    assert written.shape[0] == written.shape[1] > max(r["h"], r["w"])


def test_explain_text_lines_emotion_and_bad_files(shipped_cnn, astronaut_file, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    out = tmp_path / "maps"
    rc = main(["explain", str(astronaut_file), str(bad), "--model", "cnn", "--emotion", "sad", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{out / 'astronaut-face1-fer2013_cnn.png'}: ") and " CNN sad " in lines[0]
    errors = [line for line in captured.err.strip().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and "not an image" in errors[0]
    assert "Traceback" not in captured.err


def test_explain_rejects_unknown_emotion_and_layer(shipped_cnn, astronaut_file, tmp_path, capsys):
    assert main(["explain", str(astronaut_file), "--model", "cnn", "--emotion", "bored", "--out", str(tmp_path)]) == 2
    assert "unknown emotion label 'bored'" in capsys.readouterr().err
    assert main(["explain", str(astronaut_file), "--model", "cnn", "--layer", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fer2013_cnn has no conv layer 'nope'" in err and "s4_conv2" in err
    assert not list(tmp_path.glob("*.png"))


def test_explain_and_predict_give_the_same_calibrated_probability(shipped_cnn, astronaut_file, tmp_path, capsys):
    """One classification step: the explained emotion's probability is the one predict shows, calibrated
    by default (the CNN has a fitted temperature) and raw with --raw in both."""
    from core.models import registry

    temperature = registry.get("fer2013_cnn").temperature
    assert temperature is not None and abs(temperature - 1.0) > 0.05  # so calibrated and raw differ
    seen = {}
    for raw in ([], ["--raw"]):
        assert main(["explain", str(astronaut_file), "--model", "cnn,fer", "--out", str(tmp_path), "--json", *raw]) == 0
        explained = json.loads(capsys.readouterr().out)["images"][0]["faces"][0]["models"]
        assert main(["predict", str(astronaut_file), "--model", "cnn,fer", "--json", *raw]) == 0
        predicted = json.loads(capsys.readouterr().out)["results"][0]["faces"][0]["models"]
        assert set(explained) == set(predicted) == {"fer2013_cnn", "fer_minixception"}
        for model, m in explained.items():
            assert m["probability"] * 100 == pytest.approx(predicted[model]["emotion"][m["emotion"]], abs=1e-3)
            assert m["temperature"] == (None if raw else pytest.approx(predicted[model]["temperature"], abs=1e-4))
        seen[bool(raw)] = explained["fer2013_cnn"]["probability"]
    assert abs(seen[True] - seen[False]) > 0.001


def test_explain_both_models_with_stand_in_deepface(shipped_cnn, with_deepface, astronaut_file, tmp_path, capsys):
    """DeepFace with stand-in weights: plumbing (files, schema, peaks in the box), not accuracy."""
    out = tmp_path / "maps"
    assert main(["explain", str(astronaut_file), "--model", "cnn,deepface", "--out", str(out), "--json"]) == 0
    face = json.loads(capsys.readouterr().out)["images"][0]["faces"][0]
    assert set(face["models"]) == {"fer2013_cnn", "deepface"}
    for key, m in face["models"].items():
        assert Path(m["file"]).name == f"astronaut-face1-{key}.png" and Path(m["file"]).is_file()
        assert m["emotion"] in FER2013_LABELS and 0 <= m["probability"] <= 1
        c = m["crop"]  # the peak lies in the crop the model saw (the framed face, issue 22)
        assert c["x"] <= m["peak"]["x"] < c["x"] + c["w"] and c["y"] <= m["peak"]["y"] < c["y"] + c["h"]


def test_explain_without_any_model_exits_1(without_deepface, astronaut_file, tmp_path, capsys):
    rc = main(["explain", str(astronaut_file), "--model", "deepface", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "error: no model could be loaded" in err
