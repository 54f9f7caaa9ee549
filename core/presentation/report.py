"""The evaluation report: the tables and figures of one or more models' ``metrics.json``, built once.

Pure builders, data in and ``DataFrame`` or ``go.Figure`` out: the Evaluation, Your data and About
pages all draw what these return (through one renderer, ``pages/report.py``), so a figure looks the
same on every page. Nothing here imports Streamlit or reads files.

Each model is one :class:`ModelScores`: its id and metrics, and what a figure needs besides (the model
card's fitted temperature, the split for tables across splits); its shown name and colour come from
its record (:func:`core.models.registry.describe`).

Examples
--------
>>> metrics = {"accuracy": 0.5, "macro_f1": 0.4, "n_images": 10, "labels": ["happy", "sad"],
...            "per_class": {"happy": {"precision": 0.5, "recall": 0.6, "f1": 0.55, "support": 5},
...                          "sad": {"precision": 0.5, "recall": 0.4, "f1": 0.45, "support": 5}},
...            "confusion_matrix": {"labels": ["happy", "sad"], "counts": [[3, 2], [3, 2]]}}
>>> scores = [ModelScores(name="fer2013_cnn", metrics=metrics)]
>>> headline_table(scores, columns=("model", "accuracy", "images")).to_dict("records")
[{'model': 'CNN', 'accuracy': 50.0, 'images': 10}]
>>> list(per_class_table(scores).columns)
['emotion', 'CNN precision', 'CNN recall', 'CNN F1', 'CNN support']
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from core.presentation import charts, significance, tables
from core.presentation.explain_figures import calibration_rows, reliability_figure


@dataclass(frozen=True)
class ModelScores:
    """One model's evaluation, as the report shows it.

    Parameters
    ----------
    name : the model's id (e.g. ``fer2013_cnn``): keys, the ``folder`` column, and through its record
        the name shown in legends, titles and tables and the colour of its figures.
    metrics : the ``metrics.json`` dict (as :func:`core.presentation.evaluations.read_metrics` returns it).
    card : the model's ``model.json`` (its ``calibration`` says where the temperature was fitted).
    split : the dataset split, for tables that span several (``"fer2013 / PrivateTest"``).
    """

    name: str
    metrics: Mapping
    card: Mapping = field(default_factory=dict)
    split: str | None = None

    @property
    def label(self) -> str:
        """The name people read (``CNN``), from the model's record."""
        return charts.display_name(self.name)


@dataclass(frozen=True)
class Headline:
    """One headline number (a ``st.metric``): label, value, change against the other model, help."""

    label: str
    value: str
    delta: str | None = None
    help: str | None = None
    interval: str | None = None  # "95% CI lo–hi", shown under the number


# --------------------------------------------------------------------------- headline

HEADLINE_COLUMNS = ("model", "folder", "accuracy", "accuracy 95% CI", "always the commonest", "chance", "macro F1",
                    "macro F1 95% CI", "classes absent", "weighted F1", "images", "flip-TTA accuracy",
                    "images / s", "evaluated", "commit", "limit")
# left out when empty for every model
OPTIONAL_COLUMNS = ("flip-TTA accuracy", "limit", "left out", "classes absent", "accuracy 95% CI", "macro F1 95% CI",
                    "always the commonest", "chance")
# printf-style formats of the numeric columns of every report table; percentages are 0-100
FORMATS = {"accuracy": "%.1f%%", "flip-TTA accuracy": "%.1f%%", "macro F1": "%.3f", "weighted F1": "%.3f",
           "images / s": "%.0f", "share of true class": "%.1f%%"}


def _when(value) -> str | None:
    """``2026-11-22T05:00:00Z`` -> ``2026-11-22 05:00 UTC``."""
    if not isinstance(value, str):
        return value
    return value[:16].replace("T", " ") + (" UTC" if value.endswith("Z") else "")


def _percent(value) -> float | None:
    return value * 100 if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _headline_row(score: ModelScores) -> dict:
    m = score.metrics
    excluded = m.get("excluded_labels")
    return {"model": score.label, "folder": score.name, "dataset / split": score.split,
            "accuracy": _percent(m["accuracy"]), "macro F1": m["macro_f1"], "weighted F1": m.get("weighted_f1"),
            "images": m["n_images"],
            "left out": sum(excluded.values()) if isinstance(excluded, Mapping) else None,
            "flip-TTA accuracy": _percent(m.get("flip_tta_accuracy")), "images / s": m.get("images_per_second"),
            "evaluated": _when(m.get("created_at")), "commit": (m.get("commit") or "")[:10], "limit": m.get("limit"),
            **significance.headline_extras(m)}


