"""The label audit in headless Chromium (issue 25): Mistakes' "Label probably wrong" view with the shipped zoo
audit, and Your data's CSV of flagged files downloaded by the browser. Screenshots:
tests/e2e/screenshots/audit_*.png."""
from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

import pytest
from harness import exceptions, fer2013_test_dir, full_screenshot, main_text, wait_idle, wait_rendered
from test_data_page_browser import open_data_page, upload

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/zipfaces.py
from zipfaces import labelled_zip  # noqa: E402

pytestmark = pytest.mark.e2e


def test_mistakes_shows_the_faces_whose_label_is_probably_wrong(page, app, screenshots, model_dir):
    if not (model_dir.parent / "_zoo" / "audit" / "fer2013-PrivateTest" / "label_audit.json").is_file():
        pytest.skip("no stored zoo audit beside this model (the shipped models/ has one: make audit)")
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name="Mistakes", exact=True).click()
    page.wait_for_url(re.compile("mistakes"))
    page.get_by_role("heading", level=1, name="Mistakes").wait_for()
    wait_idle(page)
    page.locator('[data-testid="stMain"]').get_by_text("Label probably wrong", exact=True).click()
    page.get_by_text(re.compile(r"faces \(\d+\.\d%\) flagged as probably mislabelled")).first.wait_for()
    wait_idle(page)
    wait_rendered(page)
    full_screenshot(page, screenshots / "audit_01_mistakes_label_view.png")
    text = main_text(page)
    assert not exceptions(page), exceptions(page)
    assert "not a verdict" in text and re.search(r"suggested \w+ \(label score 0\.\d\d\)", text), text[:2000]
    if fer2013_test_dir() is not None:
        assert page.locator('[data-testid="stMain"] img').count() > 0, "no faces in the label view"


def test_your_data_downloads_the_flagged_files(page, app, e2e_tmp, screenshots):
    path = e2e_tmp / "lab_faces.zip"
    path.write_bytes(labelled_zip(per_class=5, contempt=2))
    open_data_page(page, app)
    upload(page, path)
    page.get_by_text("Labels probably wrong").first.wait_for()
    wait_idle(page)
    if "No file flagged" in main_text(page):
        pytest.skip("nothing flagged on this upload")
    button = page.get_by_role("button", name=re.compile(r"Download the \d+ flagged files"))
    button.wait_for(timeout=30_000)
    button.scroll_into_view_if_needed()
    full_screenshot(page, screenshots / "audit_02_your_data.png")
    with page.expect_download() as download:
        button.click()
    assert download.value.suggested_filename == "label_issues.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    expected = int(re.search(r"Download the (\d+) flagged files", button.inner_text()).group(1))
    assert len(rows) == expected > 0
    assert list(rows[0])[:4] == ["file", "label", "suggested", "score"]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores) and all(0 <= s <= 1 for s in scores)
    assert not exceptions(page), exceptions(page)
