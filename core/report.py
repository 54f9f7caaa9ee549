"""Results as things to show and download: tables, CSV/JSON bytes, photos with numbered boxes.

Works on the plain-dict result format of :meth:`core.pipeline.PhotoResult.to_dict`; a photo that
could not be read is ``{"image": name, "error": reason}`` (as in ``python -m core predict --json``).
Nothing here imports Streamlit, and nothing here writes files: everything stays in memory.
"""
from __future__ import annotations

import io
import json
from typing import Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from core.charts import display_name

FACE_COLOR_BGR = (60, 200, 60)  # our detector's boxes
DEEPFACE_COLOR_BGR = (12, 121, 232)  # DeepFace's own boxes ("full" mode), the DeepFace orange


def model_names(results: Sequence[dict]) -> list[str]:
    """The models appearing in the results, CNN first."""
    names = dict.fromkeys(name for r in results for f in r.get("faces", []) for name in f.get("models", {}))
    return sorted(names, key=lambda n: (n != "cnn", n != "deepface", n))


def verdict(face: dict, model: str) -> str:
    """``"happy 88%"`` or ``"—"`` when the model has no prediction for that face."""
    prediction = face.get("models", {}).get(model)
    if not prediction:
        return "—"
    return f"{prediction['dominant_emotion']} {prediction['confidence'] * 100:.0f}%"


def agreement_text(agree: bool | None) -> str:
    return {True: "yes", False: "no"}.get(agree, "—")


def summary_table(results: Sequence[dict], models: Sequence[str] = ("cnn", "deepface")) -> pd.DataFrame:
    """One row per face: photo, face, one column per model (emotion and confidence), agree.

    Photos without a face and photos that could not be read get one row saying so.
    """
    rows = []
    for result in results:
        photo = result.get("image", "")
        if "error" in result:
            rows.append({"photo": photo, "face": "—", **{display_name(m): "—" for m in models},
                         "agree": "—", "note": f"not analysed: {result['error']}"})
            continue
        if not result.get("faces"):
            rows.append({"photo": photo, "face": "—", **{display_name(m): "—" for m in models},
                         "agree": "—", "note": "no face found"})
            continue
        for face in result["faces"]:
            note = {"whole_image": "no face found; whole image classified",
                    "deepface_detector": "found by DeepFace's detector only"}.get(face.get("source"), "")
            rows.append({"photo": photo, "face": str(face["face"]),
                         **{display_name(m): verdict(face, m) for m in models},
                         "agree": agreement_text(face.get("agree")), "note": note})
    columns = ["photo", "face", *[display_name(m) for m in models], "agree", "note"]
    return pd.DataFrame(rows, columns=columns)