def headline_table(scores: Sequence[ModelScores], *, columns: Sequence[str] = HEADLINE_COLUMNS) -> pd.DataFrame:
    """One row per model: ``columns`` out of ``model``, ``folder``, ``dataset / split``, ``accuracy`` and
    ``flip-TTA accuracy`` (percent), ``accuracy 95% CI``, the no-skill baselines ``always the commonest``
    and ``chance``, ``macro F1``, ``macro F1 95% CI``, ``classes absent``, ``weighted F1``, ``images``, ``left out`` (images of
    labels the model does not have), ``images / s``, ``evaluated``, ``commit`` and ``limit``.

    The optional columns (:data:`OPTIONAL_COLUMNS`) are dropped when no model has a value in them.
    """
    frame = pd.DataFrame([_headline_row(s) for s in scores], columns=list(columns))
    return frame.drop(columns=[c for c in OPTIONAL_COLUMNS if c in frame and frame[c].isna().all()])


def headline_metrics(scores: Sequence[ModelScores], *, images: str = "test images") -> list[Headline]:
    """Each model's accuracy and macro F1, in that order; with two models, the accuracy's difference to
    the other. ``images`` says what was scored (in the help: "Share of the 70 test images ...")."""
    out = []
    for score in scores:
        m = score.metrics
        other = next((s for s in scores if s is not score), None)
        delta = (f"{(m['accuracy'] - other.metrics['accuracy']) * 100:+.1f} pts vs {other.label}"
                 if other is not None and len(scores) == 2 else None)
        ci = significance.intervals_of(m)
        acc_ci = significance.interval_text(ci.get("accuracy"), percent=True)
        f1_ci = significance.interval_text(ci.get("macro_f1"))
        out.append(Headline(f"{score.label} accuracy", f"{m['accuracy']:.1%}", delta,
                            " ".join(filter(None, (f"Share of the {m['n_images']:,} {images} that {score.label} "
                                                   f"got right" + (f"; 95% CI {acc_ci}." if acc_ci else "."),
                                                   significance.baselines_caption(m)))),
                            f"95% CI {acc_ci}" if acc_ci else None))
        out.append(Headline(f"{score.label} macro F1", f"{m['macro_f1']:.3f}", None,
                            "The unweighted mean of the per-class F1 over the emotions with at least one true face: "
                            "rare classes (disgust) count as much as common ones."
                            + (f" 95% CI {f1_ci}." if f1_ci else ""), f"95% CI {f1_ci}" if f1_ci else None))
    return out


def different_sizes(scores: Sequence[ModelScores]) -> bool:
    """Whether the models were scored on different numbers of images (so not strictly comparable)."""
    return len({s.metrics["n_images"] for s in scores}) > 1


# --------------------------------------------------------------------------- confusion and per class


def confusion_figure(score: ModelScores, *, normalize: bool = False):
    """The model's confusion matrix (rows true, columns predicted), counts or row-normalised."""
    cm = score.metrics["confusion_matrix"]
    return charts.confusion_heatmap(cm["labels"], cm["counts"], normalize=normalize, title=score.label,
                                    model=score.name)


def report_labels(scores: Sequence[ModelScores]) -> list[str]:
    """Every model's labels, in first-seen order."""
    return list(dict.fromkeys(label for s in scores for label in s.metrics["labels"]))


def per_class_figure(scores: Sequence[ModelScores]):
    """Precision, recall and F1 per class, one bar colour per model."""
    return charts.per_class_bars({s.name: s.metrics["per_class"] for s in scores}, report_labels(scores))


PER_CLASS_MEASURES = {"precision": "precision", "recall": "recall", "f1": "F1", "support": "support"}


