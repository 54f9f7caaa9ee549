"""Which folders on the server a visitor may name: the operator's data roots.

A shared app must not read datasets from anywhere on the server's disk. Server folders are off unless
the operator lists allowed roots in ``EMOTION_DATA_ROOTS`` (folders separated by ``:``); when it is
unset and the app serves only this machine (localhost), FER2013's folder is the one root. A folder
the visitor types is resolved (symlinks and ``..``) and must lie inside a root; anything else, a
missing path included, gets :data:`REFUSAL`, the same line whatever the path, so that the answer
reveals nothing about the server's folders.

A relative path is read under the root of that name: ``fer2013/test`` is ``test/`` of the root
folder called ``fer2013``. Messages name folders this way (root name and the path under it), never
by their absolute path.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOTS_VARIABLE = "EMOTION_DATA_ROOTS"
REFUSAL = ("That folder is not available: this server reads only the dataset folders its operator has "
           "allowed (EMOTION_DATA_ROOTS).")
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")


class FolderRefused(ValueError):
    """A typed folder outside every data root (or none is configured); ``str()`` is :data:`REFUSAL`."""

    def __init__(self):
        super().__init__(REFUSAL)


def _resolved_dir(path: Path) -> Path | None:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_dir() else None


def data_roots(local: bool = True) -> list[Path]:
    """The allowed roots, resolved: ``EMOTION_DATA_ROOTS`` when set (empty: none), else FER2013's
    folder when the server is ``local`` (bound to localhost) and that folder exists, else none."""
    value = os.environ.get(ROOTS_VARIABLE)
    if value is not None:
        candidates = [Path(part.strip()) for part in value.split(os.pathsep) if part.strip()]
    elif local:
        from core.paths import dataset_dir_from_env

        fer = dataset_dir_from_env()
        candidates = [fer] if fer is not None else []
    else:
        candidates = []
    roots = [_resolved_dir(path) for path in candidates]
    return list(dict.fromkeys(root for root in roots if root is not None))


def server_is_local(address: str | None) -> bool:
    """Whether a ``server.address`` setting serves only this machine (unset means every interface)."""
    return bool(address) and address.strip("[]") in LOCAL_ADDRESSES


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def resolve_in_roots(typed: str | os.PathLike, roots: list[Path]) -> Path:
    """The folder (or file) ``typed`` names, resolved, when it exists inside one of ``roots``;
    otherwise :class:`FolderRefused` (one fixed line, the same for a missing path and a forbidden one)."""
    text = os.fspath(typed).strip()
    if not text or "\x00" in text or not roots:
        raise FolderRefused()
    path = Path(text)
    if path.is_absolute():
        candidates = [path]
    else:
        first, *rest = path.parts
        candidates = [root.joinpath(*rest) for root in roots if root.name == first]
    for candidate in candidates:
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if _inside(real, roots):
            return real
    raise FolderRefused()


def display(path: str | os.PathLike, roots: list[Path]) -> str:
    """``path`` as its root's name and the path under it (``fer2013/test``); its last part when it is
    in no root."""
    real = Path(path)
    for root in roots:
        if _inside(real, [root]):
            return Path(root.name, real.relative_to(root)).as_posix()
    return real.name


def scrub(message: str, path: str | os.PathLike, shown: str) -> str:
    """``message`` with the absolute ``path`` (and anything under it) written as ``shown``."""
    return str(message).replace(os.fspath(path), shown)
