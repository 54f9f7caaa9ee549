"""Per-slice scores from a metadata CSV: is a model worse on some group of faces (subject, lighting, age)?

The CSV names each image in its first column (or one called ``file``, ``filename``, ``path`` or
``image``: a file name or a path inside the upload) and holds any other columns; every distinct
value of every other column is a slice. :func:`slice_metrics` scores each model on each slice:

* accuracy with **Wilson's 95% interval** (closed form, sound on a slice of 5 faces where a bootstrap
  is not) and macro F1 with the seeded bootstrap interval of :mod:`core.evaluation.intervals`;
* a one-sided **exact binomial test** of the slice's right answers against the model's overall
  accuracy ("is it worse here than on all the faces?");
* **Holm's correction** over every slice of that model, since testing 20 slices at 5% flags one by
  chance alone; a slice is flagged when its adjusted p-value is below 0.05.
"""
from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.evaluation.intervals import wilson_interval

FILE_COLUMNS = ("file", "filename", "file_name", "path", "image", "name")
ALPHA = 0.05
METHOD = ("accuracy: Wilson 95% interval; macro F1: seeded percentile bootstrap (2,000 resamples); worse than "
          "overall: one-sided exact binomial test of the slice's right answers against the model's overall "
          "accuracy (scipy binomtest), Holm-adjusted over all of the model's slices, flagged below 0.05")
MAX_VALUES = 50  # a column with more distinct values (an id per image) is not a grouping


class MetadataError(ValueError):
    """The metadata CSV cannot be used; the message is one line for the user."""


def read_metadata(data: bytes | str) -> pd.DataFrame:
    """The metadata table (all values as text), its file column first and named ``file``."""
    try:
        frame = pd.read_csv(io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data), dtype=str,
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MetadataError(f"the metadata file is not a readable CSV ({type(exc).__name__})") from None
    if frame.shape[1] < 2:
        raise MetadataError("the metadata CSV needs a file-name column and at least one more column")
    lower = {c.strip().lower(): c for c in frame.columns}
    file_column = next((lower[c] for c in FILE_COLUMNS if c in lower), frame.columns[0])
    frame = frame.rename(columns={file_column: "file"})
    return frame[["file"] + [c for c in frame.columns if c != "file"]]


def match(paths: pd.Series, metadata: pd.DataFrame) -> pd.DataFrame:
    """One metadata row per prediction path (NaN where none): matched on the whole path inside the
    upload, else on the file name alone when it is unique."""
    meta = metadata.drop_duplicates("file").set_index("file")
    names = paths.str.rsplit("/", n=1).str[-1]
    unique = ~names.duplicated(keep=False)
    keys = [path if path in meta.index else name if ok and name in meta.index else None
            for path, name, ok in zip(paths, names, unique)]
    out = meta.reindex(keys)
    out.index = paths.index
    return out


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, np.float64)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def _slice_row(model: str, column: str, value: str, part: pd.DataFrame, overall: float, labels) -> dict:
    from scipy.stats import binomtest

    from core.evaluation.metrics import compute_metrics

    right = int((part["true"] == part["predicted"]).sum())
    n = len(part)
    scores = compute_metrics(part["true"], part["predicted"], labels)
    return {"model": model, "column": column, "value": value, "n": n, "accuracy": right / n,
            "accuracy_interval": list(wilson_interval(right, n)), "macro_f1": scores["macro_f1"],
            "macro_f1_interval": scores["intervals"]["macro_f1"],
            "p_value": float(binomtest(right, n, overall, alternative="less").pvalue)}


def slice_metrics(predictions: Mapping[str, pd.DataFrame], metadata: pd.DataFrame,
                  labels: Mapping[str, list]) -> dict:
    """Every model on every slice; ``{"method", "n_matched", "n_unmatched", "columns", "slices"}``.

    ``predictions``: each model's ``predictions.csv`` table; ``labels``: each model's metric labels.
    Each slice row: ``model``, ``column``, ``value``, ``n``, ``accuracy`` and ``accuracy_interval``,
    ``macro_f1`` and ``macro_f1_interval``, ``p_value``, ``p_holm`` and ``worse`` (the flag).
    """
    rows, matched, unmatched, columns = [], 0, 0, []
    for model, frame in predictions.items():
        meta = match(frame["path"], metadata)
        found = meta.notna().any(axis=1)
        matched, unmatched = int(found.sum()), int((~found).sum())
        overall = float((frame["true"] == frame["predicted"]).mean())
        columns = [c for c in meta.columns if 1 <= meta[c].replace("", np.nan).nunique() <= MAX_VALUES]
        start = len(rows)
        for column in columns:
            values = meta[column].where(found)
            for value in sorted(v for v in values.dropna().unique() if v != ""):
                rows.append(_slice_row(model, column, value, frame[values == value], overall, labels[model]))
        for row, adjusted in zip(rows[start:], holm([r["p_value"] for r in rows[start:]])):
            row["p_holm"] = adjusted
            row["worse"] = adjusted < ALPHA
    return {"method": METHOD, "n_matched": matched, "n_unmatched": unmatched, "columns": columns, "slices": rows}
