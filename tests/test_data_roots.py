"""Server folders (issue 21): only the operator's data roots can be read, a path is resolved (symlinks and
``..``) before it is checked, anything else gets one fixed line, walks skip hidden folders and stop at the
file limit while walking; one image-suffix list for every reader; images decoded already shrunk."""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data import roots
from core.data.archive import ArchiveError, Limits, load_labelled
from core.data.datasets import DatasetError, Walk, load_dataset


def write_faces(folder: Path, labels=("happy", "sad"), per_label: int = 3, suffix: str = ".png") -> Path:
    for label in labels:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_label):
            data = cv2.imencode(".png" if suffix == ".png" else ".jpg", np.full((48, 48), 5 * i % 256, np.uint8))[1]
            (folder / label / f"{i}{suffix}").write_bytes(data.tobytes())
    return folder


@pytest.fixture
def root(tmp_path) -> Path:
    write_faces(tmp_path / "allowed" / "faces")
    write_faces(tmp_path / "outside" / "secret")
    return (tmp_path / "allowed").resolve()


@pytest.mark.parametrize("typed", ["/etc", "/root", "/usr", "/no/such/folder", "", "   ", "allowed/../outside/secret",
                                   "elsewhere/faces", "allowed/faces\x00x"])
def test_anything_outside_the_roots_gets_one_fixed_line(root, typed):
    with pytest.raises(ArchiveError) as excinfo:
        load_labelled(typed, roots=[root])
    assert str(excinfo.value) == roots.REFUSAL


def test_dot_dot_and_symlinks_are_resolved_before_the_check(root, tmp_path):
    with pytest.raises(ArchiveError, match="^That folder is not available"):
        load_labelled(str(root / "faces" / ".." / ".." / "outside" / "secret"), roots=[root])
    os.symlink(tmp_path / "outside" / "secret", root / "link")
    with pytest.raises(ArchiveError) as excinfo:
        load_labelled(str(root / "link"), roots=[root])
    assert str(excinfo.value) == roots.REFUSAL
    with pytest.raises(ArchiveError) as excinfo:
        load_labelled("allowed/link", roots=[root])
    assert str(excinfo.value) == roots.REFUSAL


def test_a_folder_inside_a_root_by_absolute_or_root_relative_path(root):
    for typed in (str(root / "faces"), "allowed/faces", str(root / "faces" / ".." / "faces")):
        dataset = load_labelled(typed, roots=[root])
        assert len(dataset.records) == 6 and dataset.labels == ("happy", "sad")


def test_no_roots_means_server_folders_are_off(root):
    with pytest.raises(ArchiveError, match="^That folder is not available"):
        load_labelled(str(root / "faces"), roots=[])


