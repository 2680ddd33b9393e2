"""Model Promotion Workbench — Streamlit entry point.

Run with `make run` (or `streamlit run app.py`). Pages live in pages/; they are thin views
over workbench/ (the domain) through workbench_ui/ (state, caches, widgets).
"""

from __future__ import annotations

import streamlit as st

from workbench_ui import context, sidebar
from workbench_ui.feedback import guard
from workbench_ui.navigation import pages

st.set_page_config(page_title="Model Promotion Workbench", page_icon=":material/verified:", layout="wide")

user = None
with guard("open the review store"):
    user = context.current_user()
if user is None:
    navigation = st.navigation([st.Page("pages/login.py", title="Sign in", icon=":material/login:")])
else:
    navigation = st.navigation(pages())
    sidebar.render(user)
navigation.run()
