"""Load the browser code of the review pages' charts while the reviewer reads the first page.

Streamlit's frontend loads the code of an element type the first time a page shows one: plotly
(4.7 MB of JavaScript in Streamlit 1.67) on the first page with a chart, the syntax highlighter
(1.6 MB) on the first with code. In a new browser session that made the first chart page the
slowest switch of the review (2.4 s at load ~6, against 0.5–1.0 s once loaded): the switch waited
for plotly to be fetched, compiled and run.

:func:`warm_up` runs, once per session and only when the browser is otherwise idle, the same
``import()`` Streamlit would run later, so the module is in the page's module map by the time a
chart is drawn. The same holds, at a smaller scale, for the data frame and the widgets of the
review pages (:data:`CHUNKS`). Nothing is drawn and nothing is hidden; a missing file (another Streamlit
version) only means the first chart page loads the code itself, as before.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import streamlit as st

#: The lazily loaded Streamlit element bundles worth fetching ahead: the two large ones the review
#: pages use, the data frame (with its Arrow and formatting modules), and the widgets of the review
#: pages. The small ones were left out until 2026-12-03, when a second session's first switch to
#: Performance (0.9–1.4 s) was seen fetching Slider, Metric, Radio and the data frame's modules on
#: the click, ~0.2 s each in parallel, after the first view had drawn.
#: In the order the pages need them: Performance (the first page after the load) first.
CHUNKS = ("DataFrame", "PlotlyChart", "Slider", "Metric", "Radio", "Selectbox", "StreamlitSyntaxHighlighter",
          "Multiselect", "TextArea")

_DONE_KEY = "wb_warmed_up"


@cache
def chunk_files() -> tuple[str, ...]:
    """The file names of :data:`CHUNKS` in the installed Streamlit's frontend (hashed names)."""
    js = Path(st.__file__).parent / "static" / "static" / "js"
    found = []
    for name in CHUNKS:
        matches = sorted(p.name for p in js.glob(f"{name}.*.js"))
        if len(matches) == 1:  # ambiguous or absent: leave it to Streamlit
            found.append(matches[0])
    return tuple(found)


def script(files: tuple[str, ...]) -> str:
    """The page script: import each file, one after the other, when the browser is idle.

    The URL is resolved against Streamlit's own entry module, so it is the very URL Streamlit's
    lazy ``import()`` asks for and the module is evaluated once.
    """
    return ("<script>(() => {"
            "const entry = document.querySelector('script[type=module][src*=\"/static/js/index.\"]');"
            "if (!entry) return;"
            f"const files = {json.dumps(list(files))};"
            "const idle = window.requestIdleCallback || ((f) => setTimeout(f, 200));"
            "const next = () => { const f = files.shift(); if (!f) return;"
            " idle(() => import(new URL(f, entry.src).href).catch(() => {}).then(next), {timeout: 2000}); };"
            "next(); })();</script>")


def warm_up() -> None:
    """Once per session: have the browser load the chart code in its idle time."""
    if st.session_state.get(_DONE_KEY) or not chunk_files():
        return
    st.session_state[_DONE_KEY] = True
    st.html(script(chunk_files()), unsafe_allow_javascript=True, width="content")
