"""Benchmarks (``python -m core bench``, ``make bench``).

One run measures, with medians and 95th percentiles over repeated runs after a warm-up:

* the CNN's time per face (batch of 1) and its throughput at batch 64;
* end-to-end analysis (decode from JPEG bytes, detect, classify with the CNN) of photos at
  640x480, 1280x720 and 1920x1080 with one and with three faces (:mod:`core.bench.scenes`);
* DeepFace on the same photos in both modes: on our crops (our detector), and ``DeepFace.analyze``
  with its own detector (opencv); ours and DeepFace's runs are interleaved, so that background
  load hits both alike, and the ratio DeepFace / ours is reported per photo;
* model load times, the peak memory of the process, and the app's cold start to first render;
* canonical framing (:mod:`core.bench.framing`): mapped boxes against pasted FER2013 squares, the
  pipeline's accuracy against the squares', and the same-top-emotion rate across detectors;
* the memory of the heaviest inputs in fresh processes (:mod:`core.bench.memory`): the Your data
  evaluation of 128 five-megapixel images, and Compare's photo cap before and after "Remove all".

``benchmarks/results.json`` has one layout (:func:`stored_layout`): every figure once, nested by
what it measures (``cnn_face``, ``cnn_batch64``, ``photos.<size>_<n>face(s)``, ``app_cold_start``,
``targets``), plus three flat headline keys that tooling reads (``HEADLINE_KEYS``). Milliseconds
unless a name says otherwise; paths are relative to the project where they lie inside it. Missing
models are replaced by stand-ins (:mod:`core.bench.standins`).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.bench.app import app_env, measure_app_cold_start
from core.bench.scenes import encode, head_and_shoulders, make_photo, photo_key
from core.bench.standins import cold_load_seconds, resolve_deepface_home, resolve_model_dir
from core.bench.targets import TARGET_CNN_FACE_MS, TARGET_SPEEDUP_1280x720, collect_targets
from core.bench.timing import peak_rss_mib, repeat_ms, summarize, time_ms
from core.paths import PROJECT_ROOT, display_path, write_json

RESULTS_PATH = PROJECT_ROOT / "benchmarks" / "results.json"
PHOTO_SIZES = ((640, 480), (1280, 720), (1920, 1080))
FACE_COUNTS = (1, 3)



def machine_info() -> dict:
    from core.training.provenance import hardware_description

    info = hardware_description()
    with contextlib.suppress(OSError):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info


def run_benchmarks(quick: bool = False, model_dir: str | None = None, out: str | Path | None = RESULTS_PATH,
                   app: bool = True, deepface: bool = True, log: Callable[[str], None] = print) -> dict:
    """Measure everything once; write ``out`` (unless None) and return the results."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    started = time.perf_counter()
    repeats = {"cnn_face": 30 if quick else 200, "cnn_batch": 3 if quick else 20, "photo": 3 if quick else 12,
               "warmup": 1 if quick else 2}
    scratch = Path(tempfile.mkdtemp(prefix="emotion_bench_"))
    try:
        return _run(quick, model_dir, out, app, deepface, log, repeats, scratch, started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(quick, model_dir, out, app, deepface, log, repeats, scratch, started) -> dict:
    """Every measurement in turn; one function per stage below, each filling ``results``."""
    results, notes = _start(quick, repeats)
    path, cnn, df = _load_models(model_dir, scratch, deepface, quick, results, notes, log)
    crop = _time_cnn(cnn, repeats, results, log)
    log("timing Grad-CAM per face ...")  # one face at a time, the explainer compiled once per model
    results.update(gradcam_timings({"cnn": cnn, **({"deepface": df} if df else {})}, crop,
                                   repeats["cnn_face"], repeats["warmup"] * 5))
    results["photos"] = _time_photos(cnn, df, repeats, results, log)
    from core.bench.live import live_benchmarks  # live fps, detectors on the detection set, video throughput

    results.update(live_benchmarks(cnn, quick, log))
    log("checking canonical framing on pasted FER2013 faces ...")  # IoU, pipeline vs squares, invariance
    from core.bench.framing import framing_results

    real_deepface = results.get("deepface", {}).get("weights") == "real"  # a stand-in's answers mean nothing
    results["framing"] = framing_results(quick, skip=() if real_deepface else ("deepface",))
    results["peak_rss_mib"] = peak_rss_mib()
    _time_data_eval(cnn, quick, results)
    _time_robustness(cnn, quick, results, log)
    log("measuring memory (Your data, Compare) in fresh processes ...")
    from core.bench.memory import measure_memory  # Your data's 128 x 5 MP zip; Compare's photo cap and Remove all

    results["memory"] = measure_memory(count=16 if quick else 128)
    if app:
        _time_app_start(path, df, results, notes, log)
    from core.bench.label_audit import label_audit_benchmark  # seeded label flips, from the stored predictions

    results["label_audit"] = label_audit_benchmark(log)
    results["targets"] = targets = collect_targets(results, df)
    results.update({"target_cnn_face_met": targets["cnn_face_target_met"],
                    "target_speedup_met": targets["speedup_target_met"],
                    "targets_met": targets["all_targets_met"]})
    results["notes"] = notes
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(out, _portable(stored_layout(results)))
    return results


def _start(quick: bool, repeats: dict) -> tuple[dict, list[str]]:
    """The run's date, settings, machine and TensorFlow's import time, and the first note."""
    results: dict = {"date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "quick": quick,
                     "repeats": repeats}
    already = "tensorflow" in sys.modules
    t = time.perf_counter()
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    results["tensorflow_import_s"] = None if already else round(time.perf_counter() - t, 3)
    results["machine"] = machine_info()
    notes = ["Timings are wall-clock on this machine with whatever else is running (load average at start: "
             f"{results['machine'].get('load_average_1min_at_start')}, {results['machine']['cores']} cores); "
             "under concurrent load absolute numbers are pessimistic, the DeepFace/ours ratios (runs interleaved) "
             "are what compare."]
    return results, notes


def _load_models(model_dir, scratch, deepface: bool, quick: bool, results: dict, notes: list, log):
    """``(CNN folder, CNN, DeepFace or None)``, their load times recorded."""
    from core.models import registry

    path, origin = resolve_model_dir(model_dir, scratch)
    untrained = str(path).startswith(str(scratch))
    notes.append(origin)
    log(f"note: {origin}")
    t = time.perf_counter()
    cnn = registry.get(path)
    results["cnn_load_s"] = round(time.perf_counter() - t, 3)
    results["model"] = {"dir": display_path(path), "source": origin, "untrained_stand_in": untrained,
                        "parameters": int(cnn.model.count_params())}
    df = None
    if deepface:
        home, df_origin, real = resolve_deepface_home(scratch / "deepface_home")
        os.environ["DEEPFACE_HOME"] = str(home)
        notes.append(df_origin)
        log(f"note: {df_origin}")
        t = time.perf_counter()
        df = registry.get("deepface", deepface_detector="opencv")
        results["deepface_load_s"] = round(time.perf_counter() - t, 3)
        results["deepface"] = {"home": str(home), "weights": "real" if real else "stand-in (random, same architecture)",
                               "source": df_origin, "detector_backend": "opencv"}
    results["peak_rss_mib_after_loading"] = peak_rss_mib()
    if not quick:
        log("timing a cold CNN load in a fresh process ...")
        results["cnn_cold_load_s"] = cold_load_seconds(path)
    return path, cnn, df


def _time_cnn(cnn, repeats: dict, results: dict, log):
    """The CNN on one face and on batches of 64; returns the face crop used."""
    from core.faces import FaceDetector, crop_face

    face = FaceDetector().detect(head_and_shoulders())[0]
    crop = crop_face(head_and_shoulders(), face)
    log("timing the CNN per face ...")
    one = summarize(repeat_ms(lambda: cnn.predict([crop]), repeats["cnn_face"], repeats["warmup"] * 5))
    batch = summarize(repeat_ms(lambda: cnn.predict([crop] * 64), repeats["cnn_batch"], repeats["warmup"]))
    results["cnn_face"] = one
    results["cnn_batch64"] = batch
    results.update({"cnn_face_ms_p50": one["p50"], "cnn_face_ms_p95": one["p95"],
                    "cnn_batch64_ms_p50": batch["p50"], "cnn_batch64_ms_p95": batch["p95"],
                    "cnn_batch64_faces_per_s": round(64 / (batch["p50"] / 1000.0), 1),
                    "cnn_batch64_faces_per_s_at_p95": round(64 / (batch["p95"] / 1000.0), 1)})
    return crop


def _time_photos(cnn, df, repeats: dict, results: dict, log) -> dict:
    """Whole photos, ours against DeepFace (on our crops and as it ships), runs interleaved."""
    from core.analysis.pipeline import AnalysisOptions, Analyzer
    from core.media.images import decode_image

    ours = Analyzer({"cnn": cnn})
    theirs_crops = Analyzer({"deepface": df}) if df else None
    crops_options = AnalysisOptions(deepface_mode="crops")
    photos = {}
    for width, height in PHOTO_SIZES:
        for faces in FACE_COUNTS:
            key = photo_key(width, height, faces)
            data = encode(make_photo(width, height, faces))
            log(f"timing {key} ...")
            stages: list[dict] = []
            runs: dict[str, Callable[[], object]] = {
                "e2e_cnn": lambda d=data, stages=stages: stages.append(ours.analyze_source(d).timings_ms)}
            found = {"e2e_cnn": len(ours.analyze_source(data).faces)}
            if df:
                runs["deepface_crops"] = lambda d=data: theirs_crops.analyze_source(d, options=crops_options)
                runs["deepface_analyze"] = lambda d=data: df.analyze_image(decode_image(d))
                found["deepface_crops"] = len(theirs_crops.analyze_source(data, options=crops_options).faces)
                found["deepface_analyze"] = len(df.analyze_image(decode_image(data)))
            for _ in range(repeats["warmup"] - 1):
                for fn in runs.values():
                    fn()
            samples: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(repeats["photo"]):
                for name, fn in runs.items():
                    samples[name].append(time_ms(fn))
            entry = {"width": width, "height": height, "faces_pasted": faces, "jpeg_bytes": len(data),
                     "faces_found": found,
                     "e2e_cnn_stages_ms_p50": {k: round(statistics.median(s[k] for s in stages[-repeats["photo"]:]), 3)
                                               for k in stages[-1]}}
            for name, values in samples.items():
                entry[name] = summarize(values)
                results[f"{name}_{key}_ms_p50"] = entry[name]["p50"]
                results[f"{name}_{key}_ms_p95"] = entry[name]["p95"]
            if df:
                for name in ("deepface_crops", "deepface_analyze"):
                    ratio = round(entry[name]["p50"] / entry["e2e_cnn"]["p50"], 2)
                    entry[f"ratio_{name}_vs_cnn"] = ratio
                    results[f"ratio_{name}_vs_cnn_{key}"] = ratio
            photos[key] = entry
    return photos


def _time_data_eval(cnn, quick: bool, results: dict) -> None:
    """The Your data page's evaluation of a labelled zip, by every fast ready model."""
    from core.models import registry

    try:
        from core.bench.data_eval import time_zip_evaluation

        zoo = {"fer2013_cnn": cnn, **({"fer_minixception": registry.get("fer_minixception")}
                                      if registry.available()["fer_minixception"].ready else {})}
        results["data_eval"] = time_zip_evaluation(zoo, count=200 if quick else 1000)
        results["data_eval_cnn_images_per_s"] = results["data_eval"]["cnn_images_per_s"]
    except Exception as exc:  # noqa: BLE001 - report, never lose the other figures
        results["data_eval"] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}


