"""Labelled faces from a zip archive held in memory (an upload), or from a folder on the server.

Nothing is extracted or written to disk: entries are read into bytes and decoded on demand by
:class:`~core.data.inmemory.InMemoryDataset`. Layouts (detected after dropping common top folders such as
``myfaces/``): FER2013 (``train|test/<emotion>/Training_*.jpg``), split folders
(``train|validation|val|test/<emotion>/``), KDEF (file names like ``AF01ANS.JPG``, wherever they sit) and
one folder per emotion (CK+ style), under any name :func:`core.labels.normalize_label` knows.

Every refusal is an :class:`ArchiveError` with a one-line message: not a zip, zip bombs (per-entry and
whole-archive compression ratio and total size, checked from the central directory and enforced again
while reading, with bounded reads), too many files, fewer than two classes. Entries that cannot be used
are skipped, counted and explained in ``dataset.notes``: nested archives, unsafe names (``..``, absolute
paths), non-image files, folders that are not emotion names, empty classes.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from core.data.datasets import (
    FER2013_SPLITS,
    KDEF_EMOTIONS,
    KDEF_NAME,
    DatasetError,
    Record,
    load_dataset,
)
from core.data.inmemory import ALL, READ_MAX_SIDE, InMemoryDataset, LabelledData
from core.labels import normalize_label
from core.media.images import IMAGE_SUFFIXES

NESTED_ARCHIVE_SUFFIXES = {".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar", ".jar"}
SPLIT_FOLDERS = {"train": "train", "training": "train", "validation": "validation", "val": "validation",
                 "valid": "validation", "test": "test"}
DEBRIS = re.compile(r"(^|/)(__MACOSX|\.[^/]*)(/|$)|(^|/)(Thumbs\.db|desktop\.ini)$", re.IGNORECASE)

Source = bytes | bytearray | memoryview | BinaryIO | str | Path


class ArchiveError(DatasetError):
    """Labelled data that cannot be used; ``str(error)`` is one line saying why."""


@dataclass(frozen=True)
class Limits:
    """What an archive may hold. Ratios are checked on entries (and archives) above ``ratio_floor`` bytes,
    since tiny files legitimately compress well."""

    max_files: int = 20_000
    max_total_bytes: int = 256 * 2**20  # uncompressed, all entries together (held in memory)
    max_entry_bytes: int = 50 * 2**20  # one image (as core.media.images.MAX_BYTES)
    max_ratio: float = 100.0  # uncompressed : compressed
    ratio_floor: int = 2**20
    min_classes: int = 2


DEFAULT_LIMITS = Limits()


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _safe_name(name: str) -> str | None:
    """The entry name as a relative POSIX path, or None when absolute or climbing out (``..``)."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _check_central_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse bombs and oversized archives from the sizes the central directory declares."""
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_files:
        raise ArchiveError(f"the archive holds {len(files):,} files; the limit is {limits.max_files:,}")
    total = sum(i.file_size for i in files)
    if total > limits.max_total_bytes:
        raise ArchiveError(f"the archive unpacks to {_mib(total)}; the limit is {_mib(limits.max_total_bytes)}")
    for info in files:
        if info.file_size > limits.max_entry_bytes:
            raise ArchiveError(f"entry {info.filename!r} unpacks to {_mib(info.file_size)}; "
                               f"the limit per file is {_mib(limits.max_entry_bytes)}")
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveError(f"entry {info.filename!r} expands {info.file_size / max(info.compress_size, 1):.0f}x "
                               f"(limit {limits.max_ratio:.0f}x): refusing a possible zip bomb")
    packed = sum(i.compress_size for i in files)
    if total > limits.ratio_floor and total > limits.max_ratio * max(packed, 1):
        raise ArchiveError(f"the archive expands {total / max(packed, 1):.0f}x (limit {limits.max_ratio:.0f}x): "
                           f"refusing a possible zip bomb")


