"""Safe readers of the stored artifacts described in ``docs/ARTIFACTS.md``.

Every reader returns the data or raises :class:`ArtifactError`, whose ``str()`` is one line
saying which file is wrong and how (missing, corrupt JSON/CSV, missing columns or fields, values
of the wrong type), so that a dashboard can explain the problem instead of crashing. ``hint``
says what to do about it, where that is known.

Locations come from environment variables so the app and its tests can point at any folder:

* ``EMOTION_MODELS_ROOT``: the models root (default ``models/``);
* ``EMOTION_MODEL_DIR``: the CNN's folder (default ``<models root>/fer2013_cnn``);
* ``EMOTION_RUNS_ROOT``: training runs, for progress of a run not yet exported (default ``runs/``);
* ``EMOTION_BENCHMARKS``: benchmark results (default ``benchmarks/results.json``);
* ``FER2013_DIR``: the FER2013 folder layout, for the images of the test set.

Nothing here imports Streamlit.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_NAME = "fer2013_cnn"
HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")
HISTORY_OPTIONAL_COLUMNS = ("learning_rate", "epoch_seconds")
PREDICTION_COLUMNS = ("path", "true", "predicted", "confidence")
MAX_TOP_CONFUSIONS = 10


class ArtifactError(Exception):
    """A stored artifact that cannot be used. ``str(error)`` is one line: ``<path>: <problem>``.

    ``kind`` is ``"missing"``, ``"corrupt"`` (unreadable JSON/CSV) or ``"invalid"`` (readable but
    missing fields/columns or holding values of the wrong type); ``hint`` says what to do.
    """

    def __init__(self, path: str | Path, problem: str, kind: str = "invalid", hint: str = ""):
        self.path = Path(path)
        self.problem = " ".join(str(problem).split())  # always one line
        self.kind = kind
        self.hint = hint
        super().__init__(f"{_display(self.path)}: {self.problem}")


def _display(path: Path) -> str:
    """A path relative to the project when it is inside it (shorter messages), else absolute."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except (ValueError, OSError):
        return str(path)


# --------------------------------------------------------------------------- locations


def _env_path(variable: str, default: Path) -> Path:
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else default


def models_root() -> Path:
    return _env_path("EMOTION_MODELS_ROOT", PROJECT_ROOT / "models")


def model_dir() -> Path:
    """The CNN shown by the app: ``EMOTION_MODEL_DIR`` or ``<models root>/fer2013_cnn``."""
    return _env_path("EMOTION_MODEL_DIR", models_root() / DEFAULT_MODEL_NAME)


def runs_root() -> Path:
    return _env_path("EMOTION_RUNS_ROOT", PROJECT_ROOT / "runs")


def benchmarks_path() -> Path:
    return _env_path("EMOTION_BENCHMARKS", PROJECT_ROOT / "benchmarks" / "results.json")


DEFAULT_FER2013_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "fer2013"  # the Makefile's default


def dataset_dir_from_env() -> Path | None:
    """``FER2013_DIR``; when it is unset, the Makefile's default folder if it exists.

    Setting ``FER2013_DIR`` to an empty string means "no dataset"."""
    value = os.environ.get("FER2013_DIR")
    if value is None:
        return DEFAULT_FER2013_DIR if DEFAULT_FER2013_DIR.is_dir() else None
    value = value.strip()
    return Path(value).expanduser() if value else None


def mtime(path: str | Path) -> float | None:
    """Modification time, or ``None`` when the file is missing (a cache key that changes on rewrite)."""
    try:
        return Path(path).stat().st_mtime_ns / 1e9
    except OSError:
        return None


# --------------------------------------------------------------------------- generic readers


