"""Text alternatives for the packet's charts: an alt text that says what each chart shows,
and the numbers behind every chart as tables in a "Chart data" section.

A screen reader gets nothing from a PNG; these two give a reader who cannot see the chart
the same facts (PDF/UA-1 and WCAG 1.1.1). Both are derived from the :class:`ChartSpec`
alone, so the PDF and the HTML packet say the same thing and no section builder has to
write its own description.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.report._model import Chart, ChartRow, ChartSpec, Heading, Packet, Para, Section, Series, Table, fmt

CHART_DATA_ID = "chart-data"
CHART_DATA_TITLE = "Chart data"
#: Curves are read off at these x positions in the data tables (linear interpolation between
#: the plotted points): eleven rows say what the curve does without hundreds of points.
CURVE_GRID = tuple(i / 10 for i in range(11))

_KIND_WORDS = {"curve": "Line chart", "reliability": "Reliability diagram (line chart)", "bars": "Horizontal bar chart"}


def iter_chart_specs(packet: Packet) -> Iterable[ChartSpec]:
    """Every distinct chart of the packet, in reading order (the numbering of the data tables)."""
    seen: set[ChartSpec] = set()
    for section in packet.sections:
        for block in section.blocks:
            charts = block.charts if isinstance(block, ChartRow) else (block,) if isinstance(block, Chart) else ()
            for chart in charts:
                if chart.spec not in seen:
                    seen.add(chart.spec)
                    yield chart.spec


def _interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float | None:
    pts = sorted(zip(xs, ys, strict=False))
    if not pts or x < pts[0][0] or x > pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return pts[-1][1]


def _series_summary(spec: ChartSpec, s: Series) -> str:
    if spec.kind == "bars":
        pairs = [(c, v) for c, v in zip(spec.categories, s.y, strict=False)]
        if not pairs:
            return f"{s.label}: no values"
        hi = max(pairs, key=lambda p: p[1])
        lo = min(pairs, key=lambda p: p[1])
        return f"{s.label}: highest {hi[0]} {fmt(hi[1])}, lowest {lo[0]} {fmt(lo[1])}"
    if not s.y:
        return f"{s.label}: no points"
    if spec.kind == "reliability":
        gap = max(abs(y - x) for x, y in zip(s.x, s.y, strict=False))
        return f"{s.label}: {len(s.y)} bins, largest gap from the diagonal {fmt(gap)}"
    return f"{s.label}: {len(s.y)} points from ({fmt(s.x[0])}, {fmt(s.y[0])}) to ({fmt(s.x[-1])}, {fmt(s.y[-1])})"


def chart_alt(spec: ChartSpec, number: int) -> str:
    """The alt text of chart ``number``: kind, title, axes, one summary per series, where the data is.

    Examples
    --------
    >>> spec = ChartSpec("bars", "Selection rate by sex", "selection rate", "",
    ...                  (Series("candidate", "candidate", (), (0.31, 0.42)),), categories=("F", "M"))
    >>> chart_alt(spec, 3)
    'Horizontal bar chart: Selection rate by sex. selection rate for each of 2 categories. candidate: highest M 0.420, lowest F 0.310. The numbers are in table C3 of the Chart data section.'
    """
    head = f"{_KIND_WORDS.get(spec.kind, 'Chart')}: {spec.title}."
    if spec.kind == "bars":
        axes = f"{spec.xlabel} for each of {len(spec.categories)} categories."
    else:
        axes = f"{spec.ylabel} against {spec.xlabel}" + (", with the diagonal for reference." if spec.diagonal else ".")
    summaries = "; ".join(_series_summary(spec, s) for s in spec.series) or "no series"
    return f"{head} {axes} {summaries}. The numbers are in table C{number} of the {CHART_DATA_TITLE} section."


def chart_table(spec: ChartSpec, number: int) -> Table:
    """The numbers a chart shows, one row per category (bars) or per x position (curves).

    Examples
    --------
    >>> t = chart_table(ChartSpec("curve", "ROC", "FPR", "TPR", (Series("cand", "candidate", (0, 1), (0, 1)),)), 1)
    >>> t.header, t.rows[5]
    (('FPR', 'cand'), ('0.500', '0.500'))
    """
    names = tuple(s.label for s in spec.series)
    if spec.kind == "bars":
        rows = []
        for i, cat in enumerate(spec.categories):
            cells = [cat]
            for s in spec.series:
                v = s.y[i] if i < len(s.y) else None
                text = fmt(v)
                if v is not None and s.err_low is not None and s.err_high is not None:
                    text += f" [{fmt(s.err_low[i])}, {fmt(s.err_high[i])}]"
                cells.append(text)
            rows.append(tuple(cells))
        return Table(("Category", *names), tuple(rows), caption=f"Table C{number}: {spec.title} ({spec.xlabel}).")
    if spec.kind == "reliability":
        rows = []
        for s in spec.series:
            rows += [(s.label, fmt(x), fmt(y)) for x, y in zip(s.x, s.y, strict=False)]
        return Table(("Series", spec.xlabel, spec.ylabel), tuple(rows),
                     caption=f"Table C{number}: {spec.title}, one row per probability bin.")
    rows = [(fmt(x), *(fmt(_interp(s.x, s.y, x)) for s in spec.series)) for x in CURVE_GRID]
    return Table((spec.xlabel, *names), tuple(rows),
                 caption=f"Table C{number}: {spec.title}, {spec.ylabel.lower()} read off the curve at "
                         f"{spec.xlabel.lower()} 0 to 1 in steps of 0.1 (— where the curve has no point).")


def chart_data_section(packet: Packet) -> Section | None:
    """The section that restates every chart as a table; ``None`` when the packet has no chart."""
    blocks: list[Heading | Para | Table] = []
    for number, spec in enumerate(iter_chart_specs(packet), start=1):
        blocks.append(Heading(f"C{number}. {spec.title}"))
        blocks.append(chart_table(spec, number))
    if not blocks:
        return None
    intro = Para("Every chart in this packet restated as numbers, in the order the charts appear, "
                 "for readers who cannot see the charts.", "note")
    return Section(CHART_DATA_ID, CHART_DATA_TITLE, (intro, *blocks))


def chart_numbers(packet: Packet) -> dict[ChartSpec, int]:
    """Chart → its number in the Chart data section."""
    return {spec: n for n, spec in enumerate(iter_chart_specs(packet), start=1)}