def per_class_table(scores: Sequence[ModelScores]) -> pd.DataFrame:
    """One row per emotion: ``<model> precision``, its ``95% CI`` (when the metrics hold intervals), ...,
    ``<model> support``, measure by measure; ``note`` (when some class has no true face) marks such an
    emotion: its scores are empty, never 0."""
    labels = report_labels(scores)
    long = tables.per_class_frame({s.name: s.metrics for s in scores})
    wide = long.pivot(index="emotion", columns="model", values=list(PER_CLASS_MEASURES))
    wide = wide.reindex([label for label in labels if label in wide.index])
    wide.columns = [f"{model} {PER_CLASS_MEASURES[measure]}" for measure, model in wide.columns]
    for s in (s for s in scores if significance.intervals_of(s.metrics)):
        extras = {label: significance.per_class_extras(s.metrics, label) for label in wide.index}
        for name in ("precision", "recall", "F1"):
            wide[f"{s.label} {name} 95% CI"] = [extras[label][f"{name} 95% CI"] for label in wide.index]
    absent = {label for s in scores for label in s.metrics.get("classes_absent") or []}
    if absent:
        wide["note"] = [significance.NO_SUPPORT if label in absent else "" for label in wide.index]
    ordered = [f"{s.label} {name}{ci}" for name in ("precision", "recall", "F1") for s in scores
               for ci in ("", " 95% CI")] + [f"{s.label} support" for s in scores] + ["note"]
    wide = wide[[c for c in ordered if c in wide.columns]].reset_index()
    wide.columns.name = None
    return wide


def confusions_table(score: ModelScores) -> pd.DataFrame | None:
    """The model's most frequent confusions (share of the true class in percent); None when it made none."""
    tops = score.metrics.get("top_confusions")
    if not tops:
        return None
    frame = tables.confusions_frame(tops)
    frame["share of true class"] = pd.to_numeric(frame["share of true class"], errors="coerce") * 100
    return frame


# --------------------------------------------------------------------------- calibration

CALIBRATION_INTRO = (
    "A reliability diagram sorts the images by the model's confidence in its answer (15 bins) and plots how often "
    "it was right: on the dashed diagonal, \"80% sure\" means right 80% of the time; below it the model is "
    "over-confident, above it under-confident. Temperature scaling divides the model's logits by one number T, "
    "fitted on the selection split (never the images scored here), and leaves every answer — hence accuracy — "
    "unchanged. Lower is better for all three measures.")


def _calibration(score: ModelScores) -> dict | None:
    calibration = score.metrics.get("calibration")
    if not isinstance(calibration, Mapping) or not isinstance(calibration.get("bins"), list):
        return None
    return dict(calibration)


def _scaled(calibration: Mapping) -> bool:
    return (calibration.get("temperature") is not None
            and isinstance(calibration.get("bins_temperature_scaled"), list))


def reliability(score: ModelScores):
    """The model's reliability diagram, before and (when fitted) after temperature scaling; None when its
    metrics hold no calibration figures."""
    calibration = _calibration(score)
    if calibration is None:
        return None
    series = {"as the model gives them": calibration["bins"]}
    if _scaled(calibration):
        series[f"temperature-scaled (T={calibration['temperature']:.2f})"] = calibration["bins_temperature_scaled"]
    return reliability_figure(series)


def calibration_table(score: ModelScores) -> pd.DataFrame | None:
    """ECE, NLL and Brier score: ``measure``, ``before`` and (with a temperature) ``after T``."""
    calibration = _calibration(score)
    if calibration is None:
        return None
    table = pd.DataFrame(calibration_rows(calibration)).rename(columns={"after temperature scaling": "after T"})
    return table if calibration.get("temperature") is not None else table.drop(columns=["after T"])


def calibration_note(score: ModelScores) -> str:
    """One line under the calibration table: where T was fitted, or how to fit one, or how to get the figures."""
    calibration = _calibration(score)
    if calibration is None:
        return "No calibration figures in this metrics.json yet: rerun `make evaluate` for this model."
    temperature = calibration.get("temperature")
    if temperature is None:
        return f"No temperature fitted yet: `python -m core calibrate --model {score.name} --data DIR` fits one on " \
               f"the selection split."
    fitted = score.card.get("calibration") or {}
    where = fitted.get("fitted_on") or "the selection split"
    size = f", {fitted['n_images']:,} images" if isinstance(fitted.get("n_images"), int) else ""
    return (f"T = {temperature:.4f}, fitted on {where}{size} by minimising the negative log-likelihood "
            f"(`python -m core calibrate`). ECE is in fractions: {calibration['ece']:.4f} = {calibration['ece']:.1%}.")
