"""The one renderer of an evaluation report: Evaluation, Your data and About draw their scores here.

Not a page (streamlit_app.py lists the pages). The tables and figures come from
:mod:`core.presentation.report`; this module only lays them out and formats the columns.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from core.presentation import report, significance
from core.presentation.cells import cell_from_selection, with_click_targets
from core.presentation.report import HEADLINE_COLUMNS, ModelScores
from pages import cell_links
from pages.common import column_rows

SECTIONS = ("metrics", "headline", "significance", "confusion", "calibration", "per_class", "confusions")


def _formats(columns) -> dict:
    return {c: st.column_config.NumberColumn(format=f) for c, f in report.FORMATS.items() if c in columns}


def show(scores: Sequence[ModelScores], *, key: str, sections: Sequence[str] = SECTIONS,
         columns: Sequence[str] = HEADLINE_COLUMNS, images: str = "test images",
         on_cell: Callable[[ModelScores, str, str], None] | None = None, cell_action: str = "Show the faces") -> None:
    """Draw ``sections`` of the report on ``scores`` (any of :data:`SECTIONS`, in the order given).

    ``key`` prefixes every element's key (one report per page); ``columns`` are the headline table's
    (see :func:`core.presentation.report.headline_table`), ``images`` what was scored, for the help texts.
    ``on_cell(score, true, predicted)``: the confusion matrices become clickable (and a picker with the
    button ``cell_action`` follows them); it is called when a cell is newly clicked or picked.
    """
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise ValueError(f"unknown report sections: {', '.join(sorted(unknown))}")
    draw = {"metrics": lambda: _metrics(scores, images), "headline": lambda: _headline(scores, key, columns),
            "significance": lambda: _significance(scores, key), "confusion": lambda: _confusion(scores, key, on_cell, cell_action), "calibration": lambda: _calibration(scores, key),
            "per_class": lambda: _per_class(scores, key), "confusions": lambda: _confusions(scores, key)}
    for section in sections:
        draw[section]()


def _headline(scores: Sequence[ModelScores], key: str, columns: Sequence[str]) -> None:
    table = report.headline_table(scores, columns=columns)
    st.dataframe(table, hide_index=True, key=f"{key}-headline", column_config=_formats(table.columns))


def _per_class(scores: Sequence[ModelScores], key: str) -> None:
    st.subheader("Per-class precision, recall and F1")
    st.plotly_chart(report.per_class_figure(scores), key=f"{key}-per-class-chart")
    table = report.per_class_table(scores)
    st.dataframe(table, hide_index=True, key=f"{key}-per-class-table",
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns
                                if not c.endswith("support") and c != "emotion"})


def _metrics(scores: Sequence[ModelScores], images: str) -> None:
    """Each model's accuracy and macro F1 side by side, in one row."""
    columns = iter(st.columns(max(4, 2 * len(scores))))
    for headline in report.headline_metrics(scores, images=images):
        column = next(columns)
        column.metric(headline.label, headline.value, delta=headline.delta, help=headline.help)
        if headline.interval:
            column.caption(headline.interval)


def _significance(scores: Sequence[ModelScores], key: str) -> None:
    """Is the difference real? Each pair's sentence and table, the baselines and the absent classes."""
    by_model = {s.name: s.metrics for s in scores}
    for line in dict.fromkeys(filter(None, (significance.baselines_caption(s.metrics) for s in scores))):
        st.caption(line)
    for line in dict.fromkeys(filter(None, (significance.absent_caption(s.metrics) for s in scores))):
        st.caption(line)
    table = significance.comparison_table(by_model)
    if table is None:
        return
    st.subheader("Is the difference real?")
    for sentence in significance.comparison_sentences(by_model):
        st.markdown(f"- {sentence}")
    st.dataframe(table, hide_index=True, key=f"{key}-comparisons",
                 column_config={"A − B (points)": st.column_config.NumberColumn(format="%+.1f"),
                                "McNemar p": st.column_config.NumberColumn(format="%.2g")})
    with st.expander("How to read the intervals and the test"):
        st.markdown(significance.READING)


def _clicked(event, score: ModelScores, key: str) -> tuple[str, str] | None:
    """The cell newly selected on this model's matrix (a selection kept from an earlier run is not new)."""
    cell = cell_from_selection(event, score.metrics["confusion_matrix"]["labels"])
    seen_key = f"{key}-cm-{score.name}-seen"
    if cell == st.session_state.get(seen_key):
        return None
    st.session_state[seen_key] = cell
    return cell


def _confusion(scores: Sequence[ModelScores], key: str, on_cell=None, cell_action: str = "") -> None:
    st.subheader("Confusion matrices")
    mode = st.segmented_control("Show", ["counts", "row-normalised"], default="counts", key=f"{key}_cm_mode",
                                required=True,
                                help="Row-normalised: each row divided by the number of images of that true emotion, "
                                     "so the diagonal is the per-class recall.")
    chosen = []
    for column, score in zip(column_rows(len(scores)), scores):
        figure = report.confusion_figure(score, normalize=mode == "row-normalised")
        if on_cell is None:
            column.plotly_chart(figure, key=f"{key}-cm-{score.name}")
            continue
        figure = with_click_targets(figure, score.metrics["confusion_matrix"]["labels"])
        event = column.plotly_chart(figure, key=f"{key}-cm-{score.name}", on_select="rerun", selection_mode="points")
        cell = _clicked(event, score, key)
        if cell is not None:
            chosen.append((score, *cell))
    if on_cell is None:
        return
    st.caption("Click a cell to see the faces behind it, or pick one here:")
    picked = cell_links.picker(scores, key, cell_action)
    for score, true, predicted in chosen + ([picked] if picked else []):
        on_cell(score, true, predicted)


def _calibration(scores: Sequence[ModelScores], key: str) -> None:
    st.subheader("How far to trust the confidence")
    st.caption(report.CALIBRATION_INTRO)
    for column, score in zip(column_rows(len(scores)), scores):
        with column:
            st.markdown(f"**{score.label}**")
            figure, table = report.reliability(score), report.calibration_table(score)
            if figure is not None:
                st.plotly_chart(figure, key=f"{key}-reliability-{score.name}")
                st.dataframe(table, hide_index=True, key=f"{key}-calibration-{score.name}",
                             column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns
                                            if c != "measure"})
            st.caption(report.calibration_note(score))


def _confusions(scores: Sequence[ModelScores], key: str) -> None:
    st.subheader("Most frequent confusions")
    st.caption("Off-diagonal cells of the confusion matrix, largest first; the Mistakes page shows the images.")
    for column, score in zip(st.columns(len(scores)), scores):
        with column:
            st.markdown(f"**{score.label}**")
            table = report.confusions_table(score)
            if table is None:
                st.caption("No confusions: every image was classified correctly.")
            else:
                st.dataframe(table, hide_index=True, key=f"{key}-confusions-{score.name}",
                             column_config=_formats(table.columns))
