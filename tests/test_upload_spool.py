"""No byte of an upload reaches a file (issue 21). Streamlit's upload handler parses each upload with
Starlette's multipart parser, which rolls a file over 1 MiB over to an unnamed temporary file
(``os.open("/tmp", O_TMPFILE)``); the app raises that spool to its upload limit. These tests drive
Streamlit's own upload route (``PUT /_stcore/upload_file/<session>/<file>``) in this process under the
audit-hook write watch of tests/privacy_watch.py, which sees ``O_TMPFILE`` opens."""
from __future__ import annotations

import asyncio
import tempfile

import pytest
from privacy_watch import watch_writes

from pages import runtime

PHOTO_BYTES = 2_893_187  # the size of the photo the strace showed on disk


class _Runtime:
    def is_active_session(self, session_id: str) -> bool:
        return True


def put_upload(data: bytes, name: str = "photo.jpg"):
    """One upload through Streamlit's route; returns (HTTP status, the manager's stored files)."""
    from streamlit import config
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.web.server.starlette.starlette_routes import create_upload_routes

    manager = MemoryUploadedFileManager("/_stcore/upload_file")
    put = create_upload_routes(_Runtime(), manager, None)[0]
    boundary = "----h21boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    scope = {"type": "http", "method": "PUT", "path": "/_stcore/upload_file/s1/f1", "raw_path": b"",
             "root_path": "", "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 8501),
             "client": ("127.0.0.1", 5000), "http_version": "1.1",
             "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
                         (b"content-length", str(len(body)).encode()), (b"host", b"127.0.0.1:8501")],
             "path_params": {"session_id": "s1", "file_id": "f1"}}
    sent: list[dict] = []

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    saved = config.get_option("server.enableXsrfProtection")
    config.set_option("server.enableXsrfProtection", False)  # no browser here to carry the token
    try:
        asyncio.run(put.handle(scope, receive, send))
    finally:
        config.set_option("server.enableXsrfProtection", saved)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, manager.get_files("s1", ["f1"])


@pytest.fixture
def starlette_spool():
    from starlette.formparsers import MultiPartParser

    saved = MultiPartParser.spool_max_size
    yield MultiPartParser
    MultiPartParser.spool_max_size = saved


def test_the_watch_sees_an_unnamed_temporary_file():
    with watch_writes() as seen, tempfile.TemporaryFile(dir=tempfile.gettempdir()) as handle:
        handle.write(b"x" * 100)
    assert ("open O_TMPFILE", tempfile.gettempdir()) in seen.writes, seen.report()


def test_without_the_fix_an_upload_over_1_mib_is_spooled_to_disk(starlette_spool):
    """The control: Starlette's default spool does write the upload to a temporary file, and the watch sees it."""
    starlette_spool.spool_max_size = 1024 * 1024
    with watch_writes() as seen:
        status, files = put_upload(b"\xff" * PHOTO_BYTES)
    assert status == 204 and len(files) == 1
    assert any(event == "open O_TMPFILE" for event, _ in seen.writes), seen.report()


def test_an_upload_at_the_limit_stays_in_memory(starlette_spool):
    from streamlit import config

    limit = config.get_option("server.maxUploadSize") * 2**20
    assert runtime.keep_uploads_in_memory(limit) >= limit
    for size in (PHOTO_BYTES, 60 * 2**20):  # a phone photo; a video over the photo limit
        data = bytes(range(256)) * (size // 256)
        with watch_writes() as seen:
            status, files = put_upload(data)
        assert status == 204 and files[0].data == data
        assert seen.writes == [], f"the upload reached a file: {seen.report()}"


def test_the_app_raises_the_spool_to_its_largest_upload(starlette_spool, monkeypatch):
    """What streamlit_app.py's ``runtime.install()`` does in the server process."""
    import threading
    import tomllib

    from core.paths import PROJECT_ROOT

    settings = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["maxUploadSize"] == 200  # the Video page's promise
    starlette_spool.spool_max_size = 1024 * 1024
    monkeypatch.setattr(runtime, "_installed", threading.Event())
    monkeypatch.setattr(runtime, "_collect_periodically", lambda interval_s: None)
    runtime.install()
    from streamlit import config

    assert starlette_spool.spool_max_size >= config.get_option("server.maxUploadSize") * 2**20
