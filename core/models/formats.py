"""A model file (``.keras``, ``.h5``/``.hdf5``, ``.onnx``, ``.tflite``) as one callable network, from bytes.

Every format is read from bytes held in memory, never from a path, so the app can run an uploaded
model without writing it anywhere and the CLI uses the same path. Loading is safe: Keras files go
through ``safe_mode=True`` and are refused when their config holds a ``Lambda`` layer or any class
Keras does not know (a custom object); anything that cannot be used gets a one-line
:class:`ModelRefused` saying why.

Keras from memory: a ``.keras`` zip goes to Keras 3's ``saving_lib.load_model`` as a ``BytesIO`` (its
weights are read into memory, or on the fly from the zip: no temporary file, since a ``BytesIO`` has
no folder to extract next to), and an ``.h5`` file to ``legacy_h5_format.load_model_from_hdf5`` as an
``h5py.File`` over a ``BytesIO`` (Keras 2 files such as fer's load this way).
"""
from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass

import numpy as np

from core.models.base import ModelUnavailable

FORMATS = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".onnx": "onnx", ".tflite": "tflite"}


class ModelRefused(ModelUnavailable):
    """A model file that is not loaded; the message is one line saying why."""


def format_of(filename: str) -> str:
    """``keras``, ``h5``, ``onnx`` or ``tflite`` from a file name; refuses other suffixes."""
    suffix = "." + str(filename).rsplit(".", 1)[-1].lower() if "." in str(filename) else ""
    if suffix not in FORMATS:
        raise ModelRefused(f"{filename}: not a model file this workbench reads (choose {', '.join(FORMATS)})")
    return FORMATS[suffix]


def _one_line(exc: BaseException, limit: int = 160) -> str:
    return " ".join(str(exc).split())[:limit] or type(exc).__name__


@dataclass
class Network:
    """A loaded network: input ``(height, width, channels)``, its ``layout`` (NHWC or NCHW), the
    number of outputs, and ``run(batch)`` over float32 NHWC batches returning ``(n, outputs)``."""

    format: str
    height: int
    width: int
    channels: int
    layout: str
    outputs: int
    run: object
    parameters: int | None = None
    keras_model: object = None  # for Grad-CAM


def image_input(shape, where: str) -> tuple[int, int, int, str]:
    """``(height, width, channels, layout)`` of a 4-D image input; refuses any other shape."""
    dims = [d if isinstance(d, (int, np.integer)) and d > 0 else None for d in list(shape)]
    if len(dims) == 4:
        if dims[3] in (1, 3) and dims[1] and dims[2]:
            return int(dims[1]), int(dims[2]), int(dims[3]), "NHWC"
        if dims[1] in (1, 3) and dims[2] and dims[3]:
            return int(dims[2]), int(dims[3]), int(dims[1]), "NCHW"
    raise ModelRefused(f"{where}: input shape {tuple(shape)} is not an image (expected batch x height x width "
                       f"x 1 or 3 channels, or batch x channels x height x width)")


def class_outputs(shape, where: str) -> int:
    dims = list(shape)
    if len(dims) != 2 or not isinstance(dims[1], (int, np.integer)) or dims[1] < 2:
        raise ModelRefused(f"{where}: output shape {tuple(shape)} is not one score per class (expected batch x classes)")
    return int(dims[1])


# ---------------------------------------------------------------------------------- Keras


def _keras_config(data: bytes, fmt: str) -> dict:
    """The model's architecture config, read without building anything."""
    import zipfile

    if fmt == "keras":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return json.loads(archive.read("config.json"))
        except (zipfile.BadZipFile, KeyError, ValueError, EOFError) as exc:
            raise ModelRefused(f"not a complete .keras file (a zip with config.json): truncated or damaged "
                               f"({_one_line(exc)})") from None
    import h5py

    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            config = handle.attrs.get("model_config")
    except (OSError, ValueError) as exc:
        raise ModelRefused(f"not a complete HDF5 file: truncated or damaged ({_one_line(exc)})") from None
    if config is None:
        raise ModelRefused("this .h5 file holds weights only, no model architecture (model_config)")
    return json.loads(config.decode() if isinstance(config, bytes) else config)


def _class_names(config) -> set[str]:
    found = set()
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            found.add(config["class_name"])
        for value in config.values():
            found |= _class_names(value)
    elif isinstance(config, list):
        for value in config:
            found |= _class_names(value)
    return found