def read_json(path: str | Path, hint: str = "") -> dict:
    """A JSON object from ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(path, "file is missing" if not path.exists() else "is not a file", "missing", hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ArtifactError(path, "corrupt JSON (not UTF-8 text)", "corrupt", hint) from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(path, f"corrupt JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
                            "corrupt", hint) from None
    except OSError as exc:
        raise ArtifactError(path, f"cannot read ({exc.strerror or exc})", "corrupt", hint) from None
    if not isinstance(data, dict):
        raise ArtifactError(path, f"expected a JSON object, found {type(data).__name__}", "invalid", hint)
    return data


def read_csv(path: str | Path, required: tuple[str, ...], hint: str = "") -> pd.DataFrame:
    """A CSV with at least the ``required`` columns."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(path, "file is missing" if not path.exists() else "is not a file", "missing", hint)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ArtifactError(path, "empty file (no header row)", "corrupt", hint) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(path, f"corrupt CSV ({first})", "corrupt", hint) from None
    except OSError as exc:
        raise ArtifactError(path, f"cannot read ({exc.strerror or exc})", "corrupt", hint) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ArtifactError(path, f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                                  f"(found: {', '.join(frame.columns) or 'none'})", "invalid", hint)
    return frame


def _numeric(frame: pd.DataFrame, columns, path: Path, hint: str = "") -> None:
    for column in columns:
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise ArtifactError(path, f"non-numeric value {frame[column].iloc[row]!r} in column {column} "
                                      f"(data row {row + 1})", "invalid", hint)
        frame[column] = values


# --------------------------------------------------------------------------- model folders

TRAIN_HINT = "train and export the CNN with `make train` (or `python -m core train --data DATASET`)"


def read_model_json(folder: str | Path) -> dict:
    """``<folder>/model.json``: a JSON object with a non-empty ``labels`` list."""
    path = Path(folder) / "model.json"
    meta = read_json(path, hint=TRAIN_HINT)
    labels = meta.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ArtifactError(path, "field 'labels' must be a non-empty list of emotion names", "invalid", TRAIN_HINT)
    for key in ("training", "architecture", "provenance", "input", "published"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], dict):
            raise ArtifactError(path, f"field '{key}' must be an object, found {type(meta[key]).__name__}",
                                "invalid", TRAIN_HINT)
    return meta


def read_history(path_or_folder: str | Path) -> pd.DataFrame:
    """``history.csv`` as numbers, one row per epoch, sorted by epoch.

    Required columns: epoch (0-based), accuracy, loss, val_accuracy, val_loss; learning_rate and
    epoch_seconds are kept when present. An ``epoch_number`` column (1-based, as people and
    ``model.json`` count) is added. A file with a header but no epoch is an error.
    """
    path = Path(path_or_folder)
    if path.is_dir() or path.suffix != ".csv":
        path = path / "history.csv"
    frame = read_csv(path, HISTORY_COLUMNS, hint=TRAIN_HINT)
    _numeric(frame, HISTORY_COLUMNS + HISTORY_OPTIONAL_COLUMNS, path, TRAIN_HINT)
    frame = frame.dropna(subset=list(HISTORY_COLUMNS))
    if frame.empty:
        raise ArtifactError(path, "no epoch recorded yet (only a header)", "invalid", TRAIN_HINT)
    frame["epoch"] = frame["epoch"].astype(int)
    # A resumed run may repeat an epoch: the last write wins.
    frame = frame.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    frame["epoch_number"] = frame["epoch"] + 1
    return frame


