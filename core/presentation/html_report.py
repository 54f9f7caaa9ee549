"""A self-contained HTML report a lab can attach: every figure, the model cards, the dataset, the tests.

The figures and tables are the ones :mod:`core.presentation.report` builds for the pages (never redrawn
here); this module lays them out in one HTML file. plotly.js is inlined once (``include_plotlyjs=True``
on the first figure, ``False`` after), and nothing else is referenced, so the file opens offline and
makes no request. Pure: data in, ``str`` out; the CLI writes it, the app hands it to a download button
(an upload's report is built in memory and never written).
"""
from __future__ import annotations

import hashlib
import html
import json
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata

import pandas as pd

from core.labels import EMOTIONS
from core.models import registry
from core.presentation import report, significance
from core.presentation.report import ModelScores

# What the numbers were computed with; absent distributions are said so.
DISTRIBUTIONS = ("numpy", "pandas", "scikit-learn", "scipy", "statsmodels", "plotly", "tensorflow", "keras",
                 "tf-keras", "deepface", "fer", "opencv-python-headless", "opencv-python", "streamlit")
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #222; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .88rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; } .grid > div { flex: 1 1 480px; min-width: 380px; }
table.facts td { text-align: left; }
.note { color: #555; font-size: .9rem; } pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; font-size: .8rem; }
"""


# --------------------------------------------------------------------------- facts


def software_versions() -> dict[str, str]:
    """Python and each of :data:`DISTRIBUTIONS` installed here (``not installed`` otherwise)."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def dataset_summary(predictions: Mapping[str, pd.DataFrame], *, name: str, split: str,
                    read_bytes: Callable[[str], bytes | None] | None = None) -> dict:
    """Images per true class and a SHA-256 content hash of the images every model's predictions name.

    The hash runs over the sorted ``path``, ``true`` label and, when ``read_bytes(path)`` gives them, the
    SHA-256 of each image's bytes: the same images with the same labels give the same hash, wherever
    they are stored. Without the bytes it identifies the list of files and labels only, and says so.
    """
    rows = pd.concat([f[["path", "true"]] for f in predictions.values()], ignore_index=True) \
        if predictions else pd.DataFrame(columns=["path", "true"])
    rows = rows.drop_duplicates("path").sort_values("path")
    digest, with_bytes = hashlib.sha256(), read_bytes is not None
    for path, label in zip(rows["path"], rows["true"]):
        blob = read_bytes(path) if read_bytes is not None else None
        with_bytes = with_bytes and blob is not None
        digest.update(f"{path}\t{label}\t{hashlib.sha256(blob).hexdigest() if blob is not None else ''}\n".encode())
    counts = rows["true"].value_counts()
    ordered = [label for label in EMOTIONS if label in counts] + sorted(set(counts.index) - set(EMOTIONS))
    return {"name": name, "split": split, "images": len(rows), "sha256": digest.hexdigest(),
            "hash_of": ("sorted path, label and SHA-256 of each image's bytes" if with_bytes
                        else "sorted path and label of each image (the image bytes were not available)"),
            "counts": {label: int(counts[label]) for label in ordered}}


# --------------------------------------------------------------------------- figures


def figures(scores: Sequence[ModelScores]) -> list[tuple[str, str, object]]:
    """Every figure of the report, in order: ``(section, caption, figure)``, the pages' builders."""
    out = []
    for score in scores:
        out.append(("confusion", f"{score.label}: counts", report.confusion_figure(score)))
        out.append(("confusion", f"{score.label}: row-normalised (the diagonal is the recall)",
                    report.confusion_figure(score, normalize=True)))
    out.append(("per_class", "Precision, recall and F1 per class", report.per_class_figure(scores)))
    for score in scores:
        figure = report.reliability(score)
        if figure is not None:
            out.append(("calibration", f"{score.label}: reliability diagram", figure))
    return out


class _Plots:
    """Turns figures into ``<div>`` snippets: plotly.js inlined with the first one only."""

    def __init__(self):
        self.count = 0

    def __call__(self, figure) -> str:
        self.count += 1
        # a figure without its own height would collapse to its container's (none in a plain page)
        return figure.to_html(full_html=False, include_plotlyjs=self.count == 1, config={"displaylogo": False},
                              default_width="100%", default_height=f"{figure.layout.height or 420}px")


# --------------------------------------------------------------------------- HTML pieces


def _esc(value) -> str:
    return html.escape("" if value is None else str(value))


def _cell(value, fmt: str | None) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if fmt and isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt % value
    return str(value)


