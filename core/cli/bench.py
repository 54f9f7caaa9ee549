"""``python -m core bench``: speed benchmarks; writes benchmarks/results.json and prints a table."""
from __future__ import annotations

import sys


def run(args) -> int:
    from core.bench.run import format_table, run_benchmarks
    from core.models.base import ModelUnavailable

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
    from core.paths import PROJECT_ROOT

    results_path = PROJECT_ROOT / "benchmarks" / "results.json"
    p = subparsers.add_parser("bench", help="speed benchmarks (CNN, end to end, DeepFace, app cold start)",
                              description="Speed benchmarks measured in one run; writes benchmarks/results.json "
                                          "and prints a table.")
    p.add_argument("--quick", action="store_true", help="few repeats (for tests; the figures are rough)")
    p.add_argument("--model-dir", help="CNN model folder (default: $EMOTION_MODEL_DIR, then models/fer2013_cnn, "
                                       "else an untrained stand-in of the same architecture)")
    p.add_argument("--out", default=str(results_path), help="results file (default: benchmarks/results.json)")
    p.add_argument("--no-app", action="store_true", help="skip the app cold-start measurement")
    p.add_argument("--no-deepface", action="store_true", help="skip DeepFace")
    p.set_defaults(func=run)
