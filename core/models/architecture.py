"""The custom CNN: a compact VGG-style network for 48x48 grayscale faces (Keras 3).

Compute is spent where it pays: few channels at full resolution, more at 12x12 and 6x6. Each
stage is Conv3x3 -> BatchNorm -> ReLU (repeated), then 2x2 max-pooling and spatial dropout;
the head is global average pooling and flattening side by side, a 256-unit dense layer with
batch norm and dropout, and a softmax. Weight decay comes from the optimizer (AdamW).
"""
from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (filters per conv, in order) for each resolution stage: 48x48, 24x24, 12x12, 6x6
DEFAULT_STAGES: tuple[tuple[int, ...], ...] = ((32,), (64, 64), (128, 128), (256, 256))


def build_cnn(num_classes: int = 7, input_size: int = 48, stages=DEFAULT_STAGES, dense_units: int = 256,
              dropout: float = 0.4, name: str = "emotion_cnn"):
    """Build the (uncompiled) network. Input: float32 (batch, size, size, 1) scaled to [0, 1]."""
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 1), name="face")
    x = inputs
    for stage, filters in enumerate(stages, start=1):
        for conv, width in enumerate(filters, start=1):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"s{stage}_conv{conv}")(x)
            x = layers.BatchNormalization(name=f"s{stage}_bn{conv}")(x)
            x = layers.Activation("relu", name=f"s{stage}_relu{conv}")(x)
        x = layers.MaxPooling2D(name=f"s{stage}_pool")(x)
        x = layers.SpatialDropout2D(min(0.1 * stage, 0.3), name=f"s{stage}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout, name="head_drop1")(x)
    x = layers.Dense(dense_units, use_bias=False, name="head_dense")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.Activation("relu", name="head_relu")(x)
    x = layers.Dropout(dropout, name="head_drop2")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def multiply_adds(model) -> int:
    """Multiply-accumulate operations of one forward pass (convolutions and dense layers)."""
    import numpy as np
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += int(kh * kw * cin * cout * h * w)
        elif isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total