def best_epoch(meta: dict | None, history: pd.DataFrame | None) -> tuple[int | None, str]:
    """The chosen epoch as a 1-based epoch number, and where it comes from.

    ``history.csv`` counts epochs from 0 while ``model.json`` ``training.best_epoch`` counts from 1
    (core/training.py stores ``epoch + 1``, like ``epochs_run``), so history row ``epoch`` is
    epoch number ``epoch + 1``. Uses ``training.best_epoch`` when it is a positive integer (and,
    with a history, one of its epochs); else the epoch of the highest ``val_accuracy``; else
    ``(None, "")``.
    """
    training = (meta or {}).get("training") or {}
    value = training.get("best_epoch") if isinstance(training, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        if history is None or (value - 1) in set(history["epoch"].tolist()):
            return value, "model.json (training.best_epoch)"
    if history is not None and not history.empty and history["val_accuracy"].notna().any():
        row = history.loc[history["val_accuracy"].idxmax()]
        return int(row["epoch"]) + 1, "highest validation accuracy in history.csv"
    return None, ""


@dataclass(frozen=True)
class TrainingStatus:
    state: str  # "finished", "stopped_early", "interim" or "unknown"
    epochs_run: int | None
    epochs_planned: int | None

    @property
    def interim(self) -> bool:
        return self.state == "interim"

    def describe(self) -> str:
        if self.state == "finished":
            return f"finished: all {self.epochs_run} planned epochs ran"
        if self.state == "stopped_early":
            return f"stopped early after {self.epochs_run} of {self.epochs_planned} planned epochs (no more improvement)"
        if self.state == "interim":
            return (f"interim checkpoint: {self.epochs_run} of {self.epochs_planned} planned epochs ran; "
                    f"training is unfinished, so this is the best epoch so far, not the final model")
        return "training progress not recorded in model.json"


def training_status(meta: dict | None) -> TrainingStatus:
    training = (meta or {}).get("training") or {}
    if not isinstance(training, dict):
        return TrainingStatus("unknown", None, None)
    run, planned = training.get("epochs_run"), training.get("epochs_planned")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (run, planned)):
        return TrainingStatus("unknown", run if isinstance(run, int) else None,
                              planned if isinstance(planned, int) else None)
    if training.get("stopped_early"):
        return TrainingStatus("stopped_early", run, planned)
    if run < planned:
        return TrainingStatus("interim", run, planned)
    return TrainingStatus("finished", run, planned)


def model_kind(meta: dict | None = None, metrics: dict | None = None, name: str = "") -> str:
    """``"deepface"`` or ``"cnn"``, from model.json ``kind``, metrics.json ``model_kind`` or the name."""
    for value in ((metrics or {}).get("model_kind"), (meta or {}).get("kind"), name):
        if isinstance(value, str) and value:
            return "deepface" if "deepface" in value.lower() else "cnn"
    return "cnn"


def run_progress(name: str) -> dict | None:
    """Progress of a training run not yet exported: ``runs/<name>/`` (history, planned epochs).

    Returns ``None`` when there is no such run; ``{"dir", "history" (DataFrame or None),
    "error" (str or None), "epochs_planned"}`` otherwise.
    """
    folder = runs_root() / name
    if not folder.is_dir():
        return None
    planned = None
    try:
        planned = read_json(folder / "config.json").get("epochs")
    except ArtifactError:
        pass
    history, error = None, None
    try:
        history = read_history(folder / "history.csv")
    except ArtifactError as exc:
        error = str(exc)
    return {"dir": folder, "history": history, "error": error,
            "epochs_planned": planned if isinstance(planned, int) else None}


# --------------------------------------------------------------------------- evaluations

EVALUATE_HINT = "run `make evaluate` (and `make evaluate-deepface` on a machine with DeepFace's weights)"


@dataclass(frozen=True)
class EvalRef:
    """One stored evaluation: ``<models root>/<model>/eval/<key>/``."""

    model: str
    key: str  # "<dataset>-<split>", the folder name
    path: Path

    @property
    def dataset(self) -> str:
        return self.key.rsplit("-", 1)[0] if "-" in self.key else self.key

    @property
    def split(self) -> str:
        return self.key.rsplit("-", 1)[1] if "-" in self.key else ""

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.csv"


