"""What the pages share: cached model loading, cached artifact reading, and how problems are shown.

Not a page itself (streamlit_app.py lists the pages with st.navigation). The heavy lifting lives in
``core``; this module only adds Streamlit's caches and messages around it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from core.presentation import artifacts, charts, evaluations
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
            models.unavailable.setdefault(name, without_server_paths(status.reason))
    return models


def models_or_stop(what: str) -> Models:
    """:func:`load_models`, each unavailable model said once, and the page stopped when none loaded
    (``what`` is what could then not be analysed, e.g. "the stream")."""
    models = load_models()
    if models.analyzer is None:
        st.error(f"No model could be loaded, so {what} cannot be analysed (see the Compare page for what to do).")
        st.stop()
    for name, reason in models.unavailable.items():
        st.info(f"**{charts.display_name(name)} is unavailable.** {without_server_paths(reason)}", icon=":material/info:")
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


def split_label(key: str) -> str:
    dataset, _, split = key.rpartition("-")
    return f"{dataset} / {split}" if dataset else key


# --------------------------------------------------------------------------- N models (Evaluation, Mistakes)


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


def _stamp(spec) -> tuple:
    """What a loaded model depends on: its location and the modification times of its files."""
    location = spec.availability().location
    if not location:
        return (None,)
    path = Path(location)
    files = [path / "model.keras", path / "model.json"] if path.is_dir() else [path]
    return (location, *(artifacts.mtime(f) for f in files))


@st.cache_resource(show_spinner="Loading {0} (first time only)…", max_entries=16)
def _load_model(name: str, stamp: tuple):
    """One classifier (or the one-line reason it cannot load), loaded once per model file version."""
    from core.models import registry

    try:
        return registry.get(name)
    except Exception as exc:  # noqa: BLE001 - one model failing to load must not stop the others
        return " ".join(str(exc).split())


def load_classifier(name: str):
    """The app's one model cache: the classifier ``name`` names (an id or a model folder), or the
    one-line reason it cannot be loaded. Every page loads its models here. A model this session added
    is its own, held in the session (never in the process-wide cache, which every session shares)."""
    from core.models import registry
    from core.models.base import ModelUnavailable

    added = session_added().get(str(name))
    if added is not None:
        return added["classifier"]
    try:
        spec = registry.resolve(name)
    except ModelUnavailable as exc:
        return str(exc)
    return _load_model(str(name), _stamp(spec))


def load_model_set(names) -> Models:
    """The models ``names`` (registry ids) as an Analyzer over them, each loaded once per process."""
    from core.analysis.pipeline import Analyzer

    classifiers, unavailable = {}, {}
    for name in names:
        loaded = load_classifier(name)
        if isinstance(loaded, str):
            unavailable[name] = without_server_paths(loaded)
        else:
            classifiers[loaded.name] = loaded
    if not classifiers:
        return Models(None, unavailable)
    labels = tuple(dict.fromkeys(label for c in classifiers.values() for label in c.labels))
    return Models(Analyzer(classifiers), unavailable, {n: c.describe() for n, c in classifiers.items()}, labels)


# --------------------------------------------------------------------------- models this session added

SESSION_MODELS = "session_models"


def session_added() -> dict[str, dict]:
    """``{id: {"spec", "classifier"}}`` of the models this session uploaded (empty outside a page run:
    a worker thread has no session)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return {}
    return st.session_state.get(SESSION_MODELS, {})


def session_records() -> dict:
    """The records of this session's models: what the registry adds for this session only."""
    return {name: entry["spec"] for name, entry in session_added().items()}


def add_session_model(classifier, display_name: str = "") -> None:
    """Keep ``classifier`` (in memory) for this session: it shows on every page until the tab closes."""
    from core.models.registry import Availability, ModelSpec, Preprocessing

    convention = classifier.convention
    spec = ModelSpec(name=classifier.name, kind="imported", factory=lambda **_: classifier,
                     availability=lambda: Availability(True, "", "this session (in memory)"),
                     display_name=display_name or classifier.name, labels=tuple(classifier.labels),
                     preprocessing=Preprocessing(classifier.input_size, convention.channels, convention.scaling,
                                                 convention.resize),
                     explainable=classifier.explainer() is not None,
                     description=f"uploaded in this session ({classifier.network.format}); kept in memory only")
    st.session_state.setdefault(SESSION_MODELS, {})[classifier.name] = {"spec": spec, "classifier": classifier}


def session_gradcam(classifier):
    """Grad-CAM over one of this session's models, kept in the session: never in the process-wide cache,
    where another session could meet it (or None when the model has no Keras network to explain)."""
    from core.analysis.gradcam import GradCam

    store = st.session_state.setdefault("session_gradcams", {})
    if id(classifier) not in store:
        parts = classifier.explainer()
        store[id(classifier)] = parts and GradCam(parts.model, preprocess=parts.preprocess, letterbox=parts.letterbox)
    return store[id(classifier)]
