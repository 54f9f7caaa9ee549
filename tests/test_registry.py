"""core.models.registry: every model found by name or folder in one place; a third model is a registration."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.pipeline import AnalysisOptions, Analyzer, load_classifiers
from core.labels import FER2013_LABELS
from core.models import registry
from core.models.base import ARRAY_BATCHES, FULL_PHOTO_PIPELINE, EmotionClassifier, ModelUnavailable
from core.models.registry import Availability, ModelSpec


def test_builtin_names_and_aliases():
    assert registry.names()[:3] == ["fer2013_cnn", "fer_minixception", "deepface"]
    assert registry.resolve("cnn") is registry.resolve("fer2013_cnn")
    spec = registry.resolve("deepface")
    assert (spec.name, spec.kind, spec.title, spec.slow) == ("deepface", "deepface", "DeepFace", True)
    assert registry.resolve("fer") is registry.resolve("fer_minixception")
    # one id everywhere: aliases are only a way to type it
    assert registry.expand_cli_choice("cnn,fer,fer2013_cnn") == ["fer2013_cnn", "fer_minixception"]
    colours = [spec.colour for spec in registry.specs()]
    assert len(set(colours)) == len(colours)


def test_unknown_name_says_what_exists(tmp_path):
    with pytest.raises(ModelUnavailable, match="no model 'nope'.*fer2013_cnn, fer_minixception, deepface"):
        registry.resolve("nope", tmp_path)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        registry.load("nope")


def test_emotion_model_dir_is_honoured_by_every_path(monkeypatch, tmp_path, tiny_model_dir):
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tmp_path))  # holds no fer2013_cnn
    assert registry.cnn_folder() == tiny_model_dir
    assert registry.available()["fer2013_cnn"] == Availability(True, "", str(tiny_model_dir))
    by_name = registry.get("fer2013_cnn")
    classifiers, unavailable = load_classifiers("cnn")
    from core.bench.standins import resolve_model_dir

    assert resolve_model_dir()[0] == tiny_model_dir
    for classifier in (by_name, classifiers["fer2013_cnn"]):
        assert classifier.model_dir == tiny_model_dir
        assert (classifier.name, classifier.kind, classifier.display_name) == ("fer2013_cnn", "cnn", "CNN")
        assert ARRAY_BATCHES in classifier.capabilities and classifier.labels == FER2013_LABELS
    assert unavailable == {}


def test_missing_cnn_folder_is_unavailable_with_the_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tmp_path / "gone"))
    status = registry.available()["fer2013_cnn"]
    assert not status.ready and "model.json is missing" in status.reason and str(tmp_path / "gone") in status.reason
    classifiers, unavailable = load_classifiers("cnn")
    assert classifiers == {} and "model.json is missing" in unavailable["fer2013_cnn"]


def test_a_folder_path_or_a_folder_name_is_a_model(tmp_path, tiny_model_dir):
    assert registry.get(tiny_model_dir).model_dir == tiny_model_dir
    assert registry.get("tiny_cnn", tiny_model_dir.parent).model_dir == tiny_model_dir
    # an explicit models folder holding fer2013_cnn wins over the default one
    (tmp_path / "fer2013_cnn").symlink_to(tiny_model_dir, target_is_directory=True)
    assert registry.resolve("fer2013_cnn", tmp_path).factory is not registry.resolve("fer2013_cnn").factory


def test_deepface_without_weights_is_unavailable_with_path_and_fix(without_deepface):
    status = registry.available()["deepface"]
    assert not status.ready and status.status.startswith("unavailable: weights missing at ")
    assert str(without_deepface) in status.reason and "make deepface-weights" in status.reason
    classifiers, unavailable = registry.load("deepface")
    assert classifiers == {} and "facial_expression_model_weights.h5" in unavailable["deepface"]


def test_deepface_with_weights_is_ready(with_deepface):
    assert registry.available()["deepface"].ready
    classifier = registry.get("deepface")  # plumbing only: stand-in weights, meaningless predictions
    assert classifier.kind == "deepface" and FULL_PHOTO_PIPELINE in classifier.capabilities


class Constant(EmotionClassifier):
    """A third model: always says 'happy'; with its own whole-photo pipeline."""

    kind = "constant"
    capabilities = frozenset({FULL_PHOTO_PIPELINE})

    def __init__(self):
        self.name, self.labels = "constant", FER2013_LABELS

    def predict(self, faces):
        out = np.zeros((len(faces), len(self.labels)))
        out[:, self.labels.index("happy")] = 1.0
        return out

    def analyze_image(self, image):
        return [{"region": {"x": 1, "y": 2, "w": 30, "h": 40}, "face_confidence": 0.9,
                 "probabilities": self.predict([image])[0]}]


@pytest.fixture
def third_model():
    spec = registry.register(ModelSpec(name="constant", kind="constant", display_name="Constant",
                                       factory=lambda **options: Constant(),
                                       availability=lambda: Availability(True, "", "built in")))
    yield spec
    registry.unregister("constant")


def test_a_third_model_is_a_registration(third_model, astronaut, monkeypatch):
    assert "constant" in registry.names() and registry.available()["constant"].ready
    with pytest.raises(ValueError, match="already registered"):
        registry.register(third_model)
    classifiers, unavailable = load_classifiers("constant")
    assert list(classifiers) == ["constant"] and unavailable == {}
    analyzer = Analyzer(classifiers)
    crops = analyzer.analyze(astronaut).to_dict()
    assert crops["faces"] and crops["faces"][0]["models"]["constant"]["dominant_emotion"] == "happy"
    # its full-photo capability is used in "full" mode, with no edit of the pipeline
    full = analyzer.analyze(astronaut, options=AnalysisOptions(deepface_mode="full")).to_dict()
    regions = [f.get("deepface_region") for f in full["faces"]]
    assert {"x": 1, "y": 2, "w": 30, "h": 40} in regions


def test_models_command_lists_every_model(third_model, without_deepface, capsys):
    import json

    from core.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_name = {line.split()[0]: line for line in lines}
    assert set(by_name) >= {"fer2013_cnn", "deepface", "constant"}
    assert "unavailable: weights missing at " in by_name["deepface"] and str(without_deepface) in by_name["deepface"]
    assert by_name["constant"].split()[1] == "ready"
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["deepface"]["status"] == "unavailable" and "make deepface-weights" in listed["deepface"]["reason"]
    assert {k: listed["constant"][k] for k in ("name", "ready", "status", "reason", "location", "display_name")} == {
        "name": "constant", "ready": True, "status": "ready", "reason": None, "location": "built in",
        "display_name": "Constant"}
    assert listed["deepface"]["capabilities"]["slow"] is True and listed["fer2013_cnn"]["color"] == "#1f6fb4"
    assert main(["models", "--ready"]) == 0
    ready = capsys.readouterr().out.split()
    assert "constant" in ready and "deepface" not in ready


def test_models_command_lists_other_model_folders(monkeypatch, tmp_path, tiny_model_dir, capsys):
    from core.cli import main

    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tiny_model_dir.parent))
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tmp_path / "no_cnn_here"))
    assert main(["models"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["tiny_cnn"].split()[1] == "ready"
    assert "unavailable: no CNN model at" in lines["fer2013_cnn"]


def test_readme_models_table_says_what_the_records_say():
    """README's table of built-in models is checked against the registry: ids, aliases, display names,
    input size and the slow capability; a model registered without a row fails here."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- models table: checked against the registry by tests/test_registry.py -->", 1)[1]
    rows = [line for line in table.strip().split("\n\n", 1)[0].splitlines()[2:] if line.startswith("|")]
    cells = {re.search(r"`([^`]+)`", row.split("|")[1]).group(1): [c.strip() for c in row.split("|")[1:-1]]
             for row in rows}
    assert list(cells) == registry.names()
    for spec in registry.specs():
        ident, shown, given_input, slow = cells[spec.name][:4]
        assert all(f"`{alias}`" in ident for alias in spec.aliases)
        assert shown == spec.title and slow == ("yes" if spec.slow else "no")
        height, width = spec.preprocessing.size
        assert given_input.startswith(f"{width}x{height} {spec.preprocessing.channels}")
