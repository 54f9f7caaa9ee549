"""The model zoo for the About page: every registered model's status, provenance and licence, one row each.

Read from the registry's records (so a newly registered model appears with no page edit); a string
that a model's ``model.json`` ``provenance`` records (our CNN's card records its run) is shown
instead of the record's.
"""
from __future__ import annotations

from dataclasses import asdict

from core.models import registry
from core.models.card import ModelCard, ModelCardError
from core.paths import models_root
from core.presentation.places import without_server_paths


def _card_provenance(spec) -> dict:
    try:
        card = ModelCard.read(spec.artifacts_dir(models_root()))
    except ModelCardError:
        return {}
    return {k: v for k, v in (card.provenance or {}).items() if isinstance(v, str)}


def zoo_rows() -> list[dict]:
    """One row per registered model: name, status, source, licence, training data, test-split exposure."""
    rows = []
    status = registry.available()
    for spec in registry.specs():
        provenance = {**asdict(spec.provenance), **_card_provenance(spec)}
        rows.append({
            "model": spec.title, "name": spec.name,
            "status": without_server_paths(status[spec.name].status),
            "source": provenance.get("source") or spec.description or "not recorded",
            "upstream": provenance.get("upstream") or "",
            "licence": provenance.get("licence") or "not recorded",
            "training data": provenance.get("training_data") or "not recorded",
            "test splits seen in training?": provenance.get("test_split_exposure") or "not recorded",
        })
    return rows
