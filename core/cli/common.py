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
    ``--deepface-mode``, ``--whole-image``), defaults for the rest; ``fixed`` overrides both."""
    from core.analysis.pipeline import AnalysisOptions

    values = {flag: getattr(args, flag) for flag in ("min_face_size", "detector", "deepface_mode")
              if getattr(args, flag, None) is not None}
    if getattr(args, "whole_image", False):
        values["no_face"] = "whole_image"
    return AnalysisOptions(**{**values, **fixed})
