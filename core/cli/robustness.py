"""``python -m core robustness``: every model under every corruption at five severities; writes robustness/."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.common import model_choice, positive_int


def _load_data(args):
    """``(dataset, split)``: a FER2013-style folder keeps its splits (PrivateTest by default); a zip or any
    other labelled folder is read as ``evaluate --data`` reads it and scored whole (split ``all``)."""
    from core.data.archive import load_labelled, with_split
    from core.data.datasets import load_dataset

    data = str(args.data)
    if data.lower().endswith(".zip") or Path(data).is_file() or args.split == "all":
        dataset = load_labelled(args.data)
        if args.split and args.split != "all":  # one split of a FER2013-layout zip, scored as a whole
            return with_split(dataset, args.split), "all"
        return dataset, "all"
    dataset = load_dataset(args.data)
    split = args.split or ("PrivateTest" if dataset.name == "fer2013" else "all")
    if split == "all":
        return load_labelled(args.data), "all"
    dataset.split(split)  # fail early, naming the splits that exist
    return dataset, split


def _out_dir(args, classifier, dataset, split) -> Path:
    """``--out DIR/<model>/``, else beside the model's evaluations (``.../eval/<dataset>-<split>/robustness``)."""
    from core import paths
    from core.evaluation.evaluate import eval_dir
    from core.evaluation.robustness import SUBDIR

    if args.out is not None:
        return Path(args.out) / classifier.name
    folder = getattr(classifier, "model_dir", None)
    root = Path(folder).parent if folder is not None else Path(paths.models_root())
    return eval_dir(root, classifier.name, dataset.name, split) / SUBDIR


def _progress_bar():
    from tqdm import tqdm

    bar = tqdm(total=None, desc="robustness", unit="step", file=sys.stderr, dynamic_ncols=True)

    def step(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(what, refresh=False)
        bar.refresh()

    return bar, step


def _choices(args) -> tuple[list[str] | None, list[int]]:
    """The families and severities asked for, checked before any model loads (a one-line ValueError)."""
    from core.analysis import corruptions

    families = [f.strip() for f in args.families.split(",") if f.strip()] if args.families else None
    for name in families or ():
        corruptions.family(name)
    try:
        severities = [int(s) for s in args.severities.split(",")] if args.severities else list(corruptions.SEVERITIES)
    except ValueError:
        raise ValueError(f"--severities takes numbers 1-5 separated by commas, not {args.severities!r}") from None
    if any(not 1 <= s <= len(corruptions.SEVERITIES) for s in severities):
        raise ValueError(f"--severities must lie in 1-{len(corruptions.SEVERITIES)}, not {args.severities}")
    return families, severities


def run(args) -> int:
    from core.cli.common import load_models
    from core.data.datasets import DatasetError
    from core.evaluation.robustness import format_summary, run_robustness, write_robustness
    from core.media.images import ImageDecodeError

    try:
        dataset, split = _load_data(args)
    except DatasetError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    try:
        families, severities = _choices(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classifiers, _unavailable, code = load_models(args.model)
    if code:
        return code
    bar, step = _progress_bar()
    try:
        results = run_robustness(classifiers, dataset, split, count=None if args.all else args.faces,
                                 seed=args.seed, families=families, severities=severities, align=not args.no_align,
                                 on_progress=step)
    except (DatasetError, ImageDecodeError, ValueError) as exc:
        bar.close()
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    bar.close()
    for model, result in results.items():
        out = _out_dir(args, classifiers[model], dataset, split)
        write_robustness(result, out)
        if not args.json:
            print(format_summary(result, out))
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "robustness", help="accuracy under dim light, blur, noise, JPEG, small faces, tilt, framing and occlusion",
        description="Score every chosen model on a fixed, seeded, stratified subset of a labelled dataset (1,000 "
                    "faces by default) under 15 corruptions at severities 1-5, and write robustness.json and "
                    "robustness.csv under MODELS/<model>/eval/<dataset>-<split>/robustness/ (or --out DIR/<model>/).")
    p.add_argument("--model", default="all", type=model_choice, metavar="all|NAME[,NAME...]",
                   help="all (default: every ready model) or comma-separated ids or aliases")
    p.add_argument("--data", required=True, metavar="DIR_OR_ZIP",
                   help="a labelled folder or zip, as `evaluate --data` reads it (FER2013, KDEF, CK+, class folders)")
    p.add_argument("--split", help="e.g. PrivateTest (the default for FER2013) or PublicTest; 'all' scores every "
                                   "image (the default for other data)")
    p.add_argument("--faces", type=positive_int, default=1000, help="size of the subset (default 1000)")
    p.add_argument("--all", action="store_true", help="the whole split instead of a subset")
    p.add_argument("--seed", type=int, default=0, help="subset and corruption seed (default 0)")
    p.add_argument("--families", metavar="NAME[,NAME...]", help="only these corruptions (default: all 15)")
    p.add_argument("--severities", metavar="S[,S...]", help="only these severities, 1-5 (default: all)")
    p.add_argument("--no-align", action="store_true",
                   help="skip the rotation family's second run with each face turned back by its eyes (BlazeFace)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<model>/robustness.json and .csv instead")
    p.add_argument("--json", action="store_true", help="print the full results as JSON instead of the summary")
    p.set_defaults(func=run)
