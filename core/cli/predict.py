"""``python -m core predict``: emotions of every face in photos, by one or both models."""
from __future__ import annotations

import sys

from core.cli.common import positive_int


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

    try:
        classifiers, unavailable = pipeline.load_classifiers(args.model, args.model_dir, args.deepface_detector)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, reason in unavailable.items():
        print(f"note: {name} unavailable: {reason}", file=sys.stderr)
    if not classifiers:
        print("error: no model could be loaded", file=sys.stderr)
        return 1
    if unavailable:
        print(f"note: showing {', '.join(classifiers)} only", file=sys.stderr)
    analyzer = pipeline.Analyzer(classifiers)
    options = pipeline.AnalysisOptions(no_face="whole_image" if args.whole_image else "report",
                                       deepface_mode=args.deepface_mode, min_face_size=args.min_face_size)
    results, bad = [], 0
    for path in args.images:
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
            print(f"{path}: no face found", flush=True)
        for face in result["faces"]:
            print(format_face_line(path, face), flush=True)
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
    p = sub.add_parser("predict", help="emotions of every face in photos, by both models")
    p.add_argument("images", nargs="+", metavar="IMAGE")
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
