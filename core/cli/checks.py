"""What the CLI checks before it imports TensorFlow (7-9 s): paths that do not exist, a data folder
outside the operator's data roots, and a whole FER2013 folder where one split is meant. A mistake is
answered in well under 2 s, with exit code 2, and a correct call goes on to the command.

Data roots (:mod:`core.data.roots`) apply to the CLI only when ``EMOTION_DATA_ROOTS`` is set: on a
shared server the operator sets it for the app, and a CLI the app (or anything in its environment)
runs inherits it. A person running the CLI on their own machine is not limited.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

FER2013_TOO_BIG = ("{data} is the whole FER2013 folder (train/ and test/, about 35,900 images); one evaluation "
                   "takes at most {limit:,}: name a split, e.g. --split PrivateTest (or PublicTest, Training)")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _data_problem(data: str) -> str | None:
    from core.data import roots

    if os.environ.get(roots.ROOTS_VARIABLE) is not None:
        try:
            roots.resolve_in_roots(data, roots.data_roots(local=False))
        except roots.FolderRefused as exc:
            return str(exc)
        return None
    if not Path(data).exists():
        return f"{data}: no such file or folder"
    return None


def _whole_fer2013(args) -> bool:
    data = Path(args.data)
    split = getattr(args, "split", None) or "all"
    return (split == "all" and getattr(args, "limit", None) is None and getattr(args, "kind", "auto") in ("auto", "fer2013")
            and (data / "train").is_dir() and (data / "test").is_dir())


def precheck(args) -> int:
    """0 when the command may start; else the exit code, its ``error:`` line already printed."""
    command = args.command
    if command in ("evaluate", "calibrate", "train", "audit", "robustness") and getattr(args, "data", None):
        problem = _data_problem(args.data)
        if problem:
            return _error(problem)
        if command in ("evaluate", "audit") and _whole_fer2013(args):
            from core.data.archive import DEFAULT_LIMITS

            return _error(FER2013_TOO_BIG.format(data=args.data, limit=DEFAULT_LIMITS.max_files))
    if command in ("predict", "explain"):
        missing = [p for p in args.images if not Path(p).exists()]
        if len(missing) == len(args.images):  # nothing to do: say so now (some present: the command reports each)
            for path in missing:
                print(f"error: {path}: no such file", file=sys.stderr)
            return 2
    if command == "video" and not Path(args.file).is_file():
        return _error(f"cannot read {args.file}: no such file")
    if command == "import-model" and not Path(args.file).is_file():
        return _error(f"{args.file}: no such file")
    return 0
