"""The CLI refuses bad input with one clear line: oversized files, pixel bombs, non-images.

``python -m core predict`` must exit with status 2 and print exactly one line per refused file on
stderr (``error: <path>: <reason>``), with no traceback and no other chatter. App-level bad input
is tested with the app.
"""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest

from core.cli import main
from core.media.images import MAX_BYTES

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose (valid, CRC-checked) header claims ``width`` x ``height`` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100))
            + _png_chunk(b"IEND", b""))


def png_bomb(width: int = 8000, height: int = 6000) -> bytes:
    """A complete, valid grayscale PNG of 48 MP of zeros: about 50 KB on disk, 48 MB once decoded."""
    row = b"\0" * (width + 1)  # filter byte + pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


def gif_claiming(width: int, height: int) -> bytes:
    """A one-pixel-of-data GIF whose screen and image descriptor claim ``width`` x ``height``."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
            + b"," + struct.pack("<HHHH", 0, 0, width, height) + b"\0" + b"\x02\x02\x44\x01\x00" + b";")


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", b"not really")
    return buffer.getvalue()


def corrupt_tiff_with_warnings() -> bytes:
    """A TIFF whose first IFD offset is broken: Pillow warns (UserWarning) and then fails to open it."""
    from PIL import Image

    from core.media.images import example_photo

    buffer = io.BytesIO()
    Image.fromarray(example_photo()[60:156, 160:288, ::-1].copy()).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    data[5] ^= 1 << 5
    return bytes(data)


# name -> (contents or a maker, words the one-line reason must contain)
CASES = {
    "oversized.jpg": ("sparse", ("too large", "MiB")),
    "bomb_header.png": (lambda: png_claiming(100_000, 100_000), ("too large", "100000x100000", "MP")),
    "bomb_48mp.png": (png_bomb, ("too large", "8000x6000", "MP")),
    "bomb_screen.gif": (lambda: gif_claiming(65535, 65535), ("too large", "65535x65535", "MP")),
    "notes.txt": (lambda: b"meeting notes\nnot a photo\n" * 50, ("not an image",)),
    "report.pdf": (lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", ("not an image",)),
    "photos.zip": (zip_file, ("not an image",)),
    "drawing.svg": (lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', ("not an image",)),
    "program.jpg": (lambda: b"\x7fELF\x02\x01\x01" + bytes(200), ("not an image",)),
    "empty.jpg": (lambda: b"", ("empty",)),
    "folder.jpg": ("directory", ("a folder with no supported image",)),  # folders are read recursively
    "missing.jpg": ("missing", ("no such file",)),
    "corrupt.tif": (corrupt_tiff_with_warnings, ("not an image",)),
}


def make_case(folder: Path, name: str) -> Path:
    path = folder / name
    maker, _ = CASES[name]
    if maker == "sparse":
        with open(path, "wb") as out:
            out.write(b"\xff\xd8\xff\xe0")
            out.truncate(MAX_BYTES + 2**20)  # sparse: 51 MiB on paper, nothing on disk
    elif maker == "directory":
        path.mkdir()
    elif maker == "missing":
        pass
    else:
        path.write_bytes(maker())
    return path


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad input")
    return {name: make_case(folder, name) for name in CASES}


def test_the_corrupt_tiff_case_really_makes_pillow_warn(bad_files):
    from PIL import Image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Exception):  # noqa: B017 - whatever Pillow raises for it
            Image.open(bad_files["corrupt.tif"]).load()
    assert caught, "Pillow no longer warns on this file; the corrupt.tif case tests nothing special"


def test_refusing_a_corrupt_tiff_lets_no_library_warning_out(bad_files):
    """Pillow's UserWarnings would reach stderr as extra lines (the CLI prints Python warnings)."""
    from core.media.images import ImageDecodeError, decode_image

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ImageDecodeError):
            decode_image(bad_files["corrupt.tif"])
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("name", list(CASES))
def test_cli_refuses_with_one_line(name, bad_files, tiny_model_dir, capfd):
    path = bad_files[name]
    code = main(["predict", "--model", "cnn", "--model-dir", str(tiny_model_dir), str(path)])
    out, err = capfd.readouterr()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    line = lines[0]
    assert line.startswith(f"error: {path}: ")
    assert "Traceback" not in err
    for word in CASES[name][1]:
        assert word in line, f"{word!r} missing from {line!r}"
    assert len(line) < 300


def test_cli_json_reports_every_refusal(bad_files, tiny_model_dir, capfd):
    paths = [str(bad_files[n]) for n in ("notes.txt", "bomb_header.png", "empty.jpg")]
    code = main(["predict", "--json", "--model", "cnn", "--model-dir", str(tiny_model_dir), *paths])
    out, err = capfd.readouterr()
    assert code == 2
    results = json.loads(out)["results"]
    assert [r["image"] for r in results] == paths
    assert all(r.get("error") for r in results)
    assert len(err.splitlines()) == len(paths)


@pytest.mark.slow
def test_cli_subprocess_refuses_all_at_once(bad_files, tiny_model_dir, astronaut, tmp_path):
    """The real command line in a fresh process: one line per bad file, good files still analysed."""
    import cv2

    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), astronaut)
    paths = [str(p) for p in bad_files.values()]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "core", "predict", "--model", "cnn", "--model-dir",
                           str(tiny_model_dir), str(good), *paths], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(paths) + 1, f"expected {len(paths)} lines and the note, got:\n{proc.stderr}"
    for path, line in zip(paths, lines):
        assert line.startswith(f"error: {path}: ")
    assert lines[-1].startswith("note: probabilities calibrated")  # the good photo's, labelled
    assert proc.stdout.startswith(f"{good} face 1 ")