def results_frame(results: Sequence[dict], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The flat table behind the CSV download: one row per face (or per photo without a face).

    Columns: image, width, height, face, x, y, w, h, face_confidence, source, agree, then per model
    ``<model>_emotion``, ``<model>_confidence`` (0-1), ``<model>_time_ms`` and ``<model>_<label>``
    (percent), then no_face_found, options, model_errors and error.
    """
    models = model_names(results)
    if labels is None:
        labels = list(dict.fromkeys(label for r in results for f in r.get("faces", [])
                                    for m in f.get("models", {}).values() for label in m.get("emotion", {})))
    rows = []
    for result in results:
        base = {"image": result.get("image", ""), "width": result.get("width"), "height": result.get("height")}
        tail = {"no_face_found": result.get("no_face_found"),
                "options": json.dumps(result.get("options", {}), sort_keys=True) if "options" in result else "",
                "model_errors": "; ".join(f"{k}: {v}" for k, v in result.get("model_errors", {}).items()),
                "error": result.get("error", "")}
        if "error" in result or not result.get("faces"):
            rows.append({**base, **tail})
            continue
        for face in result["faces"]:
            region = face.get("region", {})
            row = {**base, "face": face["face"], **{k: region.get(k) for k in ("x", "y", "w", "h")},
                   "face_confidence": face.get("face_confidence"), "source": face.get("source"),
                   "agree": face.get("agree")}
            for model in models:
                prediction = face.get("models", {}).get(model)
                row[f"{model}_emotion"] = prediction["dominant_emotion"] if prediction else None
                row[f"{model}_confidence"] = prediction["confidence"] if prediction else None
                row[f"{model}_time_ms"] = prediction["time_ms"] if prediction else None
                for label in labels:
                    row[f"{model}_{label}"] = prediction["emotion"].get(label) if prediction else None
            rows.append({**row, **tail})
    columns = ["image", "width", "height", "face", "x", "y", "w", "h", "face_confidence", "source", "agree"]
    for model in models:
        columns += [f"{model}_emotion", f"{model}_confidence", f"{model}_time_ms"] + [f"{model}_{l}" for l in labels]
    columns += ["no_face_found", "options", "model_errors", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    for column in ("width", "height", "face", "x", "y", "w", "h"):  # whole numbers, even beside empty cells
        frame[column] = frame[column].astype("Int64")
    return frame


def results_csv(results: Sequence[dict], labels: Sequence[str] | None = None) -> bytes:
    buffer = io.StringIO()
    results_frame(results, labels).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def results_payload(results: Sequence[dict], models: Mapping[str, dict] | None = None,
                    unavailable: Mapping[str, str] | None = None) -> dict:
    """The JSON download: ``{"models", "unavailable", "results"}``, as ``python -m core predict --json``."""
    return {"models": dict(models or {}), "unavailable": dict(unavailable or {}), "results": list(results)}


def results_json(results: Sequence[dict], models: Mapping[str, dict] | None = None,
                 unavailable: Mapping[str, str] | None = None) -> bytes:
    return json.dumps(results_payload(results, models, unavailable), indent=2).encode("utf-8")


def annotate_faces(image_bgr: np.ndarray, faces: Sequence[dict], show_deepface_boxes: bool = True) -> np.ndarray:
    """A copy of the photo with every face boxed and numbered (the ``face`` index of the result).

    Our detector's boxes are green; DeepFace's own boxes (its detector, ``deepface_region``) are
    drawn in orange when they differ. A whole-image pseudo-face is not boxed.
    """
    out = image_bgr.copy() if image_bgr.ndim == 3 else cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    height, width = out.shape[:2]
    thickness = max(2, round(max(width, height) / 400))
    font_scale = max(0.6, max(width, height) / 900)
    for face in faces:
        boxes = []
        if face.get("source") != "whole_image":
            color = DEEPFACE_COLOR_BGR if face.get("source") == "deepface_detector" else FACE_COLOR_BGR
            boxes.append((face["region"], color, thickness))
        theirs = face.get("deepface_region")
        if show_deepface_boxes and theirs and theirs != face.get("region") and face.get("source") != "deepface_detector":
            boxes.append((theirs, DEEPFACE_COLOR_BGR, max(1, thickness // 2)))
        for i, (region, color, line) in enumerate(boxes):
            x, y, w, h = (int(region[k]) for k in ("x", "y", "w", "h"))
            cv2.rectangle(out, (x, y), (x + w, y + h), color, line, cv2.LINE_AA)
            if i:
                continue
            label = str(face["face"])
            (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
            top = y - th - base - 4 if y - th - base - 4 >= 0 else y + 2
            cv2.rectangle(out, (x, top), (x + tw + 8, top + th + base + 4), color, -1)
            cv2.putText(out, label, (x + 4, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                        thickness, cv2.LINE_AA)
    return out


def to_rgb(image_bgr: np.ndarray) -> np.ndarray:
    if image_bgr.ndim == 2:
        return cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image_bgr[..., ::-1])


def per_class_frame(metrics_by_model: Mapping[str, dict]) -> pd.DataFrame:
    """Per-class precision/recall/F1/support for each model, one row per class and model."""
    rows = []
    for model, metrics in metrics_by_model.items():
        for label, values in metrics["per_class"].items():
            rows.append({"model": display_name(model), "emotion": label, "precision": values["precision"],
                         "recall": values["recall"], "f1": values["f1"], "support": values.get("support")})
    return pd.DataFrame(rows, columns=["model", "emotion", "precision", "recall", "f1", "support"])


def confusions_frame(top_confusions: Sequence[dict]) -> pd.DataFrame:
    rows = [{"true": c["true"], "predicted": c["predicted"], "count": int(c["count"]),
             "share of true class": c.get("share_of_true")} for c in top_confusions]
    return pd.DataFrame(rows, columns=["true", "predicted", "count", "share of true class"])


def confusion_counts(predictions: pd.DataFrame) -> pd.DataFrame:
    """Misclassified pairs in a predictions table, most frequent first: true, predicted, count."""
    wrong = predictions[predictions["true"] != predictions["predicted"]]
    if wrong.empty:
        return pd.DataFrame(columns=["true", "predicted", "count"])
    counts = wrong.groupby(["true", "predicted"]).size().reset_index(name="count")
    return counts.sort_values(["count", "true", "predicted"], ascending=[False, True, True]).reset_index(drop=True)


def join_predictions(predictions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The models' predictions side by side, joined on ``path``.

    Columns: path, true, then ``<model>_predicted`` and ``<model>_confidence`` per model. The
    first model's rows are kept (a left join); another model's cells are empty where it has no
    row for that path.
    """
    joined = None
    for model, frame in predictions.items():
        part = frame[["path", "true", "predicted", "confidence"]].drop_duplicates("path").rename(
            columns={"predicted": f"{model}_predicted", "confidence": f"{model}_confidence"})
        if joined is None:
            joined = part
        else:
            joined = joined.merge(part.drop(columns=["true"]), on="path", how="left")
    return joined if joined is not None else pd.DataFrame(columns=["path", "true"])


def mistakes(joined: pd.DataFrame, model: str, true: str, predicted: str, most_confident_first: bool = True) -> pd.DataFrame:
    """Rows of :func:`join_predictions` where ``model`` said ``predicted`` for a ``true`` image,
    sorted by that model's confidence."""
    rows = joined[(joined["true"] == true) & (joined[f"{model}_predicted"] == predicted)]
    return rows.sort_values([f"{model}_confidence", "path"], ascending=[not most_confident_first, True]).reset_index(drop=True)


# --------------------------------------------------------------------------- speed (benchmarks/results.json)

BENCH_SIZES = ("640x480", "1280x720", "1920x1080")
SPEED_BY_SIZE_COLUMNS = ["photo", "faces", "ours (ms)", "DeepFace.analyze (ms)", "analyze ÷ ours",
                         "DeepFace on our crops (ms)", "crops ÷ ours"]


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else (f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms")


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _photo_figure(raw: dict, size: str, faces: int, what: str, stat: str = "p50") -> float | None:
    """A photo timing, from the flat key (``e2e_cnn_1280x720_1face_ms_p50``) or the nested ``photos`` entry."""
    key = f"{size}_{faces}face{'s' if faces != 1 else ''}"
    flat = _num(raw.get(f"{what}_{key}_ms_{stat}"))
    if flat is not None:
        return flat
    entry = (raw.get("photos") or {}).get(key) if isinstance(raw.get("photos"), dict) else None
    inner = entry.get(what) if isinstance(entry, dict) else None
    return _num(inner.get(stat)) if isinstance(inner, dict) else None


def _ratio(raw: dict, size: str, faces: int, what: str) -> float | None:
    key = f"{size}_{faces}face{'s' if faces != 1 else ''}"
    stored = _num(raw.get(f"ratio_{what}_vs_cnn_{key}"))
    if stored is not None:
        return stored
    theirs, ours = _photo_figure(raw, size, faces, what), _photo_figure(raw, size, faces, "e2e_cnn")
    return round(theirs / ours, 2) if theirs is not None and ours else None


def speed_headline(raw: dict) -> pd.DataFrame:
    """The headline speed figures of a ``make bench`` run as ``measurement``/``value`` rows with
    units; rows whose figures the results do not hold are left out."""
    rows: list[tuple[str, str]] = []
    p50, p95 = _num(raw.get("cnn_face_ms_p50")), _num(raw.get("cnn_face_ms_p95"))
    if p50 is None and isinstance(raw.get("cnn_face"), dict):
        p50, p95 = _num(raw["cnn_face"].get("p50")), _num(raw["cnn_face"].get("p95"))
    if p50 is not None:
        rows.append(("CNN on one face, median (p50)", _ms(p50) + (f"  (p95 {_ms(p95)})" if p95 is not None else "")))
    throughput = _num(raw.get("cnn_batch64_faces_per_s"))
    if throughput is not None:
        batch = _num(raw.get("cnn_batch64_ms_p50"))
        rows.append(("CNN throughput, batches of 64 faces",
                     f"{throughput:,.0f} faces/s" + (f"  ({_ms(batch)} per batch, p50)" if batch is not None else "")))
    ours = _photo_figure(raw, "1280x720", 1, "e2e_cnn")
    theirs = _photo_figure(raw, "1280x720", 1, "deepface_analyze")
    if ours is not None:
        rows.append(("1280×720 photo, one face, p50 — ours (decode + detect + CNN)", _ms(ours)))
    if theirs is not None:
        rows.append(("1280×720 photo, one face, p50 — DeepFace.analyze", _ms(theirs)))
    ratio = _ratio(raw, "1280x720", 1, "deepface_analyze")
    if ratio is not None:
        rows.append(("DeepFace.analyze time ÷ ours (1280×720, one face)",
                     f"{ratio:.2f}× " + ("(ours faster)" if ratio >= 1 else "(DeepFace faster)")))
    peak, after_load = _num(raw.get("peak_rss_mib")), _num(raw.get("peak_rss_mib_after_loading"))
    if peak is not None:
        rows.append(("Peak memory (resident)", f"{peak:,.0f} MiB"
                     + (f"  ({after_load:,.0f} MiB once both models are loaded)" if after_load is not None else "")))
    cnn_load, cnn_cold, df_load = (_num(raw.get(k)) for k in ("cnn_load_s", "cnn_cold_load_s", "deepface_load_s"))
    if cnn_load is not None:
        rows.append(("CNN load time", _seconds(cnn_load)
                     + (f"  ({_seconds(cnn_cold)} in a fresh process, TensorFlow import included)"
                        if cnn_cold is not None else "")))
    if df_load is not None:
        rows.append(("DeepFace load time", _seconds(df_load)))
    cold = raw.get("app_cold_start") if isinstance(raw.get("app_cold_start"), dict) else {}
    start = _num(raw.get("app_cold_start_s"))
    start = start if start is not None else _num(cold.get("cold_start_s"))
    if start is not None:
        complete = _num(cold.get("first_page_complete_s"))
        rows.append(("App cold start (to the first element in the browser)", _seconds(start)
                     + (f"  (first page complete, models loaded: {_seconds(complete)})" if complete is not None else "")))
    return pd.DataFrame(rows, columns=["measurement", "value"])


def speed_by_size(raw: dict) -> pd.DataFrame:
    """End-to-end photo timings (p50, ms) per photo size and face count: ours, DeepFace.analyze (its
    own detector) and DeepFace on our face crops, with DeepFace's time as a multiple of ours."""
    rows = []
    for size in BENCH_SIZES:
        for faces in (1, 3):
            ours = _photo_figure(raw, size, faces, "e2e_cnn")
            analyze = _photo_figure(raw, size, faces, "deepface_analyze")
            crops = _photo_figure(raw, size, faces, "deepface_crops")
            if ours is None and analyze is None and crops is None:
                continue
            rows.append({"photo": size.replace("x", "×"), "faces": faces, "ours (ms)": ours,
                         "DeepFace.analyze (ms)": analyze,
                         "analyze ÷ ours": _ratio(raw, size, faces, "deepface_analyze") if analyze is not None else None,
                         "DeepFace on our crops (ms)": crops,
                         "crops ÷ ours": _ratio(raw, size, faces, "deepface_crops") if crops is not None else None})
    return pd.DataFrame(rows, columns=SPEED_BY_SIZE_COLUMNS)


def speed_targets(raw: dict) -> list[tuple[str, bool]]:
    """``(description, met)`` for each speed target the results record."""
    targets = raw.get("targets") if isinstance(raw.get("targets"), dict) else {}
    out = []
    face_met = targets.get("cnn_face_target_met", raw.get("target_cnn_face_met"))
    if isinstance(face_met, bool):
        limit = _num(targets.get("cnn_face_ms_p50_target"))
        measured = _num(raw.get("cnn_face_ms_p50"))
        out.append((f"CNN on one face, p50 {'≤ ' + _ms(limit) if limit is not None else 'under target'}"
                    + (f" (measured {_ms(measured)})" if measured is not None else ""), face_met))
    speed_met = targets.get("speedup_target_met", raw.get("target_speedup_met"))
    if isinstance(speed_met, bool):
        goal = _num(targets.get("speedup_target"))
        measured = _num(targets.get("speedup_vs_deepface_analyze_1280x720_1face"))
        if measured is None:
            measured = _ratio(raw, "1280x720", 1, "deepface_analyze")
        out.append((f"Ours at least {f'{goal:g}× ' if goal is not None else ''}faster than DeepFace.analyze "
                    f"on a 1280×720 photo with one face"
                    + (f" (measured {measured:.2f}×)" if measured is not None else ""), speed_met))
    return out


def speed_notes(raw: dict) -> list[str]:
    """The notes a benchmark run recorded (``notes`` list or ``note`` string)."""
    notes = raw.get("notes")
    out = [str(n) for n in notes if str(n).strip()] if isinstance(notes, list) else []
    if isinstance(raw.get("note"), str) and raw["note"].strip():
        out.insert(0, raw["note"])
    return out


def speed_facts(raw: dict) -> list[str]:
    """When and where the benchmark ran, as short phrases."""
    facts = []
    date = raw.get("date") or raw.get("created_at")
    if isinstance(date, str) and date:
        facts.append(date.replace("T", " ").replace("Z", " UTC").strip())
    machine = raw.get("machine")
    if isinstance(machine, dict):
        cpu = machine.get("cpu")
        cores = machine.get("cores")
        gpus = machine.get("gpus")
        hardware = ", ".join(str(p) for p in (cpu, f"{cores} cores" if cores else None,
                                              ("GPU " + ", ".join(map(str, gpus))) if gpus else "no GPU") if p)
        facts.append(hardware)
        software = ", ".join(f"{name} {machine[key]}" for key, name in
                             (("python", "Python"), ("keras", "Keras"), ("tensorflow", "TensorFlow")) if machine.get(key))
        if software:
            facts.append(software)
        load = _num(machine.get("load_average_1min_at_start"))
        if load is not None:
            facts.append(f"load average {load:g} at start")
    elif isinstance(machine, str) and machine:
        facts.append(machine)
    repeats = raw.get("repeats")
    if isinstance(repeats, dict) and isinstance(repeats.get("photo"), int):
        facts.append(f"{repeats['photo']} runs per photo, {repeats.get('cnn_face', '?')} per single face")
    if raw.get("quick") is True:
        facts.append("quick run (few repeats: rough figures)")
    return facts
