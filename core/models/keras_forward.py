"""The forward pass of a classifier built on one Keras network over grayscale crops.

Compiled once with ``tf.function`` for float32 ``(n, h, w, 1)`` batches (traced at load time, so the
first photo is not slow) and run in chunks of ``batch_size``: the CNN and fer's mini-Xception share it.
:meth:`CompiledForward.predict_bulk` runs large batches (the robustness lab) on the network's ONNX Runtime
twin (:mod:`core.models.onnx_twin`), checked against this forward pass before it is used.
"""
from __future__ import annotations

import numpy as np


class CompiledForward:
    """Mixin: ``compile_forward`` at load time, then ``predict_arrays`` on preprocessed batches.

    The class sets ``self.model`` (the Keras network) and ``self.labels`` before compiling.
    """

    def compile_forward(self, input_size: tuple[int, int], batch_size: int, *, list_input: bool = False) -> None:
        """Trace the network for ``(None, h, w, 1)`` float32 input; ``list_input`` calls it as ``model([x])``
        (a network saved with its inputs as a list)."""
        import tensorflow as tf

        h, w = input_size
        self.batch_size = batch_size
        signature = [tf.TensorSpec((None, h, w, 1), tf.float32)]
        if list_input:
            call = lambda x: self.model([x], training=False)  # noqa: E731 - one expression, traced below
        else:
            call = lambda x: self.model(x, training=False)  # noqa: E731
        self._forward = tf.function(call, input_signature=signature)
        self._forward(np.zeros((1, h, w, 1), np.float32))  # trace once, at load time
        from core.models.onnx_twin import LazyTwin

        self.bulk = LazyTwin(self._forward, (h, w, 1), self.predict_arrays)

    def predict_arrays(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for an already preprocessed float32 (n, h, w, 1) batch."""
        out = [self._forward(batch[i:i + self.batch_size]).numpy() for i in range(0, len(batch), self.batch_size)]
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, len(self.labels)))

    def predict(self, faces) -> np.ndarray:
        """(n, labels) probabilities for face crops, through the class's own ``preprocess``."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float64)
        return self.predict_arrays(self.preprocess(faces))

    def predict_bulk(self, faces) -> np.ndarray:
        """:meth:`predict` for many faces at once, on the ONNX Runtime twin when it passed its check."""
        if len(faces) == 0:
            return np.zeros((0, len(self.labels)), np.float64)
        return self.bulk.run(self.preprocess(faces))

    def bulk_note(self) -> str:
        return self.bulk.reason
