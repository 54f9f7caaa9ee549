"""core.models.onnx_twin and every classifier's ``predict_bulk``: the robustness lab's fast forward path.

A twin is used only when it gives TensorFlow's answers; these tests hold the bulk path equal to each
classifier's ``predict`` (for DeepFace: one ``DeepFace.analyze`` call per face, with stand-in weights:
plumbing, not accuracy) and show a failed or wrong conversion falling back to TensorFlow.
"""
from __future__ import annotations

import numpy as np
import pytest

from core.models import onnx_twin
from core.models.cnn import CnnClassifier
from tests.test_models import random_crops


@pytest.fixture(scope="module")
def cnn(tiny_model_dir) -> CnnClassifier:
    return CnnClassifier(tiny_model_dir)


def faces(n: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (48, 48), dtype=np.uint8) for _ in range(n)] + random_crops(6, seed=4)


def test_the_cnn_bulk_path_runs_on_a_checked_twin_and_equals_predict(cnn):
    crops = faces()
    bulk, single = cnn.predict_bulk(crops), cnn.predict(crops)
    assert cnn.bulk.twin is not None, cnn.bulk.reason
    assert cnn.bulk.reason.startswith("ONNX Runtime twin, within")
    assert cnn.bulk.twin.max_difference <= onnx_twin.TOLERANCE
    assert bulk.shape == (len(crops), len(cnn.labels))
    np.testing.assert_allclose(bulk, single, atol=onnx_twin.TOLERANCE)
    assert (bulk.argmax(1) == single.argmax(1)).all()
    assert cnn.predict_bulk([]).shape == (0, len(cnn.labels))


def test_more_faces_than_one_chunk_come_back_in_order(cnn):
    crops = faces(onnx_twin.BATCH * 2 + 5)
    bulk = cnn.predict_bulk(crops)
    np.testing.assert_allclose(bulk[-7:], cnn.predict(crops[-7:]), atol=onnx_twin.TOLERANCE)


def test_a_conversion_that_fails_leaves_the_classifier_on_tensorflow(cnn, monkeypatch):
    def broken(forward, input_shape):
        raise ValueError("unsupported op\nFoo")

    monkeypatch.setattr(onnx_twin, "_convert", broken)
    lazy = onnx_twin.LazyTwin(cnn._forward, (48, 48, 1), cnn.predict_arrays)
    batch = cnn.preprocess(faces(5))
    np.testing.assert_array_equal(lazy.run(batch), cnn.predict_arrays(batch))
    assert lazy.twin is None
    assert lazy.reason == "no ONNX Runtime twin (ValueError: unsupported op Foo)"


def test_a_twin_that_disagrees_with_tensorflow_is_refused(cnn):
    def shifted(batch):  # stands for a wrong conversion: TensorFlow's answers, moved
        return np.roll(cnn.predict_arrays(batch), 1, axis=1)

    twin, reason = onnx_twin.build_twin(cnn._forward, (48, 48, 1), shifted)
    assert twin is None and reason.startswith("ONNX Runtime twin refused: differs from TensorFlow by")


def test_a_classifier_without_a_bulk_path_uses_predict():
    from core.models.base import EmotionClassifier

    class Fixed(EmotionClassifier):
        name, labels, kind = "fixed", ("a", "b"), "test"

        def predict(self, crops):
            return np.tile([0.25, 0.75], (len(crops), 1))

    model = Fixed()
    np.testing.assert_array_equal(model.predict_bulk([np.zeros((4, 4), np.uint8)] * 3), np.tile([0.25, 0.75], (3, 1)))
    assert model.bulk_note() == "the classifier's own predict"


def test_deepface_bulk_path_equals_one_analyze_call_per_face(with_deepface):
    from core.models.deepface import DeepFaceClassifier

    deepface = DeepFaceClassifier()
    crops = faces(12) + [np.full((48, 48), 1, np.uint8)]  # max <= 1: analyze does not rescale it
    bulk, one_by_one = deepface.predict_bulk(crops), deepface.predict(crops)
    assert bulk.shape == (len(crops), 7)
    np.testing.assert_allclose(bulk, one_by_one, atol=1e-5)
    assert (bulk.argmax(1) == one_by_one.argmax(1)).all()
    assert deepface.bulk_note().startswith("DeepFace's emotion network with analyze's preprocessing, in batches; "
                                           "ONNX Runtime twin, within")
    with pytest.raises(ValueError, match="empty face crop"):
        deepface.predict_bulk([np.zeros((0, 5), np.uint8)])
