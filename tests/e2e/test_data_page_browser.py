"""The "Your data" page in headless Chromium: a labelled zip uploaded through the real file input gives the
figures (accuracy metrics, confusion matrices, per-class charts), the mistakes gallery and the download
button; a bad zip gives its one-line message. Screenshots: tests/e2e/screenshots/data_*.png."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from harness import alerts, exceptions, full_screenshot, main_text, metric_values, wait_idle, wait_rendered

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/zipfaces.py
from zipfaces import labelled_zip  # noqa: E402

pytestmark = pytest.mark.e2e


def open_data_page(page, app) -> None:
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name="Your data", exact=True).click()
    page.wait_for_url(re.compile("data"))
    page.get_by_role("heading", level=1, name=re.compile("Your data")).wait_for()
    wait_idle(page)


def upload(page, path: Path) -> None:
    page.locator('input[type="file"]').first.set_input_files(str(path))
    page.get_by_text(path.name).first.wait_for()
    wait_idle(page)
    button = page.get_by_role("button", name=re.compile(r"^Evaluate \d+ models?"))
    page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                           "b => b.innerText.startsWith('Evaluate') && !b.disabled)")
    button.click()
    wait_idle(page)
    wait_rendered(page)


def test_a_labelled_zip_gives_the_figures_and_the_download(page, app, e2e_tmp, screenshots):
    path = e2e_tmp / "my_faces.zip"
    path.write_bytes(labelled_zip(per_class=5, contempt=2))
    open_data_page(page, app)
    full_screenshot(page, screenshots / "data_01_empty.png")
    upload(page, path)
    page.get_by_text(re.compile(r"\d+ images of my_faces")).wait_for()
    full_screenshot(page, screenshots / "data_02_evaluated.png")
    text = main_text(page)
    assert not exceptions(page), exceptions(page)
    assert "37 images of my_faces" in text, text[:1500]
    assert "contempt images left out" in text
    values = metric_values(page)
    assert values and all(re.fullmatch(r"\d+\.\d%|\d\.\d{3}", v) for v in values), values
    assert page.locator(".js-plotly-plot").count() >= 3  # confusion matrices, per-class bars, reliability
    assert page.get_by_role("button", name=re.compile("Download the results")).count() == 1
    assert page.locator('[data-testid="stMain"] img').count() > 0, "no mistakes gallery"
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download the results")).click()
    assert download.value.suggested_filename == "my_faces-evaluation.zip"


def test_a_bad_zip_shows_its_message(page, app, e2e_tmp, screenshots):
    path = e2e_tmp / "bad.zip"
    path.write_bytes(b"this is not a zip")
    open_data_page(page, app)
    upload(page, path)
    page.locator('[data-testid="stAlert"]').first.wait_for()
    full_screenshot(page, screenshots / "data_03_bad_zip.png")
    assert not exceptions(page)
    assert any("not a zip archive" in a for a in alerts(page)), alerts(page)
