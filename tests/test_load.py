"""Load: the analysis pipeline shared by 8 threads gives exactly the results of a sequential run.

200 generated photos (sizes, positions, 0-3 faces, JPEG/PNG/WebP, some bad bytes), both models
(the CNN and DeepFace on our crops; DeepFace runs its real code with stand-in weights).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.analysis.pipeline import AnalysisOptions, Analyzer, load_classifiers
from core.bench.scenes import encode, head_and_shoulders, make_photo
from core.media.images import ImageDecodeError

N_PHOTOS = 200
THREADS = 8
SIZES = ((320, 240), (480, 640), (640, 480), (800, 600), (1024, 768), (1280, 720))


def generate_photos(n: int = N_PHOTOS, seed: int = 1234) -> list[tuple[str, bytes, AnalysisOptions, bool]]:
    """``(name, data, options, bad)`` for ``n`` photos; about one in ten is not a usable image."""
    rng = np.random.default_rng(seed)
    tile = head_and_shoulders()
    good_jpeg = encode(make_photo(320, 240, 1, tile=tile))
    photos = []
    for i in range(n):
        if i % 10 == 7:
            kind = ["truncated", "random", "empty", "text", "header_only"][(i // 10) % 5]
            data = {"truncated": good_jpeg[: len(good_jpeg) // 3],
                    "random": rng.integers(0, 256, 2000, dtype=np.uint8).tobytes(),
                    "empty": b"",
                    "text": b"this is not a photo\n" * 20,
                    "header_only": good_jpeg[:20]}[kind]
            photos.append((f"bad_{i}_{kind}", data, AnalysisOptions(), True))
            continue
        width, height = SIZES[int(rng.integers(len(SIZES)))]
        faces = int(rng.integers(0, 4))
        image = make_photo(width, height, faces, size=float(rng.uniform(0.55, 0.9)),
                           shift=(float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1))), tile=tile)
        ext = [".jpg", ".jpg", ".png", ".webp"][int(rng.integers(4))]
        options = AnalysisOptions(no_face="whole_image" if i % 5 == 0 else "report")
        photos.append((f"photo_{i}_{width}x{height}_{faces}{ext}", encode(image, ext), options, False))
    return photos


def without_timings(result: dict) -> dict:
    result = dict(result)
    result.pop("timings_ms")
    result["faces"] = [{**face, "models": {name: {k: v for k, v in m.items() if k != "time_ms"}
                                           for name, m in face["models"].items()}}
                       for face in result["faces"]]
    return result


def analyse(analyzer: Analyzer, item) -> dict:
    name, data, options, _ = item
    try:
        return without_timings(analyzer.analyze_source(data, name=name, options=options).to_dict())
    except ImageDecodeError as exc:
        return {"image": name, "error": str(exc)}


@pytest.mark.slow
def test_eight_threads_give_the_sequential_results(tiny_model_dir, with_deepface):
    classifiers, unavailable = load_classifiers("cnn,deepface", tiny_model_dir)
    assert not unavailable, unavailable
    analyzer = Analyzer(classifiers)
    photos = generate_photos()

    start = time.perf_counter()
    sequential = [analyse(analyzer, item) for item in photos]
    sequential_s = time.perf_counter() - start

    threads_seen = set()

    def worker(item):
        threads_seen.add(threading.get_ident())
        return analyse(analyzer, item)

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        concurrent = list(pool.map(worker, photos))  # re-raises any unexpected exception
    concurrent_s = time.perf_counter() - start
    print(f"\n{len(photos)} photos: sequential {sequential_s:.1f} s, {THREADS} threads {concurrent_s:.1f} s "
          f"({len(threads_seen)} threads used)")

    assert len(threads_seen) > 1
    for item, one, many in zip(photos, sequential, concurrent):
        assert many == one, f"{item[0]}: threaded result differs from the sequential one"
    # The bad inputs, and only they, were refused; the rest were really analysed by both models.
    refused = {r["image"] for r in sequential if "error" in r}
    assert refused == {name for name, _, _, bad in photos if bad}
    analysed = [r for r in sequential if "error" not in r]
    assert all(not r["model_errors"] for r in analysed)
    faces = [f for r in analysed for f in r["faces"] if f["source"] == "detector"]
    assert len(faces) > 150, "too few faces found for the test to mean much"
    assert all(set(f["models"]) == {"fer2013_cnn", "deepface"} for f in faces)


def different_crops(threads: int = 8, seed: int = 7) -> list[list[list[np.ndarray]]]:
    """Per thread, batches of 1-6 face crops of different sizes and contents (no two alike)."""
    rng = np.random.default_rng(seed)
    tile = head_and_shoulders()
    batches = []
    for t in range(threads):
        mine = []
        for k in range(4):
            n = 1 + (t + 2 * k) % 6
            crops = []
            for _ in range(n):
                side = int(rng.integers(40, 140))
                y, x = int(rng.integers(0, tile.shape[0] - side)), int(rng.integers(0, tile.shape[1] - side))
                crops.append(np.clip(tile[y:y + side, x:x + side] * rng.uniform(0.6, 1.3), 0, 255).astype(np.uint8))
            mine.append(crops)
        batches.append(mine)
    return batches


def test_cnn_classifier_hammered_by_eight_threads(tiny_model_dir):
    """The CNN classifier itself, 8 threads, each with its own batches of 1-6 different crops, 25 rounds:
    every call gives exactly that batch's sequential probabilities (catches shared preprocessing state)."""
    from concurrency import crossed_results

    from core.models.cnn import CnnClassifier

    cnn = CnnClassifier(tiny_model_dir)
    batches = different_crops()
    mismatches, calls = crossed_results(cnn.predict, batches, rounds=25,
                                        same=lambda a, b: a.shape == b.shape and np.allclose(a, b, atol=1e-6))
    assert calls == 800
    assert mismatches == [], f"{len(mismatches)} of {calls} threaded calls got another thread's faces"


@pytest.mark.slow
def test_cnn_only_pipeline_under_eight_threads(tiny_model_dir):
    """The whole pipeline with the CNN alone (no DeepFace lock to serialise the threads): 8 threads,
    each with its own photos (0-3 faces, sizes, formats), many rounds, each compared with its own
    sequential result."""
    from concurrency import crossed_results

    classifiers, unavailable = load_classifiers("cnn", tiny_model_dir)
    assert not unavailable, unavailable
    analyzer = Analyzer(classifiers)
    photos = [item for item in generate_photos(48, seed=99) if not item[3]]
    per_thread = [photos[t::THREADS][:4] for t in range(THREADS)]
    mismatches, calls = crossed_results(lambda item: analyse(analyzer, item), per_thread, rounds=4,
                                        same=lambda a, b: a == b)
    faces = [len(analyse(analyzer, item)["faces"]) for mine in per_thread for item in mine]
    assert len(set(faces)) >= 3, "the photos must differ in face count"
    assert calls == 4 * sum(len(m) for m in per_thread)
    assert mismatches == [], f"{len(mismatches)} of {calls} threaded results differ from the sequential ones"
