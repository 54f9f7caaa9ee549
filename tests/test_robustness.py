"""The robustness lab: corruptions (identity at severity 0, monotone, seeded), the stratified subset, the
runner's scores, the stored artifact and ``python -m core robustness`` (issue 24)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.analysis import corruptions
from core.data.datasets import Record

PROJECT = Path(__file__).resolve().parent.parent


def faces(n: int = 12, size: int = 48) -> list[np.ndarray]:
    from zipfaces import synthetic_face

    return [synthetic_face(i % 7, i, size) for i in range(n)]


# --------------------------------------------------------------------------- corruptions


@pytest.mark.parametrize("name", list(corruptions.BY_NAME))
def test_severity_zero_is_the_clean_face_and_shapes_are_kept(name):
    for i, face in enumerate(faces(6) + faces(2, size=130)):
        assert np.array_equal(corruptions.corrupt(face, name, 0, seed=3, key=f"f{i}"), face)
        for s in corruptions.SEVERITIES:
            out = corruptions.corrupt(face, name, s, seed=3, key=f"f{i}")
            assert out.shape == face.shape and out.dtype == np.uint8


@pytest.mark.parametrize("fam", corruptions.FAMILIES, ids=lambda f: f.name)
def test_severities_are_monotone_in_the_parameter_and_in_the_damage(fam):
    values = [v for v in fam.values if v is not None]
    assert len(fam.values) == 6 and all(v is not None for v in fam.values[1:])
    steps = np.diff(values)
    assert (steps > 0).all() or (steps < 0).all(), fam.values
    damage = [np.mean([np.abs(corruptions.corrupt(f, fam.name, s, 0, f"k{i}").astype(int) - f).mean()
                       for i, f in enumerate(faces(14))]) for s in range(6)]
    assert damage[0] == 0
    assert all(b >= a - 1e-9 for a, b in zip(damage, damage[1:])), damage
    assert damage[5] > damage[1] > 0


@pytest.mark.parametrize("name", ["gaussian_noise", "patches", "motion_blur", "rotation", "shift"])
def test_random_corruptions_are_seeded_per_face(name):
    face = faces(1)[0]
    a = corruptions.corrupt(face, name, 3, seed=1, key="test/happy/1.jpg")
    assert np.array_equal(a, corruptions.corrupt(face, name, 3, seed=1, key="test/happy/1.jpg"))
    others = [corruptions.corrupt(face, name, 3, seed=s, key=k) for s, k in ((2, "test/happy/1.jpg"),
                                                                             (1, "test/happy/2.jpg"), (3, "x"))]
    assert any(not np.array_equal(a, b) for b in others)


def test_patches_grow_and_bad_input_is_refused():
    face = faces(1)[0]
    masks = [corruptions.corrupt(face, "patches", s, 0, "k") == corruptions.PATCH_FILL for s in range(6)]
    for weaker, stronger in zip(masks, masks[1:]):
        assert (stronger | ~weaker).all()  # every patch of severity s is still there at s+1
    with pytest.raises(ValueError, match="unknown corruption 'fog'"):
        corruptions.corrupt(face, "fog", 1)
    with pytest.raises(ValueError, match="severity must be 0 to 5"):
        corruptions.corrupt(face, "jpeg", 6)
    with pytest.raises(ValueError, match="grayscale uint8"):
        corruptions.corrupt(face.astype(np.float32), "jpeg", 1)
    colour = corruptions.corrupt_colour(np.dstack([face] * 3), "sunglasses", 2)
    assert colour.shape == (48, 48, 3) and np.array_equal(colour[..., 0], corruptions.corrupt(face, "sunglasses", 2))


# --------------------------------------------------------------------------- subset and runner


def records(per_class=(30, 5, 20, 60, 25, 15, 45)) -> list[Record]:
    from core.labels import FER2013_LABELS

    return [Record(f"test/{label}/{i:03d}.png", label, "test")
            for label, n in zip(FER2013_LABELS, per_class) for i in range(n)]


def test_stratified_subset_is_proportional_seeded_and_sorted():
    from core.evaluation.robustness import stratified_subset

    pool = records()
    chosen = stratified_subset(pool, 40, seed=5)
    assert len(chosen) == 40 and len({r.rel_path for r in chosen}) == 40
    counts = pd.Series([r.label for r in chosen]).value_counts()
    assert counts["happy"] == 12 and counts["disgust"] == 1 and counts["neutral"] == 9  # 60/200, 5/200, 45/200 of 40
    assert [r.rel_path for r in chosen] == sorted(r.rel_path for r in chosen)
    assert chosen == stratified_subset(list(reversed(pool)), 40, seed=5)
    assert chosen != stratified_subset(pool, 40, seed=6)
    assert len(stratified_subset(pool, 1000)) == len(pool)


class MeanBrightness:
    """A stand-in classifier: the class is the face's mean grey level in 7 bins (dark faces: angry)."""

    name, kind, labels = "stand_in", "test", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

    def __init__(self):
        self.calls = []

    def predict(self, crops):
        self.calls.append(len(crops))
        bins = np.clip([int(np.mean(c) // 37) for c in crops], 0, 6)
        return np.eye(7)[bins]


class Faces:
    """A dataset in memory: each record's face is a flat grey image of its class's grey level."""

    name, root = "flat", Path("flat")

    def __init__(self):
        self.records = records((8, 8, 8, 8, 8, 8, 8))

    def split(self, name):
        return self.records

    def read(self, record, grayscale=True):
        level = 18 + 37 * MeanBrightness.labels.index(record.label)
        return np.full((48, 48), level, np.uint8)


def test_runner_scores_every_family_and_severity_in_batches():
    from core.evaluation.robustness import robustness_frame, run_robustness

    model = MeanBrightness()
    seen = []
    result = run_robustness({"stand_in": model}, Faces(), "test", count=28, seed=0,
                            families=["brightness_down", "sunglasses"], severities=(1, 5),
                            on_progress=lambda done, total, what: seen.append((done, total)))["stand_in"]
    assert model.calls == [28, 56, 56]  # the clean pass, then both severities of each family in one call
    assert seen[-1] == (3, 3)
    assert result["clean"]["accuracy"] == 1.0 and result["subset"]["n_images"] == 28
    dark = result["families"]["brightness_down"]["severities"]
    assert [s["severity"] for s in dark] == [0, 1, 5] and [s["value"] for s in dark] == [1, 0.7, 0.15]
    # x0.7 moves every class but angry into a darker bin; x0.15 leaves only angry right
    assert dark[1]["per_class_recall"]["angry"] == 1.0 and dark[1]["per_class_recall"]["neutral"] == 0.0
    assert dark[2]["accuracy"] == pytest.approx(1 / 7)
    family = result["families"]["brightness_down"]
    assert family["mean_accuracy"] == pytest.approx((dark[1]["accuracy"] + dark[2]["accuracy"]) / 2)
    assert result["mean_corruption_accuracy"] == pytest.approx(
        (family["mean_accuracy"] + result["families"]["sunglasses"]["mean_accuracy"]) / 2)
    assert result["relative_drop"] == pytest.approx(1 - result["mean_corruption_accuracy"])
    assert result["breaks_first"][0] != "angry" and family["breaks_first"] != "angry"
    assert result["corruptions"]["library"].startswith("OpenCV")
    assert [f["name"] for f in result["corruptions"]["families"]] == list(corruptions.BY_NAME)
    frame = robustness_frame(result)
    assert len(frame) == 6 and {"family", "severity", "value", "accuracy", "recall_angry"} <= set(frame.columns)


def test_runner_refuses_bad_severities():
    from core.evaluation.robustness import run_robustness

    with pytest.raises(ValueError, match="severities must lie in 1-5"):
        run_robustness({"m": MeanBrightness()}, Faces(), "test", severities=(0, 6))


# --------------------------------------------------------------------------- the real models and FER2013


def test_clean_accuracy_equals_the_stored_predictions(fer2013_dir):
    """Non-regression for issue 24: the clean point is the Evaluation figure on the same faces."""
    from core.data.datasets import load_dataset
    from core.evaluation.robustness import run_robustness
    from core.models import registry
    from core.presentation.robustness import clean_from_predictions

    classifiers = {name: registry.get(name) for name in ("fer2013_cnn", "fer_minixception")}
    results = run_robustness(classifiers, load_dataset(fer2013_dir), "PrivateTest", count=120, seed=4,
                             families=["jpeg"], severities=(2,))
    for name, result in results.items():
        stored = pd.read_csv(PROJECT / "models" / name / "eval" / "fer2013-PrivateTest" / "predictions.csv")
        accuracy, n = clean_from_predictions(result, stored)
        assert n == 120
        assert result["clean"]["accuracy"] == pytest.approx(accuracy, abs=1e-12), name


# --------------------------------------------------------------------------- command line


def small_zip() -> bytes:
    from zipfaces import faces_per_label

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, files in faces_per_label(per_class=4).items():
            for name, data in files:
                archive.writestr(f"faces/{label}/{name}", data)
    return buffer.getvalue()


def cli(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "core", "robustness", *args], capture_output=True, text=True,
                          cwd=PROJECT, timeout=300, env={**os.environ, **(env or {})})


def test_cli_on_a_zip_with_deepface_stand_in(tmp_path, with_deepface):
    data = tmp_path / "faces.zip"
    data.write_bytes(small_zip())
    out = tmp_path / "out"
    done = cli("--model", "cnn,deepface", "--data", str(data), "--faces", "21", "--families", "jpeg,face_mask",
               "--severities", "1,4", "--out", str(out), "--json", env={"DEEPFACE_HOME": str(with_deepface)})
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"fer2013_cnn", "deepface"}
    for model in printed:
        stored = json.loads((out / model / "robustness.json").read_text())
        assert stored["subset"]["n_images"] == 21 and stored["dataset"]["split"] == "all"
        assert list(stored["families"]) == ["jpeg", "face_mask"]
        assert stored["clean"] == printed[model]["clean"]
        assert len(pd.read_csv(out / model / "robustness.csv")) == 6
    assert printed["fer2013_cnn"]["forward"].startswith("ONNX Runtime twin, within")
    assert printed["deepface"]["forward"].startswith("DeepFace's emotion network with analyze's preprocessing")
    assert "robustness" in done.stderr  # the progress bar


def test_cli_errors_are_one_line(tmp_path):
    missing = cli("--data", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr
    bad = tmp_path / "bad.zip"
    bad.write_bytes(small_zip())
    wrong = cli("--model", "cnn", "--data", str(bad), "--families", "fog", "--faces", "7")
    assert wrong.returncode == 2 and wrong.stderr.strip().startswith("error: unknown corruption 'fog'")
    assert wrong.stderr.strip().count("\n") == 0


def test_bench_entry_times_the_whole_lab(tmp_path):
    from core.bench.robustness import TARGET_SECONDS, time_robustness

    lines = []
    model = MeanBrightness()
    figure = time_robustness({"stand_in": model}, count=14, fer_dir=tmp_path / "absent", log=lines.append)
    assert figure["source"] == "14 synthetic faces (FER2013 not found)"
    assert (figure["faces"], figure["families"], figure["severities"]) == (14, 15, 5)
    assert figure["faces_scored_per_model"] == 14 * (1 + 15 * 5) == sum(model.calls) - 14 * 6  # + rotation aligned
    assert figure["target_s"] == TARGET_SECONDS and figure["target_met"] is (figure["seconds"] <= TARGET_SECONDS)
    assert 0 < figure["alignment_seconds"] < figure["seconds"]
    assert len(lines) == 18 and lines[-1].startswith("robustness 17/17")


def test_bench_targets_the_models_ready_here_and_times_deepface_stand_in_beside_them(monkeypatch):
    """make bench: the target is judged on the models with their real weights; DeepFace on stand-in
    weights is timed in a second run, stored beside it, never dropped silently."""
    import core.bench.robustness as bench_robustness
    from core.bench import run
    from core.models import registry

    runs = []

    def fake(zoo, count, **_):
        runs.append((sorted(zoo), count))
        seconds = 100.0 + 50.0 * ("deepface" in zoo)
        return {"models": list(zoo), "seconds": seconds, "model_seconds": {m: 1.0 for m in zoo},
                "alignment_seconds": 2.0, "corruption_seconds": 3.0, "load_average_1min_before": 0.1,
                "load_average_1min_after": 0.2, "target_met": seconds <= 120}

    monkeypatch.setattr(bench_robustness, "time_robustness", fake)
    monkeypatch.setattr(registry, "ready_names", lambda: ["fer2013_cnn", "fer_minixception", "deepface"])
    monkeypatch.setattr(registry, "get", lambda name: f"<{name}>")
    results = {"deepface": {"weights": "stand-in (random, same architecture)"}}
    run._time_robustness("<cnn>", False, results, lambda _line: None)
    assert runs == [(["fer2013_cnn", "fer_minixception"], 1000),
                    (["deepface", "fer2013_cnn", "fer_minixception"], 1000)]
    entry = results["robustness"]
    assert entry["target_met"] is True and entry["models"] == ["fer2013_cnn", "fer_minixception"]
    assert entry["with_deepface_stand_in"]["seconds"] == 150.0
    assert entry["with_deepface_stand_in"]["target_met"] is False
    runs.clear()
    real = {"deepface": {"weights": "real"}}
    run._time_robustness("<cnn>", True, real, lambda _line: None)
    assert runs == [(["deepface", "fer2013_cnn", "fer_minixception"], 100)]  # real weights: one run, all three
    assert "with_deepface_stand_in" not in real["robustness"] and real["robustness"]["target_met"] is False
