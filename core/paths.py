"""Where things live: the project root, the environment-driven locations, and atomic writes.

Every location can be moved with an environment variable, so the app, the CLI and the tests can
point at any folder:

* ``EMOTION_MODELS_ROOT``: the models root (default ``models/``);
* ``EMOTION_MODEL_DIR``: the CNN's folder (default ``<models root>/fer2013_cnn``);
* ``EMOTION_RUNS_ROOT``: training runs (default ``runs/``);
* ``EMOTION_BENCHMARKS``: benchmark results (default ``benchmarks/results.json``);
* ``FER2013_DIR``: the FER2013 folder layout (default ``../shared/datasets/fer2013`` when it exists).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_NAME = "fer2013_cnn"
DEFAULT_FER2013_DIR = PROJECT_ROOT.parent / "shared" / "datasets" / "fer2013"  # the Makefile's default


def env_path(variable: str, default: Path) -> Path:
    """``$variable`` as a path (``~`` expanded), or ``default`` when it is unset or blank."""
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else default


def models_root() -> Path:
    return env_path("EMOTION_MODELS_ROOT", PROJECT_ROOT / "models")


def model_dir() -> Path:
    """The CNN's folder: ``EMOTION_MODEL_DIR`` or ``<models root>/fer2013_cnn``."""
    return env_path("EMOTION_MODEL_DIR", models_root() / DEFAULT_MODEL_NAME)


def runs_root() -> Path:
    return env_path("EMOTION_RUNS_ROOT", PROJECT_ROOT / "runs")


def benchmarks_path() -> Path:
    return env_path("EMOTION_BENCHMARKS", PROJECT_ROOT / "benchmarks" / "results.json")


def dataset_dir_from_env() -> Path | None:
    """``FER2013_DIR``; when it is unset, the Makefile's default folder if it exists.

    Setting ``FER2013_DIR`` to an empty string means "no dataset"."""
    value = os.environ.get("FER2013_DIR")
    if value is None:
        return DEFAULT_FER2013_DIR if DEFAULT_FER2013_DIR.is_dir() else None
    value = value.strip()
    return Path(value).expanduser() if value else None


def display_path(path: str | Path) -> str:
    """A path relative to the project when it is inside it (shorter messages), else as given."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except (ValueError, OSError):
        return str(path)


def mtime(path: str | Path) -> float | None:
    """Modification time, or ``None`` when the file is missing (a cache key that changes on rewrite)."""
    try:
        return Path(path).stat().st_mtime_ns / 1e9
    except OSError:
        return None


def atomic_write(path: str | Path, write: Callable[[Path], object], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp)`` on a sibling temporary path, then rename it over ``path``.

    A reader never sees a half-written file, and an interrupted write leaves the old one intact.
    ``suffix`` matters where a library picks the format from the name (``.tmp.npz``, ``.tmp.keras``).
    """
    path = Path(path)
    tmp = path.with_name(path.name + suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json(path: str | Path, data, sort_keys: bool = False) -> Path:
    """``data`` as indented JSON with a final newline, written atomically."""
    text = json.dumps(data, indent=2, sort_keys=sort_keys) + "\n"
    return atomic_write(path, lambda tmp: tmp.write_text(text))
