"""``python -m core explain``: Grad-CAM maps of every face in photos, one PNG per face and model.

Each file ``OUT/<image stem>-face<N>-<model>.png`` is the face crop with the map of the explained
emotion (the model's prediction, or ``--emotion``) overlaid on one absolute colour scale (dark: no
influence, bright: the most), so maps of different models compare directly. ``--json`` gives, per
face and model, the file, the emotion, its probability and the map's peak in full-image pixels.
Bad files and exit codes as ``predict``: 0 all photos read, 2 a photo could not be read (or bad
arguments), 1 no model could be loaded or explained.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import add_model_arguments, analysis_options, load_models, positive_int, probability_note


class ExplainError(ValueError):
    """A bad ``--emotion``/``--layer`` for a model; the message is one line."""


def explainers(classifiers: dict, layer: str | None) -> tuple[dict, dict]:
    """``{key: GradCam}`` for the classifiers that can be explained, and ``{key: why not}`` for the rest."""
    from core.analysis.gradcam import GradCam, conv_layers

    cams, skipped = {}, {}
    for key, classifier in classifiers.items():
        parts = classifier.explainer()
        if parts is None:
            skipped[key] = "not a Keras network, so no Grad-CAM"
            continue
        model, preprocess, letterbox = parts.model, parts.preprocess, parts.letterbox
        if layer is not None and layer not in conv_layers(model):
            raise ExplainError(f"{key} has no conv layer {layer!r}; its conv layers: {', '.join(conv_layers(model))}")
        cams[key] = GradCam(model, layer, preprocess=preprocess, letterbox=letterbox)
    return cams, skipped


def class_index(classifier, emotion: str | None) -> int | None:
    """The index of ``--emotion`` among the model's labels (None: explain its prediction)."""
    if emotion is None:
        return None
    from core.labels import normalize_label

    try:
        label = normalize_label(emotion)
    except ValueError as exc:
        raise ExplainError(str(exc)) from None
    if label not in classifier.labels:
        raise ExplainError(f"{classifier.name} has no emotion {label!r}; its labels: {', '.join(classifier.labels)}")
    return list(classifier.labels).index(label)


def explain_image(image, faces, cams: dict, classifiers: dict, classes: dict, out: Path, stem: str,
                  calibrated: bool = True) -> list[dict]:
    """Write one overlay per face and model; returns the faces with, per model, file/emotion/probability/peak
    and the crop's box in the photo (the face in the model's training framing, as ``predict`` crops it).

    The probability is the one ``predict`` and the app show: through the shared classification step,
    calibrated unless ``calibrated`` is false (Grad-CAM's own forward pass gives the raw one)."""
    import cv2

    from core.analysis.classify import classify, framing_of
    from core.analysis.gradcam import peak
    from core.faces import crop_face
    from core.faces.framing import framed_box
    from core.presentation.explain_figures import overlay

    results = []
    framings = {key: framing_of(classifiers[key]) for key in cams}
    for number, (face, source) in enumerate(faces, start=1):
        models = {}
        for key, cam in cams.items():
            box = framed_box(image, face, framings[key])  # the crop predict classifies, in the photo
            crop = crop_face(image, box)
            explanation = cam.explain([crop], classes[key])[0]
            target = out / f"{stem}-face{number}-{key}.png"
            cv2.imwrite(str(target), cv2.cvtColor(overlay(crop, explanation.heatmap), cv2.COLOR_RGB2BGR))
            x, y = peak(explanation.heatmap, (box.x, box.y, box.w, box.h))
            prediction = classify(classifiers[key], [crop], calibrated)[0]
            models[key] = {"file": str(target), "emotion": classifiers[key].labels[explanation.class_index],
                           "probability": round(float(prediction.probabilities[explanation.class_index]), 6),
                           "temperature": prediction.temperature, "peak": {"x": x, "y": y}, "layer": cam.layer,
                           "crop": box.region()}
        results.append({"face": number, "region": face.region(), "source": source, "models": models})
    return results


def run(args) -> int:
    import json

    from core.analysis import pipeline
    from core.faces import whole_image_face
    from core.media.images import ImageDecodeError, decode_image

    classifiers, unavailable, code = load_models(args.model, args.model_dir)
    if code:
        return code
    try:
        cams, skipped = explainers(classifiers, args.layer)
        classes = {key: class_index(classifiers[key], args.emotion) for key in cams}
    except ExplainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, reason in skipped.items():
        print(f"note: {name}: {reason}", file=sys.stderr)
    if not cams:
        print("error: none of the loaded models can be explained", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create the output folder {out} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    analyzer = pipeline.Analyzer(classifiers)
    options = analysis_options(args, no_face="report")  # --whole-image is handled here, per photo
    detector = analyzer.face_detector(options)
    payload, bad = [], 0
    for path in args.images:
        try:
            image = decode_image(path, name=path)
            faces = [(face, "detector") for face in detector.detect(image)[: options.max_faces]]
            if not faces and args.whole_image:
                faces = [(whole_image_face(image), "whole_image")]
            results = explain_image(image, faces, cams, classifiers, classes, out, Path(path).stem,
                                    calibrated=not args.raw)
        except ImageDecodeError as exc:
            bad += 1
            print(f"error: {exc}", file=sys.stderr)
            payload.append({"image": path, "error": exc.reason})
            continue
        except Exception as exc:  # anything else: one line, then the next photo
            bad += 1
            reason = " ".join(f"explanation failed ({type(exc).__name__}: {exc})".split())
            print(f"error: {path}: {reason}", file=sys.stderr)
            payload.append({"image": path, "error": reason})
            continue
        payload.append({"image": path, "width": int(image.shape[1]), "height": int(image.shape[0]), "faces": results})
        if args.json:
            continue
        if not results:
            print(f"{path}: no face found (--whole-image explains the whole image instead)", flush=True)
        for face in results:
            for key, m in face["models"].items():
                print(f"{m['file']}: {path} face {face['face']} {classifiers[key].display_name} {m['emotion']} "
                      f"{m['probability'] * 100:.1f}%, "
                      f"peak at x={m['peak']['x']} y={m['peak']['y']}", flush=True)
    if args.json:
        print(json.dumps({"images": payload, "models": {k: {"layer": c.layer} for k, c in cams.items()},
                          "unavailable": unavailable, "not_explained": skipped}, indent=2))
    if any("faces" in item for item in payload):
        print(probability_note(args), file=sys.stderr)
    return 2 if bad else 0


def add_parser(sub) -> None:
    p = sub.add_parser("explain", help="Grad-CAM maps: where each model looked, per face (PNG files)",
                       description="Write, per face and model, OUT/<image stem>-face<N>-<model>.png: the face crop "
                                   "with the Grad-CAM map of the predicted emotion (or --emotion) overlaid "
                                   "(dark: no influence, bright: the most).")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="photos (JPEG, PNG, WebP, ...)")
    add_model_arguments(p, "to explain")
    p.add_argument("--emotion", metavar="LABEL", help="explain this emotion instead of each model's prediction")
    p.add_argument("--layer", metavar="NAME", help="conv layer to explain (default: the last one at least 6x6)")
    p.add_argument("--out", default="explanations", metavar="DIR", help="output folder (default: explanations/)")
    p.add_argument("--json", action="store_true", help="print faces, files, emotions and peaks as JSON")
    p.add_argument("--whole-image", action="store_true", help="explain the whole image when no face is found")
    p.add_argument("--min-face-size", type=positive_int, default=40, help="ignore faces smaller than this (pixels)")
    p.set_defaults(func=run)
