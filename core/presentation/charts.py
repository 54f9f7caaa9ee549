"""Plotly figure builders for the dashboards. Pure functions: data in, ``go.Figure`` out.

Each model keeps one colour and one name everywhere, read from its record
(:func:`core.models.registry.describe`). Nothing here imports Streamlit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.models import registry

# The learning curves are all the CNN's: training and validation in the CNN's blue family (light,
# dotted for training; full for validation), so that orange keeps meaning DeepFace on every page.
TRAIN_COLOR, VAL_COLOR, BEST_COLOR = "#8cb8e0", "#1f6fb4", "#2e8b57"


def display_name(model: str) -> str:
    """The name people read for a model id (``fer2013_cnn`` -> ``CNN``), from its record."""
    return registry.describe(model).title


def model_color(model: str) -> str:
    """The model's colour on every page, from its record."""
    return registry.describe(model).colour


def model_scale(model: str | None) -> list[list]:
    """A sequential colour scale from white to the model's colour (the CNN's blue when none is named)."""
    return [[0.0, "#ffffff"], [1.0, model_color(model or "fer2013_cnn")]]


def _layout(fig: go.Figure, title: str | None, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title) if title else None, height=height,
                      margin=dict(l=10, r=10, t=50 if title else 20, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1))
    return fig


def probability_bars(models: Mapping[str, Mapping[str, float]], labels: Sequence[str] | None = None,
                     title: str | None = None, percent: bool = True, height: int = 300) -> go.Figure:
    """Both models' probabilities for one face, side by side in one grouped bar chart.

    ``models`` maps a model name to ``{label: value}``: percentages (0-100, as in
    ``PhotoResult.to_dict``) when ``percent`` is true, probabilities (0-1) otherwise. ``labels``
    fixes the order on the x axis (default: the union, in first-seen order); a label a model does
    not know is drawn as 0 for that model.
    """
    if labels is None:
        labels = list(dict.fromkeys(label for emotions in models.values() for label in emotions))
    fig = go.Figure()
    for name, emotions in models.items():
        values = [float(emotions.get(label, 0.0)) * (1.0 if percent else 100.0) for label in labels]
        top = int(np.argmax(values)) if values else -1
        fig.add_trace(go.Bar(
            name=display_name(name), x=list(labels), y=values, marker_color=model_color(name),
            text=[f"{v:.0f}%" if j == top else "" for j, v in enumerate(values)], textposition="outside",
            cliponaxis=False,
            marker_line_width=[2.5 if j == top else 0 for j in range(len(values))],
            marker_line_color="#222",
            hovertemplate=f"{display_name(name)}<br>%{{x}}: %{{y:.1f}}%<extra></extra>"))
    fig.update_layout(barmode="group", bargap=0.25)
    ticks = [0, 25, 50, 75, 100]
    fig.update_yaxes(title_text="probability", range=[0, 110], tickvals=ticks, ticktext=[f"{t}%" for t in ticks])
    fig.update_xaxes(title_text="emotion")
    return _layout(fig, title, height)


