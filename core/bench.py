"""Benchmarks (``python -m core bench``, ``make bench``) and the helpers the load and browser tests share.

One run measures, with medians and 95th percentiles over repeated runs after a warm-up:

* the CNN's time per face (batch of 1) and its throughput at batch 64;
* end-to-end analysis (decode from JPEG bytes, detect, classify with the CNN) of photos at
  640x480, 1280x720 and 1920x1080 with one and with three faces;
* DeepFace on the same photos in both modes: on our crops (our detector), and ``DeepFace.analyze``
  with its own detector (opencv); ours and DeepFace's runs are interleaved, so that background
  load hits both alike, and the ratio DeepFace / ours is reported per photo;
* model load times, the peak memory of the process, and the app's cold start to first render.

The photos are built from the example photo: scaled copies of the astronaut's head and shoulders
pasted onto a neutral backdrop (a soft grey gradient). ``benchmarks/results.json`` keeps flat,
self-explaining keys for the headline figures (milliseconds unless the name says otherwise).

When the shipped model (``models/fer2013_cnn``) is missing and no ``--model-dir`` /
``EMOTION_MODEL_DIR`` is given, an *untrained* model of the same architecture (the default
stages) is written to a temporary folder: its speed is representative, its predictions are not.
Likewise DeepFace runs with architecture-identical stand-in weights when the real file is absent.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = PROJECT_ROOT / "benchmarks" / "results.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage")
PHOTO_SIZES = ((640, 480), (1280, 720), (1920, 1080))
FACE_COUNTS = (1, 3)
HEAD_BOX = (95, 10, 260, 280)  # x, y, w, h of the astronaut's head and shoulders in the example photo

# Targets from the issue.
TARGET_CNN_FACE_MS = 10.0
TARGET_SPEEDUP_1280x720 = 5.0

# The app's first element in the main area (Streamlit renders a skeleton until the script sends one).
FIRST_ELEMENT_SELECTOR = '[data-testid="stMain"] [data-testid="stElementContainer"]'


# --------------------------------------------------------------------------------------------
# Test photos
# --------------------------------------------------------------------------------------------

def head_and_shoulders() -> np.ndarray:
    """The astronaut's head and shoulders (BGR), face about 100 px wide near the top middle."""
    from core.imaging import example_photo

    x, y, w, h = HEAD_BOX
    return np.ascontiguousarray(example_photo()[y:y + h, x:x + w])


def backdrop(width: int, height: int, low: int = 70, high: int = 190) -> np.ndarray:
    """A neutral grey backdrop: a soft left-to-right gradient (BGR)."""
    row = np.linspace(low, high, width, dtype=np.float32).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(row[None, :, None], (height, width, 3)))


def make_photo(width: int, height: int, faces: int, size: float = 0.8, shift: tuple[float, float] = (0.0, 0.0),
               tile: np.ndarray | None = None) -> np.ndarray:
    """A ``width`` x ``height`` BGR photo with ``faces`` copies of the astronaut side by side.

    ``size`` is each copy's height as a fraction of the photo's (capped so that they fit side by
    side); ``shift`` moves the row of copies by that fraction of the free space (-1..1) in x, y.
    """
    import cv2

    canvas = backdrop(width, height).copy()
    if faces <= 0:
        return canvas
    tile = head_and_shoulders() if tile is None else tile
    th, tw = tile.shape[:2]
    scale = min(height * size / th, width / faces * 0.85 / tw)
    new_w, new_h = max(1, int(tw * scale)), max(1, int(th * scale))
    scaled = cv2.resize(tile, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    gap = (width - faces * new_w) // (faces + 1)
    free_y = height - new_h
    y = int(round(free_y / 2 + shift[1] * free_y / 2))
    dx = int(round(shift[0] * gap / 2))
    for i in range(faces):
        x = gap + i * (new_w + gap) + dx
        canvas[y:y + new_h, x:x + new_w] = scaled
    return canvas


def encode(image: np.ndarray, ext: str = ".jpg", quality: int = 90) -> bytes:
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buffer = cv2.imencode(ext, image, params)
    if not ok:
        raise ValueError(f"cannot encode {ext}")
    return buffer.tobytes()


def photo_key(width: int, height: int, faces: int) -> str:
    return f"{width}x{height}_{faces}face" + ("" if faces == 1 else "s")


def write_y4m(path: str | Path, image: np.ndarray, width: int = 640, height: int = 480, frames: int = 10,
              fps: int = 30) -> Path:
    """A YUV4MPEG2 (C420) video of ``image`` resized to ``width`` x ``height``, for Chromium's fake webcam."""
    import cv2

    frame = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    yuv = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)  # planar Y, then U, then V (4:2:0): C420 layout
    path = Path(path)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(yuv.tobytes())
    return path


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

