"""The analysis pipeline and its one result format (``PhotoResult.to_dict``).

DeepFace runs with stand-in random weights and the CNN is untrained: this checks plumbing and
the result format, not accuracy.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from core.analysis.pipeline import AnalysisOptions, Analyzer, PhotoResult, load_classifiers
from core.bench.scenes import encode
from core.faces import Face, crop_face
from core.labels import FER2013_LABELS
from core.media.images import ImageDecodeError
from core.models.base import EmotionClassifier
from core.models.cnn import CnnClassifier
from core.models.deepface import DeepFaceClassifier

ASTRONAUT_FACE = Face(176, 66, 97, 97, 1.0)
PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))


def assert_plain(value, path="result"):
    """Only plain Python types, all the way down (numpy scalars are *not* allowed)."""
    assert type(value) in PLAIN_TYPES, f"{path}: {type(value).__name__}"
    if type(value) is dict:
        for key, item in value.items():
            assert type(key) is str, f"{path}: key {key!r}"
            assert_plain(item, f"{path}.{key}")
    elif type(value) is list:
        for i, item in enumerate(value):
            assert_plain(item, f"{path}[{i}]")


def assert_model_entry(entry: dict, labels=FER2013_LABELS) -> None:
    assert set(entry) == {"emotion", "dominant_emotion", "confidence", "time_ms", "temperature"}
    emotion = entry["emotion"]
    assert list(emotion) == list(labels)
    assert all(type(v) is float and 0.0 <= v <= 100.0 for v in emotion.values())
    assert sum(emotion.values()) == pytest.approx(100.0, abs=0.01)
    assert entry["dominant_emotion"] == max(emotion, key=emotion.get)
    assert entry["confidence"] == pytest.approx(max(emotion.values()) / 100.0, abs=1e-5)
    assert type(entry["time_ms"]) is float and entry["time_ms"] >= 0


class FixedClassifier(EmotionClassifier):
    """Returns the same probabilities for every crop."""

    def __init__(self, name: str, dominant: str):
        self.name, self.labels = name, FER2013_LABELS
        self.row = np.full(7, 0.05)
        self.row[FER2013_LABELS.index(dominant)] = 0.7
        self.calls = []

    def predict(self, faces):
        self.calls.append([f.shape for f in faces])
        return np.tile(self.row, (len(faces), 1))


class FailingClassifier(EmotionClassifier):
    name, labels = "broken", FER2013_LABELS

    def predict(self, faces):
        raise RuntimeError("model exploded")


@pytest.fixture(scope="module")
def cnn(tiny_model_dir) -> CnnClassifier:
    return CnnClassifier(tiny_model_dir)


@pytest.fixture(scope="module")
def deepface(stand_in_deepface_home) -> DeepFaceClassifier:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPFACE_HOME", str(stand_in_deepface_home))
        yield DeepFaceClassifier()


@pytest.fixture(scope="module")
def analyzer(cnn, deepface) -> Analyzer:
    return Analyzer({"cnn": cnn, "deepface": deepface})


@pytest.fixture(scope="module")
def astronaut_result(analyzer, astronaut) -> PhotoResult:
    return analyzer.analyze(astronaut, "astronaut.png")


@pytest.fixture(scope="module")
def blank() -> np.ndarray:
    return np.full((240, 320, 3), 200, np.uint8)


def test_astronaut_one_face_both_models(astronaut_result):
    result = astronaut_result
    assert result.name == "astronaut.png" and (result.width, result.height) == (512, 512)
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.index == 1 and face.source == "detector"
    assert face.face.iou(ASTRONAUT_FACE) > 0.7
    assert set(face.predictions) == {"cnn", "deepface"}
    assert result.model_errors == {}
    assert result.no_face_found is False
    assert isinstance(result.to_dict()["faces"][0]["agree"], bool)


def test_to_dict_is_plain_and_json_serialisable(astronaut_result):
    data = astronaut_result.to_dict()
    assert_plain(data)
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"image", "width", "height", "faces", "faces_found", "no_face_found", "options",
                         "timings_ms", "model_errors"}
    assert data["image"] == "astronaut.png" and data["width"] == 512 and data["height"] == 512
    assert data["no_face_found"] is False and data["model_errors"] == {}
    assert data["options"] == {"no_face": "report", "deepface_mode": "crops", "min_face_size": 40,
                               "detector": "blazeface-or-haar", "calibrated": True, "face_crops": False,
                               "align": False}
    assert data["faces_found"] == 1
    assert {"detect", "cnn", "deepface", "total"} <= set(data["timings_ms"])
    assert all(type(v) is float and v >= 0 for v in data["timings_ms"].values())


def test_face_entry_format(astronaut_result):
    (face,) = astronaut_result.to_dict()["faces"]
    assert set(face) == {"face", "region", "face_confidence", "source", "models", "agree", "agreement"}
    assert face["face"] == 1 and face["source"] == "detector"
    assert set(face["region"]) == {"x", "y", "w", "h"}
    assert all(type(v) is int for v in face["region"].values())
    assert Face(**face["region"], confidence=1.0).iou(ASTRONAUT_FACE) > 0.7
    assert type(face["face_confidence"]) is float and 0.0 < face["face_confidence"] <= 1.0
    assert set(face["models"]) == {"cnn", "deepface"}
    for entry in face["models"].values():
        assert_model_entry(entry)
    dominants = {m["dominant_emotion"] for m in face["models"].values()}
    assert type(face["agree"]) is bool and face["agree"] == (len(dominants) == 1)


def test_predictions_match_the_classifiers_on_the_crop(astronaut_result, cnn, deepface, astronaut):
    """The crop is the detector's face re-placed by BlazeFace and mapped to FER2013's framing (issue 22)."""
    from core.analysis.classify import framing_of
    from core.faces.framing import cut, refine

    face = astronaut_result.faces[0]
    assert framing_of(cnn) == framing_of(deepface) == "fer2013"
    crop = cut(astronaut, refine(astronaut, face.face), "fer2013")
    assert crop.shape[:2] != crop_face(astronaut, face.face).shape[:2]  # not the detector's box as it is
    np.testing.assert_allclose(face.predictions["cnn"].probabilities, cnn.predict([crop])[0], atol=1e-6)
    np.testing.assert_allclose(face.predictions["deepface"].probabilities, deepface.predict([crop])[0], atol=1e-6)
    entry = face.to_dict()["models"]["cnn"]
    probabilities = face.predictions["cnn"].probabilities
    assert entry["dominant_emotion"] == FER2013_LABELS[int(np.argmax(probabilities))]
    for label, p in zip(FER2013_LABELS, probabilities):
        assert entry["emotion"][label] == pytest.approx(p * 100.0, abs=1e-3)


def test_no_face_report(analyzer, blank):
    result = analyzer.analyze(blank, "blank.png", AnalysisOptions(no_face="report"))
    assert result.faces == [] and result.no_face_found is True
    data = result.to_dict()
    assert data["faces"] == [] and data["no_face_found"] is True and data["model_errors"] == {}
    assert_plain(data)
    json.dumps(data)


def test_no_face_whole_image(analyzer, blank):
    result = analyzer.analyze(blank, "blank.png", AnalysisOptions(no_face="whole_image"))
    assert result.no_face_found is True
    data = result.to_dict()
    assert_plain(data)
    (face,) = data["faces"]
    assert face["source"] == "whole_image"
    assert face["region"] == {"x": 0, "y": 0, "w": 320, "h": 240}
    assert face["face_confidence"] == 0.0
    assert set(face["models"]) == {"cnn", "deepface"}
    for entry in face["models"].values():
        assert_model_entry(entry)


def test_whole_image_is_not_used_when_a_face_is_found(analyzer, astronaut):
    result = analyzer.analyze(astronaut, options=AnalysisOptions(no_face="whole_image"))
    assert [f.source for f in result.faces] == ["detector"]
    assert result.no_face_found is False


def test_deepface_full_mode(analyzer, astronaut):
    """DeepFace's own detector on the whole photo (stand-in weights: plumbing only)."""
    result = analyzer.analyze(astronaut, "astronaut.png", AnalysisOptions(deepface_mode="full"))
    assert result.model_errors == {}
    data = result.to_dict()
    assert_plain(data)
    assert data["options"]["deepface_mode"] == "full"
    (face,) = data["faces"]
    assert face["source"] == "detector"
    assert set(face["models"]) == {"cnn", "deepface"}
    for entry in face["models"].values():
        assert_model_entry(entry)
    assert set(face["deepface_region"]) == {"x", "y", "w", "h"}
    assert Face(**face["deepface_region"], confidence=1.0).iou(ASTRONAUT_FACE) > 0.7
    assert type(face["agree"]) is bool
    assert "deepface" in data["timings_ms"]


