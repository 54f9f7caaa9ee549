"""Command line: ``python -m core COMMAND ...``.

One module per command, each with ``add_parser(s)`` and the function it runs.
"""
from __future__ import annotations

import argparse
import logging

DESCRIPTION = "Emotion recognition from the command line: the same models and results as the app."
EPILOG = """examples:
  python -m core predict photo.jpg              emotions of every face, by every model available
  python -m core predict crop.png --whole-image classify the whole image when no face is found
  python -m core models                         which models are ready here, and why not
  python -m core evaluate --model fer2013_cnn --data ../shared/datasets/fer2013 --split PrivateTest
  python -m core train --data ../shared/datasets/fer2013 --name my_cnn
  python -m core audit --model all --data faces.zip --csv flagged.csv   labels probably wrong
  python -m core export --name my_cnn           (--force to replace a model already there)
  python -m core report --out report.html       the stored evaluations as one self-contained HTML file
  python -m core import-model my.onnx --name mine   bring your own model (.keras, .h5, .onnx, .tflite)
  python -m core robustness --data ../shared/datasets/fer2013   every model under 15 corruptions x 5 severities

Run `python -m core COMMAND --help` for a command's options. Exit codes: 0 done, 1 no model
could not be loaded (export: a model is already there), 2 bad arguments or an unreadable image."""


def build_parser() -> argparse.ArgumentParser:
    from core.cli import (
        audit,
        bench,
        calibrate,
        evaluate,
        explain,
        import_model,
        models,
        predict,
        report,
        robustness,
        train,
        video,
    )

    parser = argparse.ArgumentParser(prog="python -m core", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    predict.add_parser(sub)
    train.add_parsers(sub)
    bench.add_parser(sub)
    evaluate.add_parser(sub)
    models.add_parser(sub)
    explain.add_parser(sub)
    calibrate.add_parser(sub)
    video.add_parser(sub)
    audit.add_parser(sub)
    report.add_parser(sub)
    import_model.add_parser(sub)
    robustness.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from core.cli.checks import precheck

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    code = precheck(args)  # missing paths and misuse answered before TensorFlow's 7-9 s import
    if code:
        return code
    if args.command not in ("models", "report"):  # neither loads a model: no TensorFlow needed
        from core.console import import_tensorflow_quietly

        import_tensorflow_quietly()
    return args.func(args)
