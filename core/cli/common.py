"""Steps shared by the sub-commands: argument types, loading the chosen models, analysis options."""
from __future__ import annotations

import argparse
import sys


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, with a one-line message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def model_choice(text: str) -> str:
    """An argparse type for ``--model``: ``all``, or comma-separated ids, aliases or model folders."""
    from core.models import registry
    from core.models.base import ModelUnavailable

    parts = [part.strip() for part in text.split(",") if part.strip()]
    if parts == [registry.ALL]:
        return text
    for part in parts or [text]:
        try:
            registry.resolve(part)
        except ModelUnavailable:
            raise argparse.ArgumentTypeError(
                f"invalid choice: {part!r} (choose all, or one or more, comma-separated, of "
                f"{', '.join(registry.names())}, their aliases, or a model folder)") from None
    return text


def add_model_arguments(parser, what: str = "shown") -> None:
    """``--model`` (default ``all``: every ready model, as the app shows them), ``--model-dir`` and
    ``--raw``: the arguments every photo and video command shares."""
    parser.add_argument("--model", default="all", type=model_choice, metavar="all|NAME[,NAME...]",
                        help=f"the models {what}: all (default: every ready model) or a comma-separated list of "
                             f"ids or aliases (cnn, fer, deepface; see `python -m core models`)")
    parser.add_argument("--model-dir", help="CNN model folder (default: $EMOTION_MODEL_DIR, else models/fer2013_cnn)")
    parser.add_argument("--raw", action="store_true",
                        help="raw probabilities; by default each model's fitted temperature is applied (calibrated)")


def probability_note(args) -> str:
    """The line that says which probabilities a command printed."""
    from core.analysis.classify import CALIBRATED_NOTE, RAW_NOTE

    return f"note: {RAW_NOTE if getattr(args, 'raw', False) else CALIBRATED_NOTE}"


def load_models(*choice) -> tuple[dict, dict, int]:
    """Load the models a ``--model`` value names (``pipeline.load_classifiers(*choice)``), printing a
    ``note:`` line per unavailable one, so every command reports them alike.

    Returns ``(classifiers, unavailable, exit_code)``: ``exit_code`` is 0 when at least one model
    loaded, else what the command should return (2 a bad choice, 1 none could be loaded), its
    ``error:`` line already printed.
    """
    from core.analysis import pipeline

    try:
        classifiers, unavailable = pipeline.load_classifiers(*choice)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return {}, {}, 2
    for name, reason in unavailable.items():
        print(f"note: {name} unavailable: {reason}", file=sys.stderr)
    if not classifiers:
        print("error: no model could be loaded", file=sys.stderr)
        return classifiers, unavailable, 1
    return classifiers, unavailable, 0


def analysis_options(args, **fixed):
    """``AnalysisOptions`` from the flags a command has (``--min-face-size``, ``--detector``,
    ``--deepface-mode``, ``--whole-image``, ``--raw``, ``--align``), defaults for the rest; ``fixed`` overrides both."""
    from core.analysis.pipeline import AnalysisOptions

    values = {flag: getattr(args, flag) for flag in ("min_face_size", "detector", "deepface_mode")
              if getattr(args, flag, None) is not None}
    if getattr(args, "whole_image", False):
        values["no_face"] = "whole_image"
    if getattr(args, "raw", False):
        values["calibrated"] = False
    if getattr(args, "align", False):
        values["align"] = True
    return AnalysisOptions(**{**values, **fixed})