def write_untrained_model(out: str | Path, seed: int = 7, stages=None, dense_units: int = 256) -> Path:
    """An untrained CNN saved like a shipped model (``model.keras`` + ``model.json``).

    With the default (shipped) stages its speed is representative of the real model; its
    predictions are meaningless. Tests pass smaller ``stages`` for speed.
    """
    import keras

    from core.architecture import DEFAULT_STAGES, build_cnn, multiply_adds
    from core.labels import FER2013_LABELS

    out = Path(out)
    keras.utils.set_random_seed(seed)
    stages = stages or DEFAULT_STAGES
    model = build_cnn(len(FER2013_LABELS), 48, stages, dense_units)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    metadata = {
        "name": out.name, "kind": "keras-cnn", "labels": list(FER2013_LABELS),
        "input": {"size": [48, 48], "color_mode": "grayscale", "channels": 1, "dtype": "float32", "layout": "NHWC"},
        "preprocessing": {"normalization": {"scale": 1 / 255, "offset": 0.0}},
        "architecture": {"stages": [list(s) for s in stages], "dense_units": dense_units,
                         "parameters": int(model.count_params()), "multiply_adds": multiply_adds(model)},
        "training": {"note": "UNTRAINED model for timing and tests; its predictions are meaningless"},
        "provenance": {"commit": None},
    }
    (out / "model.json").write_text(json.dumps(metadata, indent=2))
    return out


def _has_model(path: Path) -> bool:
    return (path / "model.json").is_file() and (path / "model.keras").is_file()


def resolve_model_dir(explicit: str | Path | None = None, scratch: str | Path | None = None) -> tuple[Path, str]:
    """The CNN model folder to use, and where it came from (one line, for the output).

    ``explicit`` (an option), else ``$EMOTION_MODEL_DIR``, else the shipped ``models/fer2013_cnn``,
    else an untrained stand-in written under ``scratch`` (default: a new temporary folder).
    """
    from core.classifiers import DEFAULT_MODEL_DIR, ModelUnavailable

    for value, origin in ((explicit, "--model-dir"), (os.environ.get("EMOTION_MODEL_DIR"), "EMOTION_MODEL_DIR")):
        if value:
            path = Path(value)
            if not _has_model(path):
                raise ModelUnavailable(f"{origin}={path}: no model.json + model.keras there")
            return path, f"model from {origin}: {path}"
    if _has_model(DEFAULT_MODEL_DIR):
        return DEFAULT_MODEL_DIR, f"shipped model: {DEFAULT_MODEL_DIR}"
    scratch = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="emotion_bench_"))
    path = write_untrained_model(scratch / "fer2013_cnn")
    return path, (f"shipped model {DEFAULT_MODEL_DIR} is missing: using an UNTRAINED model of the same "
                  f"architecture written to {path} (timings representative, predictions meaningless)")


def resolve_deepface_home(scratch: str | Path | None = None) -> tuple[Path, str, bool]:
    """A DEEPFACE_HOME holding the emotion weights: ``(home, description, real)``.

    The current ``$DEEPFACE_HOME`` (or ``~``) when the weights file is there, else a temporary home
    with architecture-identical stand-in weights (same speed, meaningless predictions).
    """
    from core.deepface_weights import deepface_home, weights_path, write_stand_in_weights

    home = deepface_home()
    if weights_path(home).is_file():
        return home, f"DeepFace weights found at {weights_path(home)} (taken as the real ones)", True
    scratch = Path(scratch) if scratch else Path(tempfile.mkdtemp(prefix="emotion_bench_deepface_"))
    write_stand_in_weights(scratch)
    return scratch, (f"DeepFace's real weights are missing ({weights_path(home)}): using architecture-identical "
                     f"STAND-IN weights in {scratch} (DeepFace's real code and speed, meaningless predictions)"), False


# --------------------------------------------------------------------------------------------
# The app, as a subprocess
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_available() -> bool:
    if not Path(CHROMIUM).is_file():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


