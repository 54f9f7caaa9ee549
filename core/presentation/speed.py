"""The speed figures of ``benchmarks/results.json`` as tables and phrases for the About page.

Reads the stored layout (figures nested by what they measure, see ``core.bench.run.stored_layout``)
and older files whose figures were also flat keys.
"""
from __future__ import annotations

import re

import pandas as pd

from core.paths import PROJECT_ROOT

_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:;,()'\"]+/)*[^\s/:;,()'\"]+")

BENCH_SIZES = ("640x480", "1280x720", "1920x1080")
SPEED_BY_SIZE_COLUMNS = ["photo", "faces", "ours (ms)", "DeepFace.analyze (ms)", "analyze ÷ ours",
                         "DeepFace on our crops (ms)", "crops ÷ ours"]


def _num(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 10 else (f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms")


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _photo_figure(raw: dict, size: str, faces: int, what: str, stat: str = "p50") -> float | None:
    """A photo timing, from the flat key (``e2e_cnn_1280x720_1face_ms_p50``) or the nested ``photos`` entry."""
    key = f"{size}_{faces}face{'s' if faces != 1 else ''}"
    flat = _num(raw.get(f"{what}_{key}_ms_{stat}"))
    if flat is not None:
        return flat
    entry = (raw.get("photos") or {}).get(key) if isinstance(raw.get("photos"), dict) else None
    inner = entry.get(what) if isinstance(entry, dict) else None
    return _num(inner.get(stat)) if isinstance(inner, dict) else None


def _ratio(raw: dict, size: str, faces: int, what: str) -> float | None:
    key = f"{size}_{faces}face{'s' if faces != 1 else ''}"
    stored = _num(raw.get(f"ratio_{what}_vs_cnn_{key}"))
    if stored is not None:
        return stored
    theirs, ours = _photo_figure(raw, size, faces, what), _photo_figure(raw, size, faces, "e2e_cnn")
    return round(theirs / ours, 2) if theirs is not None and ours else None


def speed_headline(raw: dict) -> pd.DataFrame:
    """The headline speed figures of a ``make bench`` run as ``measurement``/``value`` rows with
    units; rows whose figures the results do not hold are left out."""
    rows: list[tuple[str, str]] = []
    nested = raw.get("cnn_face") if isinstance(raw.get("cnn_face"), dict) else {}
    p50 = _num(raw.get("cnn_face_ms_p50"))
    p50 = p50 if p50 is not None else _num(nested.get("p50"))
    p95 = _num(raw.get("cnn_face_ms_p95"))
    p95 = p95 if p95 is not None else _num(nested.get("p95"))
    if p50 is not None:
        rows.append(("CNN on one face, median (p50)", _ms(p50) + (f"  (p95 {_ms(p95)})" if p95 is not None else "")))
    throughput = _num(raw.get("cnn_batch64_faces_per_s"))
    if throughput is not None:
        batch = _num(raw.get("cnn_batch64_ms_p50"))
        if batch is None and isinstance(raw.get("cnn_batch64"), dict):
            batch = _num(raw["cnn_batch64"].get("p50"))
        rows.append(("CNN throughput, batches of 64 faces",
                     f"{throughput:,.0f} faces/s" + (f"  ({_ms(batch)} per batch, p50)" if batch is not None else "")))
    ours = _photo_figure(raw, "1280x720", 1, "e2e_cnn")
    theirs = _photo_figure(raw, "1280x720", 1, "deepface_analyze")
    if ours is not None:
        rows.append(("1280×720 photo, one face, p50 — ours (decode + detect + CNN)", _ms(ours)))
    if theirs is not None:
        rows.append(("1280×720 photo, one face, p50 — DeepFace.analyze", _ms(theirs)))
    ratio = _ratio(raw, "1280x720", 1, "deepface_analyze")
    if ratio is not None:
        rows.append(("DeepFace.analyze time ÷ ours (1280×720, one face)",
                     f"{ratio:.2f}× " + ("(ours faster)" if ratio >= 1 else "(DeepFace faster)")))
    peak, after_load = _num(raw.get("peak_rss_mib")), _num(raw.get("peak_rss_mib_after_loading"))
    if peak is not None:
        rows.append(("Peak memory (resident)", f"{peak:,.0f} MiB"
                     + (f"  ({after_load:,.0f} MiB once the models are loaded)" if after_load is not None else "")))
    cnn_load, cnn_cold, df_load = (_num(raw.get(k)) for k in ("cnn_load_s", "cnn_cold_load_s", "deepface_load_s"))
    if cnn_load is not None:
        rows.append(("CNN load time", _seconds(cnn_load)
                     + (f"  ({_seconds(cnn_cold)} in a fresh process, TensorFlow import included)"
                        if cnn_cold is not None else "")))
    if df_load is not None:
        rows.append(("DeepFace load time", _seconds(df_load)))
    cold = raw.get("app_cold_start") if isinstance(raw.get("app_cold_start"), dict) else {}
    start = _num(raw.get("app_cold_start_s"))
    start = start if start is not None else _num(cold.get("cold_start_s"))
    if start is not None:
        complete = _num(cold.get("first_page_complete_s"))
        rows.append(("App cold start (to the first element in the browser)", _seconds(start)
                     + (f"  (first page complete, models loaded: {_seconds(complete)})" if complete is not None else "")))
    return pd.DataFrame(rows, columns=["measurement", "value"])


def speed_by_size(raw: dict) -> pd.DataFrame:
    """End-to-end photo timings (p50, ms) per photo size and face count: ours, DeepFace.analyze (its
    own detector) and DeepFace on our face crops, with DeepFace's time as a multiple of ours."""
    rows = []
    for size in BENCH_SIZES:
        for faces in (1, 3):
            ours = _photo_figure(raw, size, faces, "e2e_cnn")
            analyze = _photo_figure(raw, size, faces, "deepface_analyze")
            crops = _photo_figure(raw, size, faces, "deepface_crops")
            if ours is None and analyze is None and crops is None:
                continue
            rows.append({"photo": size.replace("x", "×"), "faces": faces, "ours (ms)": ours,
                         "DeepFace.analyze (ms)": analyze,
                         "analyze ÷ ours": _ratio(raw, size, faces, "deepface_analyze") if analyze is not None else None,
                         "DeepFace on our crops (ms)": crops,
                         "crops ÷ ours": _ratio(raw, size, faces, "deepface_crops") if crops is not None else None})
    return pd.DataFrame(rows, columns=SPEED_BY_SIZE_COLUMNS)


def speed_targets(raw: dict) -> list[tuple[str, bool]]:
    """``(description, met)`` for each speed target the results record."""
    targets = raw.get("targets") if isinstance(raw.get("targets"), dict) else {}
    out = []
    face_met = targets.get("cnn_face_target_met", raw.get("target_cnn_face_met"))
    if isinstance(face_met, bool):
        limit = _num(targets.get("cnn_face_ms_p50_target"))
        measured = _num(raw.get("cnn_face_ms_p50"))
        out.append((f"CNN on one face, p50 {'≤ ' + _ms(limit) if limit is not None else 'under target'}"
                    + (f" (measured {_ms(measured)})" if measured is not None else ""), face_met))
    speed_met = targets.get("speedup_target_met", raw.get("target_speedup_met"))
    if isinstance(speed_met, bool):
        goal = _num(targets.get("speedup_target"))
        measured = _num(targets.get("speedup_vs_deepface_analyze_1280x720_1face"))
        if measured is None:
            measured = _ratio(raw, "1280x720", 1, "deepface_analyze")
        out.append((f"Ours at least {f'{goal:g}× ' if goal is not None else ''}faster than DeepFace.analyze "
                    f"on a 1280×720 photo with one face"
                    + (f" (measured {measured:.2f}×)" if measured is not None else ""), speed_met))
    return out


def without_machine_paths(text: str) -> str:
    """``text`` with absolute paths of the machine that ran the benchmark shortened: relative to the
    project inside it, else the file or folder name alone (``.../name``)."""
    root = str(PROJECT_ROOT)

    def shorten(match: re.Match) -> str:
        path = match.group(0)
        if path == root or path.startswith(root + "/"):
            return path[len(root) + 1:] or "."
        for marker in ("/models/", "/runs/", "/benchmarks/"):  # another clone of the project
            if marker in path:
                return path[path.index(marker) + 1:]
        return ".../" + path.rstrip("/").rsplit("/", 1)[-1]

    return _ABSOLUTE_PATH.sub(shorten, text)


def speed_notes(raw: dict) -> list[str]:
    """The notes a benchmark run recorded (``notes`` list or ``note`` string), without absolute paths."""
    notes = raw.get("notes")
    out = [str(n) for n in notes if str(n).strip()] if isinstance(notes, list) else []
    if isinstance(raw.get("note"), str) and raw["note"].strip():
        out.insert(0, raw["note"])
    return [without_machine_paths(n) for n in out]


def speed_facts(raw: dict) -> list[str]:
    """When and where the benchmark ran, as short phrases."""
    facts = []
    date = raw.get("date") or raw.get("created_at")
    if isinstance(date, str) and date:
        facts.append(date.replace("T", " ").replace("Z", " UTC").strip())
    machine = raw.get("machine")
    if isinstance(machine, dict):
        cpu = machine.get("cpu")
        cores = machine.get("cores")
        gpus = machine.get("gpus")
        hardware = ", ".join(str(p) for p in (cpu, f"{cores} cores" if cores else None,
                                              ("GPU " + ", ".join(map(str, gpus))) if gpus else "no GPU") if p)
        facts.append(hardware)
        software = ", ".join(f"{name} {machine[key]}" for key, name in
                             (("python", "Python"), ("keras", "Keras"), ("tensorflow", "TensorFlow")) if machine.get(key))
        if software:
            facts.append(software)
        load = _num(machine.get("load_average_1min_at_start"))
        if load is not None:
            facts.append(f"load average {load:g} at start")
    elif isinstance(machine, str) and machine:
        facts.append(machine)
    repeats = raw.get("repeats")
    if isinstance(repeats, dict) and isinstance(repeats.get("photo"), int):
        facts.append(f"{repeats['photo']} runs per photo, {repeats.get('cnn_face', '?')} per single face")
    if raw.get("quick") is True:
        facts.append("quick run (few repeats: rough figures)")
    return facts