def _time_robustness(cnn, quick: bool, results: dict, log) -> None:
    """The robustness lab (every corruption x 5 severities) on 1,000 faces by every model ready with its real
    weights (the target), then again with DeepFace's network added on stand-in weights when its real ones
    are missing: its time is real (same network, batched as ``predict_bulk`` runs it), its accuracy
    meaningless, and nothing is written."""
    from core.models import registry

    try:
        from core.bench.robustness import time_robustness

        others = {name: registry.get(name) for name in registry.ready_names() if name != "fer2013_cnn"}
        zoo = {"fer2013_cnn": cnn, **others}
        stand_in = "stand-in" in str(results.get("deepface", {}).get("weights", ""))
        ready = {name: c for name, c in zoo.items() if not (stand_in and name == "deepface")}
        count = 100 if quick else 1000
        log(f"timing the robustness lab ({', '.join(ready)}) ...")
        results["robustness"] = time_robustness(ready, count=count)
        results["robustness"]["ready_models"] = ("every model ready with its real weights on this machine"
                                                 + (" (DeepFace's are missing: timed below on stand-ins)"
                                                    if stand_in else ""))
        if stand_in and "deepface" in zoo:
            log("timing the robustness lab again with DeepFace's network on stand-in weights ...")
            extra = time_robustness(zoo, count=count)
            results["robustness"]["with_deepface_stand_in"] = {
                key: extra[key] for key in ("models", "seconds", "model_seconds", "alignment_seconds",
                                            "corruption_seconds", "load_average_1min_before",
                                            "load_average_1min_after", "target_met")}
    except Exception as exc:  # noqa: BLE001 - report, never lose the other figures
        results["robustness"] = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}