def training_curves(history: pd.DataFrame, best_epoch: int | None = None, title: str | None = None,
                    height: int = 720) -> go.Figure:
    """Accuracy, loss and learning rate per epoch, training vs validation, best epoch marked.

    ``history`` is what :func:`core.presentation.artifacts.read_history` returns (``epoch_number`` 1-based);
    ``best_epoch`` is a 1-based epoch number (see :func:`core.presentation.artifacts.best_epoch`).
    """
    x = history["epoch_number"] if "epoch_number" in history else history["epoch"] + 1
    has_lr = "learning_rate" in history and history["learning_rate"].notna().any()
    rows = 3 if has_lr else 2
    titles = ["Accuracy", "Loss"] + (["Learning rate"] if has_lr else [])
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.08)
    for row, metric in ((1, "accuracy"), (2, "loss")):
        for column, name, color, dash in ((metric, "training", TRAIN_COLOR, "dot"),
                                          (f"val_{metric}", "validation", VAL_COLOR, "solid")):
            fig.add_trace(go.Scatter(x=x, y=history[column], mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=row == 1, marker=dict(size=4),
                                     line=dict(color=color, dash=dash),
                                     hovertemplate=f"{name} {metric}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>"),
                          row=row, col=1)
    if has_lr:
        fig.add_trace(go.Scatter(x=x, y=history["learning_rate"], mode="lines", name="learning rate",
                                 line=dict(color="#555"), showlegend=False,
                                 hovertemplate="epoch %{x}: %{y:.2e}<extra></extra>"), row=3, col=1)
        fig.update_yaxes(exponentformat="e", row=3, col=1)
    if best_epoch is not None:
        for row in range(1, rows + 1):
            fig.add_vline(x=best_epoch, line=dict(color=BEST_COLOR, dash="dash", width=2), row=row, col=1)
        match = history[x == best_epoch]
        if not match.empty:
            value = float(match["val_accuracy"].iloc[0])
            # Label on the side with room, so a late chosen epoch's label is not cut off at the right edge.
            label_side = "bottom left" if best_epoch > (x.min() + x.max()) / 2 else "bottom right"
            fig.add_trace(go.Scatter(x=[best_epoch], y=[value], mode="markers+text", name=f"chosen epoch {best_epoch}",
                                     marker=dict(color=BEST_COLOR, size=13, symbol="star"),
                                     text=[f"epoch {best_epoch}: {value:.1%}"], textposition=label_side,
                                     hovertemplate="chosen epoch %{x}<br>validation accuracy %{y:.4f}<extra></extra>"),
                          row=1, col=1)
    fig.update_yaxes(title_text="accuracy", tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="loss", row=2, col=1)
    if has_lr:
        fig.update_yaxes(title_text="rate", row=3, col=1)
    fig.update_xaxes(title_text="epoch", row=rows, col=1)
    return _layout(fig, title, height)


def confusion_heatmap(labels: Sequence[str], counts, normalize: bool = False, title: str | None = None,
                      height: int = 480, model: str | None = None) -> go.Figure:
    """Confusion matrix, rows = true, columns = predicted: counts, or each row divided by its total.

    ``model`` picks the colour scale of that model's colour (blues for the CNN, oranges for DeepFace).
    """
    matrix = np.asarray(counts, dtype=np.float64).reshape(len(labels), len(labels))
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    z = shares if normalize else matrix
    text = [[f"{v:.0%}" if normalize else f"{int(v)}" for v in row] for row in z]
    custom = np.dstack([matrix, shares]).tolist()
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=list(labels), y=list(labels), colorscale=model_scale(model), text=text, texttemplate="%{text}",
        customdata=custom, zmin=0, zmax=1 if normalize else None,
        colorbar=dict(title="share of row" if normalize else "images", tickformat=".0%" if normalize else None),
        hovertemplate="true %{y}, predicted %{x}<br>%{customdata[0]:.0f} images (%{customdata[1]:.1%} of the true class)"
                      "<extra></extra>"))
    fig.update_xaxes(title_text="predicted", side="bottom")
    fig.update_yaxes(title_text="true", autorange="reversed")
    return _layout(fig, title, height)


def per_class_bars(per_class: Mapping[str, Mapping[str, Mapping[str, float]]], labels: Sequence[str] | None = None,
                   title: str | None = None, height: int = 360) -> go.Figure:
    """Precision, recall and F1 per class (one panel each), one bar colour per model.

    ``per_class`` maps a model name to ``{label: {"precision", "recall", "f1", ...}}`` (the
    ``per_class`` field of ``metrics.json``). Classes a model does not have are left empty.
    """
    if labels is None:
        labels = list(dict.fromkeys(label for values in per_class.values() for label in values))
    metrics = ("precision", "recall", "f1")
    fig = make_subplots(rows=1, cols=3, shared_yaxes=True, subplot_titles=("Precision", "Recall", "F1"),
                        horizontal_spacing=0.03)
    for model, values in per_class.items():
        for col, metric in enumerate(metrics, start=1):
            y = [values[label][metric] if label in values else None for label in labels]
            fig.add_trace(go.Bar(name=display_name(model), x=list(labels), y=y, marker_color=model_color(model),
                                 legendgroup=model, showlegend=col == 1,
                                 hovertemplate=f"{display_name(model)}<br>%{{x}} {metric}: %{{y:.3f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(title_text="score", row=1, col=1)
    fig.update_xaxes(title_text="emotion", tickangle=-45)
    _layout(fig, title, height)
    fig.update_layout(legend=dict(y=1.12), margin=dict(t=80))  # above the panel titles
    return fig
