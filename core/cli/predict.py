"""``python -m core predict``: emotions of every face in photos (files or folders), by one or both models.

Every ready model by default (``--model all``), as the app shows them; probabilities calibrated by
each model's fitted temperature unless ``--raw``. ``--csv OUT`` writes one row per image, face and
model: ``image``, ``face``, ``x``, ``y``, ``w``, ``h``, ``model`` (its id), ``dominant_emotion`` and
``p_<label>`` per label in percent (0-100), the columns of ``python -m core video`` without
``frame``/``time_s``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import add_model_arguments, analysis_options, load_models, positive_int, probability_note
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


def csv_rows(result, labels: list[str]) -> list[dict]:
    """One row per face and model of one photo's :class:`~core.analysis.pipeline.PhotoResult`."""
    from core.analysis.classify import prediction_cells

    rows = []
    for face in result.faces:
        region = face.face.region()
        for model, prediction in face.predictions.items():
            rows.append({"image": result.name, "face": face.index, **{k: region[k] for k in ("x", "y", "w", "h")},
                         **prediction_cells(model, prediction.labels, prediction.probabilities, labels)})
    return rows


def write_csv(path: str, results: list, labels: list[str]) -> int:
    """The photos' rows (refused photos have none) to ``path``; returns how many rows."""
    from core.analysis.classify import csv_text, probability_columns

    rows = [row for result in results for row in csv_rows(result, labels)]
    Path(path).write_text(csv_text(rows, ["image", "face", "x", "y", "w", "h", *probability_columns(labels)]),
                          encoding="utf-8")
    return len(rows)


def format_face_line(photo: str, face: dict) -> str:
    """``photo.jpg face 1 (x=176 y=66 w=97 h=97): CNN happy 88.0% | DeepFace happy 71.3%`` (display names)."""
    from core.models import registry

    r = face["region"]
    where = "whole image" if face["source"] == "whole_image" else f"x={r['x']} y={r['y']} w={r['w']} h={r['h']}"
    parts = [f"{registry.describe(name).title} {m['dominant_emotion']} {m['confidence'] * 100:.1f}%"
             for name, m in face["models"].items()]
    return f"{photo} face {face['face']} ({where}): " + (" | ".join(parts) or "no model result")


def run(args) -> int:
    import json

    from core.analysis import pipeline
    from core.presentation.tables import results_payload

    classifiers, unavailable, code = load_models(args.model, args.model_dir, args.deepface_detector)
    if code:
        return code
    if unavailable:
        print(f"note: showing {', '.join(classifiers)} only", file=sys.stderr)
    analyzer = pipeline.Analyzer(classifiers)
    options = analysis_options(args)
    analysed, payload, bad = [], [], 0
    for path, problem in expand_images(args.images):
        result, problem = (None, problem) if problem else _analyse(analyzer, path, options)
        if problem:
            bad += 1
            print(f"error: {path}: {problem}", file=sys.stderr)
            payload.append({"image": path, "error": problem})
            continue
        analysed.append(result)
        payload.append(result.to_dict())
        if args.json:
            continue
        for model, message in result.model_errors.items():
            print(f"error: {path}: {model} failed: {message}", file=sys.stderr)
        if not result.faces:
            print(f"{path}: {NO_FACE}", flush=True)
        for face in payload[-1]["faces"]:
            print(format_face_line(path, face), flush=True)
    if args.csv:
        labels = list(dict.fromkeys(label for c in classifiers.values() for label in c.labels))
        count = write_csv(args.csv, analysed, labels)
        print(f"wrote {count} rows ({len(payload)} images) to {args.csv}", file=sys.stderr)
    if args.json:
        models = {n: {**c.describe(), "display_name": c.record.title, "color": c.record.colour}
                  for n, c in classifiers.items()}
        print(json.dumps(results_payload(payload, models, unavailable), indent=2))
    if analysed:
        print(probability_note(args), file=sys.stderr)
    return 2 if bad else 0


def _analyse(analyzer, path: str, options):
    """``(PhotoResult, None)``, or ``(None, the one-line problem)`` for a photo that cannot be analysed."""
    from core.media.images import ImageDecodeError

    try:
        return analyzer.analyze_source(path, name=path, options=options), None
    except ImageDecodeError as exc:
        return None, exc.reason
    except Exception as exc:  # anything else: report it on one line and go on with the next photo
        return None, " ".join(f"analysis failed ({type(exc).__name__}: {exc})".split())


def add_parser(sub) -> None:
    from core.faces.catalogue import DEFAULT_DETECTOR, DETECTOR_NAMES, title

    default_detector = DEFAULT_DETECTOR  # the photo pipeline's default (AnalysisOptions'), without scipy's import

    p = sub.add_parser("predict", help="emotions of every face in photos or folders of photos, by every ready model")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR",
                   help="image files, or folders searched recursively for images (" + " ".join(f".{t}" for t in FILE_TYPES)
                        + ")")
    p.add_argument("--csv", metavar="OUT", help="also write one row per image, face and model to this CSV "
                   "(image, face, x, y, w, h, model, dominant_emotion, p_<label> in percent)")
    p.add_argument("--detector", default=default_detector, choices=DETECTOR_NAMES,
                   help=f"face detector (default {default_detector}: {title(default_detector)})")
    add_model_arguments(p, "that classify every face")
    p.add_argument("--json", action="store_true", help="print the full results as JSON")
    p.add_argument("--deepface-mode", default="crops", choices=["crops", "full"],
                   help="DeepFace on our face crops, or with its own detector on the whole photo")
    p.add_argument("--deepface-detector", default="opencv", help="DeepFace detector backend in full mode")
    p.add_argument("--whole-image", action="store_true", help="classify the whole image when no face is found")
    p.add_argument("--min-face-size", type=positive_int, default=40, help="ignore faces smaller than this (pixels)")
    p.add_argument("--align", action="store_true",
                   help="turn each face so that its eyes are level before classifying (BlazeFace's faces; off by "
                        "default: measured no better overall, README 'One face, one answer')")
    p.set_defaults(func=run)