def _time_app_start(path, df, results: dict, notes: list, log) -> None:
    log("timing the app's cold start ...")
    try:
        cold = measure_app_cold_start(app_env(path, Path(os.environ["DEEPFACE_HOME"]) if df else None))
    except Exception as exc:  # the app is someone else's work in progress; report, don't crash
        cold = {"error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    results["app_cold_start"] = cold
    results["app_cold_start_s"] = cold.get("cold_start_s")
    results["app_cold_start_method"] = cold.get("method") or cold.get("skipped") or cold.get("error")
    if cold.get("method"):
        notes.append(f"app cold start: {cold['method']}")


def gradcam_timings(classifiers: dict, crop, repeats: int, warmup: int) -> dict:
    """``gradcam_<model>_face_ms_p50``/``_p95``: one face's Grad-CAM map (predicted class, default
    layer, resized to the crop) per model that has an explainer; ``gradcam_<model>_layer`` names the layer."""
    from core.analysis.gradcam import GradCam

    out = {}
    for name, classifier in classifiers.items():
        parts = classifier.explainer()
        if parts is None:
            continue
        model, preprocess, letterbox = parts.model, parts.preprocess, parts.letterbox
        cam = GradCam(model, preprocess=preprocess, letterbox=letterbox)
        stats = summarize(repeat_ms(lambda cam=cam: cam.explain([crop]), repeats, warmup))
        out.update({f"gradcam_{name}_face_ms_p50": stats["p50"], f"gradcam_{name}_face_ms_p95": stats["p95"],
                    f"gradcam_{name}_layer": cam.layer})
    return out


HEADLINE_KEYS = ("cnn_face_ms_p50", "e2e_cnn_1280x720_1face_ms_p50", "deepface_analyze_1280x720_1face_ms_p50")
# flat copies of nested figures, kept in memory for the printed table but not stored
_DUPLICATE = re.compile(r"^(?:(?:e2e_cnn|deepface_analyze|deepface_crops)_\d+x\d+_\d+faces?_ms_p\d+"
                        r"|ratio_.+|target_.+|targets_met|cnn_face_ms_p95|cnn_batch64_ms_p\d+"
                        r"|app_cold_start_s|app_cold_start_method)$")


def _portable(value):
    """Every string without this machine's absolute paths (results.json is committed and shown on About)."""
    from core.presentation.speed import without_machine_paths

    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return without_machine_paths(value) if isinstance(value, str) else value


def stored_layout(results: dict) -> dict:
    """What goes to results.json: the headline keys first, each other figure once (nested)."""
    kept = {k: v for k, v in results.items() if k in HEADLINE_KEYS or not _DUPLICATE.match(k)}
    first = ["date", "quick", *HEADLINE_KEYS]
    ordered = {k: kept[k] for k in first if k in kept}
    flat = {k: v for k, v in kept.items() if k not in ordered and not isinstance(v, (dict, list))}
    rest = {k: v for k, v in kept.items() if k not in ordered and k not in flat}
    return {**ordered, **dict(sorted(flat.items())), **rest}


def format_table(results: dict) -> str:
    lines = []
    face = results["cnn_face"]
    lines.append(f"CNN per face (batch 1): p50 {face['p50']:.2f} ms, p95 {face['p95']:.2f} ms "
                 f"(target <= {TARGET_CNN_FACE_MS:.0f} ms: {'met' if results['target_cnn_face_met'] else 'NOT met'})")
    lines.append(f"CNN throughput (batch 64): {results['cnn_batch64_faces_per_s']:.0f} faces/s "
                 f"(batch p50 {results['cnn_batch64_ms_p50']:.1f} ms)")
    has_df = "deepface_analyze" in next(iter(results["photos"].values()))
    header = f"{'photo':<20}{'faces':>11}{'ours p50/p95 ms':>20}"
    if has_df:
        header += f"{'DF crops p50 ms':>17}{'DF analyze p50/p95 ms':>24}{'DF/ours':>9}{'DFan/ours':>11}"
    lines.append(header)
    for key, e in results["photos"].items():
        found = e["faces_found"]
        counts = "/".join(str(found[k]) for k in ("e2e_cnn", "deepface_crops", "deepface_analyze") if k in found)
        row = f"{key:<20}{counts:>11}{e['e2e_cnn']['p50']:>11.1f} /{e['e2e_cnn']['p95']:>7.1f}"
        if has_df:
            row += (f"{e['deepface_crops']['p50']:>17.1f}{e['deepface_analyze']['p50']:>14.1f} /"
                    f"{e['deepface_analyze']['p95']:>8.1f}{e['ratio_deepface_crops_vs_cnn']:>8.1f}x"
                    f"{e['ratio_deepface_analyze_vs_cnn']:>10.1f}x")
        lines.append(row)
    lines.append("(faces: found by ours/DeepFace on our crops/DeepFace's own detector; DF = DeepFace)")
    stages = results["photos"].get("1280x720_1face", {}).get("e2e_cnn_stages_ms_p50")
    if stages:
        lines.append("ours at 1280x720, one face, p50 per stage: "
                     + ", ".join(f"{k} {v:.1f} ms" for k, v in stages.items()))
    loads = f"load: CNN {results['cnn_load_s']:.2f} s"
    if results.get("cnn_cold_load_s") is not None:
        loads += f" (fresh process incl. TensorFlow import {results['cnn_cold_load_s']:.1f} s)"
    if "deepface_load_s" in results:
        loads += f", DeepFace {results['deepface_load_s']:.2f} s"
    lines.append(loads + f"; peak memory {results['peak_rss_mib']:.0f} MiB")
    if "app_cold_start" in results:
        cold = results["app_cold_start"]
        if cold.get("cold_start_s") is not None:
            complete = cold.get("first_page_complete_s")
            lines.append(f"app cold start: {cold['cold_start_s']:.1f} s to first element (health {cold.get('health_s')} s"
                         + (f", first page complete incl. model loading {complete} s" if complete else "")
                         + f") [{cold['method']}]")
        else:
            lines.append(f"app cold start: {results['app_cold_start_method']}")
    if results["targets"].get("speedup_vs_deepface_analyze_1280x720_1face") is not None:
        t = results["targets"]
        lines.append(f"1280x720 one face: ours {t['speedup_vs_deepface_analyze_1280x720_1face']:.1f}x faster than "
                     f"DeepFace.analyze (target >= {TARGET_SPEEDUP_1280x720:.0f}x: {'met' if t['speedup_target_met'] else 'NOT met'})")
    lines.extend(f"note: {n}" for n in results["notes"])
    return "\n".join(lines)
