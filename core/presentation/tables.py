"""Results as things to show and download: tables and CSV/JSON bytes.

Works on the plain-dict result format of :meth:`core.analysis.pipeline.PhotoResult.to_dict`; a photo that
could not be read is ``{"image": name, "error": reason}`` (as in ``python -m core predict --json``).
Nothing here imports Streamlit, and nothing here writes files: everything stays in memory.
"""
from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

import pandas as pd

from core.models import registry
from core.presentation.charts import display_name


def model_names(results: Sequence[dict]) -> list[str]:
    """The models appearing in the results, in the registry's order (the CNN first)."""
    names = dict.fromkeys(name for r in results for f in r.get("faces", []) for name in f.get("models", {}))
    return sorted(names, key=registry.sort_key)


def verdict(face: dict, model: str) -> str:
    """``"happy 88%"`` or ``"—"`` when the model has no prediction for that face."""
    prediction = face.get("models", {}).get(model)
    if not prediction:
        return "—"
    return f"{prediction['dominant_emotion']} {prediction['confidence'] * 100:.0f}%"


def agreement_text(agree: bool | None, agreement: dict | None = None) -> str:
    """``"3 of 3 agree: happy"``, ``"2 of 3 agree: happy"``, ``"no majority"``; ``"—"`` with one model.

    ``agreement`` is a face's ``agreement`` entry; without it (older results) the ``agree`` flag
    gives ``"yes"``/``"no"``.
    """
    if agreement:
        if agreement["emotion"] is None:
            return "the 2 models disagree" if agreement["models"] == 2 else f"no majority ({agreement['models']} models)"
        return f"{agreement['votes']} of {agreement['models']} agree: {agreement['emotion']}"
    return {True: "yes", False: "no"}.get(agree, "—")


SOURCE_NOTES = {"whole_image": "no face found; whole image classified",
                "face_crop": "the image is one face crop",
                "deepface_detector": "found by DeepFace's detector only"}


def faces_text(result: dict) -> str:
    """How many faces a photo's result holds, in the one wording every part of the page uses:
    ``"2 faces"``, ``"1 face (the image is a face crop)"``, ``"no face found"`` or ``"no face found;
    whole image classified"``."""
    faces = result.get("faces", [])
    found = sum(f.get("source") != "whole_image" for f in faces)
    if found == 0:
        return SOURCE_NOTES["whole_image"] if faces else "no face found"
    text = f"{found} face{'s' if found != 1 else ''}"
    return text + " (the image is a face crop)" if faces[0].get("source") == "face_crop" else text


def totals_text(results: Sequence[dict], refused: Sequence[dict] = ()) -> str:
    """``"3 photos analysed, 5 faces in all (1 photo with no face found; 1 upload refused)"``: the
    counts add up what :func:`faces_text` says per photo."""
    good = [r for r in results if "error" not in r]
    faces = sum(f.get("source") != "whole_image" for r in good for f in r.get("faces", []))
    none = sum(1 for r in good if not any(f.get("source") != "whole_image" for f in r.get("faces", [])))
    failed = len(results) - len(good) + len(refused)
    text = f"{len(good)} photo{'s' if len(good) != 1 else ''} analysed, {faces} face{'s' if faces != 1 else ''} in all"
    notes = []
    if none:
        notes.append(f"{none} photo{'s' if none != 1 else ''} with no face found")
    if failed:
        notes.append(f"{failed} upload{'s' if failed != 1 else ''} refused")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def summary_table(results: Sequence[dict], models: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per face: photo, face, one column per model (emotion and confidence), agree.

    Photos without a face and photos that could not be read (or were refused) get one row saying so.
    With a single model the ``agree`` column is left out (there is nothing to compare). ``models``
    defaults to every model in the results.
    """
    models = list(models) if models is not None else model_names(results)
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
            note = SOURCE_NOTES.get(face.get("source"), "")
            rows.append({"photo": photo, "face": str(face["face"]),
                         **{display_name(m): verdict(face, m) for m in models},
                         "agree": agreement_text(face.get("agree"), face.get("agreement")), "note": note})
    columns = ["photo", "face", *[display_name(m) for m in models], "agree", "note"]
    if len(models) < 2:
        columns.remove("agree")
    return pd.DataFrame(rows, columns=columns)[columns]


def results_frame(results: Sequence[dict], labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The flat table behind the CSV download: one row per face (or per photo without a face).

    Columns: image, width, height, face, x, y, w, h, face_confidence (the detector's score, 0-1),
    source, agreement, then per model ``<model>_emotion``, ``<model>_confidence`` and
    ``<model>_<label>`` (both in percent, 0-100: one unit for every probability),
    ``<model>_calibrated`` (the temperature applied, empty when none) and ``<model>_time_ms``, then
    no_face_found, options (JSON, incl. ``calibrated``), model_errors and error (why a photo was not
    analysed, e.g. an upload that was refused).
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
            agreement = face.get("agreement")
            row = {**base, "face": face["face"], **{k: region.get(k) for k in ("x", "y", "w", "h")},
                   "face_confidence": face.get("face_confidence"), "source": face.get("source"),
                   "agreement": agreement_text(face.get("agree"), agreement) if len(models) > 1 else None}
            for model in models:
                prediction = face.get("models", {}).get(model)
                row[f"{model}_emotion"] = prediction["dominant_emotion"] if prediction else None
                row[f"{model}_confidence"] = round(prediction["confidence"] * 100, 4) if prediction else None
                for label in labels:
                    row[f"{model}_{label}"] = prediction["emotion"].get(label) if prediction else None
                row[f"{model}_calibrated"] = prediction.get("temperature") if prediction else None
                row[f"{model}_time_ms"] = prediction["time_ms"] if prediction else None
            rows.append({**row, **tail})
    columns = ["image", "width", "height", "face", "x", "y", "w", "h", "face_confidence", "source", "agreement"]
    for model in models:
        columns += ([f"{model}_emotion", f"{model}_confidence"] + [f"{model}_{l}" for l in labels]
                    + [f"{model}_calibrated", f"{model}_time_ms"])
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
    """Misclassified pairs in a predictions table, most frequent first: true, predicted, count
    (ranked and tie-broken by :func:`core.evaluation.metrics.top_confusions`)."""
    from sklearn.metrics import confusion_matrix

    from core.evaluation.metrics import metric_labels, top_confusions

    columns = ["true", "predicted", "count"]
    labels = metric_labels(predictions["true"], predictions["predicted"])
    if len(labels) < 2:  # one label (or none): nothing can be confused
        return pd.DataFrame(columns=columns)
    counts = confusion_matrix(predictions["true"], predictions["predicted"], labels=labels)
    cells = top_confusions(labels, counts, limit=None)
    return pd.DataFrame([[c["true"], c["predicted"], c["count"]] for c in cells], columns=columns)


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
