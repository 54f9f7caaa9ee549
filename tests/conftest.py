"""Shared fixtures: a tiny CNN model folder, DeepFace homes with and without weights, photos."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pylibsrtp  # noqa: F401  (aiortc's libsrtp segfaults when first loaded after TensorFlow, as the app's pages load it)
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


def fer2013_path() -> Path | None:
    """The FER2013 folder the app and the Makefile use: ``FER2013_DIR``, else ``../shared/datasets/fer2013``
    beside the project (``core.paths.dataset_dir_from_env``); ``None`` when neither holds the layout."""
    from core.paths import dataset_dir_from_env

    path = dataset_dir_from_env()
    return path if path is not None and (path / "train").is_dir() else None


@pytest.fixture(scope="session")
def fer2013_dir() -> Path:
    path = fer2013_path()
    if path is None:
        pytest.skip("no FER2013 folder (set FER2013_DIR, or put it at ../shared/datasets/fer2013) for dataset tests")
    return path


@pytest.fixture
def write_watch():
    """``with write_watch() as seen: ...``: every write-mode open, rename and removal inside the block
    (see ``tests/privacy_watch.py``); ``seen.writes`` lists them."""
    from privacy_watch import watch_writes

    return watch_writes


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working directory (cwd) and a private temporary directory (``tempfile.gettempdir()``)."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() recomputes from TMPDIR
    assert Path(tempfile.gettempdir()) == temp
    return work, temp
