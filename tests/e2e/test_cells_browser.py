"""Click-through in Chromium (issue 26, item 4): a real click on a cell of the CNN's confusion matrix on the
Evaluation page opens Mistakes on that pair. Needs a stored evaluation (the shipped ones, or the e2e
stand-in's); screenshots: tests/e2e/screenshots/cells_*.png."""
from __future__ import annotations

import re

import pytest
from harness import exceptions, full_screenshot, main_text, wait_idle, wait_rendered

pytestmark = pytest.mark.e2e


def test_a_click_on_a_confusion_cell_opens_mistakes(page, app, screenshots):
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name="Evaluation", exact=True).click()
    page.get_by_role("heading", level=1, name=re.compile("How the models score")).wait_for()
    wait_idle(page)
    wait_rendered(page)
    if page.locator('[data-testid="stPlotlyChart"]').count() == 0:
        pytest.skip("no stored evaluation to click on")
    full_screenshot(page, screenshots / "cells_00_evaluation.png")
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    row, column = 2, 5  # true fear, predicted surprise (FER2013's label order)
    # off the cell's centre (a quarter cell right and down): the whole cell is the target
    page.mouse.click(area["x"] + area["width"] * (column + 0.75) / 7, area["y"] + area["height"] * (row + 0.75) / 7)
    page.get_by_role("heading", level=1, name="Mistakes").wait_for(timeout=60_000)
    wait_idle(page)
    full_screenshot(page, screenshots / "cells_01_mistakes_from_a_click.png")
    text = main_text(page)
    assert not exceptions(page), exceptions(page)
    assert re.search(r"\d+ of \d+ `fear` images\*?\*? were called \*?\*?surprise", text.replace("**", "")) or \
        re.search(r"of \d+ fear images were called surprise", text), text[:2000]
