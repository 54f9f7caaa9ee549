"""Privacy of the video and live paths: analysing a video held in memory, or live frames, writes
nothing anywhere and logs no image data (issue 16 item 5).

Writes are watched with ``sys.addaudithook``: every write-mode ``open`` (Python's and ``os.open``),
rename, replace, remove, rmdir, mkdir and truncate anywhere on the file system during the analysis
(bytecode caches excepted), plus a before/after snapshot of the working and temporary folders for
what native code (FFmpeg, TensorFlow) might write without Python seeing it. All loggers are captured
at DEBUG and stdout/stderr at the file-descriptor level.
"""
from __future__ import annotations

import base64
import logging
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from video_clips import face_clip, face_frames

_WATCHERS: list[list[str]] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_IGNORED = ("__pycache__", "/dev/null", "/proc/")


def _audit(event: str, args) -> None:
    if not _WATCHERS:
        return
    what = None
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path, mode, flags = args[0], args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else 0
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS):
            what = f"open for writing: {os.fsdecode(path)}"
    elif event in ("os.rename", "os.replace", "os.remove", "os.unlink", "os.rmdir", "os.mkdir", "os.truncate",
                   "shutil.rmtree", "shutil.move", "shutil.copyfile"):
        what = f"{event}: {args[0]!r}"
    if what and not any(part in what for part in _IGNORED):
        for watcher in list(_WATCHERS):
            watcher.append(what)


sys.addaudithook(_audit)  # audit hooks cannot be removed: it only records while a watch is active


@contextmanager
def watch_writes():
    seen: list[str] = []
    _WATCHERS.append(seen)
    try:
        yield seen
    finally:
        _WATCHERS.remove(seen)


def snapshot(*roots: Path) -> dict:
    state = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                info = os.lstat(path)
                state[path] = (info.st_size, info.st_mtime_ns)
    return state


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        try:
            self.lines.append(f"{record.name} {record.getMessage()}")
        except Exception:  # noqa: BLE001 - an unformattable record still counts
            self.lines.append(f"{record.name} {record.msg!r} {record.args!r}")


@contextmanager
def all_logs():
    handler, root = _Collect(), logging.getLogger()
    loggers = [root] + [lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled


def leaks(text: str, data: bytes) -> list[str]:
    found = []
    b64 = base64.b64encode(data).decode()
    for at in (0, len(b64) // 2 // 4 * 4):
        if b64[at:at + 40] in text:
            found.append(f"base64 at {at}")
    for at in (64, len(data) // 2):
        chunk = data[at:at + 24]
        if chunk.hex() in text or repr(chunk)[2:-1] in text:
            found.append(f"bytes at {at}")
    return found


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    return work, temp


def test_the_write_watch_catches_a_planted_temporary_file_and_a_write_elsewhere(sandbox, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "frame.raw"
    with watch_writes() as writes:
        with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:  # written and deleted
            handle.write(b"frame")
        thread = threading.Thread(target=elsewhere.write_bytes, args=(b"frame",))  # another thread and folder
        thread.start()
        thread.join()
        fd = os.open(elsewhere.with_suffix(".fd"), os.O_WRONLY | os.O_CREAT)
        os.close(fd)
        os.remove(elsewhere)
    assert any(w.startswith("open for writing:") and w.endswith(".mp4") for w in writes)
    assert any(str(elsewhere) in w for w in writes if w.startswith("open"))
    assert any(w.endswith(".fd") for w in writes) and any(w.startswith("os.remove") for w in writes)


def test_video_analysis_writes_nothing_and_logs_no_image_data(sandbox, tiny_model_dir, with_deepface, capfd):
    from core.analysis.pipeline import AnalysisOptions, Analyzer, load_classifiers
    from core.analysis.video import analyse_video

    classifiers, unavailable = load_classifiers("both", tiny_model_dir)
    assert not unavailable
    analyzer = Analyzer(classifiers)
    data = face_clip(count=10, faces=1, rate=10)
    analyse_video(data, analyzer, AnalysisOptions(detector="blazeface"), every=5)  # warm-up: models load
    roots = [*sandbox, tiny_model_dir, with_deepface]
    before = snapshot(*roots)
    capfd.readouterr()
    with all_logs() as logs, watch_writes() as writes:
        result = analyse_video(data, analyzer, AnalysisOptions(detector="blazeface"), every=2)
        result.csv_text(), result.to_json()
        for bad in (data[: len(data) // 2], data[:2000]):
            with pytest.raises(ValueError):
                analyse_video(bad, analyzer)
    out, err = capfd.readouterr()
    assert result.rows and {r["model"] for r in result.rows} == {"cnn", "deepface"}, "not really analysed"
    assert writes == []
    assert snapshot(*roots) == before
    for where, text in (("logs", "\n".join(logs.lines)), ("stdout", out), ("stderr", err)):
        assert leaks(text, data) == [], f"the video leaked into {where}"


def test_live_frames_write_nothing_and_log_no_image_data(sandbox, tiny_model_dir, with_deepface, capfd):
    from core.analysis.live import LiveProcessor
    from core.analysis.pipeline import load_classifiers
    from core.labels import FER2013_LABELS

    classifiers, _ = load_classifiers("both", tiny_model_dir)
    frames = face_frames(count=6, faces=1, width=640, height=480)
    warm = LiveProcessor(classifiers)
    warm.process(frames[0])
    warm.end()
    before = snapshot(*sandbox, tiny_model_dir, with_deepface)
    capfd.readouterr()
    with all_logs() as logs, watch_writes() as writes:
        live = LiveProcessor(classifiers, worker_idle_s=0.2)
        for frame in frames:
            live.submit(frame)
            live.process_newest()
        deadline = 200
        while live.worker.finished == 0 and deadline:  # let DeepFace's thread answer once
            threading.Event().wait(0.05)
            deadline -= 1
        live.process(frames[-1])
        live.end()
        table = live.csv_bytes().decode()
    out, err = capfd.readouterr()
    assert "deepface" in table and "cnn" in table and f"p_{FER2013_LABELS[0]}" in table
    assert writes == []
    assert snapshot(*sandbox, tiny_model_dir, with_deepface) == before
    raw = np.ascontiguousarray(frames[-1]).tobytes()
    for where, text in (("logs", "\n".join(logs.lines)), ("stdout", out), ("stderr", err)):
        assert leaks(text, raw) == [], f"a frame leaked into {where}"
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(live).values()), "a frame was kept"
