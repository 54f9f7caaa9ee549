"""Safe readers of the stored artifacts described in ``docs/ARTIFACTS.md``.

Every reader returns the data or raises :class:`ArtifactError`, whose ``str()`` is one line
saying which file is wrong and how (missing, corrupt JSON/CSV, missing columns or fields, values
of the wrong type), so that a dashboard can explain the problem instead of crashing. ``hint``
says what to do about it, where that is known.

Locations come from environment variables (see :mod:`core.paths`), so the app and its tests can
point at any folder.

Nothing here imports Streamlit.
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core import paths
from core.models.card import ModelCard, ModelCardError

HISTORY_COLUMNS = ("epoch", "accuracy", "loss", "val_accuracy", "val_loss")
HISTORY_OPTIONAL_COLUMNS = ("learning_rate", "epoch_seconds")


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
        super().__init__(f"{paths.display_path(self.path)}: {self.problem}")


# --------------------------------------------------------------------------- locations

# The locations live in core.paths; the pages read them through this module.
models_root, model_dir, runs_root = paths.models_root, paths.model_dir, paths.runs_root
benchmarks_path, dataset_dir_from_env, mtime = paths.benchmarks_path, paths.dataset_dir_from_env, paths.mtime


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
    """``<folder>/model.json`` as a dict, checked by :class:`~core.models.card.ModelCard` (a
    non-empty ``labels`` list; object fields are objects)."""
    path = Path(folder) / "model.json"
    try:
        return ModelCard.read(folder).to_dict()
    except ModelCardError as exc:
        raise ArtifactError(path, exc.problem, exc.kind, TRAIN_HINT) from None


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
    if (isinstance(value, int) and not isinstance(value, bool) and value >= 1
            and (history is None or (value - 1) in set(history["epoch"].tolist()))):
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


def run_progress(name: str) -> dict | None:
    """Progress of a training run not yet exported: ``runs/<name>/`` (history, planned epochs).

    Returns ``None`` when there is no such run; ``{"dir", "history" (DataFrame or None),
    "error" (str or None), "epochs_planned"}`` otherwise.
    """
    folder = runs_root() / name
    if not folder.is_dir():
        return None
    planned = None
    with contextlib.suppress(ArtifactError):
        planned = read_json(folder / "config.json").get("epochs")
    history, error = None, None
    try:
        history = read_history(folder / "history.csv")
    except ArtifactError as exc:
        error = str(exc)
    return {"dir": folder, "history": history, "error": error,
            "epochs_planned": planned if isinstance(planned, int) else None}


# --------------------------------------------------------------------------- benchmarks

BENCH_HINT = "run `make bench` to measure speed on this machine"


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
