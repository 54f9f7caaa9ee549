"""Grad-CAM (core.analysis.gradcam) and its overlay, on Keras 3 and tf_keras models.

The tiny models are built here with fixed weights so that where the map must fall is known:
their output depends only on one half of the image.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from core.analysis.gradcam import (
    GradCam,
    conv_layers,
    default_layer,
    peak,
    resize_map,
)
from core.models.deepface import deepface_preprocess
from core.presentation.explain_figures import colorbar, overlay

SIZE = 16


def half_model(library, keep: str):
    """Keep one half of the image (the other half multiplied by 0) -> conv -> mean -> softmax(2).

    The output depends only on the ``keep`` half of the input, so Grad-CAM must put the map's
    mass there. (The mask comes before the conv on purpose: Grad-CAM weighs whole feature maps by
    their spatially averaged gradient, so it shows where class-relevant features are *active*; a
    model that discarded half of an active conv map after the conv would still light up both halves.)
    """
    layers, init = library.layers, library.initializers
    mask = np.zeros((1, SIZE, SIZE, 1), np.float32)
    mask[:, :, : SIZE // 2] = 1.0
    if keep == "right":
        mask = mask[:, :, ::-1].copy()
    inputs = library.Input(shape=(SIZE, SIZE, 1))
    x = layers.Lambda(lambda t: t * mask, name="keep_" + keep)(inputs)
    x = layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init.Constant(0.1),
                      name="conv")(x)
    x = layers.GlobalAveragePooling2D()(x)
    dense = layers.Dense(2, activation="softmax", kernel_initializer=init.Constant([[1.0, -1.0]] * 4))
    return library.Model(inputs, dense(x))


def images(n=3, seed=0):
    return np.random.default_rng(seed).uniform(0.2, 1.0, size=(n, SIZE, SIZE, 1)).astype(np.float32)


def left_share(maps: np.ndarray) -> np.ndarray:
    return maps[:, :, : SIZE // 2].sum(axis=(1, 2)) / maps.sum(axis=(1, 2))


def keras3():
    import keras

    return keras


def tf_keras_library():
    import tf_keras

    return tf_keras


@pytest.mark.parametrize("library", [keras3, tf_keras_library], ids=["keras3", "tf_keras"])
def test_map_mass_falls_on_the_half_the_output_depends_on(library):
    batch = images()
    left = GradCam(half_model(library(), "left"))
    maps, _, classes = left.compute(batch)
    assert maps.shape == (3, SIZE, SIZE) and (classes == 0).all()
    assert np.isfinite(maps).all() and maps.max() == pytest.approx(1.0)
    assert (left_share(maps) >= 0.8).all()

    right, _, _ = GradCam(half_model(library(), "right")).compute(batch)
    assert (left_share(right) <= 0.2).all()


def test_constant_output_gives_an_all_zero_map_not_nan():
    import keras

    inputs = keras.Input(shape=(SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros", bias_initializer="ones")(x)
    cam = GradCam(keras.Model(inputs, outputs))
    maps, probs, _ = cam.compute(images())
    assert np.allclose(probs, 1 / 3)
    assert np.isfinite(maps).all() and (maps == 0).all()
    faces = [np.full((30, 20), 128, np.uint8)] * 2
    cam.preprocess = lambda crops: np.stack([np.resize(c / 255.0, (SIZE, SIZE, 1)) for c in crops])
    heat = cam.maps(faces)
    assert heat.shape == (2, 30, 20) and (heat == 0).all()


def test_class_choice_layers_and_errors():
    import keras

    model = half_model(keras, "left")
    assert conv_layers(model) == ["conv"] and default_layer(model) == "conv"
    cam = GradCam(model)
    _, _, classes = cam.compute(images(), class_index=1)
    assert (classes == 1).all()
    _, _, classes = cam.compute(images(), class_index=[1, 0, 1])
    assert classes.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="out of range"):
        cam.compute(images(), class_index=2)
    with pytest.raises(ValueError, match="shape"):
        cam.compute(np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="no conv layer 'dense'"):
        GradCam(model, layer="dense")
    maps, probs, classes = cam.compute(np.zeros((0, SIZE, SIZE, 1)))
    assert maps.shape == (0, SIZE, SIZE) and probs.shape == (0, 2)


def test_default_layer_is_the_last_conv_at_least_6x6():
    import keras

    inputs = keras.Input(shape=(48, 48, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", name="c48")(inputs)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="c12")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="c6")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(2, 3, padding="same", name="c3")(x)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    assert conv_layers(model) == ["c48", "c12", "c6", "c3"]
    assert default_layer(model) == "c6"
    assert GradCam(model, layer="c12").map_size == (12, 12)


def test_deepface_network_with_stand_in_weights_gives_a_finite_map_of_the_crop_size(with_deepface):
    """Plumbing, not accuracy: the weights are fixed random numbers (see conftest.py)."""
    from deepface.modules import modeling

    from core.models.deepface import DeepFaceClassifier

    classifier = DeepFaceClassifier()
    network = modeling.build_model(task="facial_attribute", model_name="Emotion").model
    cam = GradCam(network, preprocess=deepface_preprocess, letterbox=True)
    assert min(cam.map_size) >= 6
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, size=(90, 60, 3), dtype=np.uint8),
             rng.integers(0, 256, size=(50, 50), dtype=np.uint8)]
    explained = cam.explain(crops)
    for crop, item in zip(crops, explained):
        assert item.heatmap.shape == crop.shape[:2]
        assert np.isfinite(item.heatmap).all() and item.heatmap.min() >= 0 and item.heatmap.max() <= 1
    # the same preprocessing as DeepFace.analyze(detector_backend="skip"): the same probabilities
    expected = classifier.predict(crops)
    assert np.allclose([item.probabilities for item in explained], expected, atol=1e-5)


def test_tf_keras_emotion_network_runs_through_the_same_recipe(tmp_path):
    """DeepFace's architecture built in tf_keras with stand-in weights (plumbing, not accuracy)."""
    from core.models.deepface_weights import _build_emotion_network, write_stand_in_weights

    network = _build_emotion_network()
    assert type(network).__module__.startswith("tf_keras")
    network.load_weights(str(write_stand_in_weights(tmp_path)))
    cam = GradCam(network, preprocess=deepface_preprocess, letterbox=True)
    heat = cam.maps([np.full((64, 64, 3), 100, np.uint8), np.eye(64, dtype=np.uint8) * 255])
    assert heat.shape == (2, 64, 64) and np.isfinite(heat).all()


