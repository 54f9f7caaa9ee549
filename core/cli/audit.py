"""``python -m core audit``: the faces whose label is probably wrong (cleanlab), worst first.

Two uses: ``--data DIR_OR_ZIP --csv OUT`` runs the models on the data (in memory) and writes one row per
flagged file; ``--stored`` audits the stored FER2013 evaluations and writes the label-audit artifacts
(``make audit``; ``docs/ARTIFACTS.md``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.cli.common import model_choice, positive_int


def _error(message: str, code: int = 1) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def run(args) -> int:
    from core.evaluation.audit import AuditError
    from core.evaluation.audit_store import refuse_in_sample

    default = "PublicTest,PrivateTest" if args.stored else "all"
    splits = [s.strip() for s in (args.split or default).split(",") if s.strip()]
    try:
        for split in splits:
            refuse_in_sample(split)
    except AuditError as exc:
        return _error(exc, 2)
    if args.stored:
        return run_stored(args, splits)
    if not args.data or not args.csv:
        return _error("name the data with --data DIR_OR_ZIP and the output with --csv OUT (or use --stored)", 2)
    if len(splits) != 1:
        return _error("--data takes one --split", 2)
    return run_data(args, splits[0])


def run_stored(args, splits: list[str]) -> int:
    """Every stored evaluation of each split, per model and for the zoo: writes the artifacts."""
    from core import paths
    from core.evaluation.audit import AuditError, summary_line
    from core.evaluation.audit_store import audit_stored

    root = Path(args.models_dir or paths.models_root())
    for split in splits:
        try:
            written = audit_stored(root, args.dataset, split,  # the CNN's folder, unless another root is named
                                   extra_model_dirs=[] if args.models_dir else [paths.model_dir()])
        except AuditError as exc:
            return _error(exc)
        for folder, result in written:
            check = result.summary.get("flip_check", {}).get("clean", {})
            print(summary_line(result) + f"; wrote {paths.display_path(folder)}"
                  + (f" (seeded flips, clean set: recall {check['recall']:.2f}, top-k precision "
                     f"{check['top_k_precision']:.2f})" if check.get("recall") is not None else ""))
    return 0


def _answers(args, split: str):
    """Each model's answers on the data, in memory: ``([ModelAnswers], dataset name)`` or an exit code."""
    from core.cli.common import load_models
    from core.cli.evaluate import _load_labelled_data
    from core.data.datasets import DatasetError
    from core.evaluation.audit import answers_from_results
    from core.evaluation.labelled import evaluate_model
    from core.media.images import ImageDecodeError

    try:
        dataset = _load_labelled_data(args, [split])
    except DatasetError as exc:
        return _error(exc)
    for note in getattr(dataset, "notes", []):
        print(f"note: {note}", file=sys.stderr)
    classifiers, _, code = load_models(args.model)
    if code:
        return code
    answers = []
    for classifier in classifiers.values():
        try:
            result = evaluate_model(classifier, dataset, split, args.batch_size, progress=True, limit=args.limit)
        except (DatasetError, ImageDecodeError) as exc:
            print(f"note: {getattr(classifier, 'name', 'model')} left out: {' '.join(str(exc).split())}", file=sys.stderr)
            continue
        answers += answers_from_results({result.model: result})
    if not answers:
        return _error("no model could be scored on these images")
    return answers, dataset.name


def run_data(args, split: str) -> int:
    from core.evaluation.audit import AuditError, audit, flagged_csv, summary_line
    from core.paths import atomic_write

    got = _answers(args, split)
    if isinstance(got, int):
        return got
    answers, name = got
    try:
        result = audit(answers, dataset={"name": name, "split": split})
    except AuditError as exc:
        return _error(exc)
    out = Path(args.csv)
    if out.parent and not out.parent.is_dir():
        return _error(f"{out.parent}: no such folder for --csv", 2)
    data = flagged_csv(result)
    atomic_write(out, lambda tmp: Path(tmp).write_bytes(data))
    print(summary_line(result) + f"; wrote {out}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("audit", help="faces whose label is probably wrong (cleanlab), worst first",
                              description="Label audit by confident learning (cleanlab) on the models' out-of-sample "
                                          "probabilities: one CSV row per flagged file (file, label, suggested, "
                                          "score, each model's answer), lowest label quality first. A flag asks "
                                          "for a second look at the image; it is not a verdict.")
    p.add_argument("--model", default="all", type=model_choice, metavar="all|NAME[,NAME...]",
                   help="the models whose calibrated probabilities are averaged (default all: every ready model)")
    p.add_argument("--data", metavar="DIR_OR_ZIP", help="labelled faces: a folder or zip (one folder per emotion, "
                                                        "FER2013, KDEF or CK+ layout)")
    p.add_argument("--split", default=None, help="e.g. PublicTest or PrivateTest (FER2013); never Training, which "
                                                 "the models learnt. Default: all images (with --stored: "
                                                 "PublicTest,PrivateTest)")
    p.add_argument("--csv", metavar="OUT", help="where to write the flagged files")
    p.add_argument("--stored", action="store_true",
                   help="audit the stored evaluations (models/<id>/eval/<dataset>-<split>/) instead; writes "
                        "label_issues.csv and label_audit.json per model and under models/_zoo/audit/")
    p.add_argument("--dataset", default="fer2013", help="with --stored: the dataset name of the evaluations")
    p.add_argument("--kind", default="auto", choices=["auto", "fer2013", "csv", "kdef", "folders"])
    p.add_argument("--limit", type=positive_int, help="only N images, spread evenly over the split")
    p.add_argument("--batch-size", type=positive_int, default=128)
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.set_defaults(func=run)
