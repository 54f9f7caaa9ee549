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

Not a page: streamlit_app.py calls :func:`install` once per process.
"""
from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable

GC_INTERVAL_S = 60.0
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
