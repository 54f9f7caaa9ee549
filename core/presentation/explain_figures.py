"""Pictures that explain a model: Grad-CAM overlays and the reliability diagram.

Pure data in, image or figure out: nothing here reads files or knows about Streamlit.

* :func:`overlay`: a heat map in [0, 1] drawn over a face crop with a perceptually uniform colour
  map (OpenCV's copies of matplotlib's ``inferno``/``viridis``). The scale is absolute, 0 -> dark,
  1 -> bright, so maps of different models side by side share one colour scale.
* :func:`reliability_figure`: confidence against accuracy per bin (Plotly), one series per set of
  bins (e.g. before and after temperature scaling), marker area proportional to the bin's count.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS}
SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def colorize(heatmap: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """A map in [0, 1] as an RGB uint8 image (values outside [0, 1] and NaN are clipped to 0..1)."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colour map {colormap!r}; choose one of {', '.join(COLORMAPS)}")
    values = np.nan_to_num(np.asarray(heatmap, np.float32), nan=0.0)
    levels = np.round(np.clip(values, 0.0, 1.0) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def overlay(face: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, colormap: str = "inferno") -> np.ndarray:
    """The face crop (uint8 BGR, BGRA or grayscale) with ``heatmap`` blended over it; RGB uint8.

    The map is resized to the crop if needed. ``alpha`` is the map's weight (0: face only).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    face_rgb = cv2.cvtColor(_to_bgr(np.asarray(face, np.uint8)), cv2.COLOR_BGR2RGB)
    h, w = face_rgb.shape[:2]
    heatmap = np.asarray(heatmap, np.float32)
    if heatmap.shape[:2] != (h, w):
        heatmap = cv2.resize(heatmap, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(colorize(heatmap, colormap), alpha, face_rgb, 1.0 - alpha, 0.0)


def colorbar(height: int = 12, width: int = 256, colormap: str = "inferno") -> np.ndarray:
    """A horizontal legend strip, 0 on the left to 1 on the right; RGB uint8."""
    return colorize(np.tile(np.linspace(0.0, 1.0, width, dtype=np.float32), (height, 1)), colormap)


def _bin_points(bins: Sequence[Mapping]) -> tuple[list, list, list, list]:
    used = [b for b in bins if b.get("count") and b.get("confidence") is not None]
    return ([b["confidence"] for b in used], [b["accuracy"] for b in used], [int(b["count"]) for b in used],
            [f"{b['lower']:.2f}-{b['upper']:.2f}" for b in used])


def reliability_figure(series: Mapping[str, Sequence[Mapping]], title: str | None = None):
    """Reliability diagram: one line of (mean confidence, accuracy) per non-empty bin per series.

    ``series`` maps a name (e.g. "before", "after temperature scaling (T=0.90)") to bins as
    :func:`core.analysis.calibration.calibration_report` returns them ({lower, upper, count,
    confidence, accuracy}). Points on the dashed diagonal are perfectly calibrated; below it the
    model is over-confident. Marker area grows with the bin's count (hover shows the numbers).
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                             line={"dash": "dash", "color": "gray"}, hoverinfo="skip"))
    largest = max([max(_bin_points(bins)[2], default=0) for bins in series.values()], default=0) or 1
    for i, (name, bins) in enumerate(series.items()):
        confidence, accuracy, count, span = _bin_points(bins)
        sizes = [6 + 24 * np.sqrt(c / largest) for c in count]
        fig.add_trace(go.Scatter(
            x=confidence, y=accuracy, mode="lines+markers", name=name, customdata=list(zip(count, span)),
            marker={"size": sizes, "color": SERIES_COLORS[i % len(SERIES_COLORS)], "opacity": 0.8},
            hovertemplate=("confidence %{customdata[1]}<br>mean confidence %{x:.1%}<br>"
                           "accuracy %{y:.1%}<br>%{customdata[0]} images<extra>%{fullData.name}</extra>")))
    fig.update_layout(title=title, xaxis_title="confidence (top class)", yaxis_title="accuracy",
                      # A square plot: in a wide column Plotly would otherwise widen the x range
                      # (to -50%..150%) rather than narrow the plot.
                      xaxis={"range": [0, 1], "tickformat": ".0%", "constrain": "domain"},
                      yaxis={"range": [0, 1], "tickformat": ".0%", "scaleanchor": "x", "constrain": "domain"},
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 40 if title else 10})
    return fig


def calibration_rows(calibration: Mapping) -> list[dict]:
    """The Evaluation page's table: one row per measure, before and (when fitted) after scaling."""
    rows = []
    for label, key in (("expected calibration error (ECE)", "ece"), ("log loss (negative log-likelihood)", "nll"),
                       ("Brier score", "brier")):
        rows.append({"measure": label, "before": calibration.get(key),
                     "after temperature scaling": calibration.get(f"{key}_temperature_scaled")})
    return rows
