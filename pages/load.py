"""Load a review: the demo, a review.yaml on the server, or uploaded files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from workbench.artefacts import check_server_path, stage_upload
from workbench_ui import context, review
from workbench_ui.feedback import guard
from workbench_ui.navigation import link
from workbench_ui.widgets import fmt

user = context.require_user()
DEMO = context.demo_dir() / "review.yaml"

st.title("Load a review")
st.write("A review compares a **candidate** model with the **baseline** in production, on production-like data.")


def _open(path: Path, where: str) -> None:
    with guard(f"open {path.name}"), st.spinner("Checking the manifest, loading the models and data …"):
        data, review_id = review.open_review(path, actor=user.user)
        context.set_manifest(data.manifest.source or path, review_id)
        st.session_state.pop("wb_load_error", None)
        st.rerun()
    st.session_state["wb_load_error"] = where


demo_tab, path_tab, upload_tab = st.tabs(["Demo review", "Path on this server", "Upload files"])
with demo_tab:
    st.write("A loan-approval review: a gradient-boosted candidate against a logistic-regression baseline, "
             "with a planted proxy bias for reviewers to find.")
    if DEMO.exists():
        if st.button("Open the demo review", type="primary", key="open_demo"):
            _open(DEMO, "demo")
    elif st.button("Generate the demo review", type="primary", key="make_demo"):
        with guard("generate the demo"), st.spinner("Generating data and training both models (about a minute) …"):
            from workbench.demo import write_demo

            write_demo(DEMO.parent)
        _open(DEMO, "demo")
    st.caption(f"Demo folder: `{DEMO.parent}`")
with path_tab:
    text = st.text_input("Path of a review.yaml on this server", placeholder="/path/to/review.yaml",
                         key="manifest_path_input")
    st.caption("Allowed folders: " + ", ".join(f"`{r}`" for r in context.review_roots())
               + " (the server's WORKBENCH_REVIEW_ROOTS).")
    if st.button("Open", key="open_path", disabled=not text):
        allowed = None
        with guard(f"open {text}"):
            allowed = check_server_path(text, roots=context.review_roots())
        if allowed is not None:
            _open(allowed, "path")
with upload_tab:
    manifest_file = st.file_uploader("review.yaml", type=["yaml", "yml"], key="upload_manifest")
    artefacts = st.file_uploader("Models, data sets, policy and model card named in review.yaml",
                                 accept_multiple_files=True, key="upload_artefacts")
    if st.button("Check and open", key="open_upload", disabled=manifest_file is None):
        assert manifest_file is not None  # the button is disabled until a file is chosen
        with guard("stage the uploaded review"):
            staged = stage_upload(manifest_file.name, manifest_file.getvalue(),
                                  {f.name: f.getvalue() for f in artefacts or []}, root=context.uploads_dir())
            _open(staged, "upload")

current = context.manifest_path()
if current is not None and context.review_id() is not None:
    st.divider()
    with guard("show the loaded review"):
        data = review.review_data(current)
        st.success(f"Loaded **{data.manifest.name}** — {len(data.evaluation):,} evaluation rows, "
                   f"{len(data.features)} features, task {data.task}.", icon=":material/task_alt:")
        st.subheader("Artefacts and lineage")
        st.dataframe(
            pd.DataFrame([{"role": a.role, "file": a.path, "format": a.format, "sha256": a.sha256,
                           "size": f"{fmt(a.bytes / 1024, 1)} KiB", "rows": fmt(a.rows)} for a in data.artefacts]),
            hide_index=True, width="stretch", key="artefact_table")
        st.caption(f"Evidence digest (what sign-offs approve): `{data.evidence_digest}`")
        review.evidence(data, context.review_id())
        link("pages/performance.py", "Continue to Performance", icon=":material/arrow_forward:")
