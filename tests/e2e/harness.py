"""Helpers for driving the Streamlit app in Chromium (Playwright's sync and async pages alike)."""
from __future__ import annotations

import re
from pathlib import Path

from core.labels import FER2013_LABELS

EMOTION = re.compile(r"\b(" + "|".join(FER2013_LABELS) + r")\b", re.IGNORECASE)
FACES_IN_ALL = re.compile(r"(\d+) faces? in all")
MAX_SCREENSHOT_HEIGHT = 8000

# Streamlit scrolls inside its main section, so a "full page" screenshot only shows the window:
# the window is made as tall as the content for the shot, then restored.
_CONTENT_HEIGHT_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const block = document.querySelector('[data-testid="stMainBlockContainer"]');
  return Math.max(main ? main.scrollHeight : 0, block ? block.scrollHeight + 120 : 0, window.innerHeight);
}"""


def wait_idle(page, timeout_ms: float = 180_000) -> None:
    """Until the script run has finished (Streamlit marks it on the app's root element).

    Call it after something that shows the run has started (new text, a new page's title).
    """
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=timeout_ms)
    page.wait_for_timeout(200)


# Streamlit loads most element types lazily (code-split): a grey skeleton shows until the code
# arrives, and Plotly draws its SVG later still. Screenshots and reads wait for all of it.
RENDERED_JS = """() => {
  if (document.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  if (!charts.every(c => c.querySelector('svg.main-svg'))) return false;
  return [...document.querySelectorAll('[data-testid="stMain"] img')].every(i => i.complete);
}"""


def wait_rendered(page, timeout_ms: float = 90_000) -> None:
    page.wait_for_function(RENDERED_JS, timeout=timeout_ms, polling=200)


def full_screenshot(page, path: Path) -> Path:
    size = page.viewport_size
    wait_rendered(page)
    height = min(int(page.evaluate(_CONTENT_HEIGHT_JS)), MAX_SCREENSHOT_HEIGHT)
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        page.wait_for_timeout(300)
        wait_rendered(page)
        page.wait_for_timeout(300)  # let charts re-layout to the new size
    page.screenshot(path=str(path))
    if height > size["height"]:
        page.set_viewport_size(size)
    return path


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def metric_values(page) -> list[str]:
    return [v.strip() for v in page.get_by_test_id("stMetricValue").all_inner_texts()]


def alerts(page) -> list[str]:
    return [a.strip() for a in page.locator('[data-testid="stAlert"]').all_inner_texts()]


def exceptions(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()


def fer2013_test_dir() -> Path | None:
    """FER2013 as the app finds it (FER2013_DIR, else ../shared/datasets/fer2013), if it has test/."""
    from core.paths import dataset_dir_from_env

    path = dataset_dir_from_env()
    return path if path is not None and (path / "test").is_dir() else None
