"""From a confusion-matrix cell to the faces behind it (not a page).

Evaluation's cells open Mistakes on that model and (true, predicted) pair: :func:`open_in_mistakes` leaves a
:class:`Focus` in the session and switches page, and Mistakes starts its widgets there
(:func:`take_focus`). Your data's cells show the upload's images of that cell, from memory (:func:`faces`).
A click on a matrix and the picker under the matrices do the same thing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from core.presentation.cells import cell_rows

FOCUS_KEY = "mistakes_focus"
GALLERY_SIZE = 24


@dataclass(frozen=True)
class Focus:
    """Where Mistakes should open: the split's key, the model's id and the cell."""

    key: str
    model: str
    true: str
    predicted: str


def open_in_mistakes(key: str, model: str, true: str, predicted: str) -> None:
    if true == predicted:
        st.info(f"That cell holds the {true} faces the model got right; Mistakes shows the cells off the diagonal.",
                icon=":material/info:")
        return
    st.session_state[FOCUS_KEY] = Focus(key, model, true, predicted)
    st.switch_page("pages/mistakes.py")


def take_focus() -> Focus | None:
    """The cell Mistakes was opened on (once: later runs keep the user's own choices)."""
    return st.session_state.pop(FOCUS_KEY, None)


def picker(scores: Sequence, key: str, action: str):
    """Model, true and predicted emotion, and a button: ``(score, true, predicted)`` on the run it is
    pressed, else None. Starts on the first model's largest confusion."""
    c1, c2, c3, c4 = st.columns([2, 2, 2, 2], vertical_alignment="bottom")
    names = [s.name for s in scores]
    score = scores[names.index(c1.selectbox("Model", names, format_func=lambda n: scores[names.index(n)].label,
                                            key=f"{key}_cell_model"))]
    matrix = score.metrics["confusion_matrix"]
    labels, counts = matrix["labels"], matrix["counts"]
    top = (score.metrics.get("top_confusions") or [{}])[0]
    true = c2.selectbox("True emotion", labels, key=f"{key}_cell_true_{score.name}",
                        index=labels.index(top["true"]) if top.get("true") in labels else 0)
    row = counts[labels.index(true)]
    default = top["predicted"] if top.get("true") == true and top.get("predicted") in labels else \
        max(labels, key=lambda label: (row[labels.index(label)] if label != true else -1))
    predicted = c3.selectbox("Predicted as", labels, index=labels.index(default),
                             key=f"{key}_cell_predicted_{score.name}_{true}",
                             format_func=lambda label: f"{label} ({row[labels.index(label)]} images)")
    if c4.button(action, key=f"{key}_cell_open", icon=":material/grid_view:"):
        return score, true, predicted
    return None


def faces(report, model: str, true: str, predicted: str) -> None:
    """The upload's images of one cell of ``model``'s matrix, from memory, most confident first."""
    result = report.results[model]
    rows = cell_rows(result.predictions, true, predicted)
    verdict = "right" if true == predicted else f"called {predicted}"
    st.markdown(f"**{len(rows)} `{true}` images** {result.display_name} {verdict}"
                + (f" (the {GALLERY_SIZE} most confident shown)" if len(rows) > GALLERY_SIZE else "") + ".")
    if rows.empty:
        return
    dataset = report.faces_for(model)  # detected faces as this model saw them
    records = {r.rel_path: r for r in dataset.records}
    grid = st.columns(6)
    for i, row in enumerate(rows.head(GALLERY_SIZE).itertuples(index=False)):
        with grid[i % 6]:
            st.image(dataset.read(records[row.path], grayscale=False), channels="BGR", width="stretch")
            st.caption(f"true **{row.true}**, predicted **{row.predicted}** ({row.confidence:.0%})")
