"""The robustness lab's readers and figures: stored ``robustness.json`` files, one curve per corruption with
every model overlaid (each in its record's colour), the ranking table and the strip of example faces.

Readers return data or raise one :class:`~core.presentation.artifacts.ArtifactError`; figure builders are
pure (data in, ``go.Figure`` / table out) and every page uses them, for stored and in-memory results alike.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.analysis import corruptions
from core.evaluation.robustness_alignment import FAMILY as ALIGNED_FAMILY
from core.evaluation.robustness_alignment import eyes_found_share
from core.presentation.artifacts import ArtifactError, read_json
from core.presentation.charts import display_name, model_color
from core.presentation.evaluations import find_evaluations

ROBUSTNESS_HINT = "run `make robustness` (or `python -m core robustness --data DIR`)"
REQUIRED = ("model", "dataset", "subset", "clean", "families", "mean_corruption_accuracy", "relative_drop")


def read_robustness(folder: str | Path) -> dict:
    """``folder/robustness.json``, checked for the fields the page draws."""
    path = Path(folder) / "robustness.json"
    data = read_json(path, ROBUSTNESS_HINT)
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ArtifactError(path, f"missing {', '.join(missing)}", "invalid", ROBUSTNESS_HINT)
    for name, entry in data["families"].items():
        accuracies = [s.get("accuracy") for s in entry.get("severities", [])]
        if not accuracies or any(not isinstance(a, (int, float)) or not 0 <= a <= 1 for a in accuracies):
            raise ArtifactError(path, f"family {name}: every severity needs an accuracy between 0 and 1",
                                "invalid", ROBUSTNESS_HINT)
    return data


def find_robustness(root=None, extra_model_dirs=()) -> dict[str, dict[str, Path]]:
    """Stored robustness results by split key, then model id: ``<eval dir>/robustness/robustness.json``."""
    found = {}
    for key, refs in find_evaluations(root, extra_model_dirs).items():
        folders = {model: ref.path / "robustness" for model, ref in refs.items()
                   if (ref.path / "robustness" / "robustness.json").is_file()}
        if folders:
            found[key] = folders
    return found


def clean_from_predictions(result: Mapping, predictions: pd.DataFrame) -> tuple[float | None, int]:
    """(accuracy, faces) of the model's ``predictions.csv`` on the robustness subset's files: the clean
    point must equal it."""
    files = set(result["subset"].get("files") or ())
    rows = predictions[predictions["path"].isin(files)]
    rows = rows[rows["true"].isin(result.get("labels") or rows["true"].unique())]
    return (float((rows["true"] == rows["predicted"]).mean()) if len(rows) else None), len(rows)


def _family_names(results: Mapping[str, Mapping]) -> list[str]:
    names = list(dict.fromkeys(name for r in results.values() for name in r["families"]))
    return [f.name for f in corruptions.FAMILIES if f.name in names] + [n for n in names if n not in corruptions.BY_NAME]


def _value_text(value) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, (int, float)) else str(value)


def curves_figure(results: Mapping[str, Mapping], *, columns: int = 5, height_per_row: int = 220) -> go.Figure:
    """Accuracy against severity (0 = clean) for every corruption, one panel each, every model overlaid."""
    names = _family_names(results)
    rows = max(1, math.ceil(len(names) / columns))
    first = next(iter(results.values()))
    titles = [first["families"][n]["title"] for n in names]
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.02, vertical_spacing=0.5 / rows if rows > 1 else 0.1)
    for model, result in results.items():
        for i, name in enumerate(names):
            entry = result["families"].get(name)
            if entry is None:
                continue
            points = entry["severities"]
            fig.add_trace(go.Scatter(
                x=[p["severity"] for p in points], y=[p["accuracy"] * 100 for p in points], mode="lines+markers",
                name=display_name(model), legendgroup=model, showlegend=i == 0,
                line=dict(color=model_color(model), width=2), marker=dict(size=6),
                customdata=[[_value_text(p["value"])] for p in points],
                hovertemplate=(f"{display_name(model)}<br>{entry['title']}, severity %{{x}} "
                               f"({entry['parameter']} %{{customdata[0]}})<br>accuracy %{{y:.1f}}%<extra></extra>")),
                row=i // columns + 1, col=i % columns + 1)
            if name == ALIGNED_FAMILY and result.get("alignment"):
                fig.add_trace(_aligned_trace(model, result["alignment"], entry), row=i // columns + 1,
                              col=i % columns + 1)
    fig.update_xaxes(tickvals=[0, 1, 2, 3, 4, 5], range=[-0.3, 5.3])
    fig.update_yaxes(range=[0, 100], ticksuffix="%")
    for row in range(1, rows + 1):  # axis titles once per row and along the bottom, not on every panel
        fig.update_yaxes(title_text="accuracy", row=row, col=1)
    for col in range(1, columns + 1):
        fig.update_xaxes(title_text="severity", row=rows, col=col)
    fig.update_layout(height=rows * height_per_row + 80, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.03, xanchor="right", x=1))
    return fig


def _aligned_trace(model: str, aligned: Mapping, entry: Mapping) -> go.Scatter:
    """The rotation family with each face turned back by its eyes: the model's colour, dashed."""
    points = aligned["severities"]
    return go.Scatter(
        x=[p["severity"] for p in points], y=[p["accuracy"] * 100 for p in points], mode="lines+markers",
        name=f"{display_name(model)}, aligned by the eyes", legendgroup=model,
        line=dict(color=model_color(model), width=2, dash="dash"), marker=dict(size=5, symbol="diamond"),
        customdata=[[_value_text(p["value"]), p["eyes_found"]] for p in points],
        hovertemplate=(f"{display_name(model)}, turned back by the eyes<br>{entry['title']}, severity %{{x}} "
                       f"({entry['parameter']} %{{customdata[0]}})<br>accuracy %{{y:.1f}}% (eyes found on "
                       f"%{{customdata[1]}} of {aligned['n_images']})<extra></extra>"))


