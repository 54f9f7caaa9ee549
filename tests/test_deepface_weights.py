"""``make run``'s weights step: one short attempt when DeepFace's weights are missing, one line on
failure, never an error exit (no network is used: the URLs point at a closed local port)."""
from __future__ import annotations

import socket

from core.models import deepface_weights as dw


def closed_port_url() -> str:
    with socket.socket() as s:  # bind, read the port, close: nothing listens there afterwards
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{dw.WEIGHTS_FILE}"


def test_for_run_says_in_one_line_that_deepface_will_be_absent(tmp_path, capsys):
    line = dw.fetch_for_run(tmp_path, urls=(closed_port_url(),), timeout=2)
    assert "\n" not in line
    assert "runs without DeepFace" in line and "make deepface-weights" in line and str(tmp_path) in line
    assert not list(tmp_path.rglob("*.h5")), "a partial download was left behind"


def test_for_run_does_nothing_when_the_weights_are_there(tmp_path):
    dw.weights_path(tmp_path).parent.mkdir(parents=True)
    dw.weights_path(tmp_path).write_bytes(b"x")
    assert dw.fetch_for_run(tmp_path, urls=(closed_port_url(),)) == ""


def test_main_for_run_exits_zero_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    monkeypatch.setattr(dw, "WEIGHTS_URLS", (closed_port_url(),))
    monkeypatch.setattr(dw.fetch_for_run, "__defaults__", (None, (closed_port_url(),), 2))
    assert dw.main(["--for-run"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
