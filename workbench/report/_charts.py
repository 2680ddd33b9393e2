"""Charts for the packet: matplotlib (Agg, no pyplot state) to PNG bytes in memory.

Candidate is always Okabe–Ito blue and baseline orange, with different line styles too, so
the charts stay readable in greyscale and for colour-blind readers. The PNG carries no
software tag or timestamp, so the same chart gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench.report._model import ROLE_COLOURS, Chart, ChartRow, ChartSpec, Packet

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType  # matplotlib itself is imported when a chart is drawn

_LINESTYLES = {"candidate": "-", "baseline": "--", "other": ":"}
_DPI = 150
_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 7,
    "svg.hashsalt": "workbench",
}


def chart_png(spec: ChartSpec, *, width_in: float = 3.6, height_in: float = 2.7) -> bytes:
    """Draw ``spec`` and return PNG bytes (deterministic for the same spec).

    Examples
    --------
    >>> from workbench.report._model import Series
    >>> png = chart_png(ChartSpec("curve", "t", "x", "y", (Series("c", "candidate", (0, 1), (0, 1)),)))
    >>> png[:4] == b"\\x89PNG"
    True
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_RC):
        if spec.kind == "bars":
            height_in = max(height_in, 0.9 + 0.28 * len(spec.categories) * max(1, len(spec.series)) / 1.6)
        fig = Figure(figsize=(width_in, height_in), dpi=_DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        if spec.kind == "bars":
            _bars(ax, spec)
        else:
            _lines(ax, spec)
        ax.set_title(spec.title)
        ax.set_xlabel(spec.xlabel)
        if spec.ylabel:
            ax.set_ylabel(spec.ylabel)
        if spec.series and spec.kind == "bars":
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16 * 2.7 / height_in - 0.05), ncol=len(spec.series),
                      frameon=False)
        elif spec.series:
            ax.legend(loc="lower right" if spec.diagonal else "lower left", frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


def _lines(ax, spec: ChartSpec) -> None:
    if spec.diagonal:
        ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle=":", label="_nolegend_")
    for s in spec.series:
        marker = "o" if spec.kind == "reliability" else None
        ax.plot(s.x, s.y, color=ROLE_COLOURS[s.role], linestyle=_LINESTYLES[s.role], linewidth=1.6,
                marker=marker, markersize=3, label=s.label)
    # Every line chart here plots rates or probabilities.
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)


def _bars(ax, spec: ChartSpec) -> None:
    n = max(1, len(spec.series))
    height = 0.8 / n
    cats = list(spec.categories)
    positions = range(len(cats))
    for i, s in enumerate(spec.series):
        ys = [p + (i - (n - 1) / 2) * height for p in positions]
        xerr = None
        if s.err_low is not None and s.err_high is not None:
            xerr = [[max(0.0, v - lo) for v, lo in zip(s.y, s.err_low, strict=False)],
                    [max(0.0, hi - v) for v, hi in zip(s.y, s.err_high, strict=False)]]
        ax.barh(ys, s.y, height=height * 0.95, color=ROLE_COLOURS[s.role], label=s.label,
                edgecolor="white", linewidth=0.3,
                xerr=xerr, error_kw={"elinewidth": 0.7, "ecolor": "#333333", "capsize": 1.5})
    ax.set_yticks(list(positions), cats)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    for ref in spec.reference_lines:
        ax.axvline(ref, color="#555555", linestyle=":", linewidth=0.8)


def iter_charts(packet: Packet) -> Iterable[Chart]:
    """Every chart block of the packet, in reading order."""
    for section in packet.sections:
        for block in section.blocks:
            if isinstance(block, Chart):
                yield block
            elif isinstance(block, ChartRow):
                yield from block.charts


def render_charts(packet: Packet) -> dict[ChartSpec, bytes]:
    """PNG bytes for every distinct chart of the packet (PDF and HTML share them)."""
    out: dict[ChartSpec, bytes] = {}
    for chart in iter_charts(packet):
        if chart.spec not in out:
            wide = chart.width > 0.6
            out[chart.spec] = chart_png(chart.spec, width_in=6.8 if wide else 3.6)
    return out