def alignment_caption(results: Mapping[str, Mapping]) -> str | None:
    """What the dashed rotation curves measured, with each model's mean accuracy without and with alignment."""
    aligned = {model: r["alignment"] for model, r in results.items() if r.get("alignment")}
    if not aligned:
        return None
    first = next(iter(aligned.values()))
    effects = "; ".join(
        f"{display_name(m)} {a['unaligned_mean_accuracy'] * 100:.1f}% -> {a['mean_accuracy'] * 100:.1f}% "
        f"(clean faces {a['severities'][0]['unaligned_accuracy'] * 100:.1f}% -> {a['severities'][0]['accuracy'] * 100:.1f}%)"
        for m, a in aligned.items())
    return (f"In-plane rotation, dashed: the same rotated faces turned back by their eye line before the model "
            f"sees them (BlazeFace's keypoints, one look per face shared by every model; eyes found on "
            f"{eyes_found_share(first) * 100:.0f}% of the rotated faces, the others classified as they are). "
            f"Severity 0 is aligned too, so it shows what alignment does to clean faces. Mean over severities "
            f"1-5, without -> with alignment: {effects}. Not part of the mean corrupted accuracy.")


def ranking_table(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per model, most robust first: clean and mean corrupted accuracy (percent), relative drop,
    the hardest corruption and the emotion that breaks first."""
    rows = []
    for model, r in results.items():
        worst = min(r["families"].items(), key=lambda kv: kv[1]["mean_accuracy"])
        rows.append({"model": display_name(model), "faces": r["subset"]["n_images"],
                     "clean accuracy": r["clean"]["accuracy"] * 100,
                     "mean corrupted accuracy": r["mean_corruption_accuracy"] * 100,
                     "relative drop": r["relative_drop"] * 100,
                     "hardest corruption": f"{worst[1]['title']} ({worst[1]['mean_accuracy'] * 100:.1f}%)",
                     "breaks first": ", ".join(r.get("breaks_first", [])[:2])})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values("mean corrupted accuracy", ascending=False).reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def family_table(results: Mapping[str, Mapping]) -> pd.DataFrame:
    """Mean accuracy over severities 1-5 (percent) per corruption (rows) and model (columns)."""
    names = _family_names(results)
    first = next(iter(results.values()))
    frame = pd.DataFrame({"corruption": [first["families"][n]["title"] for n in names]})
    for model, r in results.items():
        frame[display_name(model)] = [r["families"][n]["mean_accuracy"] * 100 if n in r["families"] else np.nan
                                      for n in names]
    return frame


def example_strip(face: np.ndarray, *, seed: int = 0, key: str = "example", size: int = 96,
                  families: Sequence[str] | None = None) -> list[tuple[corruptions.Family, list[np.ndarray], list[str]]]:
    """For each corruption: (family, the face at severities 0-5 enlarged to ``size`` px, captions)."""
    import cv2

    from core.models.base import to_gray

    gray = to_gray(face)
    out = []
    for fam in [corruptions.family(n) for n in (families or corruptions.BY_NAME)]:
        images = [cv2.resize(corruptions.corrupt(gray, fam.name, s, seed, key), (size, size),
                             interpolation=cv2.INTER_NEAREST) for s in range(6)]
        captions = ["clean" if s == 0 else f"{s}: {_value_text(fam.value(s))}" for s in range(6)]
        out.append((fam, images, captions))
    return out


def readme_tables(results: Mapping[str, Mapping], files: Mapping[str, str]) -> list[str]:
    """The README's Robustness tables (Markdown lines): the summary per model, then the mean accuracy per
    corruption; ``files`` maps each model to the robustness.json it cites. A test compares them with the
    README, so the README's figures are the artifacts'."""
    lines = ["| model | faces | clean | mean corrupted | relative drop | hardest corruption | breaks first | from |",
             "|---|---|---|---|---|---|---|---|"]
    for model, result in sorted(results.items(), key=lambda kv: -kv[1]["mean_corruption_accuracy"]):
        row = ranking_table({model: result}).iloc[0]
        lines.append(f"| {row['model']} | {row['faces']:,} | {row['clean accuracy']:.1f}% | "
                     f"{row['mean corrupted accuracy']:.1f}% | {row['relative drop']:.0f}% | "
                     f"{row['hardest corruption']} | {row['breaks first']} | `{files[model]}` |")
    table = family_table(results)
    lines += ["", "| corruption (mean of severities 1-5) | " + " | ".join(table.columns[1:]) + " |",
              "|---|" + "---|" * (len(table.columns) - 1)]
    for row in table.itertuples(index=False):
        lines.append(f"| {row[0]} | " + " | ".join(f"{v:.1f}%" for v in row[1:]) + " |")
    return lines + alignment_table(results)


def alignment_table(results: Mapping[str, Mapping]) -> list[str]:
    """Markdown lines: the rotation family's accuracy per severity as rotated and turned back by the eyes,
    per model, and how often BlazeFace found eyes; no lines when no result has an ``alignment`` entry."""
    aligned = {model: r["alignment"] for model, r in sorted(results.items()) if r.get("alignment")}
    if not aligned:
        return []
    rows = next(iter(aligned.values()))["severities"]
    head = ["0 (clean)" if r["severity"] == 0 else f"{_value_text(r['value'])}" for r in rows]
    lines = ["", "| in-plane rotation (degrees) | " + " | ".join(head) + " | mean of 1-5 |",
             "|---|" + "---|" * (len(head) + 1)]

    def percents(values, mean):
        return " | ".join(f"{v * 100:.1f}%" for v in values) + f" | {mean * 100:.1f}% |"

    for model, entry in aligned.items():
        points = entry["severities"]
        lines.append(f"| {display_name(model)}, as rotated | "
                     + percents([p["unaligned_accuracy"] for p in points], entry["unaligned_mean_accuracy"]))
        lines.append(f"| {display_name(model)}, turned back by the eyes | "
                     + percents([p["accuracy"] for p in points], entry["mean_accuracy"]))
    first = next(iter(aligned.values()))
    lines.append("| BlazeFace found eyes | " + percents([p["eyes_found"] / first["n_images"] for p in rows],
                                                         eyes_found_share(first)))
    return lines
