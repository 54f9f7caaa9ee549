"""core.paths: the one project root, the environment-driven locations and the atomic write."""
from __future__ import annotations

import json

import pytest

from core import paths


def test_locations_follow_the_environment(monkeypatch, tmp_path):
    for name in ("EMOTION_MODELS_ROOT", "EMOTION_MODEL_DIR", "EMOTION_RUNS_ROOT", "EMOTION_BENCHMARKS"):
        monkeypatch.delenv(name, raising=False)
    assert paths.models_root() == paths.PROJECT_ROOT / "models"
    assert paths.model_dir() == paths.PROJECT_ROOT / "models" / "fer2013_cnn"
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path))
    assert paths.model_dir() == tmp_path / "fer2013_cnn"
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tmp_path / "x"))
    assert paths.model_dir() == tmp_path / "x"
    monkeypatch.setenv("EMOTION_RUNS_ROOT", "  ")  # blank: the default
    assert paths.runs_root() == paths.PROJECT_ROOT / "runs"


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.json"
    paths.write_json(target, {"b": 1, "a": 2}, sort_keys=True)
    assert target.read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'

    def broken(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        paths.atomic_write(target, broken)
    assert json.loads(target.read_text()) == {"a": 2, "b": 1} and list(tmp_path.iterdir()) == [target]
