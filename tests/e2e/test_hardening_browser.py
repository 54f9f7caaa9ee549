"""Hardening for shared deployments, in a browser against the running app (issue 21): a server folder outside
the data roots gets the fixed refusal, a closed session's images leave /media/, a WebSocket with a foreign
Host or Origin is refused, and the page fetches nothing from another host (the favicon is local).
Every request goes to 127.0.0.1."""
from __future__ import annotations

import base64
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from harness import wait_idle

from core.data.roots import REFUSAL

pytestmark = pytest.mark.e2e
SESSION_END_S = 15 + 20  # server.disconnectedSessionTTL, and the reaper's and the browser's slack


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def websocket_status(port: int, host: str, origin: str) -> int:
    """The HTTP status a WebSocket handshake to Streamlit's stream gets (101: accepted)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n"
               f"Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        reply = sock.recv(4096).decode("latin-1")
    match = re.match(r"HTTP/1\.[01] (\d{3})", reply)
    return int(match.group(1)) if match else 0


def test_a_folder_outside_the_data_roots_gets_the_fixed_refusal(page, app):
    page.goto(app.url + "/data")
    page.get_by_role("heading", name=re.compile("Your data")).wait_for()
    wait_idle(page)
    page.get_by_text("A folder on this server", exact=True).first.click()
    box = page.get_by_label("Folder on the server", exact=True).and_(page.get_by_test_id("stTextInputField"))
    box.wait_for()
    for typed in ("/etc", "/root", "../../../../etc"):
        box.fill(typed)
        box.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name=re.compile(r"^Evaluate")).click()
        page.get_by_text(REFUSAL).wait_for()
        wait_idle(page)
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert "Traceback" not in main and "/etc/" not in main


def test_a_closed_sessions_images_leave_media(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(240_000)
    page = context.new_page()
    page.goto(app.url)
    page.get_by_role("button", name="Try the example photo").click()
    page.get_by_text(re.compile(r"example: astronaut .* — 1 face")).first.wait_for()
    wait_idle(page)
    sources = [s for s in page.locator('[data-testid="stMain"] img').evaluate_all("els => els.map(e => e.src)")
               if "/media/" in s]
    assert sources, "the annotated photo is not served from /media/"
    media = urllib.parse.urljoin(app.url, urllib.parse.urlparse(sources[0]).path)
    assert status_of(media) == 200
    context.close()
    deadline = time.monotonic() + SESSION_END_S
    while status_of(media) == 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert status_of(media) == 404, f"{media} is still served {SESSION_END_S} s after its tab closed"


def test_a_websocket_with_a_foreign_host_or_origin_is_refused(app):
    port = app.port
    assert websocket_status(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101  # the app's own page
    assert websocket_status(port, f"evil.example:{port}", "http://evil.example") != 101
    assert websocket_status(port, f"127.0.0.1:{port}", "http://evil.example") != 101


def test_the_page_fetches_nothing_from_another_host(browser, app):
    context = browser.new_context()
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urllib.parse.urlparse(request.url).hostname or ""))
    page.goto(app.url + "/about")
    page.get_by_role("heading", level=1).first.wait_for(timeout=120_000)
    wait_idle(page)
    icon = page.locator('link[rel*="icon"]').first.get_attribute("href") or ""
    context.close()
    assert hosts <= {"127.0.0.1", ""}, f"requests to {hosts - {'127.0.0.1', ''}}"
    assert urllib.parse.urlparse(urllib.parse.urljoin(app.url, icon)).hostname == "127.0.0.1", icon