class AppServer:
    """``streamlit run streamlit_app.py`` on a free localhost port; a context manager.

    Its output goes to ``log_path`` (a temporary file unless given), shown by :meth:`log_tail`.
    """

    def __init__(self, env: dict | None = None, port: int | None = None, app: str = "streamlit_app.py",
                 log_path: str | Path | None = None, cwd: str | Path = PROJECT_ROOT):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.cwd = Path(cwd)
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self._log_owned = log_path is None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="streamlit_", suffix=".log")[1])
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> "AppServer":
        streamlit = Path(sys.executable).with_name("streamlit")
        command = [str(streamlit) if streamlit.exists() else sys.executable, *([] if streamlit.exists() else ["-m", "streamlit"]),
                   "run", self.app, "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        self._log = open(self.log_path, "wb")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_healthy(self, timeout: float = 120.0) -> float:
        """Seconds from start until the health endpoint answers; raises RuntimeError on timeout or exit."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return time.perf_counter() - self.started_at
            time.sleep(0.05)
        raise RuntimeError(f"streamlit did not answer {self.url}/_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # only the process we started (its own session)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if getattr(self, "_log", None):
            self._log.close()
        if self._log_owned:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "AppServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def app_env(model_dir: Path, deepface_home: Path | None) -> dict:
    env = {"EMOTION_MODEL_DIR": str(model_dir), "EMOTION_MODELS_ROOT": str(Path(model_dir).parent)}
    if deepface_home:
        env["DEEPFACE_HOME"] = str(deepface_home)
    return env


def measure_app_cold_start(env: dict, timeout: float = 150.0) -> dict:
    """Start the app cold and time it to its first rendered element (Chromium) or to /_stcore/health."""
    if not (PROJECT_ROOT / "streamlit_app.py").is_file():
        return {"skipped": "streamlit_app.py does not exist yet"}
    result: dict = {}
    if chromium_available():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))  # not timed
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            with AppServer(env) as server:
                result["health_s"] = round(server.wait_healthy(timeout), 3)
                page.goto(server.url, wait_until="domcontentloaded", timeout=timeout * 1000)
                result["html_s"] = round(time.perf_counter() - server.started_at, 3)
                page.locator(FIRST_ELEMENT_SELECTOR).first.wait_for(state="visible", timeout=timeout * 1000)
                result["first_element_s"] = round(time.perf_counter() - server.started_at, 3)
                try:
                    page.get_by_role("heading").first.wait_for(state="visible", timeout=timeout * 1000)
                    result["first_heading_s"] = round(time.perf_counter() - server.started_at, 3)
                except Exception:  # an app without headings still has its first element
                    result["first_heading_s"] = None
                # The first page's script run finished (models loaded, page complete): ready to use.
                page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
                    state="attached", timeout=timeout * 1000)
                result["first_page_complete_s"] = round(time.perf_counter() - server.started_at, 3)
            browser.close()
        result["method"] = ("headless Chromium via Playwright: from `streamlit run` to the page's HTML and the "
                            "app's first element rendered (browser launch not counted)")
        result["cold_start_s"] = result["first_element_s"]
    else:
        with AppServer(env) as server:
            result["health_s"] = round(server.wait_healthy(timeout), 3)
        result["method"] = "no Chromium: from `streamlit run` until /_stcore/health answers"
        result["cold_start_s"] = result["health_s"]
    return result


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------

def summarize(samples_ms: list[float]) -> dict:
    values = sorted(samples_ms)
    return {"p50": round(statistics.median(values), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "mean": round(statistics.fmean(values), 3), "min": round(values[0], 3), "n": len(values)}


def time_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def repeat_ms(fn: Callable[[], object], repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    return [time_ms(fn) for _ in range(repeats)]


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def cold_load_seconds(model_dir: Path) -> float | None:
    """Seconds a fresh Python process takes to import TensorFlow and load the CNN (what an app start pays)."""
    code = ("import time; t = time.perf_counter(); from core.classifiers import CnnClassifier; "
            f"CnnClassifier({str(model_dir)!r}); print(time.perf_counter() - t)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True,
                             text=True, timeout=300)
        return round(float(out.stdout.strip().splitlines()[-1]), 3)
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def machine_info() -> dict:
    from core.training import hardware_description

    info = hardware_description()
    try:
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
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
    from core.imaging import decode_image

    notes: list[str] = []
    results: dict = {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "quick": quick,
                     "repeats": repeats}
    already = "tensorflow" in sys.modules
    t = time.perf_counter()
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    results["tensorflow_import_s"] = None if already else round(time.perf_counter() - t, 3)
    results["machine"] = machine_info()
    notes.append("Timings are wall-clock on this machine with whatever else is running (load average at start: "
                 f"{results['machine'].get('load_average_1min_at_start')}, {results['machine']['cores']} cores); "
                 "under concurrent load absolute numbers are pessimistic, the DeepFace/ours ratios (runs interleaved) "
                 "are what compare.")

    # Models --------------------------------------------------------------------------------
    path, origin = resolve_model_dir(model_dir, scratch)
    untrained = str(path).startswith(str(scratch))
    notes.append(origin)
    log(f"note: {origin}")
    from core.classifiers import CnnClassifier, DeepFaceClassifier
    from core.pipeline import AnalysisOptions, Analyzer

    t = time.perf_counter()
    cnn = CnnClassifier(path)
    results["cnn_load_s"] = round(time.perf_counter() - t, 3)
    results["model"] = {"dir": str(path), "source": origin, "untrained_stand_in": untrained,
                        "parameters": int(cnn.model.count_params())}

    df = None
    if deepface:
        home, df_origin, real = resolve_deepface_home(scratch / "deepface_home")
        os.environ["DEEPFACE_HOME"] = str(home)
        notes.append(df_origin)
        log(f"note: {df_origin}")
        t = time.perf_counter()
        df = DeepFaceClassifier(detector_backend="opencv")
        results["deepface_load_s"] = round(time.perf_counter() - t, 3)
        results["deepface"] = {"home": str(home), "weights": "real" if real else "stand-in (random, same architecture)",
                               "source": df_origin, "detector_backend": "opencv"}
    results["peak_rss_mib_after_loading"] = peak_rss_mib()
    if not quick:
        log("timing a cold CNN load in a fresh process ...")
        results["cnn_cold_load_s"] = cold_load_seconds(path)

    # CNN per face and throughput --------------------------------------------------------------
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

    # Photos: ours vs DeepFace, interleaved ------------------------------------------------------
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
                "e2e_cnn": lambda d=data: stages.append(ours.analyze_source(d).timings_ms)}
            if df:
                runs["deepface_crops"] = lambda d=data: theirs_crops.analyze_source(d, options=crops_options)
                runs["deepface_analyze"] = lambda d=data: df.analyze_image(decode_image(d))
            found = {"e2e_cnn": len(ours.analyze_source(data).faces)}
            if df:
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
    results["photos"] = photos
    results["peak_rss_mib"] = peak_rss_mib()

    # App cold start -----------------------------------------------------------------------------
    if app:
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

    # Targets -----------------------------------------------------------------------------------
    targets = {"cnn_face_ms_p50_target": TARGET_CNN_FACE_MS,
               "cnn_face_target_met": results["cnn_face_ms_p50"] <= TARGET_CNN_FACE_MS}
    if df:
        speedup = results["ratio_deepface_analyze_vs_cnn_1280x720_1face"]
        targets.update({"speedup_vs_deepface_analyze_1280x720_1face": speedup,
                        "speedup_target": TARGET_SPEEDUP_1280x720,
                        "speedup_target_met": speedup >= TARGET_SPEEDUP_1280x720})
    else:
        targets.update({"speedup_target_met": None})
    targets["all_targets_met"] = bool(targets["cnn_face_target_met"] and targets["speedup_target_met"])
    results["targets"] = targets
    results.update({"target_cnn_face_met": targets["cnn_face_target_met"],
                    "target_speedup_met": targets["speedup_target_met"],
                    "targets_met": targets["all_targets_met"]})
    results["notes"] = notes
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    if out:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_ordered(results), indent=2) + "\n")
    return results


def _ordered(results: dict) -> dict:
    """Headline keys first, details after."""
    first = ["date", "quick", "cnn_face_ms_p50", "cnn_face_ms_p95", "cnn_batch64_faces_per_s",
             "e2e_cnn_1280x720_1face_ms_p50", "deepface_analyze_1280x720_1face_ms_p50",
             "ratio_deepface_analyze_vs_cnn_1280x720_1face", "target_cnn_face_met", "target_speedup_met", "targets_met",
             "peak_rss_mib", "cnn_load_s", "cnn_cold_load_s", "deepface_load_s", "app_cold_start_s", "app_cold_start_method"]
    ordered = {k: results[k] for k in first if k in results}
    flat = {k: v for k, v in results.items() if k not in ordered and not isinstance(v, (dict, list))}
    rest = {k: v for k, v in results.items() if k not in ordered and k not in flat}
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


def _cmd_bench(args) -> int:
    from core.classifiers import ModelUnavailable

    try:
        results = run_benchmarks(quick=args.quick, model_dir=args.model_dir, out=args.out, app=not args.no_app,
                                 deepface=not args.no_deepface)
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(results))
    if args.out:
        print(f"wrote {args.out}")
    return 0


def add_parser(subparsers) -> None:
    """Register ``python -m core bench``."""
    p = subparsers.add_parser("bench", help="speed benchmarks (CNN, end to end, DeepFace, app cold start)",
                              description="Speed benchmarks measured in one run; writes benchmarks/results.json and prints a table.")
    p.add_argument("--quick", action="store_true", help="few repeats (for tests; the figures are rough)")
    p.add_argument("--model-dir", help="CNN model folder (default: $EMOTION_MODEL_DIR, then models/fer2013_cnn, "
                                       "else an untrained stand-in of the same architecture)")
    p.add_argument("--out", default=str(RESULTS_PATH), help="results file (default: benchmarks/results.json)")
    p.add_argument("--no-app", action="store_true", help="skip the app cold-start measurement")
    p.add_argument("--no-deepface", action="store_true", help="skip DeepFace")
    p.set_defaults(func=_cmd_bench)