def read_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """An entry's bytes, read in bounded chunks: never more than its declared size, ``budget`` (what the
    total-size limit leaves) or the per-file limit, whatever the entry's headers claim."""
    cap = min(info.file_size, budget, limits.max_entry_bytes)
    chunks, size = [], 0
    try:
        with archive.open(info) as handle:
            while True:
                chunk = handle.read(min(1 << 16, cap + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    raise ArchiveError(f"entry {info.filename!r} unpacks to more than its declared or allowed size "
                                       f"({_mib(cap)}): refusing a possible zip bomb")
    except ArchiveError:
        raise
    except RuntimeError as exc:  # encrypted entries
        raise ArchiveError(f"entry {info.filename!r} cannot be read ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ArchiveError(f"corrupt zip: entry {info.filename!r}: {reason}") from None
    if size > limits.ratio_floor and size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveError(f"entry {info.filename!r} expands {size / max(info.compress_size, 1):.0f}x: "
                           f"refusing a possible zip bomb")
    return b"".join(chunks)


def _decodes(data: bytes, name: str) -> bool:
    """Whether our decoder reads the image (decoded at the evaluation's size, about 0.3 ms for a face crop): done once at
    upload, so a truncated or fake image is skipped and counted here instead of failing an evaluation."""
    from core.media.images import ImageDecodeError, decode_image

    try:
        decode_image(data, name=name, max_side=READ_MAX_SIDE)
    except ImageDecodeError:
        return False
    return True


def _strip_top_folders(paths: list[str]) -> int:
    """How many leading folders all paths share that are neither emotions nor split folders."""
    depth = 0
    while paths:
        parts = [PurePosixPath(p).parts for p in paths]
        if any(len(p) <= depth + 1 for p in parts) or len({p[depth] for p in parts}) != 1:
            return depth
        top = parts[0][depth]
        if top.lower() in SPLIT_FOLDERS or _label_or_none(top):
            return depth
        depth += 1
    return depth


def _label_or_none(name: str) -> str | None:
    try:
        return normalize_label(name)
    except ValueError:
        return None


def _assign_labels(paths: list[str], folders: set[str]) -> tuple[str, dict[str, tuple[str, str]], dict, Counter]:
    """``(layout, {path: (label, split)}, unknown folder counts, empty-class candidates)`` for image paths."""
    depth = _strip_top_folders(paths)
    rel = {p: PurePosixPath(p).parts[depth:] for p in paths}
    assigned: dict[str, tuple[str, str]] = {}
    unknown: Counter = Counter()
    class_folders: set[tuple] = set()
    kdef = [p for p in paths if KDEF_NAME.match(PurePosixPath(p).stem)]
    split_layout = any(len(r) >= 3 and r[0].lower() in SPLIT_FOLDERS for r in rel.values())
    if split_layout:
        for path, r in rel.items():
            if len(r) < 3 or r[0].lower() not in SPLIT_FOLDERS:
                unknown["(outside train/test folders)"] += 1
                continue
            label = _label_or_none(r[1])
            class_folders.add((r[0], r[1]))
            if label is None:
                unknown[f"{r[0]}/{r[1]}"] += 1
                continue
            prefix = r[-1].split("_", 1)[0]
            assigned[path] = (label, prefix if prefix in FER2013_SPLITS else SPLIT_FOLDERS[r[0].lower()])
        fer = assigned and all(split in FER2013_SPLITS for _, split in assigned.values())
        layout = "fer2013" if fer else "split-folders"
    elif len(kdef) * 2 >= len(paths):
        layout = "kdef"
        for path in paths:
            match = KDEF_NAME.match(PurePosixPath(path).stem)
            if match:
                assigned[path] = (KDEF_EMOTIONS[match.group(4).upper()], ALL)
            else:
                unknown["(names not in KDEF form)"] += 1
    else:
        layout = "folders"
        for path, r in rel.items():
            if len(r) < 2:
                unknown["(not in a class folder)"] += 1
                continue
            label = _label_or_none(r[0])
            class_folders.add((r[0],))
            if label is None:
                unknown[r[0]] += 1
            else:
                assigned[path] = (label, ALL)
    # class folders that exist (directory entries or non-image files) but hold no images
    empty: Counter = Counter()
    for folder in folders:
        r = PurePosixPath(folder).parts[depth:]
        key = tuple(r[:2]) if layout in ("fer2013", "split-folders") and len(r) >= 2 else tuple(r[:1])
        name = key[-1] if key else ""
        if key and key not in class_folders and _label_or_none(name):
            empty[normalize_label(name)] += 1
    return layout, assigned, dict(unknown), empty


def _open_zip(data: bytes | BinaryIO) -> zipfile.ZipFile:
    handle = io.BytesIO(bytes(data)) if isinstance(data, (bytes, bytearray, memoryview)) else data
    try:
        return zipfile.ZipFile(handle)
    except zipfile.BadZipFile:
        raise ArchiveError("not a zip archive (or a corrupt one): upload a .zip of labelled face images") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ArchiveError(f"corrupt zip archive ({' '.join(str(exc).split())})") from None


def read_archive(data: bytes | BinaryIO, name: str = "upload", limits: Limits = DEFAULT_LIMITS) -> InMemoryDataset:
    """Labelled images from a zip (bytes or a seekable binary file), into memory; see the module doc."""
    with _open_zip(data) as archive:
        try:
            infos = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise ArchiveError(f"corrupt zip archive ({exc})") from None
        _check_central_directory(infos, limits)
        skipped: Counter = Counter()
        examples: dict[str, str] = {}
        folders: set[str] = set()
        candidates: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            safe = _safe_name(info.filename)
            reason = None
            if safe is None:
                reason = "unsafe names (absolute or '..')"
            elif DEBRIS.search(safe):
                reason = "system files"
            elif info.is_dir():
                folders.add(safe)
                continue
            elif PurePosixPath(safe).suffix.lower() in NESTED_ARCHIVE_SUFFIXES:
                reason = "nested archives (not opened)"
            elif PurePosixPath(safe).suffix.lower() not in IMAGE_SUFFIXES:
                reason = "non-image files"
                folders.add(str(PurePosixPath(safe).parent))
            elif safe in candidates:
                reason = "duplicate names"
            elif info.flag_bits & 0x1:
                reason = "encrypted entries"
            if reason:
                skipped[reason] += 1
                examples.setdefault(reason, info.filename)
                continue
            candidates[safe] = info
        layout, assigned, unknown, empty = _assign_labels(list(candidates), folders)
        blobs: dict[str, bytes] = {}
        records: list[Record] = []
        budget = limits.max_total_bytes
        for path in sorted(assigned):
            blob = read_entry(archive, candidates[path], budget, limits)
            budget -= len(blob)
            if not _decodes(blob, path):
                skipped["files that are not readable images"] += 1
                examples.setdefault("files that are not readable images", path)
                continue
            label, split = assigned[path]
            blobs[path] = blob
            records.append(Record(path, label, split))
    notes = [f"{n} {reason} skipped (e.g. {examples[reason]!r})" for reason, n in skipped.items()]
    if unknown:
        listed = ", ".join(f"{folder} ({n} file{'s' if n != 1 else ''})" for folder, n in sorted(unknown.items()))
        notes.append(f"not emotion folders, skipped: {listed}")
        skipped["unlabelled"] = sum(unknown.values())
    present = {r.label for r in records}
    empty_classes = sorted(set(empty) - present)
    if empty_classes:
        notes.append(f"empty classes (no images): {', '.join(empty_classes)}")
    dataset = InMemoryDataset(name, Path(name), records, _splits(layout), layout=layout, notes=notes,
                              skipped=dict(skipped), blobs=blobs)
    return _require_classes(dataset, limits)


def _splits(layout: str) -> tuple[str, str, str]:
    if layout == "fer2013":
        return FER2013_SPLITS
    if layout == "split-folders":
        return ("train", "validation", "test")
    return (ALL, ALL, ALL)


def _require_classes(dataset: LabelledData, limits: Limits) -> LabelledData:
    if not dataset.records:
        extra = f" ({'; '.join(dataset.notes)})" if dataset.notes else ""
        raise ArchiveError(f"no labelled face images found: expected one folder per emotion, the FER2013, "
                           f"KDEF or CK+ layout{extra}")
    labels = dataset.labels
    if len(labels) < limits.min_classes:
        raise ArchiveError(f"only one class ({labels[0]}, {len(dataset.records)} images): accuracy needs at least "
                           f"{limits.min_classes} classes")
    return dataset


def load_labelled(source: Source, name: str | None = None, limits: Limits = DEFAULT_LIMITS,
                  roots: list[Path] | None = None) -> LabelledData:
    """Labelled faces from zip bytes, an uploaded file, a ``.zip`` path or a dataset folder on the server.

    Folders go through :func:`core.data.datasets.load_dataset` (read from disk when evaluated, the walk
    stopped at the file limit); zips are read into memory. Either way ``split("all")`` gives every image.
    With ``roots`` (see :mod:`core.data.roots`) a path must lie inside one of them, else the one fixed
    refusal line, and messages name folders by root name instead of absolute path. Raises
    :class:`ArchiveError` (one line).
    """
    from core.data import roots as allowed

    if isinstance(source, (bytes, bytearray, memoryview)) or hasattr(source, "read"):
        default = Path(getattr(source, "name", "") or "upload").stem.lower() or "upload"
        return read_archive(source, name or default, limits)
    if roots is not None:
        try:
            path = allowed.resolve_in_roots(source, roots)
        except allowed.FolderRefused as exc:
            raise ArchiveError(str(exc)) from None
        shown = allowed.display(path, roots)
    else:
        path = Path(source)
        shown = str(path)
    try:
        if path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
            size = path.stat().st_size
            if size > limits.max_total_bytes:
                raise ArchiveError(f"{path.name} is {_mib(size)}; the limit is {_mib(limits.max_total_bytes)}")
            return read_archive(path.read_bytes(), name or path.stem.lower(), limits)
        dataset = load_dataset(path, max_files=limits.max_files)
    except ArchiveError:
        raise
    except (DatasetError, OSError) as exc:
        reason = exc if isinstance(exc, DatasetError) else (exc.strerror or type(exc).__name__)
        raise ArchiveError(" ".join(allowed.scrub(f"{reason}", path, shown).split())) from None
    if len(dataset.records) > limits.max_files:
        raise ArchiveError(f"{shown} holds {len(dataset.records):,} images; the limit is {limits.max_files:,}")
    kind = "fer2013" if dataset.name == "fer2013" else "kdef" if dataset.name == "kdef" else "folders"
    labelled = LabelledData(name or dataset.name, dataset.root, dataset.records, dataset.splits, layout=kind)
    return _require_classes(labelled, limits)


def with_split(dataset: LabelledData, split: str) -> LabelledData:
    """Only one split's records (e.g. PrivateTest of a FER2013-layout zip), as a dataset evaluated whole."""
    return replace(dataset, records=dataset.split(split))


def summary(dataset: LabelledData) -> str:
    """One line for the page or the terminal: images, layout, images per class."""
    counts = ", ".join(f"{label} {n}" for label, n in dataset.class_counts().items())
    return f"{len(dataset.records)} images ({dataset.layout} layout): {counts}"


__all__ = [
    "DEFAULT_LIMITS",
    "ArchiveError",
    "Limits",
    "load_labelled",
    "read_archive",
    "read_entry",
    "summary",
    "with_split",
]