def test_deepface_full_mode_adds_faces_only_deepface_found(analyzer, astronaut):
    options = AnalysisOptions(deepface_mode="full", min_face_size=200)  # our detector finds nothing this big
    result = analyzer.analyze(astronaut, options=options)
    (face,) = result.faces
    assert face.source == "deepface_detector"
    assert face.face.iou(ASTRONAUT_FACE) > 0.7
    assert set(face.predictions) == {"cnn", "deepface"}  # the CNN judges DeepFace's face too
    assert result.no_face_found is False
    assert_plain(result.to_dict())


def test_deepface_full_mode_on_blank(analyzer, blank):
    result = analyzer.analyze(blank, options=AnalysisOptions(deepface_mode="full"))
    assert result.faces == [] and result.no_face_found is True and result.model_errors == {}


def test_failing_classifier_keeps_the_other_models_results(cnn, astronaut):
    analyzer = Analyzer({"broken": FailingClassifier(), "cnn": cnn})
    result = analyzer.analyze(astronaut)
    assert list(result.model_errors) == ["broken"]
    assert "RuntimeError" in result.model_errors["broken"] and "model exploded" in result.model_errors["broken"]
    (face,) = result.faces
    assert set(face.predictions) == {"cnn"}
    data = result.to_dict()
    assert_plain(data)
    assert data["model_errors"] == {"broken": "RuntimeError: model exploded"}
    assert_model_entry(data["faces"][0]["models"]["cnn"])
    assert data["faces"][0]["agree"] is None


