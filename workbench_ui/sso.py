"""Single sign-on (OIDC through ``st.login``) mapped onto the store's users and roles.

Streamlit's ``st.login`` is offered when ``.streamlit/secrets.toml`` has an ``[auth]`` section
(see the README, "Security model"). The identity provider only says who someone is: what they
may do comes from the store, so an SSO identity gets in only when an active store user of the
same name (their e-mail, else their display name) exists — an admin creates it with
``workbench users add <email> --role …``.
"""

from __future__ import annotations

import streamlit as st


def configured() -> bool:
    """True when the server's secrets configure OIDC (an ``[auth]`` section)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets.toml at all (Streamlit raises its own error types)
        return False


def identity() -> str | None:
    """The signed-in SSO identity (e-mail, else name), or None when nobody signed in through SSO."""
    try:
        info = st.user.to_dict()
    except Exception:  # noqa: BLE001 - st.user unavailable (no auth configured)
        return None
    if not info.get("is_logged_in"):
        return None
    return str(info.get("email") or info.get("name") or "") or None


def log_out() -> None:
    """End the SSO session too (otherwise the next run would sign the same identity in again)."""
    if identity() is not None:
        st.logout()
