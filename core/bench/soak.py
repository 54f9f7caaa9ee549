"""Soak test of the Live page: the fake webcam streamed for minutes; the server's memory must not grow.

``python -m core.bench.soak [--minutes 10] [--limit-mb 50]`` (``make soak``) starts the app, opens
Live in headless Chromium with a fake webcam (a .y4m of the example photo), presses START and samples
the server process's resident memory (its process tree, from /proc) every 10 s. Memory is measured
from the first minute of streaming (models, caches and WebRTC warm up before that) to the end; the
run fails (exit 1) when it grew by ``--limit-mb`` or more, or when the stream stopped. Prints one JSON
line per sample and a summary. Not part of the unit suite.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

WARMUP_S = 60.0
SAMPLE_EVERY_S = 10.0
FPS = re.compile(r"\b(\d+) fps\b")


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB)."""
    total, pids = 0, [pid]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
        pids.extend(int(c) for c in children)
    return total / 1024


def soak(minutes: float, limit_mb: float) -> int:
    from playwright.sync_api import sync_playwright

    from core.bench.app import CHROMIUM, CHROMIUM_ARGS, AppServer, app_env
    from core.bench.scenes import write_y4m
    from core.bench.standins import resolve_deepface_home, resolve_model_dir
    from core.media.images import example_photo

    scratch = Path(tempfile.mkdtemp(prefix="emotion_soak_"))
    model_dir, _ = resolve_model_dir(None, scratch / "models")
    home, _, _ = resolve_deepface_home(scratch / "deepface_home")
    webcam = write_y4m(scratch / "webcam.y4m", example_photo(), 640, 480)
    server = AppServer(app_env(model_dir, home), log_path=scratch / "streamlit.log").start()
    samples = []
    try:
        server.wait_healthy(300)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={webcam}"])
            page = browser.new_context(permissions=["camera"], viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(server.url)
            page.get_by_role("link", name="Live", exact=True).click()
            frame = page.frame_locator('iframe[title*="webrtc_streamer"]')
            frame.get_by_role("button", name="START").click(timeout=300_000)
            page.wait_for_function("() => /[1-9]\\d* fps/.test(document.body.innerText)", timeout=120_000)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < minutes * 60:
                text = page.locator('[data-testid="stMain"]').inner_text()
                fps = FPS.search(text)
                sample = {"t_s": round(elapsed), "rss_mib": round(rss_mib(server.process.pid), 1),
                          "fps": int(fps.group(1)) if fps else None}
                samples.append(sample)
                print(json.dumps(sample), flush=True)
                page.wait_for_timeout(SAMPLE_EVERY_S * 1000)
            browser.close()
    finally:
        server.stop()
    after_warmup = [s for s in samples if s["t_s"] >= min(WARMUP_S, minutes * 60 / 2)] or samples
    growth = after_warmup[-1]["rss_mib"] - after_warmup[0]["rss_mib"]
    stalled = [s for s in samples[-3:] if not s["fps"]]
    summary = {"minutes": minutes, "rss_start_mib": after_warmup[0]["rss_mib"], "rss_end_mib": after_warmup[-1]["rss_mib"],
               "growth_mib": round(growth, 1), "limit_mib": limit_mb, "peak_mib": max(s["rss_mib"] for s in samples),
               "fps_min": min((s["fps"] or 0) for s in samples), "fps_last": samples[-1]["fps"],
               "passed": growth < limit_mb and not stalled}
    print(json.dumps(summary))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--limit-mb", type=float, default=50.0)
    args = parser.parse_args()
    sys.exit(soak(args.minutes, args.limit_mb))
