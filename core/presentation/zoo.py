"""The model zoo for the About page: every registered model's status, provenance and licence, one row each.

Read from the registry (so a newly registered model appears with no page edit) and from each model's
``model.json`` (``provenance`` and ``licence``) where one exists; the built-in kinds fill in what their
cards do not say.
"""
from __future__ import annotations

from core.models import registry
from core.models.card import ModelCard, ModelCardError
from core.paths import models_root

# What the built-in families' cards leave out (our CNN's card records its run; DeepFace's its published figures).
KIND_DEFAULTS = {
    "cnn": {"source": "ours: trained in this project (python -m core train)", "licence": "this project's",
            "training_data": "FER2013 Training split (checkpoint chosen on PublicTest)",
            "test_split_exposure": "none: PrivateTest played no part in training or checkpoint choice"},
    "deepface": {"source": "DeepFace (serengil/deepface), weights fetched with make deepface-weights",
                 "upstream": "https://github.com/serengil/deepface",
                 "licence": "MIT", "training_data": "FER2013 (by DeepFace's author)",
                 "test_split_exposure": "not documented"},
}


def _card(spec) -> ModelCard | None:
    """The model's ``model.json``; for fer's model without one (another models root), its packaged card."""
    folder = spec.folder() if spec.folder is not None else models_root() / spec.name
    try:
        return ModelCard.read(folder)
    except ModelCardError:
        if spec.name == "fer_minixception":
            from core.models import fer_minixception

            return ModelCard.from_dict(fer_minixception.model_card())
        return None


def zoo_rows() -> list[dict]:
    """One row per registered model: name, status, source, licence, training data, test-split exposure."""
    rows = []
    status = registry.available()
    for spec in registry.specs():
        card = _card(spec)
        provenance = dict(KIND_DEFAULTS.get(spec.kind, {}))
        if card is not None and isinstance(card.provenance, dict):
            provenance.update({k: v for k, v in card.provenance.items() if isinstance(v, str)})
        licence = (card.extra.get("licence") if card is not None else None) or provenance.get("licence")
        if isinstance(licence, dict):
            licence = licence.get("name")
        upstream = provenance.get("upstream")
        rows.append({
            "model": spec.display_name or spec.name, "name": spec.name,
            "status": "ready" if status[spec.name].ready else f"unavailable: {status[spec.name].reason}",
            "source": provenance.get("source") or spec.description or "not recorded",
            "upstream": upstream or "",
            "licence": licence or "not recorded",
            "training data": provenance.get("training_data") or (card.training or {}).get("dataset", "not recorded")
            if card is not None else provenance.get("training_data", "not recorded"),
            "test splits seen in training?": provenance.get("test_split_exposure", "not recorded"),
        })
    return rows
