"""Benchmarks of the live and video paths and of the face detectors (called by ``core.bench.run``).

* ``live_640x480_fps``: frames per second through :class:`core.analysis.live.LiveProcessor` (detect
  with BlazeFace, classify with the CNN, smooth, draw) on a 640x480 frame with one face.
* ``detect_640x480_ms_p50_<detector>`` and ``detection_set``: every detector on the generated
  detection set (:mod:`core.bench.detection_set`; FER2013 faces when ``FER2013_DIR`` is set):
  recall, false positives and median time per 640x480 scene.
* ``group_photos``: every detector on 1280x720 group scenes (4-12 faces of 40-100 px): recall and
  false positives per photo against the small-faces target.
* ``video_sampled_frames_per_s``: sampled frames analysed per second by
  :func:`core.analysis.video.analyse_video` (decode from memory, detect, CNN) on a 640x480 clip.
"""
from __future__ import annotations

import io
import time
from collections.abc import Callable

TARGET_LIVE_FPS = 15.0
LIVE_FRAMES = {True: 40, False: 200}
DETECTION_SCENES = {True: 20, False: 60}
GROUP_SCENES = {True: 5, False: 20}
TARGET_GROUP_RECALL, TARGET_GROUP_FP = 0.90, 1.0


def live_fps(cnn, frames: int = 200, warmup: int = 10) -> dict:
    from core.analysis.live import LiveProcessor
    from core.bench.scenes import make_photo
    from core.faces.catalogue import LIVE_DETECTOR

    processor = LiveProcessor({"cnn": cnn}, detector=LIVE_DETECTOR)
    shifted = [make_photo(640, 480, 1, size=0.6, shift=(dx, 0.0)) for dx in (-0.2, -0.1, 0.0, 0.1, 0.2)]
    for i in range(warmup):
        processor.process(shifted[i % len(shifted)])
    start = time.perf_counter()
    for i in range(frames):
        processor.process(shifted[i % len(shifted)])
    elapsed = time.perf_counter() - start
    faces = len(processor.snapshot().readings)
    processor.end()
    return {"fps": round(frames / elapsed, 1), "frames": frames, "ms_per_frame": round(elapsed * 1000 / frames, 2),
            "faces_found": faces, "detector": LIVE_DETECTOR}


def detectors(scenes: int = 60) -> list[dict]:
    from core.bench.detection_set import detection_set, evaluate_detectors

    images = detection_set(scenes)
    source = images[0].name.split(":")[0] if images else "none"
    return [{**score.row(), "scenes": scenes, "faces_source": source} for score in evaluate_detectors(images=images)]


def group_photos(scenes: int = 20) -> dict:
    """Every detector on 1280x720 group scenes of 4-12 faces of 40-100 px (PrivateTest faces)."""
    from core.bench.detection_set import evaluate, group_scenes
    from core.faces import catalogue

    images = group_scenes(scenes)
    rows = []
    for name in catalogue.DETECTOR_NAMES:
        score = evaluate(name, catalogue.build(name), images)
        rows.append({**score.row(), "false_positives_per_photo": round(score.false_positives / len(images), 2)})
    return {"scenes": len(images), "size": "1280x720", "faces_source": images[0].name.split(":")[0],
            "faces": rows[0]["faces"], "target_recall": TARGET_GROUP_RECALL,
            "target_false_positives_per_photo": TARGET_GROUP_FP,
            "note": "ms are per 1280x720 scene; the tile detector's thresholds were chosen on group scenes of "
                    "Training faces",
            "detectors": rows}


def video_throughput(cnn, seconds: float = 4.0, rate: int = 25) -> dict:
    import av

    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.analysis.video import analyse_video
    from core.bench.scenes import make_photo
    from core.faces.catalogue import DEFAULT_DETECTOR

    buffer = io.BytesIO()
    count = int(seconds * rate)
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 640, 480, "yuv420p", 2_000_000
        for i in range(count):
            image = make_photo(640, 480, 1, size=0.6, shift=(-0.5 + i / count, 0.0))
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = buffer.getvalue()
    analyzer = Analyzer({"cnn": cnn})
    options = AnalysisOptions(detector=DEFAULT_DETECTOR)
    analyse_video(data, analyzer, options, every_seconds=1.0, max_frames=2)  # warm-up
    start = time.perf_counter()
    result = analyse_video(data, analyzer, options, every_seconds=0.2)
    elapsed = time.perf_counter() - start
    return {"sampled_frames_per_s": round(result.frames_sampled / elapsed, 1), "frames_sampled": result.frames_sampled,
            "rows": len(result.rows), "clip": f"640x480 mpeg4 {seconds:g} s at {rate} fps, sampled 5 a second",
            "detector": DEFAULT_DETECTOR}


def live_benchmarks(cnn, quick: bool = False, log: Callable[[str], None] = print) -> dict:
    """The keys this module adds to ``benchmarks/results.json``."""
    log("timing the live path ...")
    live = live_fps(cnn, LIVE_FRAMES[quick])
    log("scoring the face detectors on the detection set ...")
    table = detectors(DETECTION_SCENES[quick])
    log("scoring the face detectors on group photos ...")
    group = group_photos(GROUP_SCENES[quick])
    log("timing video analysis ...")
    video = video_throughput(cnn)
    results = {"live": live, "live_640x480_fps": live["fps"], "live_fps_target": TARGET_LIVE_FPS,
               "target_live_fps_met": live["fps"] >= TARGET_LIVE_FPS, "detection_set": table,
               "group_photos": group, "video": video, "video_sampled_frames_per_s": video["sampled_frames_per_s"]}
    results.update({f"detect_640x480_ms_p50_{row['detector']}": row["ms_median"] for row in table})
    return results


if __name__ == "__main__":  # python -m core.bench.live [--quick]: these figures only, printed
    import json
    import sys

    from core.bench.standins import resolve_model_dir
    from core.models import registry

    path, origin = resolve_model_dir(None, None)
    print(f"note: {origin}", file=sys.stderr)
    print(json.dumps(live_benchmarks(registry.get(path), quick="--quick" in sys.argv), indent=1))
