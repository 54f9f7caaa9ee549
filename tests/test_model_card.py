"""core.models.card: the one reader and writer of model.json."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.models.card import ModelCard, ModelCardError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_round_trip_keeps_unknown_keys_and_their_order(tmp_path):
    data = {"name": "m", "kind": "keras-cnn", "labels": ["happy", "sad"], "description": "kept",
            "input": {"size": [48, 48]}, "future_field": {"x": 1}, "published": None}
    (tmp_path / "model.json").write_text(json.dumps(data))
    card = ModelCard.read(tmp_path)
    assert card.labels == ["happy", "sad"] and card.extra["future_field"] == {"x": 1}
    assert list(card.to_dict()) == list(data) and card.to_dict() == data
    card.write(tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "model.json").read_text()) == data


def test_written_cards_read_back(tmp_path):
    card = ModelCard(name="x", kind="keras-cnn", labels=["happy"], input={"size": [48, 48]},
                     preprocessing={"normalization": {"scale": 0.5, "offset": 1.0}})
    path = card.write(tmp_path)
    assert path == tmp_path / "model.json" and path.read_text().endswith("\n")
    again = ModelCard.read(tmp_path)
    assert again == card and again.input_size == (48, 48) and again.normalization == (0.5, 1.0)
    assert "training" not in again.to_dict()  # unset fields are not written


@pytest.mark.parametrize("text, problem, kind", [
    (None, "file is missing", "missing"),
    ("{oops", "corrupt JSON", "corrupt"),
    ("[1]", "expected a JSON object, found list", "invalid"),
    ('{"labels": []}', "field 'labels' must be a non-empty list", "invalid"),
    ('{"labels": ["happy"], "architecture": "big"}', "field 'architecture' must be an object", "invalid"),
])
def test_problems_are_one_line(tmp_path, text, problem, kind):
    if text is not None:
        (tmp_path / "model.json").write_text(text)
    with pytest.raises(ModelCardError) as info:
        ModelCard.read(tmp_path)
    assert problem in info.value.problem and info.value.kind == kind and "\n" not in str(info.value)


@pytest.mark.parametrize("folder", sorted(p.parent for p in (PROJECT_ROOT / "models").glob("*/model.json")))
def test_shipped_model_cards_load_unchanged(folder):
    stored = json.loads((folder / "model.json").read_text())
    card = ModelCard.read(folder)
    assert card.to_dict() == stored and card.name == folder.name


def test_deepface_card_carries_the_published_figure(tmp_path):
    from core.models.deepface import PUBLISHED_ACCURACY, deepface_card, published_accuracy_text

    card = ModelCard.read(deepface_card().write(tmp_path).parent)
    assert card.kind == "deepface" and card.extra["published"]["figures"]["fer2013-PublicTest"]["accuracy"] == 0.574
    assert PUBLISHED_ACCURACY["fer2013-PublicTest"] == 0.574 and published_accuracy_text() == "57.4%"


def test_untrained_model_writer_uses_the_card(tiny_model_dir):
    card = ModelCard.read(tiny_model_dir)
    assert card.kind == "keras-cnn" and card.input_size == (48, 48) and "UNTRAINED" in card.training["note"]