def test_failing_deepface_full_mode_keeps_cnn(analyzer, astronaut, monkeypatch):
    deepface = analyzer.classifiers["deepface"]

    def explode(image):
        raise RuntimeError("deepface exploded")

    monkeypatch.setattr(deepface, "analyze_image", explode)
    result = analyzer.analyze(astronaut, options=AnalysisOptions(deepface_mode="full"))
    assert result.model_errors == {"deepface": "RuntimeError: deepface exploded"}
    (face,) = result.faces
    assert set(face.predictions) == {"cnn"}
    assert_plain(result.to_dict())


def test_agree_flag(astronaut):
    happy_a, happy_b, sad = FixedClassifier("a", "happy"), FixedClassifier("b", "happy"), FixedClassifier("c", "sad")
    assert Analyzer({"a": happy_a, "b": happy_b}).analyze(astronaut).to_dict()["faces"][0]["agree"] is True
    assert Analyzer({"a": happy_a, "c": sad}).analyze(astronaut).to_dict()["faces"][0]["agree"] is False
    (face,) = Analyzer({"a": happy_a}).analyze(astronaut).to_dict()["faces"]
    assert face["agree"] is None
    assert face["models"]["a"]["dominant_emotion"] == "happy"
    assert face["models"]["a"]["emotion"]["happy"] == pytest.approx(70.0)
    assert face["models"]["a"]["confidence"] == pytest.approx(0.7)


def test_several_faces_largest_first_and_max_faces(astronaut):
    canvas = np.zeros((512, 1024, 3), np.uint8)
    canvas[:, 512:] = astronaut
    canvas[128:384, 100:356] = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    fixed = FixedClassifier("a", "fear")
    analyzer = Analyzer({"a": fixed}, max_detect_side=1024)  # no cap: the ~48 px face is in reach
    haar = AnalysisOptions(detector="haar")  # BlazeFace misses faces under ~10% of the long side
    data = analyzer.analyze(canvas, options=haar).to_dict()
    assert [f["face"] for f in data["faces"]] == [1, 2]
    areas = [f["region"]["w"] * f["region"]["h"] for f in data["faces"]]
    assert areas[0] > areas[1]
    assert data["faces"][0]["region"]["x"] >= 512
    assert len(fixed.calls[-1]) == len(data["faces"])  # one batch (of framed crops: core.faces.framing)
    limited = analyzer.analyze(canvas, options=AnalysisOptions(max_faces=1, detector="haar")).to_dict()
    assert len(limited["faces"]) == 1 and limited["faces"][0]["region"] == data["faces"][0]["region"]


def test_min_face_size_option(astronaut):
    analyzer = Analyzer({"a": FixedClassifier("a", "fear")})
    assert len(analyzer.analyze(astronaut, options=AnalysisOptions(min_face_size=150)).faces) == 0
    assert len(analyzer.analyze(astronaut, options=AnalysisOptions(min_face_size=60)).faces) == 1


