"""``python -m core report``: the stored evaluations of one split as one self-contained HTML file."""
from __future__ import annotations

import sys
from pathlib import Path


def _pick_key(evaluations: dict, split: str) -> str | None:
    """The stored evaluation key for ``split``: a full key (``fer2013-PrivateTest``), else the split's
    name (FER2013's first when several datasets have it)."""
    lowered = {key.lower(): key for key in evaluations}
    if split.lower() in lowered:
        return lowered[split.lower()]
    matches = [key for key in evaluations if key.rsplit("-", 1)[-1].lower() == split.lower()]
    return matches[0] if matches else None


def _card(ref, read_model_json, error) -> dict:
    try:
        return read_model_json(ref.path.parent.parent)
    except error:
        return {}


def run(args) -> int:
    from core import paths
    from core.models import registry
    from core.presentation import evaluations as stored
    from core.presentation.artifacts import ArtifactError, read_model_json
    from core.presentation.html_report import stored_report

    root = Path(args.models_dir) if args.models_dir else paths.models_root()
    extra = [] if args.models_dir else [paths.model_dir()]
    found = stored.find_evaluations(root, extra_model_dirs=extra)
    key = _pick_key(found, args.split)
    if key is None:
        print(f"error: no stored evaluation of split {args.split} under {root} (found: "
              f"{', '.join(found) or 'none'}); {stored.EVALUATE_HINT}", file=sys.stderr)
        return 1
    refs = found[key]
    if args.model != registry.ALL:
        wanted = registry.expand_cli_choice(args.model)
        missing = [m for m in wanted if m not in refs]
        if missing:
            print(f"error: no stored evaluation on {key} for {', '.join(missing)} (stored: {', '.join(refs)})",
                  file=sys.stderr)
            return 1
        refs = {m: refs[m] for m in wanted}
    dataset_dir = paths.dataset_dir_from_env() if key.lower().startswith("fer2013-") else None
    try:
        document = stored_report(refs, read_metrics=lambda ref: stored.read_metrics(ref.path),
                                 read_predictions=lambda ref: stored.read_predictions(ref.path),
                                 read_card=lambda ref: _card(ref, read_model_json, ArtifactError),
                                 dataset_dir=dataset_dir)
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    paths.atomic_write(out, lambda tmp: Path(tmp).write_text(document, encoding="utf-8"))
    print(f"wrote {out} ({len(document) / 2**20:.1f} MiB): {', '.join(registry.describe(m).title for m in refs)} "
          f"on {key}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("report", help="write a self-contained HTML report of the stored evaluations",
                              description="Every figure (plotly.js inline: opens offline), the intervals and paired "
                                          "tests, the model cards, the dataset (counts per class and a content hash) "
                                          "and the software versions, from models/<model>/eval/<dataset>-<split>/.")
    p.add_argument("--model", default="all", help="all (default: every model stored on the split) or ids, "
                                                  "comma-separated")
    p.add_argument("--split", default="PrivateTest", help="PrivateTest (default), PublicTest, or a full key such as "
                                                          "fer2013-PrivateTest")
    p.add_argument("--models-dir", help="the models folder (default: $EMOTION_MODELS_ROOT, else models/)")
    p.add_argument("--out", required=True, help="the HTML file to write, e.g. report.html")
    p.set_defaults(func=run)