def table_html(frame: pd.DataFrame | None, formats: Mapping[str, str] | None = None) -> str:
    """A table with each column in its printf-style format (the pages' :data:`report.FORMATS`)."""
    if frame is None or frame.empty:
        return ""
    formats = {**report.FORMATS, **(formats or {})}
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{_esc(_cell(v, formats.get(c)))}</td>" for c, v in zip(frame.columns, row))
                   + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(facts: Mapping) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(json.dumps(v) if isinstance(v, (dict, list)) else v)}</td></tr>"
                   for k, v in facts.items())
    return f'<table class="facts">{rows}</table>'


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_esc(title)}</h2>{body}</section>'


def _figures_html(items, section: str, plots: _Plots) -> str:
    cells = [f"<div><h3>{_esc(caption)}</h3>{plots(fig)}</div>" for where, caption, fig in items if where == section]
    return f'<div class="grid">{"".join(cells)}</div>'


def _intervals_html(scores: Sequence[ModelScores], extra_comparisons: Sequence[Mapping]) -> str:
    """The headline and per-class tables carry the intervals; this section says how they were computed,
    the no-skill baselines, the absent classes and the paired tests (the pages' own builders)."""
    parts = []
    missing = [s.label for s in scores if not significance.intervals_of(s.metrics)]
    if missing:
        parts.append(f'<p class="note">{_esc(", ".join(missing))}: {_esc(significance.MISSING)}</p>')
    parts += [f'<p class="note">Intervals: {_esc(line)}.</p>'
              for line in significance.methods({s.label: s.metrics for s in scores})]
    for s in scores:
        for line in (significance.baselines_caption(s.metrics), significance.absent_caption(s.metrics)):
            if line:
                parts.append(f"<p>{_esc(s.label)}: {_esc(line)}</p>")
    by_model = {s.name: s.metrics for s in scores}
    table = significance.comparison_table(by_model, extra_comparisons)
    if table is not None:
        parts.append("<h3>Paired comparisons (the same faces)</h3>" + table_html(table)
                     + "".join(f"<p>{_esc(line)}</p>" for line in significance.comparison_sentences(by_model, extra_comparisons)))
    elif len(scores) > 1:
        parts.append('<p class="note">No paired comparison is stored for these models yet.</p>')
    return "".join(parts)


def _calibration_html(scores: Sequence[ModelScores], items, plots: _Plots) -> str:
    tables = "".join(f"<div><h3>{_esc(s.label)}</h3>{table_html(report.calibration_table(s), {'before': '%.4f', 'after T': '%.4f'})}"
                     f'<p class="note">{_esc(report.calibration_note(s))}</p></div>' for s in scores)
    return f'<p class="note">{_esc(report.CALIBRATION_INTRO)}</p>{_figures_html(items, "calibration", plots)}' \
           f'<div class="grid">{tables}</div>'


def _per_class_html(scores: Sequence[ModelScores]) -> str:
    frame = report.per_class_table(scores)
    return table_html(frame, {c: "%.0f" if c.endswith("support") else "%.3f" for c in frame.columns if c != "emotion"})


def _cards_html(scores: Sequence[ModelScores]) -> str:
    parts = []
    for score in scores:
        record = registry.describe(score.name).to_dict()
        card = json.dumps(dict(score.card), indent=2, sort_keys=False) if score.card else "(no model.json)"
        parts.append(f"<h3>{_esc(score.label)} (<code>{_esc(score.name)}</code>)</h3>{_facts(record)}"
                     f"<details><summary>model.json</summary><pre>{_esc(card)}</pre></details>")
    return "".join(parts)


def _dataset_html(dataset: Mapping) -> str:
    counts = pd.DataFrame([{"emotion": k, "images": v} for k, v in (dataset.get("counts") or {}).items()])
    facts = {"dataset": dataset.get("name"), "split": dataset.get("split"), "images": dataset.get("images"),
             "SHA-256": dataset.get("sha256"), "hashed over": dataset.get("hash_of")}
    return _facts(facts) + table_html(counts)


