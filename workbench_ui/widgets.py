"""Shared widgets: colours, number formatting, metric tables with CIs, status badges, charts.

Only formatting happens here: every number is read from the evidence or decision JSON that
``workbench`` produced. Colours are Okabe–Ito (colour-blind safe) and never carry meaning alone:
statuses and readings always come with their word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
import streamlit as st

from workbench import formatting, metrics

CANDIDATE = "#0072B2"  # Okabe–Ito blue
BASELINE = "#E69F00"  # Okabe–Ito orange
ROLE_COLOURS = {"candidate": CANDIDATE, "baseline": BASELINE}
NEUTRAL = "#999999"
NAN = float("nan")  # plotly draws missing values (e.g. a missing feature value) without a colour

#: The colours st.badge accepts.
BadgeColour = Literal["red", "orange", "yellow", "blue", "green", "violet", "gray", "grey", "primary"]

# status → (streamlit badge colour, icon); text is always shown next to the colour
STATUS_STYLE: dict[str, tuple[BadgeColour, str]] = {
    "PASS": ("green", ":material/check_circle:"),
    "FAIL": ("red", ":material/cancel:"),
    "WARN": ("orange", ":material/warning:"),
    "WAIVED": ("violet", ":material/approval:"),
    "MISSING": ("gray", ":material/help:"),
    "INCONCLUSIVE": ("blue", ":material/pending:"),
    "GO": ("green", ":material/check_circle:"),
    "NO-GO": ("red", ":material/cancel:"),
    "PENDING": ("orange", ":material/hourglass_top:"),
    "CONCERN": ("orange", ":material/warning:"),
    "ok": ("green", ":material/check_circle:"),
    "stale": ("orange", ":material/history:"),
    "fresh": ("green", ":material/check_circle:"),
    "missing": ("gray", ":material/help:"),
    "rejected": ("red", ":material/cancel:"),
}

# One formatter and one label table for app, PDF and HTML (workbench.formatting, workbench.metrics).
fmt = formatting.fmt
fmt_p = formatting.fmt_p
fmt_ci = formatting.fmt_metric
label = formatting.label
METRIC_LABELS = metrics.METRIC_LABELS


def badge(status: str, text: str | None = None) -> None:
    colour, icon = STATUS_STYLE.get(status, ("gray", ":material/help:"))
    st.badge(text or status, color=colour, icon=icon)


def status_text(status: str) -> str:
    """Markdown badge for use inside text (colour + word)."""
    colour, _ = STATUS_STYLE.get(status, ("gray", ""))
    return f":{colour}-badge[{status}]"


READING_TEXT = {"better": "better", "worse": "worse", "non_inferior": "not worse (within the margin)",
                "inferior": "worse beyond the margin", "inconclusive": "no clear difference", None: "—"}


def rows_needed_text(criterion: Any) -> str:
    """The rows that would settle an INCONCLUSIVE criterion (``CriterionResult.rows_needed``), as text."""
    if criterion.status != "INCONCLUSIVE":
        return ""
    return f"{criterion.rows_needed:,}" if criterion.rows_needed is not None else "no row count settles it"


def comparison_frame(evidence: Mapping[str, Any], metrics: Sequence[str], *, section: str = "metrics") -> pd.DataFrame:
    """Candidate, baseline (value [CI]) and the paired delta with its reading and p-value."""
    models = evidence.get("models", {})
    rows = []
    for name in metrics:
        key = name if section == "metrics" else f"{section}.{name}"
        delta = evidence.get("deltas", {}).get(key) or {}
        row = {"metric": label(name)}
        for role in ("candidate", "baseline"):
            if role in models:
                row[role] = fmt_ci(models[role].get(section, {}).get(name))
        if delta:
            row["Δ candidate − baseline [95% CI]"] = fmt_ci(delta)
            row["reading"] = READING_TEXT.get(delta.get("reading"), str(delta.get("reading")))
            row["p-value"] = fmt_p(delta.get("p_value"))
            # the smallest true difference this comparison finds four times in five
            row["MDE (80% power)"] = fmt(delta["mde"]) if delta.get("mde") is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def _reading_style(value: object) -> str:
    # colour supports the word, never replaces it
    if value == "better":
        return f"color: {CANDIDATE}; font-weight: 600"
    if value in ("worse", "worse beyond the margin"):
        return "color: #D55E00; font-weight: 600"  # Okabe–Ito vermillion
    return ""


def comparison_table(frame: pd.DataFrame, *, key: str | None = None) -> None:
    """Render a :func:`comparison_frame` with readings coloured by better / worse."""
    styled = frame.style.map(_reading_style, subset=["reading"]) if "reading" in frame else frame
    st.dataframe(styled, hide_index=True, width="stretch", key=key)


def line_figure(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, x_title: str, y_title: str,
                title: str, diagonal: bool = False, hover: str = "") -> Any:
    """Overlaid lines per role (candidate blue, baseline orange)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if diagonal:
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance / perfect",
                                 line={"color": NEUTRAL, "dash": "dot"}, hoverinfo="skip"))
    for role, (x, y) in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="lines", name=role,
                                 line={"color": ROLE_COLOURS.get(role, NEUTRAL), "width": 2},
                                 hovertemplate=hover or f"{role}<br>{x_title} %{{x:.3f}}<br>{y_title} %{{y:.3f}}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, height=380,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return fig


