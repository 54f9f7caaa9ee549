"""The CLI checks its arguments and paths before TensorFlow is imported (issue 21): ``--help``, a missing
file, a bad option and a missing folder are answered in under 2 s, a missing folder exits with 2, and
``evaluate`` on a whole FER2013 folder says to name a split."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core.paths import PROJECT_ROOT

PROBE = ("import runpy, sys; sys.argv = ['core', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('core', run_name='__main__')\n"
         "except SystemExit as exc:\n"
         "    print('TF' if 'tensorflow' in sys.modules else 'no TF', file=sys.stderr); raise\n")


def cli(*args: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - started


@pytest.mark.parametrize("args, code, says", [
    (["--help"], 0, "usage: python -m core"),
    (["predict", "/missing.jpg"], 2, "error: /missing.jpg: no such file"),
    (["predict", "--no-such-option", "x.jpg"], 2, "unrecognized arguments: --no-such-option"),
    (["evaluate", "--model", "fer2013_cnn", "--data", "/no/such/folder"], 2, "error: /no/such/folder: no such file or folder"),
    (["calibrate", "--model", "fer2013_cnn", "--data", "/no/such/folder"], 2, "no such file or folder"),
    (["video", "/no/such.mp4"], 2, "error: cannot read /no/such.mp4: no such file"),
])
def test_mistakes_are_answered_before_tensorflow_in_under_2_s(args, code, says):
    rc, output, seconds = cli(*args)
    assert rc == code and says in output, output
    assert output.rstrip().endswith("no TF"), "TensorFlow was imported before the arguments were checked"
    assert seconds < 2.0, f"{' '.join(args)} took {seconds:.2f} s"


def test_evaluate_on_a_whole_fer2013_folder_suggests_a_split(tmp_path):
    for sub in ("train/happy", "test/happy"):
        (tmp_path / "fer" / sub).mkdir(parents=True)
    rc, output, _ = cli("evaluate", "--model", "fer2013_cnn", "--data", str(tmp_path / "fer"))
    assert rc == 2 and "whole FER2013 folder" in output and "--split PrivateTest" in output
    assert output.count("error:") == 1


def test_the_app_s_data_roots_apply_to_a_cli_run_in_its_environment(tmp_path, monkeypatch):
    from core.cli.checks import precheck
    from core.data.roots import REFUSAL

    (tmp_path / "allowed").mkdir()
    (tmp_path / "other").mkdir()
    monkeypatch.setenv("EMOTION_DATA_ROOTS", str(tmp_path / "allowed"))
    from core.cli import build_parser

    args = build_parser().parse_args(["evaluate", "--model", "fer2013_cnn", "--data", str(tmp_path / "other")])
    assert precheck(args) == 2
    args = build_parser().parse_args(["evaluate", "--model", "fer2013_cnn", "--data", str(tmp_path / "allowed")])
    assert precheck(args) == 0
    assert REFUSAL.startswith("That folder is not available")
