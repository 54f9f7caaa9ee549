"""Emotion-recognition workbench: our CNN and DeepFace side by side. Run with `make run`
(or `streamlit run streamlit_app.py`).

Where things are read from (environment variables):
  EMOTION_MODEL_DIR    the CNN's folder (default models/fer2013_cnn)
  EMOTION_MODELS_ROOT  the models root scanned for evaluations (default models/)
  EMOTION_RUNS_ROOT    training runs, for progress before export (default runs/)
  EMOTION_BENCHMARKS   benchmark results (default benchmarks/results.json)
  FER2013_DIR          the FER2013 images, for the Mistakes gallery
  DEEPFACE_HOME        where DeepFace's weights live (default: the home folder)
"""
from __future__ import annotations

import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:  # `core` and `pages.common` import from here
    sys.path.insert(0, str(APP_DIR))

import streamlit as st  # noqa: E402
import streamlit_webrtc  # noqa: E402,F401  (aiortc's libsrtp crashes the process when first loaded after TensorFlow)

import core  # noqa: E402,F401  (sets the Keras backend before anything imports Keras)
from pages import runtime  # noqa: E402

PAGES = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", default=True),
    st.Page("pages/training.py", title="Training", icon=":material/monitoring:"),
    st.Page("pages/evaluation.py", title="Evaluation", icon=":material/analytics:"),
    st.Page("pages/robustness.py", title="Robustness", icon=":material/shield:"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/grid_view:"),
    st.Page("pages/data.py", title="Your data", icon=":material/folder_zip:"),
    st.Page("pages/live.py", title="Live", icon=":material/videocam:"),
    st.Page("pages/video.py", title="Video files", icon=":material/movie:"),
    st.Page("pages/models.py", title="Models", icon=":material/deployed_code:"),
    st.Page("pages/about.py", title="About", icon=":material/info:"),
]


def run() -> None:
    """Set up the process once (pages/runtime.py), then run the page the browser asked for."""
    runtime.install()
    # A local file: a Material icon as the favicon is fetched from a third-party font server.
    st.set_page_config(page_title="Emotion workbench", page_icon=str(APP_DIR / "assets" / "favicon.png"), layout="wide")
    st.navigation(PAGES).run()


run()
