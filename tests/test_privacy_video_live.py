"""Privacy of the video and live paths: analysing a video held in memory, or live frames, writes
nothing anywhere and logs no image data (issue 16 item 5).

Writes are watched with the audit-hook watch of ``tests/privacy_watch.py``: every write-mode ``open``
(Python's and ``os.open``), rename, replace, remove, rmdir, mkdir and truncate anywhere on the file
system during the analysis (bytecode caches excepted), plus a before/after snapshot of the working and temporary folders for
what native code (FFmpeg, TensorFlow) might write without Python seeing it. All loggers are captured
at DEBUG and stdout/stderr at the file-descriptor level.
"""
from __future__ import annotations

import os
import tempfile
import threading

import numpy as np
import pytest
from privacy_watch import all_logging_at_debug, leaks, snapshot, watch_writes
from video_clips import face_clip, face_frames


def test_the_write_watch_catches_a_planted_temporary_file_and_a_write_elsewhere(sandbox, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "frame.raw"
    with watch_writes() as seen:
        with tempfile.NamedTemporaryFile(suffix=".mp4") as handle:  # written and deleted
            handle.write(b"frame")
        thread = threading.Thread(target=elsewhere.write_bytes, args=(b"frame",))  # another thread and folder
        thread.start()
        thread.join()
        fd = os.open(elsewhere.with_suffix(".fd"), os.O_WRONLY | os.O_CREAT)
        os.close(fd)
        os.remove(elsewhere)
    writes = seen.writes
    assert any(event == "open" and path.endswith(".mp4") for event, path in writes)
    assert any(path == str(elsewhere) for event, path in writes if event == "open")
    assert any(path.endswith(".fd") for _, path in writes) and any(event == "os.remove" for event, _ in writes)


def test_video_analysis_writes_nothing_and_logs_no_image_data(sandbox, tiny_model_dir, with_deepface, capfd):
    from core.analysis.pipeline import AnalysisOptions, Analyzer, load_classifiers
    from core.analysis.video import analyse_video

    classifiers, unavailable = load_classifiers("cnn,deepface", tiny_model_dir)
    assert not unavailable
    analyzer = Analyzer(classifiers)
    data = face_clip(count=10, faces=1, rate=10)
    analyse_video(data, analyzer, AnalysisOptions(detector="blazeface"), every=5)  # warm-up: models load
    roots = [*sandbox, tiny_model_dir, with_deepface]
    before = snapshot(*roots)
    capfd.readouterr()
    with all_logging_at_debug() as logs, watch_writes() as seen:
        result = analyse_video(data, analyzer, AnalysisOptions(detector="blazeface"), every=2)
        result.csv_text(), result.to_json()
        for bad in (data[: len(data) // 2], data[:2000]):
            with pytest.raises(ValueError):
                analyse_video(bad, analyzer)
    out, err = capfd.readouterr()
    assert result.rows and {r["model"] for r in result.rows} == {"fer2013_cnn", "deepface"}, "not really analysed"
    assert seen.writes == [], seen.report()
    assert snapshot(*roots) == before
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, data) == [], f"the video leaked into {where}"


def test_live_frames_write_nothing_and_log_no_image_data(sandbox, tiny_model_dir, with_deepface, capfd):
    from core.analysis.live import LiveProcessor
    from core.analysis.pipeline import load_classifiers
    from core.labels import FER2013_LABELS

    classifiers, _ = load_classifiers("cnn,deepface", tiny_model_dir)
    frames = face_frames(count=6, faces=1, width=640, height=480)
    warm = LiveProcessor(classifiers)
    warm.process(frames[0])
    warm.end()
    before = snapshot(*sandbox, tiny_model_dir, with_deepface)
    capfd.readouterr()
    with all_logging_at_debug() as logs, watch_writes() as seen:
        live = LiveProcessor(classifiers, worker_idle_s=0.2)
        for frame in frames:
            live.submit(frame)
            live.process(live.frames_in.take_newest())
        deadline = 200
        while live.worker.finished == 0 and deadline:  # let DeepFace's thread answer once
            threading.Event().wait(0.05)
            deadline -= 1
        live.process(frames[-1])
        live.end()
        table = live.csv_bytes().decode()
    out, err = capfd.readouterr()
    assert "deepface" in table and "cnn" in table and f"p_{FER2013_LABELS[0]}" in table
    assert seen.writes == [], seen.report()
    assert snapshot(*sandbox, tiny_model_dir, with_deepface) == before
    raw = np.ascontiguousarray(frames[-1]).tobytes()
    for where, text in (("logs", logs.text), ("stdout", out), ("stderr", err)):
        assert leaks(text, raw) == [], f"a frame leaked into {where}"
    assert not any(isinstance(v, np.ndarray) and v.ndim == 3 for v in vars(live).values()), "a frame was kept"
