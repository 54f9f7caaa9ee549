"""Small models of every importable format, built by the tests themselves (no downloaded weights), and
the synthetic "bands" faces they recognise.

A band face of class k is a 48x48 image with a bright horizontal band in row block k on a noisy dark
background. The band model is one dense layer whose weights are the band templates: it recognises
every band face, so a permuted label order or a wrong channel order shows at once. The colour variant
is trained on BGR images: its band is pure blue, weighted +1 in the blue channel and -1 in the red
one, so fed RGB (or gray) it answers by chance.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.labels import FER2013_LABELS

SIZE, BLOCK = 48, 6


def band_face(k: int, rng, colour: bool = False) -> np.ndarray:
    image = rng.integers(0, 60, (SIZE, SIZE, 3 if colour else 1), dtype=np.uint8)
    band = image[k * BLOCK:(k + 1) * BLOCK]
    if colour:
        band[..., 0] = rng.integers(200, 256, band.shape[:2])  # blue, in BGR order
        band[..., 1:] = 0
    else:
        band[:] = rng.integers(200, 256, band.shape)
    return image if colour else image[..., 0]


def write_bands(root: Path, per_class: int = 20, colour: bool = False, seed: int = 0) -> Path:
    """Class folders of band faces (FER2013's seven labels), as ``load_dataset`` reads them."""
    rng = np.random.default_rng(seed)
    for k, label in enumerate(FER2013_LABELS):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(str(folder / f"{i:03d}.png"), band_face(k, rng, colour))
    return root


def band_weights(channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of the dense layer over an NHWC-flattened input scaled to 0..1."""
    weights = np.zeros((SIZE, SIZE, channels, len(FER2013_LABELS)), np.float32)
    for k in range(len(FER2013_LABELS)):
        if channels == 1:
            weights[k * BLOCK:(k + 1) * BLOCK, :, 0, k] = 0.05
        else:
            weights[k * BLOCK:(k + 1) * BLOCK, :, 0, k] = 0.05  # blue
            weights[k * BLOCK:(k + 1) * BLOCK, :, 2, k] = -0.05  # red
    return weights.reshape(-1, len(FER2013_LABELS)), np.zeros(len(FER2013_LABELS), np.float32)


def band_model(channels: int = 1, softmax: bool = True, lambda_layer: bool = False):
    import keras

    inputs = keras.Input((SIZE, SIZE, channels))
    x = keras.layers.Lambda(lambda t: t * 1.0)(inputs) if lambda_layer else inputs
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(len(FER2013_LABELS), activation="softmax" if softmax else None)
    model = keras.Model(inputs, dense(x))
    dense.set_weights(list(band_weights(channels)))
    return model


def keras_bytes(model, suffix: str, tmp_path: Path) -> bytes:
    """The model saved as ``.keras`` or ``.h5`` (Keras 3's own writers)."""
    path = tmp_path / f"built{suffix}"
    model.save(path)
    return path.read_bytes()


def tflite_bytes(model, tmp_path: Path) -> bytes:
    """The same model through TensorFlow's converter, from its SavedModel export (a Keras 3 model's
    concrete function converts, but runs to NaN: its variables are not frozen)."""
    import tensorflow as tf

    folder = tmp_path / "saved_model"
    model.export(folder, format="tf_saved_model", verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(str(folder)).convert()


def onnx_bytes(channels: int = 1, softmax: bool = True, shape=None) -> bytes:
    """The band model as an ONNX graph built with ``onnx.helper``: NCHW input, Flatten, Gemm, Softmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights, bias = band_weights(channels)
    if channels > 1:  # NCHW flattening order: channel-major
        weights = weights.reshape(SIZE, SIZE, channels, -1).transpose(2, 0, 1, 3).reshape(-1, weights.shape[-1])
    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=1),
             helper.make_node("Gemm", ["flat", "W", "b"], ["logits"])]
    nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=1) if softmax
                 else helper.make_node("Identity", ["logits"], ["y"]))
    graph = helper.make_graph(
        nodes, "bands", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape or ["N", channels, SIZE, SIZE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", len(FER2013_LABELS)])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
