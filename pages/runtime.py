"""Keep models fast inside Streamlit: its per-run clean-up would otherwise slow every model call.

After every script run (and every ``st.fragment`` rerun, i.e. once a second on the Live page)
Streamlit calls ``keras.backend.clear_session()``, which for TensorFlow clears the eager kernel cache
and runs a full garbage collection, and then, with ``runner.postScriptGC`` (switched off in
``.streamlit/config.toml``), another ``gc.collect(2)``. With TensorFlow's large heap each costs
hundreds of milliseconds holding the GIL, so the Live page's frame callback stalls (measured: CNN
calls went from ~5 ms to 120-900 ms). Our models are long-lived ``st.cache_resource`` objects that
must not be cleared between runs, so the Keras clean-up is skipped, and one daemon thread collects
garbage once a minute instead, which keeps memory bounded (see ``make soak``).

It also fixes deep links: until ``streamlit_app.py`` has run once in a server process, Streamlit
treats ``pages/`` as an old-style multipage folder, so a first request for ``/live`` ran the page on
its own with Streamlit's automatic list of every file in ``pages/`` as the sidebar (``common`` and
``runtime`` included), and without ``streamlit_app.py``'s set-up. That first run executes only the
page, so the fix cannot wait for ``streamlit_app.py``: every page's ``main()`` is wrapped in
:func:`page`, which switches that mode off and reruns through the app's own navigation. Under the
app's navigation it does nothing.

Two more process-wide settings keep a visitor's data off the disk and out of the server once they
leave. :func:`keep_uploads_in_memory`: Streamlit's upload handler parses each upload with Starlette's
multipart parser, which spools a file over 1 MiB to an unnamed temporary file in ``/tmp``
(``O_TMPFILE``); the spool is raised to the largest upload allowed, so every byte stays in memory.
:func:`end_sessions_on_time`: a closed tab's session is kept ``server.disconnectedSessionTTL``
seconds for a reconnect, then Streamlit's storage forgets it without shutting it down, so its
uploads and ``/media/`` images stayed reachable; it is now shut down (files and media released)
once that time has passed.

Not a page: streamlit_app.py calls :func:`install` once per process.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import threading
import time
from collections.abc import Callable

GC_INTERVAL_S = 60.0
SESSION_REAP_INTERVAL_S = 1.0
MULTIPART_MARGIN_BYTES = 1 << 20  # form framing around the file
_installed = threading.Event()
_checked_navigation = threading.Event()


def _collect_periodically(interval_s: float) -> None:
    while True:
        threading.Event().wait(interval_s)
        gc.collect()


def install(gc_interval_s: float = GC_INTERVAL_S) -> bool:
    """Skip Streamlit's per-run Keras clean-up and start the periodic collector; False if already done."""
    if _installed.is_set():
        return False
    _installed.set()
    from streamlit.runtime.scriptrunner import script_runner

    # A private hook (streamlit 1.67); if a later version renames it, nothing breaks: only speed suffers.
    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = lambda: None
    threading.Thread(target=_collect_periodically, args=(gc_interval_s,), name="periodic-gc", daemon=True).start()
    from streamlit import config

    keep_uploads_in_memory(config.get_option("server.maxUploadSize") * 2**20)
    from core.models import registry
    from pages.common import session_records

    registry.set_session_source(session_records)  # a session's uploaded models, for that session only
    end_sessions_on_time(config.get_option("server.disconnectedSessionTTL"))
    return True


def keep_uploads_in_memory(max_upload_bytes: int) -> int:
    """Let Starlette's multipart parser hold an upload of ``max_upload_bytes`` in memory instead of
    rolling it over to a temporary file; returns the spool size now in force."""
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_upload_bytes + MULTIPART_MARGIN_BYTES)
    return MultiPartParser.spool_max_size


def end_sessions_on_time(ttl_s: float, interval_s: float = SESSION_REAP_INTERVAL_S) -> bool:
    """Shut down every disconnected session ``ttl_s`` seconds after it was stored for a reconnect (unless
    it reconnected), which releases its uploads and media; False if Streamlit's internals differ."""
    try:
        from streamlit.runtime import Runtime

        runtime = Runtime.instance()
        manager = runtime._session_mgr
        storage = manager._session_storage
        loop = runtime._get_async_objs().eventloop
    except Exception:  # noqa: BLE001 - a private API (streamlit 1.67): without it, Streamlit's own TTL applies
        return False
    stored: dict[str, tuple[float, object]] = {}
    save = storage.save

    def save_and_note(session_info):
        stored[session_info.session.id] = (time.monotonic(), session_info.session)
        save(session_info)

    def reap() -> None:  # on the event loop, as Streamlit's own session calls are
        now = time.monotonic()
        for session_id, (since, session) in list(stored.items()):
            if manager.get_active_session_info(session_id) is not None:
                stored.pop(session_id, None)  # the tab came back
            elif now - since >= ttl_s:
                stored.pop(session_id, None)
                with contextlib.suppress(KeyError):
                    storage.delete(session_id)
                session.shutdown()

    def tick() -> None:
        while not loop.is_closed():
            threading.Event().wait(interval_s)
            if stored:
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(reap)

    storage.save = save_and_note
    threading.Thread(target=tick, name="session-reaper", daemon=True).start()
    return True


def leave_automatic_navigation() -> None:
    """If this process's first page run is Streamlit's automatic ``pages/`` navigation, rerun through
    ``st.navigation``. Only the first counts: once ``st.navigation`` has run, Streamlit keeps that mode off
    for the process, and a rerun later would drop the widget events of the run it replaces."""
    from streamlit.runtime.pages_manager import PagesManager

    if _checked_navigation.is_set():
        return
    _checked_navigation.set()
    if PagesManager.uses_pages_directory:
        import streamlit as st

        PagesManager.uses_pages_directory = False
        st.rerun()


def page(main: Callable[[], None]) -> Callable[[], None]:
    """A page's ``main``, run through the app's navigation (see the module doc): nothing changes on import."""

    @functools.wraps(main)
    def run() -> None:
        leave_automatic_navigation()
        main()

    return run
