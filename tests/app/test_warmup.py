"""The chart code is loaded once per session while the reviewer signs in (workbench_ui.warmup).

The browser side (the module fetched before the first chart page) is in tests/e2e/test_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP
from workbench_ui import warmup


def _warmups(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "import(" in h.proto.body]


def test_the_installed_streamlit_ships_each_chunk_once():
    """A Streamlit upgrade that renames or splits a bundle fails here, not silently in the browser."""
    files = warmup.chunk_files()
    assert [f.split(".")[0] for f in files] == list(warmup.CHUNKS)
    js = Path(st.__file__).parent / "static" / "static" / "js"
    sizes = {f.split(".")[0]: (js / f).stat().st_size for f in files}
    assert sizes["PlotlyChart"] > 1_000_000 and sizes["StreamlitSyntaxHighlighter"] > 1_000_000  # the large ones
    assert all(size > 1_000 for size in sizes.values())  # every one a bundle of code, not a stub


def test_the_first_run_of_a_session_loads_the_chart_code_and_later_runs_do_not():
    at = AppTest.from_file(APP, default_timeout=240).run()
    assert not at.exception
    (script,) = _warmups(at)
    assert all(f'"{f}"' in script for f in warmup.chunk_files())
    assert "requestIdleCallback" in script
    at.run()
    assert _warmups(at) == []
    assert _warmups(AppTest.from_file(APP, default_timeout=240).run()) != []  # a new session loads it again
