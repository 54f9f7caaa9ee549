"""An ONNX Runtime twin of a TensorFlow network, for the large batches of the robustness lab.

On a 2-core CPU ONNX Runtime runs fer's mini-Xception about 4x faster than TensorFlow (its separable
convolutions) and our CNN about 20% faster (README, Robustness). The network is converted in memory by
tf2onnx (nothing is written to disk) and then checked against TensorFlow's own forward pass on a seeded
probe batch: every face must get the same arg-max and no probability may differ by more than
``TOLERANCE``. When tf2onnx is missing, cannot convert the graph or the check fails, :func:`build_twin`
says why and the classifier keeps using TensorFlow, so a twin can make the lab faster but never change
its answers.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TOLERANCE = 1e-4  # float32 kernels differ by ~1e-6; a larger gap means a wrong conversion
PROBE_FACES = 64
PROBE_SEED = 0
OPSET = 17


@dataclass(frozen=True)
class OnnxTwin:
    """An ONNX Runtime session standing in for a network, and how far it was from it on the probe."""

    session: object
    input_name: str
    max_difference: float

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The network's output for a float32 batch, as TensorFlow would give it (within ``TOLERANCE``)."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]


def _convert(forward, input_shape: tuple[int, ...]) -> bytes:
    """``forward`` (a ``tf.function`` over one float32 batch) as a serialised ONNX model, built in memory."""
    import tensorflow as tf
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # it logs every graph rewrite at INFO
    signature = (tf.TensorSpec((None, *input_shape), tf.float32),)
    proto, _ = tf2onnx.convert.from_function(forward, input_signature=signature, opset=OPSET)
    return proto.SerializeToString()


def build_twin(forward, input_shape: tuple[int, ...],
               reference: Callable[[np.ndarray], np.ndarray]) -> tuple[OnnxTwin | None, str]:
    """``(twin, how it was checked)`` for ``forward``, or ``(None, why not)``.

    ``forward`` is the network's ``tf.function`` over a ``(n, *input_shape)`` float32 batch and
    ``reference(batch)`` its TensorFlow output, used to check the twin on ``PROBE_FACES`` seeded faces.
    """
    try:
        import onnxruntime as ort

        model = _convert(forward, input_shape)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        # no busy-waiting between calls: the lab prepares the next chunk in Python between them, and on two
        # cores a spinning worker thread takes the core it needs (9% faster here with the CPU shared)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ImportError, a converter or runtime error: stay on TensorFlow
        return None, f"no ONNX Runtime twin ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
    twin = OnnxTwin(session, session.get_inputs()[0].name, 0.0)
    probe = np.random.default_rng(PROBE_SEED).uniform(-1.0, 1.0, (PROBE_FACES, *input_shape)).astype(np.float32)
    expected, got = np.asarray(reference(probe), np.float64), np.asarray(twin.run(probe), np.float64)
    if got.shape != expected.shape:
        return None, f"ONNX Runtime twin refused: output {got.shape}, TensorFlow {expected.shape}"
    difference = float(np.abs(got - expected).max())
    top2 = np.sort(expected, axis=1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > TOLERANCE  # a near-tie may go either way in float32
    if difference > TOLERANCE or (got.argmax(1) != expected.argmax(1))[decided].any():
        return None, f"ONNX Runtime twin refused: differs from TensorFlow by {difference:.2g} on the probe"
    return (OnnxTwin(session, twin.input_name, difference),
            f"ONNX Runtime twin, within {difference:.1g} of TensorFlow on {PROBE_FACES} probe faces")


BATCH = 64  # faces per ONNX Runtime call: the fastest chunk for both shipped networks on 2 cores


class LazyTwin:
    """A twin built on first use (conversion takes a second or two, so a photo never waits for it),
    once, thread-safely; :meth:`run` falls back to ``reference`` when there is none."""

    def __init__(self, forward, input_shape: tuple[int, ...], reference: Callable[[np.ndarray], np.ndarray]):
        import threading

        self._args = (forward, tuple(input_shape), reference)
        self._lock = threading.Lock()
        self._built = False
        self.twin: OnnxTwin | None = None
        self.reason = "not built yet"

    def get(self) -> OnnxTwin | None:
        with self._lock:
            if not self._built:
                self.twin, self.reason = build_twin(*self._args)
                self._built = True
        return self.twin

    def run(self, batch: np.ndarray) -> np.ndarray:
        """``reference(batch)`` computed by the twin in chunks of ``BATCH``, or by ``reference`` itself."""
        twin = self.get() if len(batch) else None
        if twin is None:
            return np.asarray(self._args[2](batch), np.float64)
        return np.concatenate([twin.run(batch[i:i + BATCH]) for i in range(0, len(batch), BATCH)]).astype(np.float64)
