"""The Compare page (issues 12, 13, 14, 17), driven headless through ``streamlit.testing.v1.AppTest``.

Same generated environment as tests/test_app.py (a tiny untrained CNN; DeepFace with its
architecture-identical stand-in weights where asked: plumbing, not accuracy). The model set is
chosen explicitly in the sidebar, so a model registered later does not change what is asserted.
"""
from __future__ import annotations

import csv
import io
import json

import cv2
import numpy as np
import pytest
import test_app
from test_app import LABELS, assert_ok, jpeg, messages, metric_values, plotly_specs, png, run_app, table, texts

from core.media.images import FILE_TYPES

# tests/test_app.py's fixtures: the generated artifacts the app is pointed at, and the download recorder
tree, app_env, downloads = test_app.tree, test_app.app_env, test_app.downloads


def uploader(at):
    return next(u for u in at.get("file_uploader") if u.proto.id.endswith("uploads_0") or "uploads_" in u.proto.id)


def choose_models(at, *names):
    at.sidebar.multiselect(key="opt_models").set_value(list(names)).run()
    assert_ok(at)


def upload(at, *files):
    widget = [w for w in at.get("file_uploader")][0]
    widget.set_value(list(files))
    at.run()
    assert_ok(at)


def csv_rows(at, downloads):
    return list(csv.DictReader(io.StringIO(downloads(at.download_button(key="download_csv")).decode())))


def heat_map_captions(at) -> list[str]:
    """The captions of the heat maps shown ("CNN · happy 88%"), one per model and face."""
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    return [c for c in captions if " · " in c]


def composite(astronaut) -> np.ndarray:
    """Four portraits whose tiles overlap by a quarter: overlapping detections are likely at the seams."""
    tile = cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((560, 560, 3), np.uint8)
    for y in (0, 240):
        for x in (0, 240):
            canvas[y:y + 320, x:x + 320] = tile
    return canvas


