"""Browser load: one running app serves 4 browser sessions uploading photos at the same time.

Each session (its own browser context, so its own Streamlit session) uploads a different photo;
all four uploads start together. Every session must get its own results (its photo's name and
face count, nothing of the other sessions'). Times per upload (from handing the file to the page
until its results are on screen), next to a single-session baseline, are printed and written to a
temporary file; the tracked benchmarks/load.json is rewritten only when asked (``make bench-load``,
which sets ``WRITE_BENCHMARKS=1``).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import statistics
import threading
import time
from pathlib import Path

import pytest
from harness import RENDERED_JS

from core.bench.app import CHROMIUM
from core.bench.scenes import encode, make_photo

pytestmark = pytest.mark.e2e
PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOAD_JSON = PROJECT_ROOT / "benchmarks" / "load.json"
SESSIONS = 4
ROUNDS = 2
# (width, height, faces) per session and round: different names and face counts per session
PHOTOS = [[(1280, 720, 1), (640, 480, 2)], [(1280, 720, 2), (1024, 768, 1)],
          [(1280, 720, 3), (800, 600, 3)], [(1920, 1080, 1), (640, 480, 1)]]
VIEWPORT = {"width": 1400, "height": 1000}
RESULT_TIMEOUT_MS = 240_000


def _faces(n: int) -> str:
    return f"{n} face" + ("" if n == 1 else "s")


async def _open(browser, url):
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    page.set_default_timeout(RESULT_TIMEOUT_MS)
    await page.goto(url)
    await page.get_by_role("heading", level=1).first.wait_for()
    return context, page


async def _upload(page, path: Path, faces: int) -> float:
    start = time.perf_counter()
    await page.locator('input[type="file"]').first.set_input_files(str(path))
    await page.get_by_text(f"{path.name} — {_faces(faces)}", exact=True).wait_for(timeout=RESULT_TIMEOUT_MS)
    return time.perf_counter() - start


async def _run(url: str, args: list[str], photos: list[list[tuple[Path, int]]], screenshots: Path) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        # Baseline: one session alone (after a warm-up upload that makes sure the models are loaded).
        context, page = await _open(browser, url)
        await _upload(page, photos[0][0][0], photos[0][0][1])
        baseline = await _upload(page, photos[1][1][0], photos[1][1][1])
        await context.close()

        opened = await asyncio.gather(*(_open(browser, url) for _ in range(SESSIONS)))
        pages = [page for _, page in opened]
        rounds = []
        for r in range(ROUNDS):
            start = time.perf_counter()
            times = await asyncio.gather(*(_upload(page, *photos[i][r]) for i, page in enumerate(pages)))
            rounds.append({"upload_s": [round(t, 3) for t in times], "wall_s": round(time.perf_counter() - start, 3)})
        texts = [await page.locator('[data-testid="stMain"]').inner_text() for page in pages]
        for i, page in enumerate(pages):
            await page.wait_for_function(RENDERED_JS, timeout=90_000, polling=200)
            await page.screenshot(path=str(screenshots / f"20_load_session_{i + 1}.png"))
        for context, _ in opened:
            await context.close()
        await browser.close()
    return {"baseline_s": round(baseline, 3), "rounds": rounds, "texts": texts}


def test_four_sessions_uploading_at_once_all_get_their_results(app, chromium_args, e2e_tmp, screenshots, model_dir):
    photos = []
    for i, row in enumerate(PHOTOS):
        photos.append([])
        for r, (width, height, faces) in enumerate(row):
            path = e2e_tmp / f"session{i + 1}_round{r + 1}_{width}x{height}.jpg"
            path.write_bytes(encode(make_photo(width, height, faces)))
            photos[i].append((path, faces))

    outcome: dict = {}

    def worker():  # the async API in its own thread, away from the sync Playwright of other tests
        try:
            outcome["result"] = asyncio.run(_run(app.url, chromium_args, photos, screenshots))
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=900)
    assert not thread.is_alive(), "the browser load test hung"
    if "error" in outcome:
        raise outcome["error"]
    result = outcome["result"]

    for i, text in enumerate(result["texts"]):
        for (path, faces) in photos[i]:
            assert f"{path.name} — {_faces(faces)}" in text, f"session {i + 1} lacks its results for {path.name}"
        total = sum(faces for _, faces in photos[i])
        assert f"{len(photos[i])} photos analysed, {_faces(total)} in all" in text
        others = [p.name for j, row in enumerate(photos) if j != i for p, _ in row]
        assert not [name for name in others if name in text], f"session {i + 1} shows another session's photo"
        assert not re.search(r"Traceback|Error:", text), f"session {i + 1}: {text[:1000]}"

    all_times = [t for r in result["rounds"] for t in r["upload_s"]]
    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "what": f"{SESSIONS} browser sessions (headless Chromium contexts) upload a photo at the same time, "
                f"{ROUNDS} rounds; time per upload = file handed to the page until its results are on screen",
        "sessions": SESSIONS,
        "rounds": result["rounds"],
        "upload_s_p50": round(statistics.median(all_times), 3),
        "upload_s_max": round(max(all_times), 3),
        "single_session_upload_s": result["baseline_s"],
        "all_sessions_got_their_results": True,
        "photos": [[f"{p.name} ({faces} faces)" for p, faces in row] for row in photos],
        "model_dir": str(model_dir),
        "machine": {"cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)},
        "note": "wall-clock on this machine with whatever else runs on it (numbers are pessimistic under load); "
                "the app and the browser share the machine's cores",
    }
    out = LOAD_JSON if os.environ.get("WRITE_BENCHMARKS") == "1" else e2e_tmp / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nbrowser load: {SESSIONS} sessions x {ROUNDS} rounds, upload p50 {report['upload_s_p50']} s, "
          f"max {report['upload_s_max']} s (single session {report['single_session_upload_s']} s), written to {out}")
