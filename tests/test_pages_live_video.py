"""The Live and Video pages under streamlit.testing (the browser tests drive the real stream).

aiortc (under streamlit-webrtc) crashes the process when first loaded after TensorFlow, which other
tests in this process load; so the Live page is checked in a fresh process that loads it first, as
streamlit_app.py does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from video_clips import face_clip

PROJECT_ROOT = Path(__file__).resolve().parent.parent

LIVE_CHECK = """
import json, sys
import streamlit_webrtc  # before TensorFlow, as streamlit_app.py does
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(sys.argv[1], default_timeout=300)
app.run()
print(json.dumps({"exceptions": [e.value for e in app.exception], "titles": [t.value for t in app.title],
                  "selects": [s.label for s in app.selectbox], "captions": [c.value for c in app.caption],
                  "detector": app.selectbox[0].value if app.selectbox else None}))
"""


@pytest.fixture
def page_env(monkeypatch, tiny_model_dir, without_deepface):
    monkeypatch.setenv("EMOTION_MODEL_DIR", str(tiny_model_dir))
    monkeypatch.setenv("EMOTION_MODELS_ROOT", str(tiny_model_dir.parent))


@pytest.mark.slow
def test_live_page_offers_the_stream_and_the_detector(page_env):
    proc = subprocess.run([sys.executable, "-c", LIVE_CHECK, str(PROJECT_ROOT / "pages" / "live.py")],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = json.loads(proc.stdout.strip().splitlines()[-1])
    assert page["titles"] == ["Live"]
    assert page["selects"] == ["Face detector"] and page["detector"] == "blazeface"
    assert any("Press START" in c for c in page["captions"])
    # streamlit.testing has no browser session for WebRTC: the page says so on one line, nothing else breaks
    assert all("live stream cannot start here" in e or not e for e in page["exceptions"])


@pytest.mark.slow
def test_video_page_shows_timelines_downloads_and_limits(page_env):
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(PROJECT_ROOT / "pages" / "video.py"), default_timeout=300)
    app.run()
    assert not app.exception
    assert any("200 MB" in c.value and "10 minutes" in c.value for c in app.caption)
    app.session_state["video_detector"] = "blazeface"
    app.run()
    app.file_uploader(key="video_upload").set_value([("clip.mp4", face_clip(count=20, faces=1, rate=10), "video/mp4")])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    text = " ".join(c.value for c in app.caption)
    assert "10 frames sampled (5 a second), 1 face(s) tracked" in text
    assert "(0 shot cut(s); a track never continues across one)" in text
    assert [s.value for s in app.subheader][:3] == ["Emotions over time", "Faces tracked",
                                                    "Strongest moment of each emotion"]
    assert set(app.dataframe[0].value["face"]) == {1}  # one track, a row per model
    assert "Only moments where a model's probability reached 50%." in text
