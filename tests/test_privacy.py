"""Privacy: analysing an uploaded photo writes no file and logs no image data or file name.

Every write-mode open, rename and removal anywhere on disk, in any thread, during the analysis is
caught by the audit-hook watch of ``tests/privacy_watch.py`` (so a temporary file written and
deleted again counts, and so does a write outside the folders below). The library (``Analyzer.analyze_source`` on image bytes, both models, both DeepFace modes) and the
app (an upload through the Compare page's uploader, with ``streamlit.testing.v1.AppTest``) run in
a temporary working directory with a private ``tempfile.gettempdir()``; both folders (and the model
and DeepFace folders) are snapshot before and after. All loggers are captured at DEBUG, and
stdout/stderr at the file-descriptor level; none may contain the file name or the image's bytes
(raw, hex, ``repr`` or base64).
"""
from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import cv2
import pytest
from privacy_watch import all_logging_at_debug, changes, leaks, snapshot, watch_writes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRET_NAME = "private-holiday-7f3a9c.jpg"


@pytest.fixture(scope="module")
def photo_bytes(astronaut) -> bytes:
    ok, buffer = cv2.imencode(".jpg", astronaut, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buffer.tobytes()


def test_leak_detector_works(photo_bytes):
    assert leaks(f"uploaded {SECRET_NAME}", photo_bytes, name=SECRET_NAME)
    assert leaks(base64.b64encode(photo_bytes).decode(), photo_bytes, name=SECRET_NAME)
    assert leaks(repr(photo_bytes), photo_bytes, name=SECRET_NAME)
    assert leaks(photo_bytes.hex(), photo_bytes, name=SECRET_NAME)
    assert not leaks("analysed 1 photo, 1 face: happy", photo_bytes, name=SECRET_NAME)


def analyse_and_check_privacy(analyzer, photo_bytes: bytes, roots: list[Path], capfd) -> None:
    """Analyse the photo (both DeepFace modes, and the whole-image fallback) under every watch; assert
    that nothing was written, renamed or removed and that nothing of the photo reached logs or output."""
    from core.analysis.pipeline import AnalysisOptions

    before = snapshot(*roots)
    capfd.readouterr()
    with all_logging_at_debug() as logs, watch_writes() as seen:
        results = [analyzer.analyze_source(photo_bytes, name=SECRET_NAME, options=AnalysisOptions(deepface_mode=mode))
                   for mode in ("crops", "full")]
        analyzer.analyze_source(bytearray(photo_bytes), name=SECRET_NAME, options=AnalysisOptions(no_face="whole_image"))
    out, err = capfd.readouterr()
    assert all(r.faces for r in results), "the photo was not really analysed"
    assert seen.writes == [], f"the analysis wrote to disk: {seen.report()}"
    assert changes(before, snapshot(*roots)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, photo_bytes, name=SECRET_NAME) == [], f"the photo leaked into {where}"


@pytest.fixture(scope="module")
def both_models(tiny_model_dir, stand_in_deepface_home):
    from core.analysis.pipeline import Analyzer, load_classifiers

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEEPFACE_HOME", str(stand_in_deepface_home))
        classifiers, unavailable = load_classifiers("cnn,deepface", tiny_model_dir)
    assert not unavailable
    return Analyzer(classifiers)


def test_analysis_writes_no_file_and_logs_no_image_data(sandbox, photo_bytes, tiny_model_dir, with_deepface,
                                                        both_models, capfd):
    analyse_and_check_privacy(both_models, photo_bytes, [*sandbox, tiny_model_dir, with_deepface], capfd)


def test_write_watch_sees_every_kind_of_write(tmp_path_factory):
    """Self-test of the watch: writes anywhere (not only in a watched folder), temporary files that are
    deleted again, low-level opens, renames and removals, from another thread too; reads are not writes."""
    import threading

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    existing = elsewhere / "existing.txt"
    existing.write_text("x")
    with watch_writes() as seen:
        existing.read_text()
        (elsewhere / "a.jpg").write_bytes(b"face")
        with tempfile.NamedTemporaryFile(dir=elsewhere, suffix=".png") as handle:  # deleted on close
            handle.write(b"face")
        fd = os.open(elsewhere / "b.raw", os.O_WRONLY | os.O_CREAT)
        os.close(fd)
        os.replace(elsewhere / "b.raw", elsewhere / "c.raw")
        os.remove(elsewhere / "c.raw")
        thread = threading.Thread(target=lambda: open(elsewhere / "d.bin", "ab").close())
        thread.start()
        thread.join()
    events = seen.writes
    paths = [path for _, path in events]
    assert str(elsewhere / "a.jpg") in paths
    assert ("os.remove", handle.name) in events and handle.name in paths[:paths.index(str(elsewhere / "b.raw"))]
    assert ("open", str(elsewhere / "b.raw")) in events and ("os.rename", str(elsewhere / "c.raw")) in events
    assert ("os.remove", str(elsewhere / "c.raw")) in events and ("open", str(elsewhere / "d.bin")) in events
    assert str(existing) not in paths  # a read is not a write
    with watch_writes(allow=(elsewhere,)) as allowed:
        (elsewhere / "e.txt").write_text("expected output")
    assert allowed.writes == []


@pytest.mark.parametrize("plant", ["deleted temporary file", "write outside the watched folders"])
def test_privacy_check_catches_a_planted_write(sandbox, photo_bytes, tiny_model_dir, with_deepface, both_models,
                                               capfd, monkeypatch, tmp_path_factory, plant):
    """The check above must fail when the analysis writes the photo somewhere, even for a moment."""
    elsewhere = tmp_path_factory.mktemp("not_watched_by_snapshot")
    cnn = both_models.classifiers["fer2013_cnn"]
    original = cnn.predict

    def leaky_predict(faces):
        if plant == "deleted temporary file":
            with tempfile.NamedTemporaryFile(suffix=".npy") as handle:
                handle.write(faces[0].tobytes())
        else:
            (elsewhere / "face.npy").write_bytes(faces[0].tobytes())
        return original(faces)

    monkeypatch.setattr(cnn, "predict", leaky_predict)
    with pytest.raises(AssertionError, match="the analysis wrote to disk"):
        analyse_and_check_privacy(both_models, photo_bytes, [*sandbox, tiny_model_dir, with_deepface], capfd)


def test_a_refused_upload_logs_no_image_data(sandbox, photo_bytes, tiny_model_dir, capfd):
    from core.analysis.pipeline import Analyzer, load_classifiers
    from core.media.images import ImageDecodeError

    analyzer = Analyzer(load_classifiers("cnn", tiny_model_dir)[0])
    truncated = photo_bytes[: len(photo_bytes) // 2]
    before = snapshot(*sandbox)
    capfd.readouterr()
    with all_logging_at_debug() as logs, watch_writes() as seen, pytest.raises(ImageDecodeError):
        analyzer.analyze_source(truncated, name=SECRET_NAME)
    out, err = capfd.readouterr()
    assert seen.writes == [], seen.report()
    assert changes(before, snapshot(*sandbox)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, truncated, name=SECRET_NAME) == [], f"the photo leaked into {where}"


@pytest.mark.slow
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
    with all_logging_at_debug() as logs, watch_writes() as seen:
        uploaders[0].set_value((SECRET_NAME, photo_bytes, "image/jpeg"))
        app.run()
    out, err = capfd.readouterr()
    assert seen.writes == [], f"the upload wrote to disk: {seen.report()}"
    assert not app.exception, [e.value for e in app.exception]
    assert len(logs.lines) > 10, "the log capture saw nothing: it is not capturing"
    page_text = " ".join(m.value for m in app.markdown)
    assert "1 face" in page_text, f"no analysis result on the page: {page_text[:500]}"
    assert changes(before, snapshot(*roots)) == []
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, photo_bytes, name=SECRET_NAME) == [], f"the photo leaked into {where}"