def find_evaluations(root: str | Path | None = None, extra_model_dirs=()) -> dict[str, dict[str, EvalRef]]:
    """Stored evaluations by split key, then model name: scans ``<root>/*/eval/*/metrics.json``
    and ``<folder>/eval/*/metrics.json`` for each of ``extra_model_dirs`` (e.g. a CNN folder
    outside the root).

    Keys are sorted; FER2013's PrivateTest (the report split) comes first when present.
    """
    root = Path(root) if root is not None else models_root()
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    folders += [Path(p) for p in extra_model_dirs]
    found: dict[str, dict[str, EvalRef]] = {}
    seen: set[Path] = set()
    for folder in folders:
        try:
            resolved = folder.resolve()
        except OSError:
            continue
        if resolved in seen or not folder.is_dir():
            continue
        seen.add(resolved)
        for metrics in sorted(folder.glob("eval/*/metrics.json")):
            eval_dir = metrics.parent
            found.setdefault(eval_dir.name, {}).setdefault(folder.name, EvalRef(folder.name, eval_dir.name, eval_dir))

    def order(key: str):
        return (0 if key.lower() == "fer2013-privatetest" else 1, key.lower())

    return {key: dict(sorted(found[key].items())) for key in sorted(found, key=order)}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def top_confusions_from_matrix(labels: list[str], counts: list[list[int]], limit: int = MAX_TOP_CONFUSIONS) -> list[dict]:
    """Off-diagonal cells, largest count first: ``{"true", "predicted", "count", "share_of_true"}``."""
    cells = []
    for i, row in enumerate(counts):
        total = sum(row)
        for j, count in enumerate(row):
            if i != j and count > 0:
                cells.append({"true": labels[i], "predicted": labels[j], "count": int(count),
                              "share_of_true": round(count / total, 4) if total else 0.0})
    cells.sort(key=lambda c: (-c["count"], c["true"], c["predicted"]))
    return cells[:limit]


def read_metrics(eval_dir: str | Path) -> dict:
    """``metrics.json`` checked against the contract; ``top_confusions`` and ``n_images`` are
    filled in from the confusion matrix when absent."""
    path = Path(eval_dir) / "metrics.json"
    data = read_json(path, hint=EVALUATE_HINT)

    def bad(problem: str):
        return ArtifactError(path, problem, "invalid", EVALUATE_HINT)

    labels = data.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise bad("field 'labels' must be a non-empty list of emotion names")
    for key in ("accuracy", "macro_f1"):
        if key not in data:
            raise bad(f"missing field '{key}'")
        if not _number(data[key]) or not 0.0 <= data[key] <= 1.0:
            raise bad(f"field '{key}' must be a number between 0 and 1, found {data[key]!r}")
    matrix = data.get("confusion_matrix")
    if not isinstance(matrix, dict):
        raise bad("missing field 'confusion_matrix' (an object with 'labels' and 'counts')")
    cm_labels, counts = matrix.get("labels", labels), matrix.get("counts")
    if not isinstance(cm_labels, list) or not all(isinstance(x, str) for x in cm_labels):
        raise bad("confusion_matrix.labels must be a list of emotion names")
    n = len(cm_labels)
    if (not isinstance(counts, list) or len(counts) != n
            or not all(isinstance(row, list) and len(row) == n for row in counts)):
        raise bad(f"confusion_matrix.counts must be a {n}x{n} table (one row and column per label)")
    if not all(_number(c) and c >= 0 for row in counts for c in row):
        raise bad("confusion_matrix.counts must hold non-negative numbers")
    counts = [[int(c) for c in row] for row in counts]
    per_class = data.get("per_class")
    if not isinstance(per_class, dict):
        raise bad("missing field 'per_class' (precision, recall, f1, support per label)")
    clean_per_class = {}
    for label, values in per_class.items():
        if not isinstance(values, dict):
            raise bad(f"per_class.{label} must be an object")
        row = {}
        for key in ("precision", "recall", "f1"):
            if not _number(values.get(key)):
                raise bad(f"per_class.{label}.{key} must be a number, found {values.get(key)!r}")
            row[key] = float(values[key])
        support = values.get("support")
        row["support"] = int(support) if _number(support) else None
        clean_per_class[label] = row

    out = dict(data)
    out["labels"] = list(labels)
    out["confusion_matrix"] = {"labels": list(cm_labels), "counts": counts}
    out["per_class"] = clean_per_class
    if not _number(out.get("n_images")):
        out["n_images"] = int(sum(map(sum, counts)))
    tops = data.get("top_confusions")
    valid_tops = isinstance(tops, list) and all(
        isinstance(t, dict) and isinstance(t.get("true"), str) and isinstance(t.get("predicted"), str)
        and _number(t.get("count")) for t in tops)
    out["top_confusions"] = tops if valid_tops else top_confusions_from_matrix(list(cm_labels), counts)
    dataset = data.get("dataset")
    out["dataset"] = dataset if isinstance(dataset, dict) else {}
    return out


