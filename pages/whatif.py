"""Compare's "what if": one face under a chosen corruption and severity, every model's answer on it beside
its answer on the original. Not a page: :func:`show` draws inside a face's card on Compare."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.analysis import corruptions
from core.analysis.classify import classify
from core.presentation import charts
from core.presentation.annotate import to_rgb


def _answer(prediction) -> str:
    return f"{prediction.dominant} {prediction.confidence:.0%}"


def show(models, photo_key: tuple, face: dict, crop: np.ndarray, calibrated: bool = True) -> None:
    """A toggle; when on, a corruption picker and a severity slider, the original and corrupted crops (the
    models' input framing, BGR) and each model's answer on both. Nothing is stored."""
    key = f"whatif-{hash(photo_key)}-{face['face']}"
    if not st.toggle("What if: darker, blurred, compressed, smaller, tilted, masked…", key=f"{key}-on",
                     help="Corrupt this face as the Robustness page does and see whether each model's answer holds."):
        return
    pick, level = st.columns([2, 3])
    name = pick.selectbox("Corruption", list(corruptions.BY_NAME), key=f"{key}-family",
                          format_func=lambda n: corruptions.BY_NAME[n].title)
    family = corruptions.BY_NAME[name]
    severity = level.slider("Severity", 0, 5, 3, key=f"{key}-severity",
                            help=f"{family.parameter}: " + ", ".join(
                                f"{s}: {'none' if v is None else v}" for s, v in enumerate(family.values)))
    corrupted = corruptions.corrupt_colour(crop, name, severity, key=f"face{face['face']}")
    columns = st.columns([1, 1, 3], vertical_alignment="center")
    columns[0].image(to_rgb(crop), caption="original", width="stretch")
    columns[1].image(to_rgb(corrupted), width="stretch",
                     caption=f"{family.title.lower()}, severity {severity} ({family.parameter} "
                             f"{'none' if family.value(severity) is None else family.value(severity)})")
    with columns[2]:
        for model, classifier in models.analyzer.classifiers.items():
            try:
                before, after = classify(classifier, [crop, corrupted], calibrated)
            except Exception as exc:  # noqa: BLE001 - one model failing must not stop the others
                st.caption(f"{charts.display_name(model)}: failed ({type(exc).__name__})")
                continue
            mark = ":green[holds]" if before.dominant == after.dominant else ":orange[changes]"
            st.markdown(f"**{charts.display_name(model)}**: {_answer(before)} → {_answer(after)} · {mark}")
