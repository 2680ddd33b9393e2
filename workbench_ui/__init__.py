"""Streamlit helpers: session state, cached access to the domain, shared widgets.

The only package besides ``app.py`` and ``pages/`` that imports streamlit. Pages call these
helpers and ``workbench``; nothing here computes a number itself.

Modules: ``context`` (session user, settings, store), ``review`` (cached review, evidence,
policy, decision, explanations), ``widgets`` (colours, formatting, tables, charts),
``feedback`` (errors as messages), ``navigation`` (page list), ``sidebar``, ``packet``
(signed report from the app), ``explain_panel`` (SHAP importance and diff views),
``replay_views`` (cached shadow replay and its charts), ``sso`` (OIDC identities mapped onto
store users).
"""
