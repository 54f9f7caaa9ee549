"""Grad-CAM heat maps (Selvaraju et al. 2017) for Keras 3 and tf_keras classifiers, written once.

Why hand-written: no maintained library handles Keras 3 *and* tf_keras in one process (tf-keras-vis
goes through ``tf.keras``), and the recipe is short (keras-io ``examples/vision/grad_cam.py``): a
sub-model maps the input to (feature maps, probabilities); ``tf.GradientTape`` gives the gradient of
the class's log-probability with respect to the feature maps; their spatial mean weighs the maps;
ReLU; each map is divided by its maximum (an all-zero map when nothing has a positive weight, never
NaN) and resized to the face crop.

The maps are the conv layer's own output, as the issue asks. (For our CNN, Conv-BN-ReLU, the
block's post-ReLU output was tried too: on the example photo almost every channel weight came out
negative for the predicted class, so its map was all zero; the conv output gives a usable map.)

The library (Keras 3 or tf_keras) is picked from the model's class, so our CNN (``keras.Model``)
and DeepFace's emotion network (a tf_keras ``Sequential``) run through the same code. Each
:class:`GradCam` compiles one ``tf.function`` (fixed input signature, autograph off: autograph
writes generated source to temporary files) for its (model, layer) and runs batches of faces.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

MIN_MAP_SIZE = 6  # the default layer is the last conv layer whose output is at least this wide and high
_EPS = 1e-12


@dataclass(frozen=True)
class Explanation:
    """One face's Grad-CAM: ``heatmap`` in [0, 1] at the crop's size, for class ``class_index``."""

    heatmap: np.ndarray
    class_index: int
    probabilities: np.ndarray

    @property
    def probability(self) -> float:
        return float(self.probabilities[self.class_index])


def _keras_library(model):
    """``keras`` (Keras 3) or ``tf_keras`` (Keras 2, what DeepFace builds), from the model's class."""
    root = type(model).__module__.split(".")[0]
    if root not in ("keras", "tf_keras"):
        raise TypeError(f"Grad-CAM needs a Keras 3 or tf_keras model, not {type(model).__name__}")
    return importlib.import_module(root)


def _output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):  # never called, or called more than once
        return None


def conv_layers(model) -> list[str]:
    """Names of the model's convolution layers with a spatial (4-D) output, input to output."""
    names = []
    for layer in model.layers:
        shape = _output_shape(layer)
        if "Conv" in type(layer).__name__ and shape is not None and len(shape) == 4:
            names.append(layer.name)
    return names


def default_layer(model, min_size: int = MIN_MAP_SIZE) -> str:
    """The last conv layer whose output is at least ``min_size`` x ``min_size``.

    Later layers are more class-specific; below about 6x6 the map is too coarse to tell eyes from
    mouth on a face.
    """
    names = conv_layers(model)
    if not names:
        raise ValueError(f"model {model.name!r} has no convolution layer with a spatial output")
    wide = [n for n in names if min(_output_shape(model.get_layer(n))[1:3]) >= min_size]
    return (wide or names[:1])[-1]


