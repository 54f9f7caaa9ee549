"""The app as a subprocess (``streamlit run`` on a free port) and its cold start measured in Chromium;
shared by the benchmark and the browser tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from core.paths import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage")
# The app's first element in the main area (Streamlit renders a skeleton until the script sends one).
FIRST_ELEMENT_SELECTOR = '[data-testid="stMain"] [data-testid="stElementContainer"]'


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_available() -> bool:
    if not Path(CHROMIUM).is_file():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


class AppServer:
    """``streamlit run streamlit_app.py`` on a free localhost port; a context manager.

    Its output goes to ``log_path`` (a temporary file unless given), shown by :meth:`log_tail`.
    """

    def __init__(self, env: dict | None = None, port: int | None = None, app: str = "streamlit_app.py",
                 log_path: str | Path | None = None, cwd: str | Path = PROJECT_ROOT):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.cwd = Path(cwd)
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self._log_owned = log_path is None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="streamlit_", suffix=".log")[1])
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> AppServer:
        streamlit = Path(sys.executable).with_name("streamlit")
        command = [str(streamlit) if streamlit.exists() else sys.executable, *([] if streamlit.exists() else ["-m", "streamlit"]),
                   "run", self.app, "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - open until stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 120.0) -> float:
        """Seconds from start until the health endpoint answers; raises RuntimeError on timeout or exit."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return time.perf_counter() - self.started_at
            time.sleep(0.05)
        raise RuntimeError(f"streamlit did not answer {self.url}/_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # only the process we started (its own session)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if getattr(self, "_log", None):
            self._log.close()
        if self._log_owned:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def app_env(model_dir: Path, deepface_home: Path | None) -> dict:
    env = {"EMOTION_MODEL_DIR": str(model_dir), "EMOTION_MODELS_ROOT": str(Path(model_dir).parent)}
    if deepface_home:
        env["DEEPFACE_HOME"] = str(deepface_home)
    return env


def measure_app_cold_start(env: dict, timeout: float = 150.0) -> dict:
    """Start the app cold and time it to its first rendered element (Chromium) or to /_stcore/health."""
    if not (PROJECT_ROOT / "streamlit_app.py").is_file():
        return {"skipped": "streamlit_app.py does not exist yet"}
    result: dict = {}
    if chromium_available():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))  # not timed
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            with AppServer(env) as server:
                result["health_s"] = round(server.wait_healthy(timeout), 3)
                page.goto(server.url, wait_until="domcontentloaded", timeout=timeout * 1000)
                result["html_s"] = round(time.perf_counter() - server.started_at, 3)
                page.locator(FIRST_ELEMENT_SELECTOR).first.wait_for(state="visible", timeout=timeout * 1000)
                result["first_element_s"] = round(time.perf_counter() - server.started_at, 3)
                try:
                    page.get_by_role("heading").first.wait_for(state="visible", timeout=timeout * 1000)
                    result["first_heading_s"] = round(time.perf_counter() - server.started_at, 3)
                except Exception:  # an app without headings still has its first element
                    result["first_heading_s"] = None
                # The first page's script run finished (models loaded, page complete): ready to use.
                page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
                    state="attached", timeout=timeout * 1000)
                result["first_page_complete_s"] = round(time.perf_counter() - server.started_at, 3)
            browser.close()
        result["method"] = ("headless Chromium via Playwright: from `streamlit run` to the page's HTML and the "
                            "app's first element rendered (browser launch not counted)")
        result["cold_start_s"] = result["first_element_s"]
    else:
        with AppServer(env) as server:
            result["health_s"] = round(server.wait_healthy(timeout), 3)
        result["method"] = "no Chromium: from `streamlit run` until /_stcore/health answers"
        result["cold_start_s"] = result["health_s"]
    return result
