"""Every chart in the app comes with its numbers as a table (text alternative, WCAG 1.1.1)."""

from __future__ import annotations

import json

from tests.app.helpers import app, ok, spec
from workbench_ui.navigation import SECTIONS
from workbench_ui.widgets import figure_frame, line_figure


def test_figure_frame_tabulates_every_point_and_skips_the_reference_line() -> None:
    fig = line_figure({"candidate": ((0.0, 0.5, 1.0), (0.0, 0.8, 1.0)), "baseline": ((0.0, 1.0), (0.0, 1.0))},
                      x_title="False positive rate", y_title="True positive rate", title="ROC", diagonal=True)
    frame = figure_frame(fig)
    assert list(frame.columns) == ["series", "False positive rate", "True positive rate"]
    assert frame["series"].tolist() == ["candidate"] * 3 + ["baseline"] * 2
    assert frame["True positive rate"].tolist() == [0.0, 0.8, 1.0, 0.0, 1.0]


def test_every_chart_on_every_page_has_a_numbers_table_matching_it() -> None:
    pages = [path for items in SECTIONS.values() for path, _, _ in items if path != "pages/load.py"]
    charts = 0
    for page in pages:
        at = ok(app("alice", page=page))
        figures = at.get("plotly_chart")
        expanders = [e for e in at.expander if e.label.startswith("Numbers in ")]
        assert len(expanders) == len(figures), page
        for i, expander in enumerate(expanders):
            data = json.loads(spec(at, i))["data"]
            drawn = sum(len(t.get("y") or t.get("z") or []) for t in data if t.get("hoverinfo") != "skip")
            table = expander.dataframe[0].value
            assert len(table) >= min(1, drawn), page
        charts += len(figures)
    assert charts >= 6