def test_analyze_source_decodes_and_times(cnn, astronaut, tmp_path):
    analyzer = Analyzer({"cnn": cnn})
    data = encode(astronaut, ".png")
    path = tmp_path / "astronaut.png"
    path.write_bytes(data)
    from_bytes = analyzer.analyze_source(data, name="upload.png")
    from_path = analyzer.analyze_source(path)
    assert from_bytes.name == "upload.png"
    assert from_path.name == str(path)
    for result in (from_bytes, from_path):
        assert len(result.faces) == 1
        assert list(result.timings_ms)[0] == "decode"
        assert result.timings_ms["total"] >= result.timings_ms["decode"]
        assert_plain(result.to_dict())
    np.testing.assert_allclose(from_bytes.faces[0].predictions["cnn"].probabilities,
                               from_path.faces[0].predictions["cnn"].probabilities)


def test_analyze_source_bad_input_raises_decode_error(cnn):
    analyzer = Analyzer({"cnn": cnn})
    with pytest.raises(ImageDecodeError) as excinfo:
        analyzer.analyze_source(b"definitely not an image", name="bad.jpg")
    assert str(excinfo.value).startswith("bad.jpg: ")


def test_grayscale_image(cnn, astronaut):
    gray = cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY)
    result = Analyzer({"cnn": cnn}).analyze(gray)
    assert len(result.faces) == 1 and result.faces[0].face.iou(ASTRONAUT_FACE) > 0.7
    assert_model_entry(result.to_dict()["faces"][0]["models"]["cnn"])


def test_analyzer_needs_a_classifier():
    with pytest.raises(ValueError, match="at least one classifier"):
        Analyzer({})


def thread_photos(threads: int = 6) -> list[list[np.ndarray]]:
    """Each thread its own photos: different sizes, face counts (1-3), positions and tints, so that
    every photo's result differs from every other's."""
    from core.bench.scenes import head_and_shoulders, make_photo

    tile = head_and_shoulders().astype(np.float32)
    photos = []
    for t in range(threads):
        mine = []
        for k in range(2):
            gain = 0.7 + 0.06 * t + 0.03 * k
            tinted = np.clip(tile * gain + 8 * k, 0, 255).astype(np.uint8)
            width, height = [(480, 360), (640, 480), (560, 420)][(t + k) % 3]
            mine.append(make_photo(width, height, 1 + (t + k) % 3, size=0.75 + 0.04 * k,
                                   shift=(0.3 * ((t % 3) - 1), 0.2 * k), tile=tinted))
        photos.append(mine)
    return photos


def face_results(analyzer: Analyzer, image: np.ndarray) -> list[tuple]:
    return [(f.face.x, f.face.y, f.face.w, f.face.h, np.round(f.predictions["cnn"].probabilities, 5).tolist())
            for f in analyzer.analyze(image).faces]


def test_analyzer_is_thread_safe(cnn):
    """Six threads share one Analyzer, each analysing its own photos (1-3 faces) for many rounds; every
    result must equal that photo's sequential result (catches state kept on the Analyzer or the CNN)."""
    from concurrency import crossed_results

    analyzer = Analyzer({"cnn": cnn})
    photos = thread_photos()
    expected = [face_results(analyzer, image) for mine in photos for image in mine]
    assert all(expected) and len({repr(e) for e in expected}) == len(expected), "inputs must give distinct results"
    assert len({len(e) for e in expected}) == 3  # 1, 2 and 3 faces
    mismatches, calls = crossed_results(lambda image: face_results(analyzer, image), photos, rounds=8,
                                        same=lambda a, b: a == b)
    assert calls == 96
    assert mismatches == [], f"{len(mismatches)} of {calls} threaded results differ from the sequential ones"


def test_load_classifiers_both(with_deepface, tiny_model_dir, deepface):
    classifiers, unavailable = load_classifiers("cnn,deepface", tiny_model_dir)
    assert list(classifiers) == ["fer2013_cnn", "deepface"] and unavailable == {}
    assert isinstance(classifiers["fer2013_cnn"], CnnClassifier) and isinstance(classifiers["deepface"], DeepFaceClassifier)


def test_load_classifiers_without_deepface(without_deepface, tiny_model_dir):
    classifiers, unavailable = load_classifiers("cnn,deepface", tiny_model_dir)
    assert list(classifiers) == ["fer2013_cnn"]
    assert list(unavailable) == ["deepface"]
    assert "make deepface-weights" in unavailable["deepface"] and str(without_deepface) in unavailable["deepface"]
    classifiers, unavailable = load_classifiers("deepface")
    assert classifiers == {} and list(unavailable) == ["deepface"]


