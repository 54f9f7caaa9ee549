"""Shared fixtures: a tiny CNN model folder, DeepFace homes with and without weights, photos."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def write_tiny_model(out: Path) -> Path:
    """A small, untrained CNN saved the way shipped models are (model.keras + model.json)."""
    from core.bench.standins import write_untrained_model

    return write_untrained_model(out, seed=7, stages=((8,), (16,)), dense_units=16)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny_cnn")


@pytest.fixture(scope="session")
def stand_in_deepface_home(tmp_path_factory) -> Path:
    """A DEEPFACE_HOME holding an architecture-identical emotion weights file with fixed random
    weights: the real DeepFace code runs, but its outputs say nothing about accuracy."""
    from core.models.deepface_weights import write_stand_in_weights

    home = tmp_path_factory.mktemp("deepface_home")
    write_stand_in_weights(home)
    return home


@pytest.fixture
def with_deepface(monkeypatch, stand_in_deepface_home) -> Path:
    monkeypatch.setenv("DEEPFACE_HOME", str(stand_in_deepface_home))
    return stand_in_deepface_home


@pytest.fixture
def without_deepface(monkeypatch, tmp_path) -> Path:
    home = tmp_path / "empty_deepface_home"
    home.mkdir()
    monkeypatch.setenv("DEEPFACE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from core.media.images import example_photo

    return example_photo()


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    value = os.environ.get("FER2013_DIR")
    if not value:
        pytest.skip("FER2013_DIR is not set (point it at the FER2013 folder layout to run dataset tests)")
    path = Path(value)
    if not (path / "train").is_dir():
        pytest.skip(f"FER2013_DIR={value} has no train/ folder")
    return path