def test_jfif_upload_is_accepted_and_analysed(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    widget = at.get("file_uploader")[0]
    assert not widget.proto.type, "any file is taken, so that a refused one is listed with its reason"
    upload(at, ("portrait.jfif", jpeg(astronaut), "image/jpeg"))  # Chromium sends .jfif as image/jpeg
    assert "portrait.jfif — 1 face" in texts(at)
    assert metric_values(at)["CNN"][0] in LABELS
    assert {"jfif", "jpe"} <= set(FILE_TYPES)


def test_refused_upload_is_listed_in_the_summary_and_downloads(app_env, without_deepface, astronaut, downloads):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    upload(at, ("fine.webp", cv2.imencode(".webp", astronaut)[1].tobytes(), "image/webp"),
           ("notes.jpe", b"not an image at all", "image/jpeg"))
    refused = [e for e in messages(at, "error") if "notes.jpe" in e]
    assert len(refused) == 1 and "not an image" in refused[0]
    summary = table(at, "photo", "note")
    assert list(summary["photo"]) == ["fine.webp", "notes.jpe"] and "not an image" in summary.loc[1, "note"]
    assert "1 photo analysed, 1 face in all (1 upload refused)" in texts(at)
    rows = csv_rows(at, downloads)
    assert {r["image"]: bool(r["error"]) for r in rows} == {"fine.webp": False, "notes.jpe": True}
    results = json.loads(downloads(at.download_button(key="download_json")))["results"]
    assert "not an image" in next(r for r in results if r["image"] == "notes.jpe")["error"]


def test_refused_types_and_sizes_are_listed_beside_an_accepted_photo(app_env, without_deepface, astronaut):
    """Non-regression (issue 21): an SVG or an oversized file chosen with a good photo vanished silently."""
    from core.presentation.photos import PHOTO_MB

    at = run_app()
    choose_models(at, "fer2013_cnn")
    big = b"\xff\xd8" + b"\0" * (PHOTO_MB * 2**20 + 10)
    upload(at, ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
           ("fine.png", png(astronaut), "image/png"), ("huge.jpg", big, "image/jpeg"))
    errors = messages(at, "error")
    assert any("drawing.svg" in e and "not a supported image type (.svg" in e for e in errors), errors
    assert any("huge.jpg" in e and f"the limit is {PHOTO_MB} MB" in e for e in errors), errors
    assert "fine.png — 1 face" in texts(at)
    assert f"up to {PHOTO_MB} MB" in at.get("file_uploader")[0].proto.help


def test_photos_per_session_are_capped_with_a_clear_message(app_env, without_deepface, astronaut):
    from core.presentation.photos import MAX_PHOTOS

    at = run_app()
    choose_models(at, "fer2013_cnn")
    small = cv2.resize(astronaut, (64, 64))
    upload(at, *[(f"p{i}.png", png(np.roll(small, i, axis=1)), "image/png") for i in range(MAX_PHOTOS + 2)])
    refused = [e for e in messages(at, "error") if "already holds" in e]
    assert len(refused) == 2 and f"holds {MAX_PHOTOS} photos" in refused[0] and "Remove all" in refused[0]
    assert f"{MAX_PHOTOS} photos per session" in at.get("file_uploader")[0].proto.help
    at.button(key="remove_all").click().run()
    assert not [e for e in messages(at, "error") if "already holds" in e]


def test_photos_and_results_survive_a_page_switch_until_remove_all(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    upload(at, ("kept.png", png(astronaut), "image/png"))
    before = metric_values(at)["CNN"]
    at.switch_page("pages/about.py").run()
    assert_ok(at)
    at.switch_page("pages/compare.py").run()
    assert_ok(at)
    assert "kept.png — 1 face" in texts(at) and metric_values(at)["CNN"] == before
    at.button(key="remove_all").click().run()
    assert_ok(at)
    assert "Add a photo to start" in texts(at) and "kept.png" not in texts(at)


def test_one_box_per_face_on_a_composite_of_four_portraits(app_env, without_deepface, astronaut, downloads):
    """Every detector merges overlapping detections: each portrait's face gets exactly one box, and no
    two boxes overlap, with the default detector too. (Haar finds the four faces plus one false positive on a shoulder; BlazeFace's
    full-range model finds exactly the four.)"""
    faces = [(108 + dx, 39 + dy, 64, 64) for dy in (0, 240) for dx in (0, 240)]  # Haar's boxes, by hand

    def iou(a, b):
        w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
        h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
        return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)

    at = run_app()
    choose_models(at, "fer2013_cnn")
    for detector in ("blazeface-or-haar", "haar", "blazeface-full", "blazeface+haar"):
        at.sidebar.selectbox(key="opt_detector").set_value(detector).run()
        upload(at, ("four.png", png(composite(astronaut)), "image/png"))
        rows = csv_rows(at, downloads)
        boxes = [tuple(int(r[k]) for k in "xywh") for r in rows]
        assert [sum(iou(face, box) > 0.3 for box in boxes) for face in faces] == [1, 1, 1, 1], (detector, boxes)
        assert all(iou(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:]), (detector, boxes)
        assert json.loads(rows[0]["options"])["detector"] == detector
        assert f"four.png — {len(boxes)} faces" in texts(at)
        at.button(key="remove_all").click().run()


def test_face_counts_agree_everywhere(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    at.sidebar.radio(key="opt_no_face").set_value("whole_image").run()
    upload(at, ("one.png", png(astronaut), "image/png"), ("wall.png", png(np.full((240, 320, 3), 200, np.uint8)), "image/png"))
    content = texts(at)
    assert "one.png — 1 face" in content
    assert "wall.png — no face found; whole image classified" in content
    assert "2 photos analysed, 1 face in all (1 photo with no face found)" in content
    assert "**Face 1** — no face found; whole image classified" in content


def test_a_48px_face_crop_is_classified(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    crop = cv2.cvtColor(cv2.resize(astronaut[60:240, 140:320], (48, 48), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2GRAY)
    upload(at, ("PrivateTest_123.png", png(crop), "image/png"))
    content = texts(at)
    assert "PrivateTest_123.png — 1 face (the image is a face crop)" in content and "No face found" not in content
    assert metric_values(at)["CNN"][0] in LABELS


def test_no_face_advice_names_what_limits_detection(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    scene = np.full((529, 940, 3), 90, np.uint8)
    scene[200:250, 400:450] = cv2.resize(astronaut[60:240, 140:320], (50, 50))  # a 50 px face
    upload(at, ("snapshot.jpg", jpeg(scene), "image/jpeg"))
    warning = next(w for w in messages(at, "warning") if "No face found" in w)
    assert "BlazeFace short range 94 px, BlazeFace full range 63 px, Haar (OpenCV) 71 px" in warning
    assert "940×529" in warning
    assert "lower the minimum face size" not in warning  # it cannot help below 71 px
    assert "classify the whole image" in warning


def test_a_found_face_comes_with_the_small_face_note(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    scene = np.full((720, 1280, 3), 90, np.uint8)
    scene[100:612, 400:912] = astronaut  # a face of ~100 px: found, but smaller ones would not be
    upload(at, ("group.jpg", jpeg(scene), "image/jpeg"))
    content = texts(at)
    assert "No face found" not in content
    assert "may have been missed: in a 1280×720 photo that is the smallest face the detector finds" in content


def test_single_model_view_hides_the_comparison(app_env, without_deepface, astronaut):
    at = run_app()
    choose_models(at, "fer2013_cnn")
    upload(at, ("a.png", png(astronaut), "image/png"), ("b.png", png(astronaut[:, ::-1].copy()), "image/png"))
    content = texts(at)
    assert content.count("One model selected (CNN): choose more in the sidebar to compare.") == 1
    assert "agree" not in table(at, "photo", "face", "CNN").columns
    assert "No comparison" not in content and "agree:" not in content


def test_n_models_agreement_bars_and_heat_maps(app_env, with_deepface, astronaut, tiny_model_dir, downloads):
    """Three models (a second copy of the CNN registered in the test): one bar group each, "k of 3
    agree", one heat map per model (DeepFace's stand-in weights: plumbing, not accuracy)."""
    from core.models import registry

    registry.register(registry.folder_spec(tiny_model_dir, name="cnn_twin"), replace=True)
    try:
        at = run_app()
        offered = at.sidebar.multiselect(key="opt_models").options
        assert {"CNN", "DeepFace", "CNN (cnn_twin)"} <= set(offered)  # every ready model
        choose_models(at, "fer2013_cnn", "deepface", "cnn_twin")
        upload(at, ("face.png", png(astronaut), "image/png"))
        bars = plotly_specs(at)[0]["data"]
        assert [t["name"] for t in bars] == ["CNN", "DeepFace", "CNN (cnn_twin)"]
        values = metric_values(at)
        votes = [values["CNN"][0], values["DeepFace"][0], values["CNN (cnn_twin)"][0]]
        assert values["CNN"] == values["CNN (cnn_twin)"]  # the same network
        top = max(set(votes), key=votes.count)
        assert f"{votes.count(top)} of 3 agree: {top}" in texts(at)
        maps = heat_map_captions(at)
        assert sorted(c.split(" · ")[0] for c in maps) == ["CNN", "CNN (cnn_twin)", "DeepFace"]
        assert all(c.endswith("%") and c.split(" · ")[1].split()[0] in LABELS for c in maps)
        row = csv_rows(at, downloads)[0]
        assert row["agreement"] == f"{votes.count(top)} of 3 agree: {top}"

        at.sidebar.selectbox(key="opt_heat_emotion").set_value("fear").run()
        assert_ok(at)
        assert [c.split(" · ")[1].split()[0] for c in heat_map_captions(at)] == ["fear"] * 3
    finally:
        registry.unregister("cnn_twin")


def test_calibrated_switch_changes_the_probabilities(app_env, without_deepface, astronaut, downloads, monkeypatch):
    from core.models.cnn import CnnClassifier

    monkeypatch.setattr(CnnClassifier, "temperature", 3.0, raising=False)  # as if model.json held one
    at = run_app()
    choose_models(at, "fer2013_cnn")
    upload(at, ("face.png", png(astronaut), "image/png"))
    on = json.loads(downloads(at.download_button(key="download_json")))["results"][0]
    at.sidebar.toggle(key="opt_calibrated").set_value(False).run()
    assert_ok(at)
    off = json.loads(downloads(at.download_button(key="download_json")))["results"][0]
    assert on["options"]["calibrated"] is True and off["options"]["calibrated"] is False
    p_on, p_off = on["faces"][0]["models"]["fer2013_cnn"], off["faces"][0]["models"]["fer2013_cnn"]
    assert p_on["temperature"] == 3.0 and p_off["temperature"] is None
    assert p_on["confidence"] < p_off["confidence"]  # T = 3 softens
    assert p_on["emotion"] != p_off["emotion"]
    row = csv_rows(at, downloads)[0]
    assert row["fer2013_cnn_calibrated"] == "" and json.loads(row["options"])["calibrated"] is False
    assert float(row["fer2013_cnn_confidence"]) == pytest.approx(p_off["confidence"] * 100, abs=1e-3)  # percent
