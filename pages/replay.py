"""Shadow replay, canary simulation and post-promotion monitoring (workbench.replay)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from workbench import replay
from workbench_ui import context, registry_panel, review, widgets
from workbench_ui import replay_views as rv
from workbench_ui.feedback import guard

ACK_ROLES = ("operations", "admin")
RECORD_ROLES = ("operations", "data_scientist", "admin")

user = context.require_user()
data, review_id = review.require_review()
st.title("Shadow, canary & monitoring")
st.write("The manifest's timestamped traffic replayed window by window through both models as if in production "
         "(shadow mode), a staged canary rollout checked against guardrails, and the production batches and alerts "
         "recorded after promotion.")

result: dict[str, Any] | None = None
stored: dict[str, Any] = {}
if data.manifest.data.replay is None:
    st.info("This review has no replay traffic (manifest `data.replay`): add timestamped production-like rows to "
            "run a shadow replay and canary simulation.", icon=":material/info:")
else:
    with guard("read the replay in the evidence"):
        # per-window detail from the stored evidence; the full replay only on demand (older evidence)
        stored = review.evidence(data, review_id).get("replay") or {}
        result = rv.stored_replay(stored)
    if result is None and (rv.has_replay(data) or st.button(
            "Run the shadow replay", key="run_replay", icon=":material/play_arrow:",
            help="This evidence holds no per-window detail: replay the traffic through both models (seconds).")):
        with guard("replay the traffic"):
            result = rv.replay(data)

if result is not None:
    # The canary and summary the decision uses are the evidence's (same run_replay, same seed).
    windows = result["windows"]
    summary = stored["summary"] if stored.get("status") == "ok" else result["summary"]
    canary = stored["canary"] if stored.get("status") == "ok" else result["canary"]
    roles = [r for r in ("candidate", "baseline") if r in windows[0]["models"]] if windows else []
    halted = canary["halted_at"] if canary else None
    cols = st.columns(5)
    cols[0].metric("Windows", f"{summary['windows']} × {result['settings']['window']}",
                   help=f"{summary['rows']:,} rows replayed")
    cols[1].metric("Decision agreement", widgets.fmt(summary["agreement_rate"]))
    cols[2].metric("Rows not scored", " / ".join(f"{summary['errors'][r]:,}" for r in roles),
                   help=" / ".join(roles) + ": rows a model raised on or scored as NaN")
    cols[3].metric("Worst window PSI", widgets.fmt(summary["max_window_psi"]))
    cols[4].metric("Data-quality findings", widgets.fmt(summary["data_quality_findings"]))

    st.subheader("Canary rollout")
    if canary is None:
        st.caption("No canary was simulated (no candidate model).")
    else:
        stages = " → ".join(f"{s:g}%" for s in canary["guardrails"]["stages"])
        if canary["status"] == "halted":
            assert halted is not None  # a halted canary names where it halted
            # a halted canary is a finding of the review, not an error of the app: warning, not st.error
            breaches = "; ".join(f"{b['guardrail']} {widgets.fmt(b['value'])} breaches the limit {widgets.fmt(b['limit'])}"
                                 for b in halted["breaches"])
            st.warning(f"**Halted at the {halted['stage_percent']:g}% stage** (window {halted['window']}, "
                       f"{halted['start'][:10]} to {halted['end'][:10]}): {breaches}. "
                       f"**Recommendation:** {canary['recommendation'].split(':')[0]}.", icon=":material/cancel:")
            st.dataframe(pd.DataFrame(halted["breaches"]).drop(columns="breached", errors="ignore"),
                         hide_index=True, width="stretch", key="canary_breaches")
        else:
            st.success(f"Completed every stage ({stages}). Recommendation: {canary['recommendation']}.",
                       icon=":material/check_circle:")
        widgets.chart(rv.timeline_figure(canary, windows), key="canary_chart")
        g = canary["guardrails"]
        st.caption(f"Stages {stages}, {canary['windows_per_stage']} window(s) each. Guardrails: error rate ≤ "
                   f"{g['max_error_rate']:g}, latency p95 ≤ {g['max_latency_p95_ms'] or '—'} ms, input PSI ≤ "
                   f"{g['max_psi'] or '—'}, {g['performance_metric']} drop vs baseline ≤ {g['max_performance_drop'] or '—'} "
                   f"(once ≥ {g['min_labelled']} labelled routed rows).")
        with st.expander("Guardrail checks per window"):
            st.dataframe(rv.timeline_frame(canary), hide_index=True, width="stretch", key="canary_timeline")

    rv.fallback_section(result.get("fallback"))

    st.subheader("Shadow comparison per window")
    name = st.selectbox("Series", list(rv.SERIES), format_func=lambda k: rv.SERIES[k][0], key="replay_series")
    widgets.chart(rv.series_figure(windows, name, roles, halted_window=halted["window"] if halted else None),
                  key="replay_series_chart")
    unlabelled = [w["start"][:10] for w in windows if (w.get("performance") or {}).get("reason")]
    if unlabelled and rv.SERIES[name][2] and name in ("roc_auc", "accuracy", "brier_score"):
        st.caption(f"No performance for windows starting {', '.join(unlabelled)}: labels not yet available.")

    st.subheader("Input drift per window")
    psi = rv.psi_frame(windows)
    limit = canary["guardrails"]["max_psi"] if canary else None
    ordered = rv.worst_first(psi, summary["max_psi"])
    widgets.chart(rv.psi_heatmap(psi, ordered, limit=limit), key="psi_heatmap")
    major = summary["major_drift_windows"]
    if major:
        st.warning("Major drift: " + "; ".join(
            f"**{f}** in window(s) {', '.join(str(i) for i in idx)} (from {windows[idx[0]]['start'][:10]})"
            for f, idx in sorted(major.items(), key=lambda kv: kv[1][0])), icon=":material/warning:")
    feature = st.selectbox("Feature", ordered, key="replay_drift_feature")
    widgets.chart(rv.psi_line(psi, feature, limit=limit), key="psi_line")

    st.subheader("Decision flips by group")
    by_group: dict[str, Any] = next((w["flips"]["by_group"] for w in windows if w.get("flips")), {})
    columns = [c for c in data.sensitive_features if c in by_group] + [c for c in by_group if c not in data.sensitive_features]
    if columns:
        column = st.selectbox("Group by", columns, key="flip_column",
                              format_func=lambda c: f"{c} (sensitive)" if c in data.sensitive_features else c)
        assert column is not None  # a select box with options and no empty choice
        flips = rv.flips_frame(windows, column)
        st.dataframe(flips, hide_index=True, width="stretch", key="flip_table",
                     column_config={"flip rate": st.column_config.NumberColumn(format="%.3f")})
        st.caption("A flip is a row where the candidate's decision differs from the baseline's, summed over all windows.")

    findings = [{"window": w["index"], **f} for w in windows for f in w["data_quality"]["findings"]]
    if findings:
        with st.expander(f"Data-quality findings ({len(findings)})"):
            st.dataframe(pd.DataFrame(findings).astype(str), hide_index=True, width="stretch", key="dq_table")

st.subheader("Monitoring after promotion")
if any(r in user.roles for r in RECORD_ROLES):
    with st.expander("Record a production batch", icon=":material/upload:"):
        upload = st.file_uploader("Scored production rows (CSV or Parquet): the manifest's feature columns, "
                                  "the timestamp column and, where known, the label", type=["csv", "parquet"],
                                  key="monitor_upload")
        if st.button("Record the batch", key="monitor_record", disabled=upload is None):
            assert upload is not None  # the button is disabled until a file is chosen
            with guard("record the production batch"):
                recorded = replay.record_batch(data, upload.name, upload.getvalue(), store=context.store(),
                                                actor=user.user)
                st.session_state["monitor_recorded"] = (
                    f"Batch {recorded['batch_id']} {'recorded' if recorded['new_batch'] else 'was already recorded'}"
                    f" ({upload.name}); {len(recorded['alerts'])} alert(s).")
        if st.session_state.get("monitor_recorded"):
            st.success(st.session_state["monitor_recorded"], icon=":material/check:")
with guard("show the monitoring history"):
    store = context.store()
    sched = replay.review_schedule_for(store, data, review_id)
    status = sched["status"]
    text = {"no_cadence": "no review cadence set (manifest readiness.monitoring.cadence_days)",
            "scheduled": f"next periodic review {sched.get('next_review')} (every {sched['cadence_days']} days)",
            "due": f"periodic review due by {sched.get('next_review')}",
            "overdue": f"periodic review OVERDUE by {sched.get('days_overdue')} days (was due {sched.get('next_review')})"}
    widgets.badge({"overdue": "FAIL", "due": "WARN"}.get(status, "ok"), text[status])
    if sched["post_implementation_reviews"]:
        st.caption("Post-implementation reviews: " + ", ".join(f"{p['date']} ({p['status']})"
                                                                for p in sched["post_implementation_reviews"]))
    history = replay.monitoring_history(store, review_id)
    if history:
        st.dataframe(pd.DataFrame([{
            "batch": h["batch_id"], "window": f"{h['window_start'][:10]} – {h['window_end'][:10]}", "rows": h["rows"],
            "max PSI": widgets.fmt(h["max_psi"]), "candidate ROC AUC": widgets.fmt(h["roc_auc"]),
            "recorded": f"{h['recorded_at'][:16]} by {h['recorded_by']}"} for h in history]),
            hide_index=True, width="stretch", key="batch_table")
    else:
        st.caption("No production batches recorded yet: record one above (operations, data scientists) or run "
                   "`workbench monitor review.yaml --batch NEW.parquet`.")
    series = replay.monitoring_timeseries(store, data)
    if series["rereview"]:
        st.warning("**Re-review recommended** (opened " + series["rereview"]["opened_at"][:10] + "): " + "; ".join(
            r["reason"] for r in series["rereview"]["reasons"]), icon=":material/event_repeat:")
    if series["series"]:
        signal = st.selectbox("Monitored signal", list(series["series"]), key="monitor_signal",
                              format_func=lambda k: series["series"][k]["label"])
        widgets.chart(rv.monitoring_figure(series["series"][signal]), key="monitor_chart")
    rv.feedback_form(data, store, user)
    signals = replay.feedback_signals(data, store=store)
    if signals["records"]:
        st.dataframe(rv.feedback_frame(signals), hide_index=True, width="stretch", key="feedback_table")
    alerts = store.list_alerts(review_id)
    may_ack = any(r in user.roles for r in ACK_ROLES)
    for a in alerts:
        state = f"acknowledged by {a.acknowledged_by}" if a.acknowledged_at else "open"
        line = f"{widgets.status_text('FAIL' if a.severity == 'critical' else 'WARN')} **{a.rule}** — {a.message} ({state})"
        left, right = st.columns([5, 1])
        left.markdown(line)
        if a.acknowledged_at is None and may_ack and right.button("Acknowledge", key=f"ack_{a.alert_id}"):
            with guard("acknowledge the alert"):
                store.acknowledge_alert(a.alert_id, actor=user.user, comment="acknowledged in the app")
                st.rerun()
    if alerts and not may_ack:
        st.caption("Alerts are acknowledged by operations or an admin.")
    elif not alerts:
        st.caption("No alerts.")

registry_panel.rollback(data, user)
