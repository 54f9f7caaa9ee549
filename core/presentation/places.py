"""Folders as the UI names them: by role ("DeepFace's weights folder") or relative to the project, never
by an absolute server path, which tells a visitor how the server is laid out.

:func:`without_server_paths` rewrites any text (a model's "unavailable" reason, a hint) before a page
shows it; :func:`place` names one folder.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from core.paths import PROJECT_ROOT, dataset_dir_from_env


def _roles() -> list[tuple[str, str]]:
    """(absolute folder, its name in the UI), the most specific first."""
    from core.models import deepface_weights

    roles = [(deepface_weights.weights_path().parent, "DeepFace's weights folder"),
             (Path(deepface_weights.deepface_home()) / ".deepface", "DeepFace's folder")]
    fer = dataset_dir_from_env()
    if fer is not None:
        roles.append((fer, fer.name))
    roles.append((Path(sys.prefix), "the Python environment"))
    out = []
    for folder, name in roles:
        for form in {str(folder), os.path.realpath(folder)}:
            if form not in ("/", "") and not (Path(form) == PROJECT_ROOT or PROJECT_ROOT in Path(form).parents):
                out.append((form, name))
    return sorted(out, key=lambda pair: -len(pair[0]))


def without_server_paths(text: str) -> str:
    """``text`` with folders named by role, paths in the project made relative, and any other absolute
    path cut to its last part (``.../name``)."""
    from core.presentation.speed import without_machine_paths

    text = str(text)
    for folder, name in _roles():
        text = text.replace(folder + "/", name + "/").replace(folder, name)
    return without_machine_paths(text)


def place(path: str | os.PathLike) -> str:
    """One folder or file, as :func:`without_server_paths` names it."""
    return without_server_paths(os.fspath(path))
