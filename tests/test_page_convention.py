"""The page convention: every page under pages/ is a ``main()`` (wrapped by ``runtime.page``) called once at
the end, with nothing else at the top level, and importing the modules the pages share changes nothing
(streamlit_app.py sets the process up; see pages/runtime.py)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PAGES = Path(__file__).resolve().parent.parent / "pages"


@pytest.mark.parametrize("page", ["compare", "training", "evaluation", "mistakes", "data", "live", "video", "about"])
def test_every_page_is_a_main_called_once_at_the_end(page):
    tree = ast.parse((PAGES / f"{page}.py").read_text())
    calls = [n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)]
    assert [ast.unparse(c) for c in calls] == ["main()"] and tree.body[-1] is calls[0]
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    assert [ast.unparse(d) for d in main.decorator_list] == ["runtime.page"]
    assert not [n for n in tree.body if isinstance(n, (ast.If, ast.For, ast.With, ast.Try, ast.While))]


def test_importing_the_shared_page_modules_changes_no_global_state():
    """Streamlit's automatic pages/ navigation stays as it was: only a page's main() leaves it."""
    check = ("from streamlit.runtime.pages_manager import PagesManager as P\n"
             "P.uses_pages_directory = True\n"
             "import pages.common, pages.report, pages.runtime\n"
             "assert P.uses_pages_directory is True\n")
    done = subprocess.run([sys.executable, "-c", check], cwd=PAGES.parent, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(PAGES.parent)})
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_deep_link_as_the_first_request_reruns_through_the_app_once(monkeypatch):
    """The first page run of a process, under Streamlit's automatic pages/ navigation (a deep link before
    streamlit_app.py has run), reruns through st.navigation; later runs never rerun (that would drop their
    widget events)."""
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    from pages import runtime

    reruns, runs = [], []
    monkeypatch.setattr(st, "rerun", lambda: reruns.append(1))
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    monkeypatch.setattr(runtime, "_checked_navigation", type(runtime._checked_navigation)())
    main = runtime.page(lambda: runs.append(1))
    main()
    assert reruns == [1] and PagesManager.uses_pages_directory is False
    PagesManager.uses_pages_directory = True  # AppTest sets it again on every run
    main()
    assert reruns == [1] and runs == [1, 1]