def _input_shape(model) -> tuple[int, int, int]:
    try:
        shape = tuple(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        raise ValueError(f"model {model.name!r} has no symbolic input yet; build it (on an Input or "
                         f"by calling it once) before Grad-CAM") from None
    if len(shape) != 4 or None in shape[1:]:
        raise ValueError(f"Grad-CAM needs an image input (batch, height, width, channels), not {shape}")
    return tuple(int(v) for v in shape[1:])


def _gradient_model(model, layer):
    """input -> (the layer's output, probabilities), in the model's own library."""
    library = _keras_library(model)
    return library.Model(model.inputs, [layer.output, model.outputs[0]])


def _compile(gradient_model, input_shape):
    import tensorflow as tf

    def step(x, classes):
        with tf.GradientTape() as tape:
            features, probabilities = gradient_model(x, training=False)
            tape.watch(features)
            predicted = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            chosen = tf.where(classes < 0, predicted, classes)
            p = tf.gather(probabilities, chosen, axis=1, batch_dims=1)
            # log p: the model ends in softmax; the floor keeps log finite for a vanishing class
            target = tf.reduce_sum(tf.math.log(tf.maximum(p, 1e-30)))
        grads = tape.gradient(target, features, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1))
        cam = tf.where(tf.math.is_finite(cam), cam, tf.zeros_like(cam))
        peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        cam = tf.where(peak > _EPS, cam / tf.maximum(peak, _EPS), tf.zeros_like(cam))
        return cam, probabilities, chosen

    signature = [tf.TensorSpec((None, *input_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
    return tf.function(step, input_signature=signature, autograph=False)


def resize_map(heatmap: np.ndarray, height: int, width: int, letterbox: bool = False) -> np.ndarray:
    """A map resized (bilinear) to ``height`` x ``width``.

    ``letterbox``: the model saw the crop padded to a centred square (DeepFace does this), so the
    map covers that square and the crop's part is cut out of it.
    """
    heatmap = np.asarray(heatmap, np.float32)
    if letterbox and height != width:
        side = max(height, width)
        square = cv2.resize(heatmap, (side, side), interpolation=cv2.INTER_LINEAR)
        top, left = (side - height) // 2, (side - width) // 2
        out = square[top:top + height, left:left + width]
    else:
        out = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


class GradCam:
    """Grad-CAM for one (model, layer), compiled once; batches of faces per call.

    ``preprocess`` turns a sequence of face crops (uint8, BGR or grayscale, any size) into the
    model's float32 input batch, e.g. ``CnnClassifier.preprocess`` or :func:`core.models.deepface.deepface_preprocess`.
    ``letterbox`` says that ``preprocess`` pads crops to a square (see :func:`resize_map`).
    """

    def __init__(self, model, layer: str | None = None, preprocess: Callable | None = None,
                 letterbox: bool = False, batch_size: int = 32):
        self.model = model
        self.input_shape = _input_shape(model)
        self.layer = layer or default_layer(model)
        if self.layer not in conv_layers(model):
            raise ValueError(f"model {model.name!r} has no conv layer {self.layer!r}; "
                             f"conv layers: {', '.join(conv_layers(model))}")
        self.preprocess = preprocess
        self.letterbox = letterbox
        self.batch_size = batch_size
        self._step = _compile(_gradient_model(model, model.get_layer(self.layer)), self.input_shape)

    @property
    def map_size(self) -> tuple[int, int]:
        """(height, width) of the maps before resizing to the crop."""
        return tuple(_output_shape(self.model.get_layer(self.layer))[1:3])

    def compute(self, batch: np.ndarray, class_index=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Maps at the layer's resolution for a preprocessed float32 batch (n, h, w, c).

        ``class_index``: None (each face's predicted class), one index for all, or one per face.
        Returns (maps (n, fh, fw) in [0, 1], probabilities (n, k), class indices (n,)).
        """
        batch = np.asarray(batch, np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape:
            raise ValueError(f"expected a batch of shape (n, {', '.join(map(str, self.input_shape))}), "
                             f"got {batch.shape}")
        classes = self._classes(class_index, len(batch))
        maps, probs, chosen = [], [], []
        for start in range(0, len(batch), self.batch_size):
            cam, p, c = self._step(batch[start:start + self.batch_size], classes[start:start + self.batch_size])
            maps.append(cam.numpy())
            probs.append(p.numpy())
            chosen.append(c.numpy())
        if not maps:
            fh, fw = self.map_size
            k = int(self.model.outputs[0].shape[-1])
            return np.zeros((0, fh, fw), np.float32), np.zeros((0, k), np.float32), np.zeros(0, np.int32)
        return np.concatenate(maps), np.concatenate(probs), np.concatenate(chosen)

    def _classes(self, class_index, n: int) -> np.ndarray:
        k = int(self.model.outputs[0].shape[-1])
        if class_index is None:
            return np.full(n, -1, np.int32)
        classes = np.broadcast_to(np.asarray(class_index, np.int64), (n,)).astype(np.int32)
        if n and (classes.min() < 0 or classes.max() >= k):
            raise ValueError(f"class index out of range 0..{k - 1}: {class_index}")
        return classes

    def _batch(self, faces) -> np.ndarray:
        if self.preprocess is None:
            return np.asarray(faces, np.float32)
        return self.preprocess(list(faces))

    def explain(self, faces: Sequence[np.ndarray], class_index=None) -> list[Explanation]:
        """One :class:`Explanation` per face crop, its map resized to that crop."""
        maps, probs, chosen = self.compute(self._batch(faces), class_index)
        return [Explanation(resize_map(m, face.shape[0], face.shape[1], self.letterbox), int(c), p)
                for face, m, p, c in zip(faces, maps, probs, chosen)]

    def maps(self, faces: Sequence[np.ndarray], class_index=None) -> np.ndarray:
        """Maps (n, h, w) in [0, 1] for face crops that all have the same size h x w."""
        sizes = {tuple(face.shape[:2]) for face in faces}
        if len(sizes) > 1:
            raise ValueError("faces differ in size; use explain() for crops of different sizes")
        if not sizes:
            return np.zeros((0, *self.input_shape[:2]), np.float32)
        return np.stack([e.heatmap for e in self.explain(faces, class_index)])


def peak(heatmap: np.ndarray, box) -> tuple[int, int]:
    """The map's maximum in full-image pixel coordinates; ``box`` = (x, y, w, h) of the crop.

    The map may have any resolution; it is taken to cover the box exactly.
    """
    x, y, w, h = (int(v) for v in box)
    heatmap = np.asarray(heatmap)
    row, col = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape[:2])
    mh, mw = heatmap.shape[:2]
    return (x + min(int((col + 0.5) * w / mw), w - 1), y + min(int((row + 0.5) * h / mh), h - 1))
