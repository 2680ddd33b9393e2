"""Model Promotion Workbench — Streamlit entry point.

Run with `make run` (or `streamlit run app.py`). Pages live in pages/; they are thin views
over workbench/ (the domain) through workbench_ui/ (state, caches, widgets).

This file is read twice. `streamlit run app.py` first imports it as a module and finds ``app``,
an ``st.App`` serving this same file plus the two routes that set and clear the http-only
session cookie (``workbench_ui.session_routes``); then every browser run executes it as the
page script (``__name__ == "__main__"``), as does AppTest.
"""

from __future__ import annotations

import streamlit as st

if __name__ == "__main__":  # a run of the page script
    from workbench_ui import context, sidebar, warmup
    from workbench_ui.feedback import guard
    from workbench_ui.navigation import pages

    st.set_page_config(page_title="Model Promotion Workbench", page_icon=":material/verified:", layout="wide")

    user = None
    with guard("open the review store"):
        user = context.current_user()
    context.sync_cookie()
    if user is None:
        navigation = st.navigation([st.Page("pages/login.py", title="Sign in", icon=":material/login:")])
    else:
        navigation = st.navigation(pages())
        sidebar.render(user)
    navigation.run()
    # Below the page (an element at the top would move it down for one run): the charts' browser code,
    # loaded while the reviewer signs in or reads the first page.
    warmup.warm_up()
else:  # imported by `streamlit run app.py`: the server, with the session-cookie routes
    from workbench_ui.session_routes import routes

    app = st.App(__file__, routes=routes())
