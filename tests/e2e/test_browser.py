"""The app in a real browser: upload a photo, snap a webcam picture, open every page.

Screenshots of every step land in tests/e2e/screenshots/ (look at them).
"""
from __future__ import annotations

import re

import pytest
from harness import (
    EMOTION,
    FACES_IN_ALL,
    alerts,
    exceptions,
    fer2013_test_dir,
    full_screenshot,
    main_text,
    metric_values,
    wait_idle,
    wait_rendered,
)

from core.bench.scenes import encode, make_photo

pytestmark = pytest.mark.e2e
PAGES = ("Compare", "Training", "Evaluation", "Mistakes", "About")


@pytest.fixture(scope="module")
def three_faces(e2e_tmp):
    path = e2e_tmp / "three_faces.jpg"
    path.write_bytes(encode(make_photo(1280, 720, 3)))
    return path


def open_app(page, app) -> None:
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    wait_rendered(page)


def choose_detector(page, title: str) -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Face detector").click()
    page.get_by_role("option", name=title).click()
    wait_idle(page)


def test_upload_a_photo_shows_every_face_with_both_models(page, app, three_faces, screenshots):
    open_app(page, app)
    full_screenshot(page, screenshots / "01_compare_start.png")
    choose_detector(page, "Haar (OpenCV)")  # the generated heads are drawn frontal faces: Haar's kind
    page.locator('input[type="file"]').first.set_input_files(str(three_faces))
    page.get_by_text(FACES_IN_ALL).wait_for()
    page.get_by_text("Face 3", exact=True).wait_for()
    wait_idle(page)
    wait_rendered(page)
    text = main_text(page)
    full_screenshot(page, screenshots / "02_compare_upload_three_faces.png")

    assert not exceptions(page)
    assert "1 photo analysed, 3 faces in all" in text
    assert "three_faces.jpg — 3 faces" in text
    assert all(f"Face {i}" in text for i in (1, 2, 3))
    values = metric_values(page)
    assert len(values) >= 6 and len(values) % 3 == 0, values  # 3 faces x every ready model (CNN, DeepFace, ...)
    assert all(EMOTION.fullmatch(v) for v in values), values
    assert "CNN" in text and "DeepFace" in text
    assert not page.console_errors, page.console_errors


def test_a_non_image_upload_is_refused_in_the_page(page, app, e2e_tmp, screenshots):
    bad = e2e_tmp / "holiday.jpg"
    bad.write_bytes(b"this is a text file with a .jpg name\n" * 10)
    open_app(page, app)
    page.locator('input[type="file"]').first.set_input_files(str(bad))
    message = page.get_by_text(re.compile(r"holiday\.jpg was refused: not an image"))
    message.wait_for()
    wait_idle(page)
    full_screenshot(page, screenshots / "03_compare_bad_upload.png")
    assert not exceptions(page)


def test_webcam_snapshot_is_analysed(page, app, screenshots):
    open_app(page, app)
    page.get_by_text("Use the webcam", exact=True).click()
    button = page.get_by_role("button", name=re.compile(r"take photo", re.IGNORECASE))
    button.wait_for()
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }")
    page.wait_for_timeout(500)  # a few frames of the fake camera
    full_screenshot(page, screenshots / "04_compare_webcam_live.png")
    button.click()
    page.get_by_text(re.compile(r"webcam snapshot 1\.jpg — \d+ faces?")).wait_for()
    wait_idle(page)
    wait_rendered(page)
    text = main_text(page)
    full_screenshot(page, screenshots / "05_compare_webcam_snapshot.png")
    assert not exceptions(page)
    assert "webcam snapshot 1.jpg — 1 face" in text, text[:2000]
    values = metric_values(page)
    assert len(values) >= 2 and all(EMOTION.fullmatch(v) for v in values), values


JFIF_NAME = "IMG_20240517_123456_portrait_from_a_phone_camera.jfif"