def load_keras(data: bytes, fmt: str) -> Network:
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    from keras.src.saving import saving_lib

    config = _keras_config(data, fmt)
    if "Lambda" in _class_names(config):
        raise ModelRefused("the model has a Lambda layer (arbitrary Python code), which safe loading never runs")
    try:
        if fmt == "keras":
            model = saving_lib.load_model(io.BytesIO(data), compile=False, safe_mode=True)
        else:
            with h5py.File(io.BytesIO(data), "r") as handle:
                model = legacy_h5_format.load_model_from_hdf5(handle, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types; each becomes one line
        text = _one_line(exc)
        if "Could not locate" in text or "Unknown layer" in text or "custom" in text.lower():
            raise ModelRefused(f"the model uses a custom layer or object that safe loading does not run ({text})") from None
        raise ModelRefused(f"Keras cannot load this file ({text})") from None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelRefused(f"the model has {len(model.inputs)} inputs and {len(model.outputs)} outputs; one of each is needed")
    height, width, channels, layout = image_input(model.inputs[0].shape, "the model")
    outputs = class_outputs(model.outputs[0].shape, "the model")
    import tensorflow as tf

    shape = (None, height, width, channels) if layout == "NHWC" else (None, channels, height, width)
    # autograph off: it would write the converted source of this lambda to a temporary file
    forward = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec(shape, tf.float32)],
                          autograph=False)

    def run(batch: np.ndarray) -> np.ndarray:
        batch = batch if layout == "NHWC" else np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        return np.asarray(forward(batch), np.float64)

    return Network(fmt, height, width, channels, layout, outputs, run, int(model.count_params()), keras_model=model)


# ---------------------------------------------------------------------------------- ONNX and TFLite


def load_onnx(data: bytes) -> Network:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelRefused(f"onnxruntime cannot load this file: truncated or not an ONNX model ({_one_line(exc)})") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelRefused(f"the graph has {len(inputs)} inputs and {len(outputs)} outputs; one of each is needed")
    height, width, channels, layout = image_input(inputs[0].shape, "the graph")
    out_dims = [d if isinstance(d, int) else None for d in outputs[0].shape]
    classes = class_outputs(out_dims, "the graph")
    name = inputs[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        batch = batch if layout == "NHWC" else batch.transpose(0, 3, 1, 2)
        return np.asarray(session.run(None, {name: np.ascontiguousarray(batch, np.float32)})[0], np.float64)

    return Network("onnx", height, width, channels, layout, classes, run)


def load_tflite(data: bytes) -> Network:
    """TensorFlow 2.21 still ships ``tf.lite.Interpreter`` (deprecated in favour of ai-edge-litert, which
    is not installed); it reads a model from ``model_content`` bytes."""
    import warnings

    import tensorflow as tf

    try:
        with warnings.catch_warnings():  # its deprecation notice, on every load
            warnings.simplefilter("ignore", UserWarning)
            interpreter = tf.lite.Interpreter(model_content=bytes(data))
        interpreter.allocate_tensors()
    except Exception as exc:  # noqa: BLE001 - the interpreter raises ValueError/RuntimeError
        raise ModelRefused(f"TensorFlow Lite cannot load this file: truncated or not a .tflite model "
                           f"({_one_line(exc)})") from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelRefused(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; one of each is needed")
    height, width, channels, layout = image_input(inputs[0]["shape"], "the model")
    classes = class_outputs(outputs[0]["shape"], "the model")
    entry, exit_ = inputs[0], outputs[0]
    lock = threading.Lock()  # one interpreter, and Streamlit sessions call it from several threads

    def quantised(detail, values, inverse=False):
        scale, zero = detail.get("quantization", (0.0, 0))
        if not scale or detail["dtype"] == np.float32:
            return values.astype(detail["dtype"]) if not inverse else values.astype(np.float64)
        if inverse:
            return (values.astype(np.float64) - zero) * scale
        info = np.iinfo(detail["dtype"])
        return np.clip(np.round(values / scale + zero), info.min, info.max).astype(detail["dtype"])

    def run(batch: np.ndarray) -> np.ndarray:
        batch = batch if layout == "NHWC" else batch.transpose(0, 3, 1, 2)
        out = []
        with lock:
            for row in batch:  # one face at a time: converted models often fix the batch size at 1
                interpreter.set_tensor(entry["index"], quantised(entry, row[None]))
                interpreter.invoke()
                out.append(quantised(exit_, interpreter.get_tensor(exit_["index"]), inverse=True)[0])
        return np.asarray(out, np.float64).reshape(len(batch), classes)

    return Network("tflite", height, width, channels, layout, classes, run)


def load_network(data: bytes, fmt: str) -> Network:
    """The network in ``data`` (a file's bytes, in the format :func:`format_of` named)."""
    if not data:
        raise ModelRefused("the file is empty")
    if fmt in ("keras", "h5"):
        return load_keras(data, fmt)
    if fmt == "onnx":
        return load_onnx(data)
    if fmt == "tflite":
        return load_tflite(data)
    raise ModelRefused(f"unknown model format {fmt!r}")
