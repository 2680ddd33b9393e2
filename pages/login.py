"""Sign in with a local account from the review store; an empty store creates its first admin."""

from __future__ import annotations

import streamlit as st

from workbench_ui import context, sso
from workbench_ui.feedback import guard

st.title("Model Promotion Workbench")
st.caption("Evidence-based go/no-go decisions for machine-learning models.")

store = context.store()
sso_name = sso.identity()
if sso_name is not None:
    account = store.get_user(sso_name)
    if account is not None and account.active:
        context.log_in(account.name)
        st.rerun()
    st.error(f"You signed in as **{sso_name}**, but this workbench has no active account of that name, so you "
             f"cannot enter. Ask an admin to run `workbench users add {sso_name} --role …` (the roles decide what "
             "you may review and sign).", icon=":material/no_accounts:")
    st.button("Sign out of single sign-on", key="sso_logout", on_click=st.logout)
    st.stop()
if not store.list_users():
    st.subheader("First run: create the administrator")
    st.write("This review store has no users yet. The first account is an administrator who can add the others "
             "(`workbench users add NAME --role ROLE`).")
    with st.form("first_admin"):
        name = st.text_input("User name", key="admin_name")
        password = st.text_input("Password", type="password", key="admin_password")
        repeat = st.text_input("Repeat password", type="password", key="admin_repeat")
        if st.form_submit_button("Create administrator", type="primary"):
            if not name or len(password) < 8:
                st.error("Give a user name and a password of at least 8 characters.")
            elif password != repeat:
                st.error("The two passwords differ: type the same password twice.")
            else:
                with guard("create the administrator"):
                    store.add_user(name, ["admin"], password=password, actor=name)
                    context.log_in(name)
                    st.rerun()
else:
    with st.form("login"):
        name = st.text_input("User name", key="login_name")
        password = st.text_input("Password", type="password", key="login_password")
        if st.form_submit_button("Sign in", type="primary"):
            with guard("sign in"):
                user = store.authenticate(name.strip(), password)
                context.log_in(user.name)
                st.rerun()
    if sso.configured():
        st.button("Sign in with single sign-on", key="sso_login", icon=":material/key:", on_click=st.login)
    if store.is_demo:  # public passwords are shown only in a store created as a demo store
        st.caption("Demo store (`make run`): one user per role, e.g. `alice` (product owner) with password "
                   "`demo-alice-pass`; the full list is printed by `make run` and in the README.")
