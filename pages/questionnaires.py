"""Questionnaires: the forms assigned to your roles (draft saved on every answer), and everyone's answers."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from workbench.questionnaires import load_templates, score_questionnaire, submit
from workbench_ui import context, review, widgets
from workbench_ui import questionnaire_form as form
from workbench_ui.feedback import guard

user = context.require_user()
data, review_id = review.require_review()
store = context.store()
st.title("Questionnaires")


@st.cache_resource(show_spinner=False)
def _templates() -> dict:
    return load_templates()


templates = _templates()
mine = {tid: t for tid, t in templates.items() if set(t.roles) & set(user.roles)}
answer_tab, overview_tab = st.tabs(["Answer", "All reviewers"])

with answer_tab:
    form.show_notice()
    if not mine:
        st.info(f"No questionnaire is assigned to your roles ({', '.join(user.roles)}); see **All reviewers**.")
    else:
        tid = st.selectbox("Questionnaire", list(mine), format_func=lambda t: mine[t].title, key="questionnaire_choice")
        template = mine[tid]
        with guard("open your response"):
            response = store.get_response(review_id, tid, user.name)
            st.session_state[form.version_key(tid)] = response.version if response is not None else None
            st.write(template.description)
            status = response.status if response is not None else "not started"
            st.caption(f"Answered by: {', '.join(template.roles)} · your response: **{status}**"
                       + (f" (version {response.version}, saved {response.updated_at[:16]})" if response else "")
                       + " · every answer is saved as a draft the moment you give it.")
            submitted = response is not None and response.status == "submitted"
            form.render_form(template, review_id, response, disabled=submitted)
            if submitted:
                assert response is not None  # submitted: there is a response
                st.success(f"Submitted on {(response.submitted_at or '')[:16]}. Revise to change an answer.",
                           icon=":material/task_alt:")
                reason = st.text_input("Reason for revising", key=f"revise_reason_{tid}")
                if st.button("Revise my answers", key=f"revise_{tid}", disabled=not reason):
                    from workbench.questionnaires import revise

                    revise(store, template, review_id, user.user, reason=reason, actor=user.user)
                    st.rerun()
            elif st.button("Submit", type="primary", key=f"submit_{tid}", disabled=response is None):
                assert response is not None  # the button is disabled without a response
                with guard("submit the questionnaire"):
                    submit(store, template, review_id, user.user, expected_version=response.version)
                    st.toast("Submitted", icon=":material/task_alt:")
                    st.rerun()

with overview_tab:
    with guard("aggregate the responses"):
        roles = {u.name: tuple(u.roles) for u in store.list_users()}
        tid = st.selectbox("Questionnaire", list(templates), format_func=lambda t: templates[t].title, key="overview_choice")
        score = score_questionnaire(templates[tid], store.list_responses(review_id, tid), roles=roles)
        widgets.badge(score.verdict, f"Verdict: {score.verdict}")
        st.markdown(f"Score **{widgets.fmt(score.score)}** (pass at {templates[tid].verdict.pass_at}) · submitted by "
                    f"{', '.join(score.reviewers) or 'nobody yet'} · in progress: {', '.join(score.in_progress) or 'none'}")
        for reason in score.reasons:
            st.caption(reason)
        for b in score.blocking:
            st.error(f"Blocking answer to **{b.question_id}** by {b.reviewer}: {b.answer}"
                     + (f" — {b.comment}" if b.comment else "") + (" (waived)" if b.waived else ""), icon=":material/block:")
        rows = [{"question": q.question_id, "answered": q.n_answered, "answers": ", ".join(f"{r}: {a}" for r, a in q.answers),
                 "mean": widgets.fmt(q.mean, 2), "score": widgets.fmt(q.score, 2),
                 "flag": "; ".join(x for x in ("BLOCKING" if q.blocking else "", f"DISAGREEMENT: {q.disagreement_reason}" if q.disagreement else "",
                                               "below minimum" if q.below_minimum else "") if x)}
                for q in score.questions]
        table = pd.DataFrame(rows)
        st.dataframe(table.style.apply(lambda r: ["background-color: #FBE3D6" if r["flag"] else ""] * len(r), axis=1)
                     if len(table) else table, hide_index=True, width="stretch", key="aggregate_table")