def test_grad_cam_writes_no_temporary_files(tmp_path, monkeypatch):
    """Autograph writes generated source to the temp folder; it must stay off (privacy)."""
    import tempfile

    import keras
    import tf_keras

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for library in (keras, tf_keras):
        GradCam(half_model(library, "left")).compute(images())
    assert os.listdir(tmp_path) == []


def test_peak_is_in_full_image_pixels():
    heat = np.zeros((6, 6), np.float32)
    heat[1, 4] = 1.0  # row 1, column 4 of a 6x6 map over a 60x120 (w x h) box at (100, 200)
    assert peak(heat, (100, 200, 60, 120)) == (100 + 45, 200 + 30)
    x, y = peak(resize_map(heat, 120, 60), (100, 200, 60, 120))  # the same cell, at crop resolution
    assert abs(x - 145) <= 1 and abs(y - 230) <= 1


def test_resize_map_letterbox_cuts_the_crop_out_of_the_square():
    square = np.zeros((10, 10), np.float32)
    square[:, :2] = 1.0  # padding columns on the left of a tall crop: not part of the crop
    out = resize_map(square, 100, 60, letterbox=True)
    assert out.shape == (100, 60) and out[:, 10:].max() < 0.05


def test_overlay_is_rgb_on_one_colour_scale():
    face = np.zeros((40, 30, 3), np.uint8)
    face[..., 2] = 200  # red in BGR
    plain = overlay(face, np.zeros((6, 6)), alpha=0.0)
    assert plain.shape == (40, 30, 3) and plain.dtype == np.uint8
    assert tuple(plain[0, 0]) == (200, 0, 0)  # RGB order
    hot, cold = overlay(face, np.ones((40, 30)), alpha=1.0), overlay(face, np.zeros((40, 30)), alpha=1.0)
    assert hot[0, 0].sum() > 600 and cold[0, 0].sum() < 30  # inferno: 1 near white-yellow, 0 near black
    assert overlay(np.zeros((8, 8), np.uint8), np.full((8, 8), np.nan), alpha=1.0).shape == (8, 8, 3)
    strip = colorbar()
    assert strip[0, 0].sum() < strip[0, -1].sum()
    with pytest.raises(ValueError, match="colour map"):
        overlay(face, np.zeros((6, 6)), colormap="jet")
