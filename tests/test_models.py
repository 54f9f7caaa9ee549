"""core.models.cnn and core.models.deepface: our CNN and DeepFace behind one classifier interface.

The CNN here is an *untrained* tiny model and DeepFace runs with stand-in weights of the right
architecture but fixed random values: these tests check plumbing (shapes, probabilities, label
order, errors), never accuracy.
"""
from __future__ import annotations

import json
import shutil
import time

import cv2
import numpy as np
import pytest

from core.analysis.classify import classify
from core.labels import FER2013_LABELS
from core.models.base import ModelUnavailable
from core.models.cnn import CnnClassifier
from core.models.deepface import DeepFaceClassifier, deepface_to_probabilities
from core.models.deepface_weights import WEIGHTS_FILE, weights_path


def random_crops(n: int, seed: int = 0, channels: int | None = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        h, w = int(rng.integers(12, 160)), int(rng.integers(12, 160))
        shape = (h, w) if channels is None else (h, w, channels)
        crops.append(rng.integers(0, 256, shape, dtype=np.uint8))
    return crops


def assert_probabilities(probabilities: np.ndarray, n: int, k: int = 7) -> None:
    assert isinstance(probabilities, np.ndarray)
    assert probabilities.shape == (n, k)
    assert np.issubdtype(probabilities.dtype, np.floating)
    assert np.isfinite(probabilities).all()
    assert (probabilities >= 0).all() and (probabilities <= 1).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


# ---------------------------------------------------------------- CNN

@pytest.fixture(scope="module")
def cnn(tiny_model_dir) -> CnnClassifier:
    return CnnClassifier(tiny_model_dir)


def test_cnn_metadata(cnn, tiny_model_dir):
    assert cnn.name == "tiny_cnn"  # a folder's model is named by its folder
    assert cnn.labels == FER2013_LABELS
    assert cnn.input_size == (48, 48)
    info = cnn.describe()
    assert info["name"] == "tiny_cnn" and info["labels"] == list(FER2013_LABELS)
    assert info["model_dir"] == str(tiny_model_dir)
    assert isinstance(info["parameters"], int) and info["parameters"] > 0
    json.dumps(info)


def test_cnn_predict_shape_and_rows_sum_to_one(cnn):
    probabilities = cnn.predict(random_crops(5))
    assert_probabilities(probabilities, 5)
    assert probabilities.dtype == np.float64


def test_cnn_empty_input(cnn):
    out = cnn.predict([])
    assert out.shape == (0, 7)
    assert cnn.predict_arrays(np.zeros((0, 48, 48, 1), np.float32)).shape == (0, 7)


def test_cnn_batching_equals_one_by_one(cnn):
    crops = random_crops(130, seed=1)  # more than two batches of 64, with a remainder
    batched = cnn.predict(crops)
    one_by_one = np.concatenate([cnn.predict([crop]) for crop in crops])
    assert_probabilities(batched, 130)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert len({row.tobytes() for row in batched}) > 100  # different crops, different outputs


def test_cnn_batch_size_does_not_change_results(tiny_model_dir, cnn):
    crops = random_crops(10, seed=2)
    small_batches = CnnClassifier(tiny_model_dir, batch_size=3)
    np.testing.assert_allclose(small_batches.predict(crops), cnn.predict(crops), atol=1e-5)


def test_cnn_accepts_grayscale_bgr_and_bgra_of_any_size(cnn):
    rng = np.random.default_rng(3)
    bgr = rng.integers(0, 256, (97, 61, 3), dtype=np.uint8)

    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    crops = [bgr, gray, gray[..., None], bgra, np.zeros((1, 1, 3), np.uint8),
             rng.integers(0, 256, (640, 480, 3), dtype=np.uint8), rng.integers(0, 256, (48, 48), dtype=np.uint8)]
    probabilities = cnn.predict(crops)
    assert_probabilities(probabilities, len(crops))
    # the model sees grayscale: colour, gray, (h, w, 1) and BGRA versions of one crop agree
    np.testing.assert_allclose(probabilities[1], probabilities[0], atol=1e-5)
    np.testing.assert_allclose(probabilities[2], probabilities[0], atol=1e-5)
    np.testing.assert_allclose(probabilities[3], probabilities[0], atol=1e-5)


def test_cnn_preprocess(cnn):
    crop = np.full((100, 80, 3), 255, np.uint8)
    batch = cnn.preprocess([crop, np.zeros((48, 48), np.uint8)])
    assert batch.shape == (2, 48, 48, 1) and batch.dtype == np.float32
    np.testing.assert_allclose(batch[0], 1.0, atol=1e-6)  # scale 1/255
    np.testing.assert_allclose(batch[1], 0.0)
    np.testing.assert_allclose(cnn.predict_arrays(batch), cnn.predict([crop, np.zeros((48, 48), np.uint8)]),
                               atol=1e-6)


def test_cnn_rejects_an_empty_crop(cnn):
    with pytest.raises(ValueError, match="empty face crop"):
        cnn.predict([np.zeros((0, 10, 3), np.uint8)])


def test_cnn_is_deterministic(cnn):
    crops = random_crops(4, seed=4)
    np.testing.assert_array_equal(cnn.predict(crops), cnn.predict(crops))


def test_cnn_timing_is_measured_not_asserted(cnn, record_property):
    """Records how long one face and a batch of 64 take; no timing target is asserted."""
    crops = random_crops(64, seed=5)
    (one,) = classify(cnn, crops[:1], calibrated=False)
    probabilities, one_ms = one.probabilities[None], one.time_ms
    assert_probabilities(probabilities, 1)
    start = time.perf_counter()
    assert_probabilities(cnn.predict(crops), 64)
    batch_ms = (time.perf_counter() - start) * 1000.0
    record_property("cnn_one_face_ms", round(one_ms, 2))
    record_property("cnn_64_faces_ms", round(batch_ms, 2))
    print(f"cnn: 1 face {one_ms:.1f} ms, 64 faces {batch_ms:.1f} ms")
    assert isinstance(one_ms, float) and one_ms >= 0


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.mark.parametrize("missing", ["model.json", "model.keras"])
def test_cnn_missing_file(model_copy, missing):
    (model_copy / missing).unlink()
    with pytest.raises(ModelUnavailable) as excinfo:
        CnnClassifier(model_copy)
    message = str(excinfo.value)
    assert str(model_copy) in message and f"{missing} is missing" in message
    assert "python -m core train" in message  # says what to do


def test_cnn_missing_folder(tmp_path):
    with pytest.raises(ModelUnavailable, match="no CNN model at"):
        CnnClassifier(tmp_path / "no_such_model")


@pytest.mark.parametrize("content", ["{not json", "[]", '{"labels": ["a"]}', ""])
def test_cnn_corrupt_model_json(model_copy, content):
    (model_copy / "model.json").write_text(content)
    with pytest.raises(ModelUnavailable) as excinfo:
        CnnClassifier(model_copy)
    message = str(excinfo.value)
    assert str(model_copy / "model.json") in message and "invalid model metadata" in message
    assert "\n" not in message


def test_cnn_corrupt_model_keras(model_copy):
    (model_copy / "model.keras").write_bytes(b"this is not a keras archive")
    with pytest.raises(ModelUnavailable) as excinfo:
        CnnClassifier(model_copy)
    assert str(model_copy / "model.keras") in str(excinfo.value)
    assert "cannot load the model" in str(excinfo.value)


def test_cnn_label_count_mismatch(model_copy):
    meta = json.loads((model_copy / "model.json").read_text())
    meta["labels"] = ["happy", "sad"]
    (model_copy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelUnavailable, match="7 outputs but model.json lists 2 labels"):
        CnnClassifier(model_copy)


def test_model_unavailable_is_a_runtime_error():
    assert issubclass(ModelUnavailable, RuntimeError)


# ---------------------------------------------------------------- DeepFace

def test_deepface_to_probabilities_maps_percentages_in_fer_order():
    emotion = {"neutral": 10.0, "happy": 50.0, "sad": 25.0, "angry": 15.0}  # DeepFace-style percent, any order
    probabilities = deepface_to_probabilities(emotion)
    assert probabilities.shape == (7,)
    expected = {"angry": 0.15, "disgust": 0.0, "fear": 0.0, "happy": 0.5, "sad": 0.25, "surprise": 0.0,
                "neutral": 0.1}
    np.testing.assert_allclose(probabilities, [expected[label] for label in FER2013_LABELS])


def test_deepface_to_probabilities_numpy_values_and_rounding():
    values = [12.5, 0.5, 3.0, 60.0, 10.0, 4.0, 10.00001]
    emotion = {label: np.float32(v) for label, v in zip(FER2013_LABELS, values)}
    probabilities = deepface_to_probabilities(emotion)
    assert probabilities.dtype == np.float64
    assert probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(probabilities, np.array(values) / sum(values), rtol=1e-6)
    assert int(np.argmax(probabilities)) == FER2013_LABELS.index("happy")


def test_deepface_to_probabilities_other_label_orders_and_empty():
    emotion = {"happy": 80.0, "sad": 20.0}
    np.testing.assert_allclose(deepface_to_probabilities(emotion, ("sad", "happy")), [0.2, 0.8])
    np.testing.assert_allclose(deepface_to_probabilities({}), np.full(7, 1 / 7))


def test_deepface_unavailable_without_weights(without_deepface):
    with pytest.raises(ModelUnavailable) as excinfo:
        DeepFaceClassifier()
    message = str(excinfo.value)
    expected = without_deepface / ".deepface" / "weights" / WEIGHTS_FILE
    assert weights_path() == expected
    assert str(expected) in message
    assert "make deepface-weights" in message
    assert "\n" not in message


@pytest.fixture(scope="module")
def deepface(stand_in_deepface_home):
    """One DeepFaceClassifier for the module, on the stand-in weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPFACE_HOME", str(stand_in_deepface_home))
        yield DeepFaceClassifier()


def test_deepface_predict_on_crops(with_deepface, deepface):
    """Plumbing, not accuracy: the real DeepFace.analyze code path runs on stand-in random weights."""
    assert deepface.name == "deepface" and deepface.labels == FER2013_LABELS
    assert deepface.weights_path == weights_path(with_deepface)
    crops = random_crops(3, seed=6)
    probabilities = deepface.predict(crops)
    assert_probabilities(probabilities, 3)
    assert deepface.predict([]).shape == (0, 7)


def test_deepface_predict_is_in_fer_label_order(with_deepface, deepface, astronaut):
    """Each row equals DeepFace's own percentages for that crop, label by label (plumbing, not accuracy)."""
    from deepface import DeepFace

    crop = np.ascontiguousarray(astronaut[66:163, 176:273])
    (row,) = deepface.predict([crop])
    (raw,) = DeepFace.analyze(crop, actions=["emotion"], detector_backend="skip", enforce_detection=False,
                              silent=True)
    total = sum(float(v) for v in raw["emotion"].values())
    for i, label in enumerate(FER2013_LABELS):
        assert row[i] == pytest.approx(float(raw["emotion"][label]) / total, abs=1e-6), label
    assert FER2013_LABELS[int(np.argmax(row))] == raw["dominant_emotion"]


def test_deepface_predict_reorders_labels(deepface, monkeypatch):
    """DeepFace's dict order does not matter: rows follow FER2013_LABELS."""
    reply = [{"emotion": {"surprise": 40.0, "neutral": 0.0, "happy": 60.0, "angry": 0.0, "disgust": 0.0,
                          "fear": 0.0, "sad": 0.0}, "region": {"x": 0, "y": 0, "w": 5, "h": 5}}]
    seen = []

    def fake_analyze(image, **kwargs):
        seen.append((image.shape, image.dtype, kwargs["detector_backend"]))
        return reply

    monkeypatch.setattr(deepface._deepface, "analyze", fake_analyze)
    probabilities = deepface.predict([np.zeros((20, 30), np.uint8), np.zeros((8, 9, 1), np.uint8),
                                      np.zeros((5, 6, 4), np.uint8)])
    expected = np.zeros(7)
    expected[FER2013_LABELS.index("happy")] = 0.6
    expected[FER2013_LABELS.index("surprise")] = 0.4
    np.testing.assert_allclose(probabilities, [expected] * 3)
    assert seen == [((20, 30, 3), np.uint8, "skip"), ((8, 9, 3), np.uint8, "skip"), ((5, 6, 3), np.uint8, "skip")]


def test_deepface_accepts_grayscale_and_small_crops(with_deepface, deepface):
    crops = [np.full((30, 20), 90, np.uint8), np.full((12, 12, 3), 200, np.uint8)]
    assert_probabilities(deepface.predict(crops), 2)


def test_deepface_analyze_image_finds_the_astronaut(with_deepface, deepface, astronaut):
    """DeepFace's own opencv detector on the whole photo (random weights: plumbing only)."""
    from core.faces import Face

    faces = deepface.analyze_image(astronaut)
    assert len(faces) == 1, faces
    face = faces[0]
    assert set(face) == {"region", "face_confidence", "probabilities"}
    region = face["region"]
    assert set(region) == {"x", "y", "w", "h"} and all(type(v) is int for v in region.values())
    assert Face(**region, confidence=1.0).iou(Face(176, 66, 97, 97, 1.0)) > 0.7
    assert type(face["face_confidence"]) is float and 0.0 < face["face_confidence"] <= 1.0
    assert_probabilities(np.asarray(face["probabilities"])[None], 1)


def test_deepface_analyze_image_blank_gives_nothing(with_deepface, deepface):
    assert deepface.analyze_image(np.zeros((240, 320, 3), np.uint8)) == []


def test_deepface_describe(deepface):
    info = deepface.describe()
    assert info["name"] == "deepface" and info["detector_backend"] == "opencv"
    assert info["weights"].endswith(WEIGHTS_FILE)
    json.dumps(info)


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_deepface_broken_weights_file(monkeypatch, tmp_path, deepface):
    """A weights file that does not load gives ModelUnavailable (not a traceback mid-analysis)."""
    from deepface.modules import modeling

    monkeypatch.setattr(modeling, "cached_models", {task: {} for task in modeling.cached_models})
    path = weights_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an HDF5 file" * 100)
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    with pytest.raises(ModelUnavailable, match="DeepFace cannot load its emotion model"):
        DeepFaceClassifier()
