"""One number formatter and one label table: the app, the PDF and the HTML print a number alike."""

from __future__ import annotations

import pytest

from workbench import formatting
from workbench.metrics import TASKS, metric_label, metrics_for


def test_app_pdf_and_html_share_one_formatter_and_one_label_table() -> None:
    from workbench.report import _model as report_model
    from workbench_ui import widgets

    assert widgets.fmt is formatting.fmt is report_model.fmt
    assert widgets.fmt_ci is formatting.fmt_metric is report_model.fmt_metric
    assert widgets.label is formatting.label is report_model.label is metric_label


@pytest.mark.parametrize("value, text", [(1e-4, "1.0e-04"), (0.0, "0.000"), (0.81234, "0.812"), (-2e-5, "-2.0e-05"),
                                         (1234.5, "1,234"), (7, "7"), (None, "—"), (float("nan"), "—")])
def test_small_numbers_never_read_as_zero(value, text) -> None:
    assert formatting.fmt(value) == text


def test_every_registered_metric_has_a_readable_label() -> None:
    for task in TASKS:
        for name in metrics_for(task):
            text = metric_label(name)
            assert text and "_" not in text
