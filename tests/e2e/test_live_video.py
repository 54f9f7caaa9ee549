"""Live and Video pages in Chromium: the fake webcam (a .y4m of the example photo) streamed over
WebRTC with no STUN server, the readout, STOP and its CSV; a video upload and its timeline.

Screenshots land in tests/e2e/screenshots/ (look at them).
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from harness import EMOTION, exceptions, full_screenshot, main_text, wait_idle, wait_rendered

pytestmark = pytest.mark.e2e
FPS = re.compile(r"\b(\d+) fps\b")


def open_page(page, app, title: str) -> None:
    page.goto(app.url)
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)
    page.get_by_role("link", name=title).first.click()
    page.get_by_role("heading", name=title, level=1).wait_for()
    wait_idle(page)


def webrtc(page):
    return page.frame_locator('iframe[title*="webrtc_streamer"]')


def test_live_streams_the_fake_webcam_with_a_readout_and_a_csv(page, app, screenshots):
    open_page(page, app, "Live")
    start = webrtc(page).get_by_role("button", name="START")
    start.wait_for(timeout=60_000)
    full_screenshot(page, screenshots / "20_live_before_start.png")
    start.click()
    # Within 20 s of START: a frame rate and an emotion in the readout (refreshed every second).
    page.wait_for_function("""() => {
        const t = document.querySelector('[data-testid="stMain"]').innerText;
        return /[1-9]\\d* fps/.test(t) && /(angry|disgust|fear|happy|sad|surprise|neutral)/.test(t);
    }""", timeout=20_000, polling=250)
    page.wait_for_timeout(4000)  # a few seconds of chart
    text = main_text(page)
    fps = int(FPS.search(text).group(1))
    assert fps >= 1 and EMOTION.search(text)
    assert "CNN" in text and "Last 30 seconds" in text
    page.screenshot(path=str(screenshots / "21_live_streaming.png"))

    webrtc(page).get_by_role("button", name="STOP").click()
    button = page.get_by_role("button", name="Download what was seen (CSV)")
    button.wait_for(timeout=30_000)
    wait_idle(page)
    seconds = page.get_by_test_id("stMetricValue").nth(1).inner_text()
    page.wait_for_timeout(2500)
    assert page.get_by_test_id("stMetricValue").nth(1).inner_text() == seconds  # stopped counting
    with page.expect_download() as info:
        button.click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert rows and list(rows[0])[:4] == ["time_s", "face", "model", "dominant_emotion"]
    assert {"fer2013_cnn"} <= {r["model"] for r in rows} and all(r["p_happy"] for r in rows if r["model"] == "fer2013_cnn")
    full_screenshot(page, screenshots / "22_live_stopped.png")
    assert not exceptions(page)


def test_a_video_upload_shows_the_timeline(page, app, e2e_tmp, screenshots):
    from video_clips import face_clip

    clip = e2e_tmp / "clip.mp4"
    clip.write_bytes(face_clip(count=30, faces=2, rate=10))
    open_page(page, app, "Video files")
    page.locator('input[type="file"]').first.set_input_files(str(clip))
    page.get_by_role("heading", name="Emotions over time").wait_for(timeout=180_000)
    wait_idle(page)
    wait_rendered(page)
    text = main_text(page)
    full_screenshot(page, screenshots / "23_video_timeline.png")
    assert not exceptions(page)
    assert "15 frames sampled (5 a second), 2 face(s) tracked" in text
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2  # per face x model
    assert "Strongest moment of each emotion" in text
    assert page.get_by_role("button", name="Download CSV").is_visible()