#: Rows shown in a chart's number table; beyond it the table says how many were left out.
CHART_TABLE_ROWS = 2_000


def figure_frame(fig: Any) -> pd.DataFrame:
    """The numbers a plotly figure draws, one row per point: series, x, y (and value for heatmaps).

    The text alternative of a chart (WCAG 1.1.1): a reader who cannot see the chart reads the
    same numbers. Nothing is computed here; the figure's own data is tabulated.
    """
    x_title = getattr(fig.layout.xaxis.title, "text", None) or "x"
    y_title = getattr(fig.layout.yaxis.title, "text", None) or "y"
    rows: list[dict[str, Any]] = []
    for trace in fig.data:
        if getattr(trace, "hoverinfo", None) == "skip":
            continue  # reference lines (the diagonal) carry no data
        name = trace.name or trace.type
        z = getattr(trace, "z", None)
        if z is not None:
            ys = list(trace.y) if trace.y is not None else list(range(len(z)))
            for i, row in enumerate(z):
                xs = list(trace.x) if trace.x is not None else list(range(len(row)))
                rows += [{"series": name, x_title: xv, y_title: ys[i], "value": v} for xv, v in zip(xs, row, strict=False)]
            continue
        ys = list(trace.y) if getattr(trace, "y", None) is not None else []
        xs = list(trace.x) if getattr(trace, "x", None) is not None else list(range(len(ys)))
        rows += [{"series": name, x_title: xv, y_title: yv} for xv, yv in zip(xs, ys, strict=False)]
    return pd.DataFrame(rows)


def chart(fig: Any, *, key: str | None = None) -> None:
    """A plotly chart followed by its numbers in a table (collapsed), for readers who cannot see it."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})
    frame = figure_frame(fig)
    if frame.empty:
        return
    title = getattr(fig.layout.title, "text", None) or "this chart"
    with st.expander(f"Numbers in {title} (table)", icon=":material/table:"):
        if len(frame) > CHART_TABLE_ROWS:
            st.caption(f"First {CHART_TABLE_ROWS:,} of {len(frame):,} points; every point is in the evidence JSON.")
        st.dataframe(frame.head(CHART_TABLE_ROWS), hide_index=True, width="stretch",
                     key=f"{key}_numbers" if key else None)


def not_available(evidence: Mapping[str, Any], section: str) -> bool:
    """Show why an evidence section is absent; True when there is nothing to draw."""
    info = evidence.get("sections", {}).get(section, {})
    status = info.get("status", "missing")
    if status in ("ok", "partial"):
        return False
    st.info(f"The **{section}** evidence is {status.replace('_', ' ')}: {info.get('reason', 'not computed for this review')}.",
            icon=":material/info:")
    return True
