"""The Models page in headless Chromium (issue 23): an .onnx model uploaded through the real file input is
added to this session and analyses a photo on Compare; another browser session does not see it; and the
server wrote nothing: no new or changed file in the models folder, the project or the app's own TMPDIR
(but onnxruntime's own first-launch file, see below), and no file anywhere there holds the model's bytes. Screenshots: tests/e2e/screenshots/models_*.png."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from harness import exceptions, full_screenshot, main_text, wait_idle

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/model_files.py, tests/privacy_watch.py
from model_files import onnx_bytes  # noqa: E402
from privacy_watch import changes, snapshot  # noqa: E402

from core.bench.app import AppServer, app_env  # noqa: E402

pytestmark = pytest.mark.e2e
PROJECT = Path(__file__).resolve().parents[2]
NAME = "browser_bands"


@pytest.fixture(scope="module")
def private_app(model_dir, deepface_home, tmp_path_factory):
    """The app with its own TMPDIR, so that any temporary file it wrote would be seen."""
    tmp = tmp_path_factory.mktemp("app_tmp")
    server = AppServer({**app_env(model_dir, deepface_home), "TMPDIR": str(tmp)},
                       log_path=tmp_path_factory.mktemp("log") / "streamlit.log")
    server.start()
    try:
        server.wait_healthy(240)
        server.tmp = tmp
        yield server
    finally:
        server.stop()


def open_page(page, app, link: str) -> None:
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name=link, exact=True).click()
    page.get_by_role("heading", level=1, name=re.compile(link)).wait_for()
    wait_idle(page)


def analyse_photo(page, app, photo: Path) -> None:
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(photo))
    page.get_by_text(re.compile(r"\d+ faces? in all")).first.wait_for()
    wait_idle(page)


def test_an_uploaded_model_joins_compare_for_this_session_and_writes_nothing(browser, private_app, model_dir,
                                                                            e2e_tmp, screenshots):
    from core.media.images import example_photo

    model = e2e_tmp / "bands.onnx"
    model.write_bytes(onnx_bytes())
    photo = e2e_tmp / "photo.png"
    import cv2

    cv2.imwrite(str(photo), example_photo())
    roots = [Path(model_dir).parent, private_app.tmp, PROJECT / "models", PROJECT / "core", PROJECT / "pages"]
    warm = browser.new_context().new_page()  # the built-in models load (and TensorFlow traces them) first
    warm.set_default_timeout(180_000)
    analyse_photo(warm, private_app, photo)
    warm.context.close()
    before = snapshot(*roots)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(180_000)
    page = context.new_page()
    open_page(page, private_app, "Models")
    page.locator('input[type="file"]').first.set_input_files(str(model))
    page.get_by_text("onnx model: input 48x48x1").wait_for()
    wait_idle(page)
    page.get_by_label("Name (its id on every page)").fill(NAME)
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Add to this session").click()
    page.get_by_text(f"{NAME} is added to this session.").wait_for()
    wait_idle(page)
    full_screenshot(page, screenshots / "models_01_added.png")
    assert not exceptions(page), exceptions(page)

    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.locator('input[type="file"]').first.set_input_files(str(photo))
    page.get_by_text(re.compile(r"\d+ faces? in all")).first.wait_for()
    wait_idle(page)
    full_screenshot(page, screenshots / "models_02_compare.png")
    assert NAME in main_text(page)
    assert not exceptions(page), exceptions(page)

    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    other.set_default_timeout(180_000)
    other.goto(private_app.url)
    other.get_by_role("heading", level=1).first.wait_for()
    wait_idle(other)
    assert NAME not in other.locator('[data-testid="stSidebar"]').inner_text()
    context.close()

    after = snapshot(*roots)
    written = [c for c in changes(before, after) if "__pycache__" not in str(c)]
    # onnxruntime's first import writes $TMPDIR/.ses (its telemetry SDK's first-launch time and a random id;
    # disable_telemetry_events() does not stop it): allowed only with exactly that content
    ses = private_app.tmp / ".ses"
    if f"new: {ses}" in written:
        assert re.fullmatch(r"\d{13}\n[0-9a-f-]{36}\n", ses.read_text()), ses.read_text()[:200]
        written.remove(f"new: {ses}")
    assert written == [], written
    data = model.read_bytes()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_size >= len(data) // 2:
                assert data[1000:1400] not in path.read_bytes(), path
