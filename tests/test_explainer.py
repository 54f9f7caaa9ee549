"""``EmotionClassifier.explainer()``: every Keras-backed classifier hands Grad-CAM its network and
preprocessing, and the maps it gives agree with the classifier's own answer."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.gradcam import GradCam
from core.models.base import EmotionClassifier


def _face(seed=0, shape=(90, 72, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _check(classifier):
    explainer = classifier.explainer()
    assert explainer is not None
    cam = GradCam(explainer.model, preprocess=explainer.preprocess, letterbox=explainer.letterbox)
    face = _face()
    (explanation,) = cam.explain([face])
    assert explanation.heatmap.shape == face.shape[:2]
    assert np.isfinite(explanation.heatmap).all()
    # the network Grad-CAM runs is the one that answers: same probabilities, same predicted class
    probabilities = classifier.predict([face])[0]
    np.testing.assert_allclose(explanation.probabilities, probabilities, atol=2e-3)
    assert explanation.class_index == int(np.argmax(probabilities))
    return explainer


def test_cnn_explainer(tiny_model_dir):
    from core.models.cnn import CnnClassifier

    assert _check(CnnClassifier(tiny_model_dir)).letterbox is False


def test_fer_minixception_explainer():
    from core.models import fer_minixception

    ok, reason = fer_minixception.availability()
    if not ok:
        pytest.skip(reason)
    _check(fer_minixception.FerMiniXceptionClassifier())


def test_deepface_explainer_plumbing(with_deepface):
    """Stand-in weights: checks plumbing (DeepFace's own network and preprocessing), not accuracy."""
    from core.models.deepface import DeepFaceClassifier

    assert _check(DeepFaceClassifier()).letterbox is True


def test_a_classifier_without_a_network_has_no_explainer():
    class Fixed(EmotionClassifier):
        name, labels, kind = "fixed", ("a", "b"), "test"

        def predict(self, faces):
            return np.full((len(faces), 2), 0.5)

    assert Fixed().explainer() is None and Fixed().temperature is None
