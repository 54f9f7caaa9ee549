"""``python -m core predict``: emotions of every face in photos (files or folders), by one or both models.

``--csv OUT`` writes one row per image, face and model: ``image``, ``face``, ``x``, ``y``, ``w``,
``h``, ``model``, ``dominant_emotion`` and ``p_<label>`` per label in percent (0-100), the columns
of ``python -m core video`` without ``frame``/``time_s``.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

from core.cli.common import analysis_options, load_models, positive_int
from core.media.images import FILE_TYPES, IMAGE_SUFFIXES  # the one list of image names (no TensorFlow)

EMPTY_FOLDER = "a folder with no supported image in it"
NO_FACE = "no face found (--whole-image classifies the whole image; --detector haar finds smaller faces)"


def expand_images(paths: list[str]) -> list[tuple[str, str | None]]:
    """``(path, problem)`` in the order given: files as given (problem None), folders replaced by every
    supported image under them (recursively, sorted), a folder holding none by itself with its problem."""
    out: list[tuple[str, str | None]] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = [str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
            if found:
                out.extend((p, None) for p in found)
            else:
                out.append((text, EMPTY_FOLDER))
        else:
            out.append((text, None))
    return out


def csv_rows(result: dict, labels: list[str]) -> list[dict]:
    """One row per face and model of one photo's result (``PhotoResult.to_dict()``)."""
    rows = []
    for face in result.get("faces", []):
        region = face["region"]
        for model, answer in face["models"].items():
            row = {"image": result["image"], "face": face["face"], **{k: region[k] for k in ("x", "y", "w", "h")},
                   "model": model, "dominant_emotion": answer["dominant_emotion"]}
            row.update({f"p_{label}": answer["emotion"].get(label) for label in labels})
            rows.append(row)
    return rows


def write_csv(path: str, results: list[dict], labels: list[str]) -> int:
    columns = ["image", "face", "x", "y", "w", "h", "model", "dominant_emotion", *(f"p_{label}" for label in labels)]
    rows = [row for result in results for row in csv_rows(result, labels)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def format_face_line(photo: str, face: dict) -> str:
    """``photo.jpg face 1 (x=176 y=66 w=97 h=97): cnn happy 88.0% | deepface happy 71.3%``."""
    r = face["region"]
    where = "whole image" if face["source"] == "whole_image" else f"x={r['x']} y={r['y']} w={r['w']} h={r['h']}"
    parts = [f"{name} {m['dominant_emotion']} {m['confidence'] * 100:.1f}%" for name, m in face["models"].items()]
    return f"{photo} face {face['face']} ({where}): " + (" | ".join(parts) or "no model result")


def run(args) -> int:
    import json

    from core.analysis import pipeline
    from core.media.images import ImageDecodeError
    from core.presentation.tables import results_payload

    classifiers, unavailable, code = load_models(args.model, args.model_dir, args.deepface_detector)
    if code:
        return code
    if unavailable:
        print(f"note: showing {', '.join(classifiers)} only", file=sys.stderr)
    analyzer = pipeline.Analyzer(classifiers)
    options = analysis_options(args)
    results, bad = [], 0
    for path, problem in expand_images(args.images):
        if problem:
            bad += 1
            print(f"error: {path}: {problem}", file=sys.stderr)
            results.append({"image": path, "error": problem})
            continue
        try:
            result = analyzer.analyze_source(path, name=path, options=options).to_dict()
        except ImageDecodeError as exc:
            bad += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"image": path, "error": exc.reason})
            continue
        except Exception as exc:  # anything else: report it on one line and go on with the next photo
            bad += 1
            reason = " ".join(f"analysis failed ({type(exc).__name__}: {exc})".split())
            print(f"error: {path}: {reason}", file=sys.stderr)
            results.append({"image": path, "error": reason})
            continue
        results.append(result)
        if args.json:
            continue
        for model, message in result["model_errors"].items():
            print(f"error: {path}: {model} failed: {message}", file=sys.stderr)
        if not result["faces"]:
            print(f"{path}: {NO_FACE}", flush=True)
        for face in result["faces"]:
            print(format_face_line(path, face), flush=True)
    if args.csv:
        labels = list(dict.fromkeys(label for c in classifiers.values() for label in c.labels))
        count = write_csv(args.csv, results, labels)
        print(f"wrote {count} rows ({len(results)} images) to {args.csv}", file=sys.stderr)
    if args.json:
        payload = results_payload(results, {n: c.describe() for n, c in classifiers.items()}, unavailable)
        print(json.dumps(payload, indent=2))
    return 2 if bad else 0


def _model_choice(text: str) -> str:
    """``cnn``, ``deepface``, ``both``, or a registered model's name."""
    import argparse

    from core.models import registry

    if text in ("cnn", "deepface", "both") or text in registry.names():
        return text
    raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from 'cnn', 'deepface', 'both' "
                                     f"or a registered model: {', '.join(registry.names())})")


def add_parser(sub) -> None:
    from core.analysis.pipeline import AnalysisOptions
    from core.faces.nms import DETECTOR_NAMES

    default_detector = AnalysisOptions().detector  # the photo pipeline's default, whatever it is

    p = sub.add_parser("predict", help="emotions of every face in photos or folders of photos, by both models")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR",
                   help="image files, or folders searched recursively for images (" + " ".join(f".{t}" for t in FILE_TYPES)
                        + ")")
    p.add_argument("--csv", metavar="OUT", help="also write one row per image, face and model to this CSV "
                   "(image, face, x, y, w, h, model, dominant_emotion, p_<label> in percent)")
    p.add_argument("--detector", default=default_detector, choices=DETECTOR_NAMES,
                   help=f"face detector (default {default_detector})")
    p.add_argument("--model", default="both", type=_model_choice, metavar="{cnn,deepface,both}",
                   help="cnn, deepface, both (default), or a registered model's name (see `python -m core models`)")
    p.add_argument("--json", action="store_true", help="print the full results as JSON")
    p.add_argument("--model-dir", help="CNN model folder (default: $EMOTION_MODEL_DIR, else models/fer2013_cnn)")
    p.add_argument("--deepface-mode", default="crops", choices=["crops", "full"],
                   help="DeepFace on our face crops, or with its own detector on the whole photo")
    p.add_argument("--deepface-detector", default="opencv", help="DeepFace detector backend in full mode")
    p.add_argument("--whole-image", action="store_true", help="classify the whole image when no face is found")
    p.add_argument("--min-face-size", type=positive_int, default=40, help="ignore faces smaller than this (pixels)")
    p.set_defaults(func=run)
