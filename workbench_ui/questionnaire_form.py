"""Questionnaire forms that save a draft on every answer (through the workflow service).

Each question is one widget whose ``on_change`` callback validates and saves that answer with
``workbench.questionnaires.save_answers`` against the version the page loaded, so a browser
refresh or crash loses nothing, and a concurrent edit shows as "reload" instead of overwriting.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from workbench.errors import PermissionDenied, StaleWriteError, WorkbenchError
from workbench_ui import context
from workbench_ui.navigation import link, page_for_evidence

_NOTICE = "wb_questionnaire_notice"


def version_key(template_id: str) -> str:
    return f"wb_qversion_{template_id}"


def widget_key(template_id: str, question_id: str) -> str:
    return f"q_{template_id}_{question_id}"


def _save(template: Any, review_id: str, question_id: str) -> None:
    """on_change: save one answer into the reviewer's draft (merge), remembering the new version."""
    value = st.session_state.get(widget_key(template.id, question_id))
    if value is None or value == [] or value == "":
        return  # clearing a widget keeps the saved answer; nothing to save
    user = context.current_user()
    if user is None:
        return
    from workbench.questionnaires import save_answers

    try:
        saved = save_answers(context.store(), template, review_id, user.user, {question_id: value},
                             expected_version=st.session_state.get(version_key(template.id)))
    except StaleWriteError as exc:
        st.session_state[_NOTICE] = ("warning", f"{exc} — reload the page to see the newer answers, then answer again.")
        return
    except PermissionDenied as exc:
        st.session_state[_NOTICE] = ("error", f"Not allowed: {exc}")
        return
    except WorkbenchError as exc:
        st.session_state[_NOTICE] = ("error", f"Answer to {question_id} not saved: {exc}")
        return
    st.session_state[version_key(template.id)] = saved.version
    st.session_state[_NOTICE] = ("saved", f"Draft saved (version {saved.version}).")


def show_notice() -> None:
    kind, text = st.session_state.pop(_NOTICE, (None, None))
    if kind == "saved":
        st.toast(text, icon=":material/save:")
    elif kind == "warning":
        st.warning(text, icon=":material/sync_problem:")
    elif kind == "error":
        st.error(text, icon=":material/error:")


def _widget(template: Any, q: Any, review_id: str, current: Any, *, disabled: bool) -> None:
    key = widget_key(template.id, q.id)
    if key not in st.session_state and current is not None:
        st.session_state[key] = current
    common: dict[str, Any] = {"key": key, "disabled": disabled, "help": q.guidance or None,
              "on_change": _save, "args": (template, review_id, q.id)}
    empty: dict[str, Any] = {} if key in st.session_state else {"index": None}  # a default next to session state warns
    label = f"{q.text}{'' if q.required else ' (optional)'}"
    if q.type == "likert":
        anchors = template.anchors_for(q)
        st.radio(label, [1, 2, 3, 4, 5], horizontal=True, **empty,
                 format_func=lambda v: f"{v} · {anchors.get(v, '')}".rstrip(" ·"), **common)
    elif q.type == "yes_no_na":
        names = {"yes": "Yes", "no": "No", "na": "Not applicable"}
        st.radio(label, list(q.choices), horizontal=True, **empty, format_func=lambda v: names.get(v, v), **common)
    elif q.type == "single_choice":
        labels = {o.value: o.label for o in q.options}
        st.radio(label, list(labels), **empty, format_func=lambda v: labels.get(v, v), **common)
    elif q.type == "multiple_choice":
        labels = {o.value: o.label for o in q.options}
        st.multiselect(label, list(labels), format_func=lambda v: labels.get(v, v), **common)
    elif q.type == "number":
        number: dict[str, Any] = {"min_value": q.min, "max_value": q.max, "step": 1 if q.integer else None,
                                  **({} if empty == {} else {"value": None})}
        st.number_input(f"{label}{f' ({q.unit})' if q.unit else ''}", **number, **common)
    else:
        st.text_area(label, **common)


def render_form(template: Any, review_id: str, response: Any, *, disabled: bool) -> None:
    """Every section and question of ``template``, pre-filled from ``response`` (the loaded draft)."""
    answers = dict(response.answers) if response is not None else {}
    for section in template.sections:
        st.markdown(f"#### {section.title}")
        if section.description:
            st.caption(section.description)
        for q in section.questions:
            raw = answers.get(q.id)
            current = raw.get("value") if isinstance(raw, dict) else raw
            _widget(template, q, review_id, current, disabled=disabled)
            for evidence_id in q.evidence:
                page = page_for_evidence(evidence_id)
                if page:
                    link(page, f"Evidence: {evidence_id}", icon=":material/open_in_new:")
                else:
                    st.caption(f"Evidence: {evidence_id}")