def overflowing(page) -> list[str]:
    """Texts in the main area cut at their box's right edge (wider content than box, clipped)."""
    selector = ", ".join(f'[data-testid="stMain"] {inner}' for inner in (
        '[data-testid="stCaptionContainer"]', '[data-testid="stMetricValue"]', '[data-testid="stExpander"] summary'))
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== 'visible')
        .map(e => e.innerText.slice(0, 80))""", selector)


def test_a_jfif_photo_is_analysed_and_kept_across_pages(page, app, e2e_tmp, screenshots):
    """Chromium sends a .jfif as image/jpeg; Streamlit's uploader must accept it by its extension."""
    from skimage import data

    photo = e2e_tmp / JFIF_NAME
    photo.write_bytes(encode(data.astronaut()[..., ::-1].copy()))
    open_app(page, app)
    page.locator('input[type="file"]').first.set_input_files(str(photo))
    page.get_by_text(f"{JFIF_NAME} — 1 face").wait_for()
    page.get_by_text(re.compile(r"· (happy|sad|angry|fear|surprise|neutral|disgust) \d+%")).first.wait_for()
    wait_idle(page)
    wait_rendered(page)
    text = main_text(page)
    assert "not allowed" not in text and "1 photo analysed, 1 face in all" in text
    assert page.get_by_role("button", name=re.compile("Annotated photo")).count() == 1
    assert page.locator('[data-testid="stMain"] img').count() >= 4  # photo, crop, a heat map per model, colour bar
    full_screenshot(page, screenshots / "20_compare_jfif_wide.png")
    assert not overflowing(page), overflowing(page)

    page.set_viewport_size({"width": 700, "height": 900})
    wait_rendered(page)
    full_screenshot(page, screenshots / "21_compare_jfif_narrow.png")
    assert not overflowing(page), overflowing(page)
    page.set_viewport_size({"width": 1400, "height": 900})

    page.get_by_role("link", name="About", exact=True).click()
    page.wait_for_url(re.compile("about"))
    page.get_by_role("link", name="Compare", exact=True).click()
    page.get_by_text(f"{JFIF_NAME} — 1 face").wait_for()  # still there, not re-uploaded
    page.get_by_role("button", name=re.compile("Remove all")).click()
    page.get_by_text("Add a photo to start").wait_for()
    assert not exceptions(page)
    assert not page.console_errors, page.console_errors


def test_every_page_opens_without_errors(page, app, screenshots, model_dir):
    # With FER2013 present the model is evaluated (tests/e2e/conftest.py), so both pages must show it.
    evaluated = fer2013_test_dir() is not None or any((model_dir / "eval").glob("*/metrics.json"))
    open_app(page, app)
    seen = {}
    for number, name in enumerate(PAGES, start=6):
        page.get_by_role("link", name=name, exact=True).click()
        if name != "Compare":
            page.wait_for_url(re.compile(name.lower()))
        page.get_by_role("heading", level=1).first.wait_for()
        wait_idle(page)
        title = page.get_by_role("heading", level=1).first.inner_text().strip()
        full_screenshot(page, screenshots / f"{number:02d}_page_{name.lower()}.png")
        seen[name] = {"title": title, "alerts": alerts(page)}
        assert not exceptions(page), f"{name}: {exceptions(page)}"
        assert title, f"{name}: no title"
        if evaluated and name == "Evaluation":
            assert "No stored evaluations" not in main_text(page)
            assert re.search(r"accuracy", main_text(page), re.IGNORECASE)
        if evaluated and name == "Mistakes":
            assert page.locator('[data-testid="stMain"] img').count() > 0, "no face images on the Mistakes page"
    print("\npages:", *(f"{n}: {v['title']!r}, alerts: {v['alerts']}" for n, v in seen.items()), sep="\n  ")
    assert len({v["title"] for v in seen.values()}) == len(PAGES), "some links did not change the page"
    assert not page.console_errors, page.console_errors
