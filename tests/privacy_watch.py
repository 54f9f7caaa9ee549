"""Watch every file write, rename and removal a block of code makes, anywhere on disk.

Photos are personal data: analysing one must write nothing, not even a temporary file that is
deleted straight after. A snapshot of a few folders cannot see that (nor a write elsewhere), so
this watch listens to Python's audit events (``sys.addaudithook``, PEP 578), which fire for every
``open()``/``os.open()`` in a write mode, ``os.rename``/``os.replace``, ``os.remove``/``os.unlink``,
``os.rmdir``, ``os.mkdir``, ``os.truncate``, links and ``tempfile.mkstemp``/``mkdtemp``, in every
thread (Streamlit's AppTest runs the page in its own thread). Reads are not reported. An unnamed
temporary file (``tempfile.TemporaryFile`` on Linux: ``os.open(folder, O_TMPFILE)``, what a
spooled upload rolls over to) is reported as ``open O_TMPFILE`` with the folder it lives in.

Use it in any test (the video, live and own-data paths use the same watch)::

    from privacy_watch import watch_writes        # tests/ is on sys.path under pytest

    with watch_writes() as seen:
        analyzer.analyze_source(photo_bytes)
    assert seen.writes == [], seen.report()

or the ``write_watch`` fixture from ``tests/conftest.py`` (the same function). ``allow`` takes
folders where writes are expected (e.g. an output folder the user chose).

Limits: writes made by compiled code that bypasses Python's I/O (OpenCV's ``imwrite``,
TensorFlow's C++ file system) raise no audit event; pair the watch with a before/after snapshot of
the folders such code could reach. Bytecode caches (``__pycache__/*.pyc``) written when a module is
imported for the first time are ignored: they hold code, never data.

The other checks the privacy tests share live here too: ``snapshot``/``changes`` (before/after state
of folders), ``all_logging_at_debug`` (every logger captured) and ``leaks`` (a name or an image's
bytes, in any common text form, found in a text). The ``sandbox`` fixture is in ``tests/conftest.py``.
"""
from __future__ import annotations

import base64
import logging
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# audit event -> index of the argument that names the path
_PATH_EVENTS = {"os.rename": 0, "os.remove": 0, "os.rmdir": 0, "os.mkdir": 0, "os.truncate": 0, "os.link": 1,
                "os.symlink": 1, "shutil.move": 1, "shutil.rmtree": 0, "shutil.copyfile": 1, "tempfile.mkstemp": 0,
                "tempfile.mkdtemp": 0}


@dataclass
class WriteLog:
    """What a watch saw: ``writes`` holds ``(event, path)`` pairs in the order they happened."""

    allow: tuple[str, ...] = ()
    writes: list[tuple[str, str]] = field(default_factory=list)

    def record(self, event: str, path) -> None:
        text = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else repr(path)
        if "__pycache__" in text and text.rsplit(".", 1)[-1].startswith("pyc"):
            return
        absolute = os.path.abspath(text) if isinstance(path, (str, bytes, os.PathLike)) else text
        if absolute == os.devnull:  # stores nothing (BlazeFace silences TFLite's C++ logger through it)
            return
        if any(absolute == a or absolute.startswith(a + os.sep) for a in self.allow):
            return
        self.writes.append((event, absolute))

    def report(self) -> str:
        return "; ".join(f"{event} {path}" for event, path in self.writes) or "no writes"


_active: list[WriteLog] = []
_lock = threading.Lock()
_installed = False


def _is_write_open(args) -> bool:
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(path, int):  # re-opening an already open descriptor
        return False
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


_O_TMPFILE = getattr(os, "O_TMPFILE", 0)


def _is_tmpfile_open(args) -> bool:
    flags = (tuple(args) + (None, None, None))[2]
    return bool(_O_TMPFILE) and isinstance(flags, int) and flags & _O_TMPFILE == _O_TMPFILE


def _hook(event: str, args) -> None:
    if not _active:
        return
    if event == "open":
        if not _is_write_open(args):
            return
        if _is_tmpfile_open(args):
            event = "open O_TMPFILE"
        paths = [args[0]]
    elif event == "os.rename":  # also os.replace: both ends count
        paths = list(args[:2])
    elif event in _PATH_EVENTS:
        at = _PATH_EVENTS[event]
        paths = [args[at] if len(args) > at else None]
    else:
        return
    for log in list(_active):
        for path in paths:
            log.record(event, path)


def _install() -> None:
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_hook)  # an audit hook cannot be removed; it does nothing while no watch is active
            _installed = True


@contextmanager
def watch_writes(allow: tuple[str | os.PathLike, ...] = ()):
    """Record every file write, rename and removal (any thread, any folder) made inside the block."""
    _install()
    log = WriteLog(allow=tuple(os.path.abspath(Path(a)) for a in allow))
    _active.append(log)
    try:
        yield log
    finally:
        _active.remove(log)


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots``: path -> (size, mtime in ns)."""
    state = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                state[path] = (info.st_size, info.st_mtime_ns)
    return state


def changes(before: dict, after: dict) -> list[str]:
    return sorted([f"new: {p}" for p in after.keys() - before.keys()]
                  + [f"removed: {p}" for p in before.keys() - after.keys()]
                  + [f"changed: {p}" for p in before.keys() & after.keys() if before[p] != after[p]])


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
        except Exception as exc:  # a record that cannot even be formatted still counts
            self.lines.append(f"{record.name} unformattable {record.msg!r} {record.args!r} ({exc})")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def all_logging_at_debug():
    """Every logger (existing or new) at DEBUG, into one handler; restored afterwards."""
    handler = _Collect()
    root = logging.getLogger()
    loggers = [root] + [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    attached = [lg for lg in loggers if lg is root or not lg.propagate]
    previous_disable = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    for lg in attached:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        for lg in attached:
            lg.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
        logging.disable(previous_disable)


def leaks(text: str, data: bytes, name: str | None = None) -> list[str]:
    """What of the photo (its ``name``, if given, or its bytes in any common text form) appears in ``text``."""
    found = []
    for needle in {name, Path(name).stem} if name else ():
        if needle in text:
            found.append(f"file name {needle!r}")
    b64 = base64.b64encode(data).decode()
    for at in (0, len(b64) // 2 // 4 * 4, len(b64) - 44):
        if b64[at:at + 40] in text:
            found.append(f"base64 at {at}")
    for at in (2, len(data) // 2, len(data) - 40):
        chunk = data[at:at + 24]
        for form, needle in (("hex", chunk.hex()), ("repr", repr(chunk)[2:-1]), ("raw", chunk.decode("latin-1"))):
            if needle in text:
                found.append(f"{form} bytes at {at}")
    return found
