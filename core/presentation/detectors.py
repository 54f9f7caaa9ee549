"""What the benchmarks measured about the face detectors, in sentences for the About page: the same
top emotion across detectors (canonical framing) and small faces in group photos. Every figure is
read from ``benchmarks/results.json`` (``framing``, ``group_photos``), none is typed here."""
from __future__ import annotations

from core.faces import catalogue
from core.models import registry


def _percent(value) -> str:
    return f"{100 * value:.1f}%"


def invariance_fact(raw: dict) -> str | None:
    """The same-top-emotion rate per model across detectors, against its target; None when not measured."""
    framing = raw.get("framing") or {}
    rates = {m: r for m, r in (framing.get("same_top_emotion") or {}).items() if r.get("rate") is not None}
    if not rates:
        return None
    def interval(r) -> str:
        lo_hi = r.get("rate_ci95")
        return f", 95% interval {_percent(lo_hi[0])}-{_percent(lo_hi[1])}" if lo_hi else ""

    parts = ", ".join(f"{registry.describe(m).title} {_percent(r['rate'])} (of {r['faces_by_2_plus_detectors']}"
                      f"{interval(r)})" for m, r in rates.items())
    target = framing.get("targets", {}).get("same_top_emotion")
    return (f"**Same answer whatever the detector.** For pasted FER2013 faces found by two or more detectors, the "
            f"top emotion was the same from every detector's crop for {parts}"
            + (f"; the target is {_percent(target)}." if target else "."))


def group_photo_fact(raw: dict) -> str | None:
    """The small-face detector's recall and false faces on the group scenes; None when not measured."""
    group = raw.get("group_photos") or {}
    row = next((r for r in group.get("detectors", []) if r["detector"] == catalogue.SMALL_FACE_DETECTOR), None)
    if row is None:
        return None
    return (f"**Small faces.** On {group['scenes']} generated {group['size']} group photos ({row['faces']} FER2013 "
            f"faces of 40-100 px), {catalogue.title(catalogue.SMALL_FACE_DETECTOR)} found {_percent(row['recall'])} "
            f"with {row['false_positives_per_photo']} false faces per photo (target {_percent(group['target_recall'])} "
            f"at <= {group['target_false_positives_per_photo']:g}), {row['ms_median']:.0f} ms a photo.")


def detector_facts(raw: dict) -> list[str]:
    return [fact for fact in (invariance_fact(raw), group_photo_fact(raw)) if fact]