def test_load_classifiers_missing_cnn(tmp_path, without_deepface):
    classifiers, unavailable = load_classifiers("cnn", tmp_path / "nothing")
    assert classifiers == {} and "no CNN model at" in unavailable["fer2013_cnn"]


def test_load_classifiers_unknown_model():
    with pytest.raises(ValueError, match="unknown model"):
        load_classifiers("resnet")


# --------------------------------------------------------------------------- N models, calibration, face crops


def test_agreement_among_n_models(astronaut):
    a, b, c = FixedClassifier("a", "happy"), FixedClassifier("b", "happy"), FixedClassifier("c", "sad")
    (face,) = Analyzer({"a": a, "b": b, "c": c}).analyze(astronaut).to_dict()["faces"]
    assert face["agreement"] == {"emotion": "happy", "votes": 2, "models": 3} and face["agree"] is False
    (face,) = Analyzer({"a": a, "b": b}).analyze(astronaut).to_dict()["faces"]
    assert face["agreement"] == {"emotion": "happy", "votes": 2, "models": 2} and face["agree"] is True
    (face,) = Analyzer({"a": a, "c": c}).analyze(astronaut).to_dict()["faces"]
    assert face["agreement"] == {"emotion": None, "votes": 1, "models": 2}  # a tie: no majority
    (face,) = Analyzer({"a": a}).analyze(astronaut).to_dict()["faces"]
    assert face["agreement"] is None


def test_calibrated_option_applies_the_models_temperature(astronaut):
    from core.analysis.calibration import apply_temperature

    fixed = FixedClassifier("a", "happy")
    raw = Analyzer({"a": fixed}).analyze(astronaut).to_dict()["faces"][0]["models"]["a"]
    assert raw["temperature"] is None  # no fitted temperature: unchanged even when calibrated
    fixed.temperature = 2.0
    analyzer = Analyzer({"a": fixed})
    calibrated = analyzer.analyze(astronaut).to_dict()
    entry = calibrated["faces"][0]["models"]["a"]
    expected = apply_temperature(np.array([[raw["emotion"][k] / 100 for k in fixed.labels]]), 2.0)[0]
    assert entry["temperature"] == 2.0 and calibrated["options"]["calibrated"] is True
    assert [entry["emotion"][k] for k in fixed.labels] == pytest.approx(list(expected * 100), abs=1e-3)
    assert entry["confidence"] < raw["confidence"]  # T > 1 softens
    off = analyzer.analyze(astronaut, options=AnalysisOptions(calibrated=False)).to_dict()
    assert off["faces"][0]["models"]["a"] == {**raw, "time_ms": off["faces"][0]["models"]["a"]["time_ms"]}
    assert off["options"]["calibrated"] is False


def test_a_small_image_is_one_face_crop(astronaut):
    crop = cv2.resize(astronaut[60:240, 140:320], (48, 48), interpolation=cv2.INTER_AREA)  # a FER2013-sized face
    fixed = FixedClassifier("a", "sad")
    data = Analyzer({"a": fixed}).analyze(crop, "face48.png").to_dict()
    (face,) = data["faces"]
    assert face["source"] == "face_crop" and face["region"] == {"x": 0, "y": 0, "w": 48, "h": 48}
    assert face["models"]["a"]["dominant_emotion"] == "sad" and fixed.calls[-1] == [(48, 48, 3)]
    assert data["faces_found"] == 1 and data["no_face_found"] is False and "detect" not in data["timings_ms"]


def test_face_crops_option_classifies_any_image_whole(astronaut):
    data = Analyzer({"a": FixedClassifier("a", "sad")}).analyze(
        astronaut, options=AnalysisOptions(face_crops=True)).to_dict()
    assert [f["source"] for f in data["faces"]] == ["face_crop"] and data["faces"][0]["region"]["w"] == 512


def test_detection_limits_name_what_limits_each_detector():
    analyzer = Analyzer({"a": FixedClassifier("a", "sad")})
    limits = analyzer.detection_limits(940, 529, AnalysisOptions(detector="blazeface-or-haar"))
    assert limits == {"blazeface": 94, "blazeface-full": 63, "haar": 71}  # 10%, 6.7%; Haar at 400 px
    assert analyzer.detection_limits(940, 529, AnalysisOptions(detector="haar")) == {"haar": 71}
    assert analyzer.smallest_findable_face(940, 529, AnalysisOptions(detector="blazeface-or-haar")) == 63
