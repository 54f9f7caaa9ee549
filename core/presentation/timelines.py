"""Plotly timelines of emotion probabilities (live stream and video files) and their readout tables.

Input rows are the live/video row dicts (``time_s``, ``face``, ``model``, ``p_<label>`` in percent).
One figure per model and face, never an average of two faces; the y axis is fixed at 0-100 % so
charts can be compared at a glance, and the legend sits below the plot where it is never cut off.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from core.models import registry
from core.presentation.charts import display_name

EMOTION_COLORS = {"angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#f2b701",
                  "sad": "#1f77b4", "surprise": "#17becf", "neutral": "#7f7f7f", "contempt": "#2ca02c"}
OTHER_COLORS = ("#e377c2", "#bcbd22", "#393b79", "#637939")


def emotion_color(label: str, index: int = 0) -> str:
    return EMOTION_COLORS.get(label, OTHER_COLORS[index % len(OTHER_COLORS)])


def emotion_timeline(rows: pd.DataFrame, labels: Sequence[str], title: str, x_title: str = "seconds",
                     x_range: tuple[float, float] | None = None, height: int = 320) -> go.Figure:
    """One line per emotion over ``time_s`` for rows of one model and one face."""
    fig = go.Figure()
    for i, label in enumerate(labels):
        column = f"p_{label}"
        if column not in rows or rows[column].isna().all():
            continue
        fig.add_trace(go.Scatter(x=rows["time_s"], y=rows[column], mode="lines", name=label,
                                 line={"color": emotion_color(label, i), "width": 2},
                                 hovertemplate=f"{label} %{{y:.0f}}%% at %{{x:.1f}} s<extra></extra>"))
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}}, height=height,
                      margin={"l": 50, "r": 10, "t": 36, "b": 10}, hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.32, "x": 0, "xanchor": "left"},
                      uirevision=title)
    fig.update_yaxes(range=[0, 100], fixedrange=True, ticksuffix="%", title=None)
    fig.update_xaxes(title=x_title, range=list(x_range) if x_range else None)
    return fig


def timelines(rows: Sequence[dict] | pd.DataFrame, labels: Sequence[str], x_title: str = "seconds",
              window_s: float | None = None, height: int = 300) -> list[tuple[str, go.Figure]]:
    """``[(caption, figure)]``, one per model and face, faces in number order then models in row order.

    ``window_s``: the x axis shows the last ``window_s`` seconds (live), else the whole range.
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        return []
    x_range = None
    if window_s:
        end = float(frame["time_s"].max())
        x_range = (max(0.0, end - window_s), max(end, window_s))
    models = list(dict.fromkeys(frame["model"]))
    figures = []
    for face in sorted(frame["face"].unique()):
        for model in models:
            part = frame[(frame["face"] == face) & (frame["model"] == model)].sort_values("time_s")
            if part.empty:
                continue
            caption = f"Face {face} · {display_name(model)}"
            figures.append((caption, emotion_timeline(part, labels, caption, x_title, x_range, height)))
    return figures


def readout_table(readings, model_ms: dict[str, float]) -> pd.DataFrame:
    """The live readout: per face and model the current emotion, its confidence and ms per frame."""
    rows = [{"Face": r.face, "Model": display_name(r.model), "Emotion": r.emotion,
             "Confidence": f"{r.confidence * 100:.0f}%",
             "ms per frame": f"{model_ms[r.model]:.1f}" if r.model in model_ms else "–"}
            for r in sorted(readings, key=lambda r: (r.face, registry.sort_key(r.model)))]
    return pd.DataFrame(rows, columns=["Face", "Model", "Emotion", "Confidence", "ms per frame"])


def moments_table(moments: dict) -> pd.DataFrame:
    """Strongest moment of each emotion per model: where (time, frame, face) and how strong."""
    rows = [{"Model": display_name(m.model), "Emotion": m.emotion, "Strongest": f"{m.percent:.0f}%",
             "At (s)": m.time_s, "Frame": m.frame, "Face": m.face} for m in moments.values()]
    return pd.DataFrame(rows)
