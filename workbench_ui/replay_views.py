"""Shadow replay, canary and monitoring for the app: the cached replay and its charts and tables.

The page reads the evidence's replay section (``stored_replay``: every window's detail is
stored with the evidence); ``replay(review)`` runs :func:`workbench.replay.run_replay` only on
demand, for evidence without that detail, once per evidence digest (process-wide
``st.cache_resource`` registry, behind a visible ``st.status``). The helpers below only reshape
its JSON (``windows[*]``, ``summary``, ``canary``) for plotly and dataframes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from workbench_ui import widgets

_lock = threading.Lock()
VERMILLION = "#D55E00"  # Okabe–Ito: guardrail limits and breaches

# series name -> (label, unit, per model?, getter(window, role) -> value or None)
SERIES: dict[str, tuple[str, str, bool, Any]] = {
    "agreement": ("Decision agreement rate", "share of rows", False, lambda w, r: w.get("agreement_rate")),
    "score_diff": ("Score difference candidate − baseline (median, 5th–95th percentile)", "probability", False,
                   lambda w, r: (w.get("score_difference") or {}).get("p50")),
    "roc_auc": ("ROC AUC (labelled rows)", "AUC", True, lambda w, r: ((w.get("performance") or {}).get(r) or {}).get("roc_auc")),
    "accuracy": ("Accuracy (labelled rows)", "share of rows", True,
                 lambda w, r: ((w.get("performance") or {}).get(r) or {}).get("accuracy")),
    "brier_score": ("Brier score (labelled rows, lower is better)", "Brier", True,
                    lambda w, r: ((w.get("performance") or {}).get(r) or {}).get("brier_score")),
    "latency_p95": ("Single-row latency p95", "ms", True, lambda w, r: w["models"][r]["latency_ms"]["p95"]),
    "errors": ("Rows the model failed to score", "rows", True, lambda w, r: w["models"][r]["errors"]),
    "mean_score": ("Mean score", "probability", True, lambda w, r: w["models"][r]["mean_score"]),
}


@st.cache_resource(show_spinner=False)
def _registry() -> dict[str, Any]:
    return {}


def replay(review: Any) -> dict[str, Any]:
    """Shadow replay + canary of the review (guardrails from the manifest), computed once per evidence digest."""
    from workbench.replay import CanaryGuardrails, run_replay

    reg, key = _registry(), review.evidence_digest
    if key in reg:
        return reg[key]
    with _lock:
        if key not in reg:
            m = review.manifest
            guardrails = CanaryGuardrails.from_manifest(m)
            label = f"Replaying the traffic through both models, {m.replay.window} windows (about 10–20 s) …"
            with st.status(label, expanded=False) as status:
                # Same guardrails and seed as the evidence's replay section, so the canary agrees with it.
                # No per-window status updates: a Streamlit call inside the loop would abort the replay
                # when the reviewer moves to another page, and the result would never be cached.
                reg[key] = run_replay(review, guardrails=guardrails, seed=m.settings.seed)
                status.update(label="Replay complete", state="complete")
    return reg[key]


def stored_replay(section: Mapping[str, Any]) -> dict[str, Any] | None:
    """The evidence's replay section when it holds every window's detail (None: replay on demand)."""
    windows = section.get("windows") if section.get("status") == "ok" else None
    if not windows or not all("models" in w and "drift" in w for w in windows):
        return None
    return dict(section)


def has_replay(review: Any) -> bool:
    """Whether this process already replayed the review's traffic (its result is cached)."""
    return review.evidence_digest in _registry()


def _x(windows: Sequence[Mapping[str, Any]]) -> list[str]:
    return [w["start"][:10] for w in windows]