def test_messages_name_the_folder_by_root_name_never_by_absolute_path(root):
    (root / "faces" / "cats").mkdir()
    cv2.imwrite(str(root / "faces" / "cats" / "0.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(ArchiveError) as excinfo:
        load_labelled(str(root / "faces"), roots=[root])
    assert str(root) not in str(excinfo.value)
    assert str(excinfo.value).startswith("allowed/faces/cats: unknown emotion label")


def test_roots_from_the_environment_and_fer2013_by_default_on_localhost(root, tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("EMOTION_DATA_ROOTS", f"{root}{os.pathsep}{other}{os.pathsep}/no/such/root")
    assert roots.data_roots(local=False) == [root, other.resolve()]
    monkeypatch.setenv("EMOTION_DATA_ROOTS", "")
    assert roots.data_roots(local=True) == []
    monkeypatch.delenv("EMOTION_DATA_ROOTS")
    monkeypatch.setenv("FER2013_DIR", str(root))
    assert roots.data_roots(local=True) == [root]
    assert roots.data_roots(local=False) == []  # served to a network: off until the operator lists roots
    assert roots.server_is_local("127.0.0.1") and roots.server_is_local("localhost")
    assert not roots.server_is_local(None) and not roots.server_is_local("0.0.0.0")


def test_hidden_folders_are_skipped(root):
    write_faces(root / "faces" / ".git" / "objects" / "happy")
    write_faces(root / "faces" / "happy" / ".ipynb_checkpoints", labels=("x",))
    dataset = load_labelled(str(root / "faces"), roots=[root])
    assert len(dataset.records) == 6
    assert not any("/." in f"/{r.rel_path}" for r in dataset.records)


def test_the_walk_stops_at_the_file_limit_while_walking(tmp_path, monkeypatch):
    write_faces(tmp_path / "big", per_label=50)
    seen = []
    real_walk = os.walk

    def counting_walk(top, *args, **kwargs):
        for entry in real_walk(top, *args, **kwargs):
            seen.append(entry[0])
            yield entry

    monkeypatch.setattr(os, "walk", counting_walk)
    with pytest.raises(DatasetError, match="more than 10 images; the limit is 10"):
        load_dataset(tmp_path / "big", kind="folders", max_files=10)
    assert seen.count(str(tmp_path / "big" / "sad")) == 0, "the walk went on after the limit"
    with pytest.raises(ArchiveError, match="the limit is 10"):
        load_labelled(str(tmp_path / "big"), limits=Limits(max_files=10), roots=[tmp_path.resolve()])


def test_the_walk_stops_in_a_huge_tree_of_other_files(tmp_path):
    for i in range(60):
        (tmp_path / "junk" / f"d{i}").mkdir(parents=True)
        (tmp_path / "junk" / f"d{i}" / "notes.txt").write_text("x")
    walk = Walk(max_files=5, max_entries=50)
    with pytest.raises(DatasetError, match="files and folders to look through"):
        walk.images(tmp_path / "junk")


def test_one_image_suffix_list_for_compare_zips_folders_and_the_cli(tmp_path):
    from core.cli import predict
    from core.data import archive, datasets
    from core.media import images

    assert {".jfif", ".jpe", ".mpo", ".jpg", ".png"} <= images.IMAGE_SUFFIXES
    assert datasets.IMAGE_SUFFIXES is images.IMAGE_SUFFIXES is archive.IMAGE_SUFFIXES is predict.IMAGE_SUFFIXES
    assert {f".{t}" for t in images.FILE_TYPES} == images.IMAGE_SUFFIXES
    face = cv2.imencode(".jpg", np.full((48, 48, 3), 90, np.uint8))[1].tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for label in ("happy", "sad"):
            for suffix in (".jfif", ".jpe", ".mpo"):
                zf.writestr(f"{label}/a{suffix}", face)
    dataset = load_labelled(buffer.getvalue())
    assert len(dataset.records) == 6 and not dataset.skipped
    write_faces(tmp_path / "folder", suffix=".jfif")
    assert len(load_dataset(tmp_path / "folder").records) == 6


def test_images_are_decoded_already_shrunk():
    from PIL import Image

    from core.media.images import decode_image

    big = np.random.default_rng(0).integers(0, 255, (1824, 2736, 3), dtype=np.uint8)
    for fmt in ("JPEG", "PNG"):
        buffer = io.BytesIO()
        Image.fromarray(big).save(buffer, fmt)
        image = decode_image(buffer.getvalue(), max_side=256)
        assert image.shape == (171, 256, 3) and image.dtype == np.uint8
    for mode in ("P", "I;16", "1", "LA", "RGBA"):
        buffer = io.BytesIO()
        Image.new(mode, (1000, 600)).save(buffer, "PNG")
        assert decode_image(buffer.getvalue(), max_side=100).shape == (60, 100, 3)


def test_a_users_dataset_is_read_at_the_bounded_size():
    from core.data.inmemory import READ_MAX_SIDE

    photo = cv2.imencode(".png", np.zeros((2000, 3000, 3), np.uint8))[1].tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for label in ("happy", "sad"):
            zf.writestr(f"{label}/big.png", photo)
    dataset = load_labelled(buffer.getvalue())
    assert max(dataset.read(dataset.records[0], grayscale=False).shape) == READ_MAX_SIDE
