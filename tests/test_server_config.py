"""The server's settings for a shared deployment (issue 21): bound to localhost, foreign hosts refused, XSRF
on, no error details in the browser, the largest upload the Video page's, and closed sessions ended soon.
The browser tests check their effect (tests/e2e/test_hardening_browser.py, test_replicas_browser.py)."""
from __future__ import annotations

import tomllib

from core.paths import PROJECT_ROOT

SETTINGS = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())


def test_bound_to_localhost_with_foreign_hosts_refused():
    server = SETTINGS["server"]
    assert server["address"] == "127.0.0.1"
    assert set(server["allowedHosts"]) == {"localhost", "127.0.0.1"}
    assert server["enableXsrfProtection"] is True


def test_no_traceback_or_server_path_in_the_browser():
    assert SETTINGS["client"]["showErrorDetails"] == "none"


def test_upload_and_session_limits():
    from core.media import video

    assert SETTINGS["server"]["maxUploadSize"] * 2**20 == video.MAX_BYTES  # the largest upload: a video
    assert 0 < SETTINGS["server"]["disconnectedSessionTTL"] <= 30


def test_the_app_runs_with_these_settings():
    """Streamlit reads this file: the options exist under these names in the installed version."""
    from streamlit import config

    for section, options in SETTINGS.items():
        for name in options:
            assert f"{section}.{name}" in config._config_options_template, name
