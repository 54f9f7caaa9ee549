"""Serving more people than one process holds (issue 21): 2 app replicas behind nginx (deploy/serve.py, the
``make serve`` recipe), 16 browser sessions at once. Every session gets its result, each stays on one
replica for all its requests (its WebSocket included; nginx's access log records the replica cookie and
the upstream of every request), both replicas serve, the replicas listen on 127.0.0.1 only (``ss``), and a
3 MB photo uploaded through nginx is analysed without nginx buffering it to a temporary file.
What each replica process holds is measured (resident memory before and with its sessions) and written to
benchmarks/replicas.json when ``WRITE_BENCHMARKS=1`` (``make bench-replicas``), else to a temporary file.

Everything runs on 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.bench.app import CHROMIUM, app_env, free_port

pytestmark = pytest.mark.e2e
PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT / "deploy"))
import serve  # noqa: E402

REPLICAS = 2
SESSIONS = 16
RESULT_TIMEOUT_MS = 600_000
OUT_JSON = PROJECT_ROOT / "benchmarks" / "replicas.json"
LOG_LINE = re.compile(r'"(?P<request>[^"]*)" (?P<status>\d+) cookie=(?P<cookie>\S*) replica=(?P<replica>\S+) '
                      r'upstream=(?P<upstream>\S+)')


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def consecutive_free_ports(count: int) -> int:
    for _ in range(50):
        first = free_port()
        ports = range(first, first + count)
        try:
            sockets = []
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free consecutive ports")


def listening_addresses(port: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, timeout=10).stdout
    return {fields[3].rsplit(":", 1)[0] for fields in (line.split() for line in out.splitlines())
            if len(fields) > 3 and fields[3].rsplit(":", 1)[-1] == str(port)}


async def _session(browser, url: str, index: int, upload: Path | None = None) -> dict:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(RESULT_TIMEOUT_MS)
    await page.goto(url)
    await page.get_by_role("heading", level=1).first.wait_for()
    await page.get_by_role("button", name="Try the example photo").click()
    await page.get_by_text(re.compile(r"example: astronaut .* — 1 face")).first.wait_for(timeout=RESULT_TIMEOUT_MS)
    if upload is not None:  # a photo over Starlette's and nginx's default in-memory sizes, through the proxy
        await page.locator('input[type="file"]').first.set_input_files(str(upload))
        await page.get_by_text(f"{upload.name} — ").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    text = await page.locator('[data-testid="stMain"]').inner_text()
    cookie = next((c["value"] for c in await context.cookies() if c["name"] == serve.COOKIE), None)
    return {"index": index, "text": text, "cookie": cookie, "context": context}


async def _run(url: str, args: list[str], upload: Path) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        sessions = await asyncio.gather(*(_session(browser, url, i, upload if i == 0 else None)
                                          for i in range(SESSIONS)))
        for s in sessions:
            await s.pop("context").close()
        await browser.close()
    return sessions


def test_two_replicas_behind_nginx_serve_16_sticky_sessions(model_dir, deepface_home, chromium_args, e2e_tmp):
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: apt-get install -y nginx (.ci/run installs it)")
    folder = e2e_tmp / "serve"
    photo = e2e_tmp / "through_nginx.jpg"
    photo.write_bytes(cv2.imencode(".jpg", np.random.default_rng(1).integers(0, 255, (1500, 2000, 3), np.uint8),
                                   [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    assert photo.stat().st_size > 2**21  # over Starlette's 1 MiB spool and nginx's default body buffer
    first, port = consecutive_free_ports(REPLICAS), free_port()
    processes = serve.start(REPLICAS, port, "127.0.0.1", folder, env=app_env(model_dir, deepface_home),
                            first_port=first, timeout_s=300)
    replicas = processes[:-1]
    try:
        bound = {i: listening_addresses(first + i) for i in range(REPLICAS)}
        assert all(addresses == {"127.0.0.1"} for addresses in bound.values()), f"replicas listen on {bound}"
        baseline = {f"r{i}": round(rss_mib(p.pid), 1) for i, p in enumerate(replicas)}
        outcome: dict = {}

        def worker():
            try:
                outcome["sessions"] = asyncio.run(_run(f"http://127.0.0.1:{port}", chromium_args, photo))
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        started = time.perf_counter()
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(timeout=1200)
        assert not thread.is_alive(), "the replica test hung"
        if "error" in outcome:
            raise outcome["error"]
        wall = time.perf_counter() - started
        held = {f"r{i}": round(rss_mib(p.pid), 1) for i, p in enumerate(replicas)}
    finally:
        serve.stop(processes)

    sessions = outcome["sessions"]
    assert f"{photo.name} — " in sessions[0]["text"], "the upload through nginx got no result"
    assert "buffered to a temporary file" not in (folder / "error.log").read_text(), "nginx wrote the upload to disk"
    for s in sessions:
        assert re.search(r"example: astronaut .* — 1 face", s["text"]), f"session {s['index']} got no result"
        assert "Traceback" not in s["text"]
    cookies = [s["cookie"] for s in sessions]
    assert all(c in {f"r{i}" for i in range(REPLICAS)} for c in cookies), cookies

    upstreams: dict[str, set[str]] = defaultdict(set)
    streams: dict[str, int] = defaultdict(int)
    for line in (folder / "access.log").read_text().splitlines():
        match = LOG_LINE.search(line)
        if not match or match["upstream"] == "-":
            continue
        upstreams[match["replica"]].add(match["upstream"])
        if match["cookie"] != "-":  # nginx logs an absent cookie as "-": a new browser, given a replica
            assert match["cookie"] == match["replica"], f"a request left its replica: {line}"
        if "/_stcore/stream" in match["request"]:
            streams[match["replica"]] += 1
    for name, seen in upstreams.items():
        assert seen == {f"127.0.0.1:{first + int(name[1:])}"}, f"replica {name} reached {seen}"
    per_replica = {f"r{i}": cookies.count(f"r{i}") for i in range(REPLICAS)}
    assert all(n > 0 for n in per_replica.values()), f"one replica served every session: {per_replica}"
    assert sum(streams.values()) >= SESSIONS, streams

    report = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "what": f"{REPLICAS} app replicas behind nginx (deploy/serve.py, cookie stickiness), {SESSIONS} headless "
                f"Chromium sessions at once, each analysing the example photo on Compare; resident memory of each "
                f"replica process after start and with its sessions",
        "sessions": SESSIONS, "replicas": REPLICAS, "sessions_per_replica": per_replica,
        "all_sessions_got_their_results": True, "every_request_on_its_replica": True,
        "replicas_listen_on": sorted({a for addresses in bound.values() for a in addresses}),
        "rss_mib_after_start": baseline, "rss_mib_with_sessions": held,
        "wall_s": round(wall, 1),
        "machine": {"cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)},
    }
    out = OUT_JSON if os.environ.get("WRITE_BENCHMARKS") == "1" else e2e_tmp / "replicas.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nreplicas: {per_replica}, RSS {baseline} -> {held} MiB, {wall:.0f} s; written to {out}")
