"""The Robustness page in a real browser (issue 24): curves, ranking and the strip of corrupted faces,
screenshot in tests/e2e/screenshots/robustness_page.png (look at it)."""
from __future__ import annotations

import re

import pytest
from harness import exceptions, full_screenshot, main_text, wait_idle, wait_rendered

from core.analysis import corruptions

pytestmark = pytest.mark.e2e


def test_robustness_page_shows_curves_ranking_and_the_corrupted_face_strip(page, app, screenshots):
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name="Robustness", exact=True).click()
    page.wait_for_url(re.compile("robustness"))
    page.get_by_role("heading", level=1).filter(has_text="Robustness").wait_for()
    wait_idle(page)
    wait_rendered(page)
    shot = full_screenshot(page, screenshots / "robustness_page.png")
    assert shot.stat().st_size > 50_000
    assert not exceptions(page), exceptions(page)
    text = main_text(page)
    assert "What each severity looks like" in text
    for family in corruptions.FAMILIES:
        assert family.title in text
    strip = page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
    assert strip.count() == 6 * len(corruptions.FAMILIES)
    sizes = strip.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
    assert all(size == [72, 72] for size in sizes), sizes  # every face drawn, at the strip's size
    if "No stored robustness results" not in text:
        assert page.locator('[data-testid="stPlotlyChart"] svg.main-svg').count() >= 1
        assert "Ranking" in text and "the same as its Evaluation" in text  # the table is a canvas: its caption
        assert "In-plane rotation, dashed: the same rotated faces turned back by their eye line" in text
    assert not page.console_errors, page.console_errors
