"""The scan of the models root for folders that are models of their own (imported models).

The registry runs it on every lookup, so each folder's card is read again only when it changes.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

_CACHE: dict[tuple[str, int], object | None] = {}


def scan(root: Path, kinds: set[str], make_spec: Callable[[Path], object]) -> dict[str, object]:
    """``{folder name: make_spec(folder)}`` for the folders under ``root`` whose model.json ``kind`` is in ``kinds``."""
    found = {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        card = folder / "model.json"
        try:
            key = (str(card), card.stat().st_mtime_ns)
        except OSError:
            continue
        if key not in _CACHE:
            try:
                kind = json.loads(card.read_text(encoding="utf-8")).get("kind")
            except (OSError, ValueError, AttributeError):
                kind = None
            _CACHE[key] = make_spec(folder) if kind in kinds else None
        if _CACHE[key] is not None:
            found[folder.name] = _CACHE[key]
    return found