def read_predictions(eval_dir: str | Path) -> pd.DataFrame:
    """``predictions.csv``: path, true, predicted, confidence (0-1), then optional ``p_<label>``."""
    path = Path(eval_dir)
    if path.is_dir() or path.suffix != ".csv":
        path = path / "predictions.csv"
    frame = read_csv(path, PREDICTION_COLUMNS, hint=EVALUATE_HINT)
    probability_columns = [c for c in frame.columns if c.startswith("p_")]
    _numeric(frame, ("confidence", *probability_columns), path, EVALUATE_HINT)
    for column in ("path", "true", "predicted"):
        if frame[column].isna().any():
            row = int(frame[column].isna().to_numpy().nonzero()[0][0])
            raise ArtifactError(path, f"empty value in column {column} (data row {row + 1})", "invalid", EVALUATE_HINT)
        frame[column] = frame[column].astype(str)
    if frame["confidence"].isna().any():
        raise ArtifactError(path, "empty value in column confidence", "invalid", EVALUATE_HINT)
    if ((frame["confidence"] < 0) | (frame["confidence"] > 1)).any():
        raise ArtifactError(path, "column confidence must hold probabilities between 0 and 1", "invalid", EVALUATE_HINT)
    return frame


def resolve_dataset_file(root: str | Path, relative: str) -> Path | None:
    """``root / relative`` when it is a file inside ``root`` (no ``..`` escapes), else ``None``."""
    try:
        base = Path(root).resolve()
        target = (base / str(relative)).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


# --------------------------------------------------------------------------- benchmarks

BENCH_HINT = "run `make bench` to measure speed on this machine"


def _flatten(prefix: str, value: Any, rows: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, rows)
    elif isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        rows.append((prefix, ", ".join(map(str, value))))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _flatten(f"{prefix}[{i}]", inner, rows)
    else:
        rows.append((prefix, value))


FACT_KEYS = ("machine", "date", "commit", "created_at", "python", "tensorflow", "cpu", "hardware", "notes")


def load_benchmarks(path: str | Path | None = None) -> dict:
    """The latest benchmark results as stored (a JSON object); a list of runs is read as history
    and its last entry is returned. Raises :class:`ArtifactError` when missing or unreadable."""
    path = Path(path) if path is not None else benchmarks_path()
    if not path.is_file():
        raise ArtifactError(path, "no benchmark results yet", "missing", BENCH_HINT)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(path, f"corrupt JSON ({getattr(exc, 'msg', exc)})", "corrupt", BENCH_HINT) from None
    if isinstance(raw, list):
        raw = next((item for item in reversed(raw) if isinstance(item, dict)), None)
    if not isinstance(raw, dict) or not raw:
        raise ArtifactError(path, "expected a JSON object of measurements", "invalid", BENCH_HINT)
    return raw


def read_benchmarks(path: str | Path | None = None) -> tuple[dict, pd.DataFrame]:
    """The latest benchmark results: ``(facts, table)``.

    ``facts`` holds the descriptive keys (machine, date, commit, ...); ``table`` has one row per
    measurement: ``measurement``, ``value``, ``unit`` (guessed from the name: ``_ms`` -> ms).
    A list of runs is read as history and its last entry is shown.
    """
    raw = load_benchmarks(path)
    facts = {k: raw[k] for k in FACT_KEYS if k in raw and not isinstance(raw[k], (dict, list))}
    if isinstance(raw.get("machine"), dict):
        facts["machine"] = ", ".join(f"{k}: {v}" for k, v in raw["machine"].items())
    rows: list[tuple[str, Any]] = []
    for key, value in raw.items():
        if key in FACT_KEYS:
            continue
        _flatten(key, value, rows)
    table = pd.DataFrame(rows, columns=["measurement", "value"])
    table["unit"] = [_unit(name) for name in table["measurement"]]
    return facts, table


def _unit(name: str) -> str:
    lowered = name.lower()
    if "_ms" in lowered or lowered.endswith("ms"):
        return "ms"
    if "per_second" in lowered or "per_s" in lowered or lowered.endswith("fps"):
        return "per second"
    if lowered.endswith("_mb") or "_mib" in lowered:
        return "MiB"
    return ""
