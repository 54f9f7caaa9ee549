"""Command line: ``python -m core {predict,train,export,evaluate,bench,models} ...``.

One module per command, each with ``add_parser(s)`` and the function it runs.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    from core.cli import bench, calibrate, evaluate, explain, models, predict, train, video

    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    predict.add_parser(sub)
    train.add_parsers(sub)
    bench.add_parser(sub)
    evaluate.add_parser(sub)
    models.add_parser(sub)
    explain.add_parser(sub)
    calibrate.add_parser(sub)
    video.add_parser(sub)
    return parser


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with C++ start-up chatter (printed before its logging is set up) muted.

    Only file descriptor 2 is redirected, and only during the import; Python errors still show.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = build_parser().parse_args(argv)
    if args.command != "models":  # listing models loads none: no TensorFlow needed
        import_tensorflow_quietly()
    return args.func(args)
