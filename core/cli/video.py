"""``python -m core video FILE``: emotions of every face over the sampled frames of a video file.

Writes one row per sampled frame, face and model (CSV to stdout or ``--csv OUT``; ``--json`` for the
rows and a summary). Every ready model by default; probabilities are in percent (``p_<label>``
columns, 0-100), calibrated unless ``--raw``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import add_model_arguments, analysis_options, load_models, positive_int, probability_note


def _positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def run(args) -> int:
    from core.analysis import pipeline
    from core.analysis.video import analyse_video
    from core.media.video import VideoDecodeError

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    classifiers, unavailable, code = load_models(args.model, args.model_dir)
    if code:
        return code
    options = analysis_options(args)
    try:
        result = analyse_video(data, pipeline.Analyzer(classifiers), options, every=args.every,
                               every_seconds=args.every_seconds, max_frames=args.max_frames)
    except VideoDecodeError as exc:
        print(f"error: {path.name}: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        Path(args.csv).write_text(result.csv_text(), encoding="utf-8")
    if args.json:
        print(result.to_json())
    elif not args.csv:
        sys.stdout.write(result.csv_text())
    _report(result, args, path.name)
    print(probability_note(args), file=sys.stderr)
    return 0


def _report(result, args, name: str) -> None:
    print(f"{name}: {result.frames_sampled} frames sampled, {len(result.faces)} face(s), {len(result.rows)} rows"
          + (f" written to {args.csv}" if args.csv else ""), file=sys.stderr)
    if result.stopped_at_max_frames:
        print(f"note: sampling stopped at --max-frames {result.max_frames}; the rest of the video was not analysed",
              file=sys.stderr)
    for model, count in result.frame_failures.items():
        print(f"error: {model} failed on {count} of {result.frames_sampled} frames: "
              f"{result.failure_examples.get(model)}", file=sys.stderr)


def add_parser(sub) -> None:
    from core.faces.catalogue import DEFAULT_DETECTOR, DETECTOR_NAMES, title

    default_detector = DEFAULT_DETECTOR  # the photo pipeline's default (AnalysisOptions'), without scipy's import
    from core.media import video as media

    p = sub.add_parser("video", help="emotions of every face over a video file's sampled frames",
                       description=__doc__.splitlines()[0] + " Rows: frame (0-based index in the file), time_s, face "
                       "(numbered consistently across frames), x, y, w, h, model, dominant_emotion, and p_<label> per "
                       "label in percent (0-100).")
    p.add_argument("file", metavar="FILE", help=f"a video ({', '.join(media.FILE_TYPES)})")
    every = p.add_mutually_exclusive_group()
    every.add_argument("--every", type=positive_int, metavar="N", help="sample frames 0, N, 2N, ...")
    every.add_argument("--every-seconds", type=_positive_float, metavar="S",
                       help=f"sample a frame every S seconds (default {media.DEFAULT_EVERY_SECONDS})")
    add_model_arguments(p, "that classify every face")
    p.add_argument("--detector", default=default_detector, choices=DETECTOR_NAMES,
                   help=f"face detector (default {default_detector}: {title(default_detector)})")
    p.add_argument("--csv", metavar="OUT", help="write the rows to this CSV file (else CSV to stdout)")
    p.add_argument("--json", action="store_true", help="print the rows and a summary as JSON")
    p.add_argument("--max-frames", type=positive_int, default=media.MAX_FRAMES,
                   help=f"stop after this many sampled frames (default {media.MAX_FRAMES})")
    p.add_argument("--min-face-size", type=positive_int, default=40, help="ignore faces smaller than this (pixels)")
    p.set_defaults(func=run)