def build_html(scores: Sequence[ModelScores], *, dataset: Mapping, title: str,
               comparisons: Sequence[Mapping] = (), notes: Sequence[str] = (), created_at: str | None = None,
               extra: Sequence[tuple[str, pd.DataFrame | None, str]] = ()) -> str:
    """The whole report as one HTML document (see the module doc).

    ``dataset`` is :func:`dataset_summary`'s dict; ``comparisons`` any pairwise comparisons beside the ones
    in the metrics (a ``comparison.json``'s list); ``notes`` lines shown under the title; ``extra`` more
    ``(title, table, caption)`` sections after the intervals (the page's other tables, e.g. slices).
    """
    if not scores:
        raise ValueError("a report needs at least one model's evaluation")
    plots, items = _Plots(), figures(scores)
    when = created_at or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    confusions = "".join(f"<div><h3>{_esc(s.label)}</h3>{table_html(report.confusions_table(s))}</div>" for s in scores)
    sections = [
        ("headline", "Headline numbers", table_html(report.headline_table(scores))),
        ("intervals", "Intervals and tests", _intervals_html(scores, comparisons)),
        *((f"extra-{i}", heading, table_html(table) + (f'<p class="note">{_esc(caption)}</p>' if caption else ""))
          for i, (heading, table, caption) in enumerate(extra)),
        ("confusion", "Confusion matrices", _figures_html(items, "confusion", plots)),
        ("per-class", "Per-class precision, recall and F1",
         _figures_html(items, "per_class", plots) + _per_class_html(scores)),
        ("calibration", "How far to trust the confidence", _calibration_html(scores, items, plots)),
        ("confusions", "Most frequent confusions", f'<div class="grid">{confusions}</div>'),
        ("dataset", "Dataset", _dataset_html(dataset)),
        ("cards", "Model cards", _cards_html(scores)),
        ("software", "Software", _facts(software_versions())),
    ]
    toc = "".join(f'<li><a href="#{a}">{_esc(t)}</a></li>' for a, t, _ in sections)
    lines = "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)
    body = "".join(_section(a, t, b) for a, t, b in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>"
            f'<p class="note">Built {_esc(when)} by the emotion-recognition workbench; {len(items)} figures, '
            f"self-contained (opens offline).</p>{lines}<ol>{toc}</ol>{body}</body></html>")


# --------------------------------------------------------------------------- from the stored artifacts


def stored_report(refs: Mapping, *, read_metrics: Callable, read_predictions: Callable, read_card: Callable,
                  dataset_dir=None, title: str | None = None) -> str:
    """The report of stored evaluations ``refs`` (model -> :class:`~core.presentation.evaluations.EvalRef`,
    all on one split), read through the given readers (the pages pass their cached ones).

    ``dataset_dir``: the dataset folder, when present here, so the content hash covers the image bytes.
    Comparisons come from each ``metrics.json`` and from a ``comparison.json`` beside the model folders.
    """
    from core.presentation.evaluations import resolve_dataset_file

    scores = [ModelScores(name=model, metrics=read_metrics(ref), card=read_card(ref)) for model, ref in refs.items()]
    frames = {model: read_predictions(ref) for model, ref in refs.items()}
    first = next(iter(refs.values()))

    def read_bytes(path: str) -> bytes | None:
        target = resolve_dataset_file(dataset_dir, path) if dataset_dir is not None else None
        return target.read_bytes() if target is not None else None

    summary = dataset_summary(frames, name=first.dataset, split=first.split,
                              read_bytes=read_bytes if dataset_dir is not None else None)
    extra = []
    for ref in refs.values():
        beside = ref.path.parent.parent.parent / "comparison.json"
        try:
            stored = json.loads(beside.read_text(encoding="utf-8")) if beside.is_file() else {}
        except (OSError, ValueError):
            stored = {}
        if isinstance(stored, dict) and stored.get("split") in (None, first.split):
            extra += [c for c in stored.get("comparisons") or [] if isinstance(c, Mapping)]
    return build_html(scores, dataset=summary, comparisons=extra,
                      title=title or f"Emotion models on {first.dataset} / {first.split}")


def labelled_report(results: Mapping, dataset, *, read_card: Callable[[str], Mapping] = lambda _model: {},
                    extra: Sequence[tuple[str, pd.DataFrame | None, str]] = ()) -> str:
    """The report of an evaluation of the user's own data (:class:`core.evaluation.labelled.ModelResult` per
    model), built in memory: the content hash covers the images' bytes when they are in memory too.
    ``extra``: as :func:`build_html`'s (the page's slices table)."""
    scores = [ModelScores(name=name, metrics=r.metrics, card=read_card(name)) for name, r in results.items()]
    blobs = getattr(dataset, "blobs", None)
    first = next(iter(results.values())).metrics.get("dataset") or {}
    summary = dataset_summary({name: r.predictions for name, r in results.items()},
                              name=first.get("name") or getattr(dataset, "name", "your data"),
                              split=first.get("split") or "all", read_bytes=blobs.get if blobs else None)
    return build_html(scores, dataset=summary, title=f"Emotion models on {summary['name']} (your data)", extra=extra,
                      notes=["Built in memory from an upload: the images themselves are not in this file."])
