"""Privacy: analysing an uploaded photo writes no file and logs no image data or file name.

The library (``Analyzer.analyze_source`` on image bytes, both models, both DeepFace modes) and the
app (an upload through the Compare page's uploader, with ``streamlit.testing.v1.AppTest``) run in
a temporary working directory with a private ``tempfile.gettempdir()``; both folders (and the model
and DeepFace folders) are snapshot before and after. All loggers are captured at DEBUG, and
stdout/stderr at the file-descriptor level; none may contain the file name or the image's bytes
(raw, hex, ``repr`` or base64).
"""
from __future__ import annotations

import base64
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import cv2
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_NAME = "private-holiday-7f3a9c.jpg"


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


def leaks(text: str, data: bytes, name: str = SECRET_NAME) -> list[str]:
    """What of the photo (its name, or its bytes in any common text form) appears in ``text``."""
    found = []
    for needle in {name, Path(name).stem}:
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


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A fresh working directory (cwd) and a private temporary directory (``tempfile.gettempdir()``)."""
    work, temp = tmp_path / "cwd", tmp_path / "tmp"
    work.mkdir()
    temp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() recomputes from TMPDIR
    assert Path(tempfile.gettempdir()) == temp
    return work, temp


@pytest.fixture(scope="module")
def photo_bytes(astronaut) -> bytes:
    ok, buffer = cv2.imencode(".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buffer.tobytes()


def test_leak_detector_works(photo_bytes):
    assert leaks(f"uploaded {SECRET_NAME}", photo_bytes)
    assert leaks(base64.b64encode(photo_bytes).decode(), photo_bytes)
    assert leaks(repr(photo_bytes), photo_bytes)
    assert leaks(photo_bytes.hex(), photo_bytes)
    assert not leaks("analysed 1 photo, 1 face: happy", photo_bytes)


def test_analysis_writes_no_file_and_logs_no_image_data(sandbox, photo_bytes, tiny_model_dir, with_deepface, capfd):
    from core.analysis.pipeline import AnalysisOptions, Analyzer, load_classifiers

    classifiers, unavailable = load_classifiers("both", tiny_model_dir)
    assert not unavailable
    analyzer = Analyzer(classifiers)
    roots = [*sandbox, tiny_model_dir, with_deepface]
    before = snapshot(*roots)
    capfd.readouterr()
    with all_logging_at_debug() as logs:
        results = [analyzer.analyze_source(photo_bytes, name=SECRET_NAME, options=AnalysisOptions(deepface_mode=mode))
                   for mode in ("crops", "full")]
        analyzer.analyze_source(bytearray(photo_bytes), name=SECRET_NAME, options=AnalysisOptions(no_face="whole_image"))
    out, err = capfd.readouterr()
    assert all(r.faces for r in results), "the photo was not really analysed"
    assert changes(before, snapshot(*roots)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, photo_bytes) == [], f"the photo leaked into {where}"


def test_a_refused_upload_logs_no_image_data(sandbox, photo_bytes, tiny_model_dir, capfd):
    from core.analysis.pipeline import Analyzer, load_classifiers
    from core.media.images import ImageDecodeError

    analyzer = Analyzer(load_classifiers("cnn", tiny_model_dir)[0])
    truncated = photo_bytes[: len(photo_bytes) // 2]
    before = snapshot(*sandbox)
    capfd.readouterr()
    with all_logging_at_debug() as logs, pytest.raises(ImageDecodeError):
        analyzer.analyze_source(truncated, name=SECRET_NAME)
    out, err = capfd.readouterr()
    assert changes(before, snapshot(*sandbox)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, truncated) == [], f"the photo leaked into {where}"


@pytest.mark.slow
@pytest.mark.skipif(not (PROJECT_ROOT / "streamlit_app.py").is_file(), reason="the app does not exist yet")
def test_app_upload_writes_no_file_and_logs_no_image_data(sandbox, photo_bytes, tiny_model_dir, with_deepface,
                                                          monkeypatch, capfd):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tiny_model_dir.parent))
    app = AppTest.from_file(str(PROJECT_ROOT / "streamlit_app.py"), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    uploaders = [u for u in app.file_uploader if "upload" in u.label.lower()]
    assert uploaders, "no upload widget on the first page"

    roots = [*sandbox, tiny_model_dir.parent, with_deepface]
    before = snapshot(*roots)
    capfd.readouterr()
    with all_logging_at_debug() as logs:
        uploaders[0].set_value((SECRET_NAME, photo_bytes, "image/jpeg"))
        app.run()
    out, err = capfd.readouterr()
    assert not app.exception, [e.value for e in app.exception]
    assert len(logs.lines) > 10, "the log capture saw nothing: it is not capturing"
    page_text = " ".join(m.value for m in app.markdown)
    assert "1 face" in page_text, f"no analysis result on the page: {page_text[:500]}"
    assert changes(before, snapshot(*roots)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, photo_bytes) == [], f"the photo leaked into {where}"