def series_figure(windows: Sequence[Mapping[str, Any]], name: str, roles: Sequence[str],
                  *, halted_window: int | None = None) -> Any:
    """One per-window series (per model in its colour when it has one), with the halting window marked."""
    import plotly.graph_objects as go

    title, unit, per_model, get = SERIES[name]
    x = _x(windows)
    fig = go.Figure()
    if name == "score_diff":
        q = [w.get("score_difference") or {} for w in windows]
        fig.add_trace(go.Scatter(x=x + x[::-1], y=[d.get("p95") for d in q] + [d.get("p05") for d in q][::-1],
                                 fill="toself", fillcolor="rgba(0,114,178,0.15)", line={"width": 0},
                                 name="5th–95th percentile", hoverinfo="skip"))
    for role in (roles if per_model else ["both"]):
        y = [get(w, role) for w in windows]
        colour = widgets.ROLE_COLOURS.get(role, widgets.CANDIDATE if name == "score_diff" else widgets.NEUTRAL)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=role if per_model else title.split(" (")[0],
                                 line={"color": colour, "width": 2}, connectgaps=False))
    if halted_window is not None and halted_window < len(x):
        fig.add_vline(x=x[halted_window], line={"color": VERMILLION, "dash": "dash"})
        fig.add_annotation(x=x[halted_window], y=1, yref="paper", text="canary halted", showarrow=False,
                           font={"color": VERMILLION}, yanchor="bottom")
    fig.update_layout(title=title, xaxis_title="window start", yaxis_title=unit, height=340,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def psi_frame(windows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """PSI per feature (rows) and window start (columns)."""
    data = {w["start"][:10]: {f: e.get("psi") for f, e in w["drift"]["features"].items()} for w in windows}
    return pd.DataFrame(data)


def worst_first(frame: pd.DataFrame, max_psi: Mapping[str, float]) -> list[str]:
    """The PSI frame's features ordered by the replay summary's worst window PSI (``max_psi``);
    features without a PSI in any window last."""
    return sorted(frame.index, key=lambda f: (f not in max_psi, -max_psi.get(f, 0.0)))


def psi_heatmap(frame: pd.DataFrame, order: Sequence[str], *, limit: float | None) -> Any:
    """PSI per feature and window; the cells at or over the guardrail ``limit`` carry their value.

    Only those: a label in every cell (the demo's 200) made the page's switch 0.2–0.3 s slower in
    the browser (each is a text element plotly measures and places). Every value is in the hover
    and in the chart's table.
    """
    import plotly.graph_objects as go

    frame = frame.loc[list(order)]
    labels = frame.map(lambda v: f"{v:.2f}" if limit and pd.notna(v) and v >= limit else "").to_numpy()
    fig = go.Figure(go.Heatmap(z=frame.to_numpy(dtype=float), x=list(frame.columns), y=list(frame.index),
                               colorscale="Cividis", zmin=0, zmax=max(0.5, float(frame.max().max() or 0)),
                               colorbar={"title": "PSI"},
                               **({"text": labels, "texttemplate": "%{text}"} if (labels != "").any() else {}),
                               hovertemplate="%{y}, week of %{x}: PSI %{z:.3f}<extra></extra>"))
    fig.update_layout(title=f"Input drift per window (PSI; labelled: at or over the guardrail {limit:g})" if limit
                      else "Input drift per window (PSI)",
                      height=60 + 34 * len(frame), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      yaxis={"autorange": "reversed"})
    return fig


def psi_line(frame: pd.DataFrame, feature: str, *, limit: float | None) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=list(frame.columns), y=list(frame.loc[feature]), mode="lines+markers", name=feature,
                               line={"color": widgets.CANDIDATE, "width": 2}))
    if limit:
        fig.add_hline(y=limit, line={"color": VERMILLION, "dash": "dash"}, annotation_text=f"guardrail PSI {limit:g}")
    fig.update_layout(title=f"PSI of {feature} per window", xaxis_title="window start", yaxis_title="PSI", height=300,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def flips_frame(windows: Sequence[Mapping[str, Any]], column: str) -> pd.DataFrame:
    """Decision flips per group of ``column`` (``workbench.replay.flips_by_group``) as a table."""
    from workbench.replay import flips_by_group

    return pd.DataFrame(flips_by_group(windows, column))


def timeline_frame(canary: Mapping[str, Any]) -> pd.DataFrame:
    """One row per canary window: stage, routed rows and every guardrail check (value vs limit)."""
    rows = []
    for e in canary["timeline"]:
        row = {"window": e["window"], "start": e["start"][:10], "stage": f"{e['stage_percent']:g}%",
               "routed rows": e["routed_rows"]}
        for name, c in e["checks"].items():
            # a sequential check compares its confidence bound, not the value, with the limit
            shown = widgets.fmt(c["value"]) + (f" (bound {widgets.fmt(c['bound'])})"
                                               if c.get("decision") == "sequential" else "")
            row[name] = f"{shown} {'>' if c['breached'] else '≤'} {widgets.fmt(c['limit'])}" \
                if name != "agreement" else f"{shown} vs ≥ {widgets.fmt(c['limit'])}"
        row["result"] = "BREACH — halted" if any(c["breached"] for c in e["checks"].values()) else "ok"
        rows.append(row)
    return pd.DataFrame(rows)


def timeline_figure(canary: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> Any:
    """Planned and reached traffic share per window (by window start, like the other charts); the halt marked."""
    import plotly.graph_objects as go

    from workbench.replay import stage_index

    stages, per = canary["guardrails"]["stages"], canary["windows_per_stage"]
    x = _x(windows)
    planned = [stages[stage_index(i, per, len(stages))] for i in range(len(x))]
    reached = [e["stage_percent"] for e in canary["timeline"]]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=planned, mode="lines", line={"shape": "hv", "dash": "dot",
                             "color": widgets.NEUTRAL}, name="planned"))
    fig.add_trace(go.Scatter(x=[e["start"][:10] for e in canary["timeline"]], y=reached, mode="lines+markers",
                             line={"shape": "hv", "color": widgets.CANDIDATE, "width": 3}, name="candidate traffic reached"))
    halted = canary.get("halted_at")
    if halted:
        fig.add_trace(go.Scatter(x=[halted["start"][:10]], y=[halted["stage_percent"]], mode="markers+text",
                                 marker={"symbol": "x", "size": 16, "color": VERMILLION}, name="halted",
                                 text=[", ".join(b["guardrail"] for b in halted["breaches"]) + " breached"],
                                 textposition="top center", textfont={"color": VERMILLION}))
    fig.update_layout(title="Canary rollout: share of traffic on the candidate", xaxis_title="window start",
                      yaxis_title="% of traffic", yaxis={"range": [0, 110]}, height=320,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def monitoring_figure(entry: Mapping[str, Any]) -> Any:
    """One monitored signal over the live windows: value, its CI band where known, the threshold line."""
    import plotly.graph_objects as go

    pts = entry["points"]
    x = [p["window_start"][:16] for p in pts]
    fig = go.Figure()
    lo, hi = [p["ci_low"] for p in pts], [p["ci_high"] for p in pts]
    if any(v is not None for v in lo + hi):
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor="rgba(0,114,178,0.15)",
                                 line={"width": 0}, name="95% CI", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=[p["value"] for p in pts], mode="lines+markers", name=entry["label"],
                             line={"color": widgets.CANDIDATE, "width": 2}, connectgaps=False))
    if entry.get("threshold") is not None:
        fig.add_hline(y=entry["threshold"], line={"color": VERMILLION, "dash": "dash"},
                      annotation_text=f"threshold: {entry['direction']} {entry['threshold']:g}")
    fig.update_layout(title=entry["label"], xaxis_title="window start", height=320,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def feedback_frame(signals: Mapping[str, Any]) -> pd.DataFrame:
    """Contest and overturn rates per sensitive group (the feedback signals' table)."""
    return pd.DataFrame([{"group": f"{feature} = {group}", "decisions": e["decisions"], "contests": e["contests"],
                          "contest rate": e["contest_rate"], "overturned": e["overturned"],
                          "overturn rate": e["overturn_rate"], "complaints": e["complaints"], "praise": e["praise"]}
                         for feature, groups in signals["groups"].items() for group, e in groups.items()])


def feedback_form(review: Any, store: Any, user: Any) -> None:
    """Support staff record a contest, complaint or praise about one decision (stored and audited)."""
    from workbench.replay import add_feedback
    from workbench_ui.feedback import guard

    with st.expander("Record feedback on a decision (support staff)", icon=":material/forum:"):
        fid = st.text_input("Decision id", key="fb_id")
        kind = st.selectbox("Kind", ["contest", "complaint", "praise", "comment"], key="fb_kind")
        outcome = st.selectbox("Outcome", ["pending", "upheld", "overturned"], key="fb_outcome")
        text = st.text_area("What the person said", key="fb_text")
        if st.button("Record feedback", key="fb_record", disabled=not fid):
            with guard("record the feedback"):
                rec, created = add_feedback(review, store=store, actor=user.user, record_id=fid, kind=kind, text=text,
                                            outcome=outcome)
                state = "recorded" if created else "was already recorded"
                st.session_state["fb_recorded"] = (f"Feedback {rec.feedback_id} {state} (decision found in: "
                                                   f"{rec.links.get('found') or 'nowhere'}).")
        if st.session_state.get("fb_recorded"):
            st.success(st.session_state["fb_recorded"], icon=":material/check:")
    contest_reasons(store, store.review_id_for(review.manifest.name))


def contest_reasons(store: Any, review_id: str) -> None:
    """Recorded contests (pending first), each with the reason codes stored with it when it was recorded."""
    from workbench_ui.explain_panel import show_reason_codes

    if store.get_review(review_id) is None:
        return
    contests = sorted((r for r in store.list_feedback(review_id) if r.kind == "contest"),
                      key=lambda r: (r.outcome != "pending", -r.feedback_id))
    if not contests:
        return
    with st.expander(f"Answer a contest: the decision's reasons ({len(contests)} contest(s))",
                     icon=":material/gavel:"):
        by_id = {r.feedback_id: r for r in contests}
        chosen = st.selectbox("Contest", list(by_id), key="contest_pick",
                              format_func=lambda i: f"#{i} · decision {by_id[i].record_id} · {by_id[i].outcome}")
        rec = by_id[chosen]
        st.markdown("**What the person said:**")
        st.text(rec.text or "—")  # their words as typed, never read as markdown
        show_reason_codes(rec.links.get("reasons") or {}, key=f"contest_{chosen}")


def fallback_section(fb: Mapping[str, Any] | None) -> None:
    """The fallback simulation of the replay (manifest ``replay.fallback``): rate, added latency, kill switch."""
    if not fb:
        return
    st.subheader("Fallback to the baseline")
    cols = st.columns(4)
    cols[0].metric("Fallback rate", widgets.fmt(fb["fallback_rate"]), help=", ".join(
        f"{k.replace('_', ' ')} {v:,}" for k, v in fb["by_cause"].items()))
    cols[1].metric("Added latency (mean ms)", widgets.fmt(fb["added_latency_ms"]["mean"]))
    cols[2].metric("Worst window p95 added (ms)", widgets.fmt(fb["added_latency_ms"]["max_window_p95"]))
    cols[3].metric("Rows no model served", f"{fb['unserved_rows']:,}")
    widgets.badge("ok" if fb["within_guardrails"] else "FAIL",
                  "served decisions within the fallback guardrails" if fb["within_guardrails"] else
                  f"fallback guardrails breached in windows {fb['windows_breached']}")
    kill = fb.get("kill_switch")
    if kill:
        st.caption(f"Kill switch at the {kill['at_stage_percent']:g}% stage (window {kill['from_window']}): candidate "
                   f"served {kill['candidate_rows_before']:,} rows before and {kill['candidate_rows_after']:,} after; "
                   f"all traffic on the baseline: {kill['all_traffic_to_baseline']}.")
