"""One confusion-matrix cell: which (true, predicted) pair a click on the chart named, and the faces in it.

The pages draw the matrices (:func:`core.presentation.report.confusion_figure`) as Streamlit plotly charts
that report point selections; these helpers read the clicked cell out of the selection and pick the
prediction rows behind it, so Evaluation can open Mistakes on that pair and Your data can show the
in-memory images.

Examples
--------
>>> event = {"selection": {"points": [{"x": "surprise", "y": "fear", "z": 6}]}}
>>> cell_from_selection(event, ["fear", "surprise"])
('fear', 'surprise')
>>> cell_from_selection({"selection": {"points": []}}, ["fear"]) is None
True
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd


def _points(selection) -> list:
    if selection is None:
        return []
    inner = selection.get("selection") if isinstance(selection, Mapping) else getattr(selection, "selection", None)
    points = inner.get("points") if isinstance(inner, Mapping) else getattr(inner, "points", None)
    return list(points or [])


def cell_from_selection(selection, labels: Sequence[str]) -> tuple[str, str] | None:
    """``(true, predicted)`` of the last cell selected on a confusion matrix (rows true, columns
    predicted), or None when nothing (or nothing on the matrix) is selected."""
    labels = list(labels)
    for point in reversed(_points(selection)):
        if not isinstance(point, Mapping):
            continue
        true, predicted = point.get("y"), point.get("x")
        if true in labels and predicted in labels:
            return str(true), str(predicted)
        index = point.get("point_index", point.get("point_number"))
        if isinstance(index, (list, tuple)) and len(index) == 2 and all(0 <= int(i) < len(labels) for i in index):
            return labels[int(index[0])], labels[int(index[1])]
    return None


def with_click_targets(figure, labels: Sequence[str]):
    """The confusion figure with one invisible marker on each cell, for clicks to select.

    Plotly heatmaps cannot be selected, so a click on one selects nothing; a scatter trace can. The
    markers carry the heatmap's own hover text, so hovering looks the same.
    """
    import plotly.graph_objects as go

    heatmap = figure.data[0]
    labels = list(labels)
    xs = [p for _t in labels for p in labels]
    ys = [t for t in labels for _p in labels]
    custom = [cell for row in heatmap.customdata for cell in row] if heatmap.customdata is not None else None
    figure.add_trace(go.Scatter(x=xs, y=ys, mode="markers", customdata=custom, hovertemplate=heatmap.hovertemplate,
                                marker=dict(size=8, opacity=0.0, color="#000"), showlegend=False, name="cells"))
    # Fixed ranges keep the markers from padding the axes; no hover cut-off lets a click anywhere in a
    # cell pick that cell's marker (the nearest one).
    figure.update_xaxes(range=[-0.5, len(labels) - 0.5], autorange=False)
    figure.update_yaxes(range=[len(labels) - 0.5, -0.5], autorange=False)
    figure.update_layout(clickmode="event+select", dragmode=False, hoverdistance=-1)
    return figure


def cell_rows(predictions: pd.DataFrame, true: str, predicted: str, limit: int | None = None) -> pd.DataFrame:
    """The prediction rows of one cell (``true`` called ``predicted``), most confident first."""
    rows = predictions[(predictions["true"] == true) & (predictions["predicted"] == predicted)]
    rows = rows.sort_values(["confidence", "path"], ascending=[False, True]).reset_index(drop=True)
    return rows if limit is None else rows.head(limit)


def cell_counts(predictions: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Images per (true, predicted) cell."""
    return {(t, p): int(n) for (t, p), n in predictions.groupby(["true", "predicted"]).size().items()}


def top_cell(predictions: pd.DataFrame, labels: Sequence[str]) -> tuple[str, str]:
    """The largest off-diagonal cell (the first label pair when the model made no mistake)."""
    counts = {cell: n for cell, n in cell_counts(predictions).items() if cell[0] != cell[1]}
    if not counts:
        return labels[0], labels[1 if len(labels) > 1 else 0]
    return max(counts, key=lambda cell: (counts[cell], -list(labels).index(cell[0]) if cell[0] in labels else 0))
