"""Browser-test harness: the app as a subprocess, Debian's Chromium driven by Playwright.

* The app runs with ``streamlit run streamlit_app.py`` on a free localhost port, pointed at a CNN
  folder with EMOTION_MODEL_DIR: ``$EMOTION_MODEL_DIR`` if set, else the shipped
  ``models/fer2013_cnn``, else an untrained model of the same architecture written to a temporary
  folder (see :func:`core.bench.standins.resolve_model_dir`). DeepFace uses the real weights when present,
  else architecture-identical stand-in weights in a temporary DEEPFACE_HOME.
* Chromium is ``/usr/bin/chromium`` (``apt-get install chromium``), headless, with a fake webcam
  that plays a YUV4MPEG2 video of the example photo (written at test time, never committed).
* Screenshots go to ``tests/e2e/screenshots/`` (git-ignored).

Every test under tests/e2e is marked ``e2e``: ``make e2e`` runs them, ``make test`` does not.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from harness import fer2013_test_dir

from core.bench.app import CHROMIUM, CHROMIUM_ARGS, AppServer, app_env
from core.bench.scenes import write_y4m
from core.bench.standins import resolve_deepface_home, resolve_model_dir

E2E_DIR = Path(__file__).resolve().parent
SCREENSHOTS = E2E_DIR / "screenshots"
APP_START_TIMEOUT_S = 240  # a cold start imports TensorFlow; slow on a busy 2-core machine
VIEWPORT = {"width": 1400, "height": 1000}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def model_dir(e2e_tmp) -> Path:
    path, origin = resolve_model_dir(scratch=e2e_tmp / "models")
    print(f"\ne2e: {origin}")
    if e2e_tmp in path.parents:
        evaluate_stand_in(path)
    return path


def evaluate_stand_in(path: Path, limit: int = 140) -> None:
    """Give a temporary model an evaluation (a slice of FER2013's PrivateTest, when FER2013 is
    present), so that the Evaluation and Mistakes pages have something to show."""
    data = fer2013_test_dir()
    if data is None:
        print("e2e: no FER2013 folder: the Evaluation and Mistakes pages will show their empty states")
        return
    command = [sys.executable, "-m", "core", "evaluate", "--model", path.name, "--data", data, "--split", "PrivateTest",
               "--limit", str(limit), "--models-dir", str(path.parent)]
    proc = subprocess.run(command, cwd=E2E_DIR.parent.parent, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    print(f"e2e: evaluated the stand-in model on {limit} FER2013 PrivateTest images"
          if proc.returncode == 0 else f"e2e: evaluation failed ({proc.returncode}): {proc.stderr[-1500:]}")


@pytest.fixture(scope="session")
def deepface_home(e2e_tmp) -> Path:
    home, origin, _ = resolve_deepface_home(e2e_tmp / "deepface_home")
    print(f"\ne2e: {origin}")
    return home


@pytest.fixture(scope="session")
def fake_webcam(e2e_tmp) -> Path:
    from core.media.images import example_photo

    return write_y4m(e2e_tmp / "astronaut.y4m", example_photo(), 640, 480)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def app(model_dir, deepface_home, e2e_tmp):
    """The running app: ``app.url``; its log is printed if a test fails to start it."""
    if not (E2E_DIR.parent.parent / "streamlit_app.py").is_file():
        pytest.fail("streamlit_app.py does not exist")
    env = app_env(model_dir, deepface_home)
    server = AppServer(env, log_path=e2e_tmp / "streamlit.log")
    server.start()
    try:
        server.wait_healthy(APP_START_TIMEOUT_S)
        yield server
    finally:
        server.stop()
        log = server.log_tail(3000).strip()
        if log:
            print(f"\n--- streamlit log (tail) ---\n{log}")


@pytest.fixture(scope="session")
def chromium_args(fake_webcam) -> list[str]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium)")
    return [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={fake_webcam}"]


@pytest.fixture(scope="session")
def browser(chromium_args):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app):
    context = browser.new_context(viewport=VIEWPORT, permissions=["camera"])
    context.set_default_timeout(120_000)  # the first analysis waits for the models to load
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    yield page
    context.close()
