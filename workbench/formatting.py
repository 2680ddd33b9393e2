"""One number formatter and one label table for every output people read: app, PDF and HTML.

Before this module the app printed 1e-4 as ``0.000`` and the PDF as ``1.0e-04``; now both call
:func:`fmt`. Labels come from the metric registry (``workbench.metrics.METRIC_LABELS``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from workbench.metrics import metric_label as label

__all__ = ["fmt", "fmt_metric", "fmt_p", "label", "metric_value"]


def fmt(value: Any, digits: int = 3) -> str:
    """A number for people: fixed decimals, thousands separators, ``—`` when missing.

    Values too small to show at ``digits`` decimals use scientific notation rather than reading
    as zero.

    Examples
    --------
    >>> fmt(0.81234), fmt(None), fmt(123456.7), fmt(True), fmt(1e-4), fmt(0.0)
    ('0.812', '—', '123,457', 'yes', '1.0e-04', '0.000')
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        v = float(value)
        if math.isnan(v):
            return "—"
        if isinstance(value, int) or (abs(v) >= 1000 and v.is_integer()):
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if v != 0 and abs(v) < 10 ** (-digits):
            return f"{v:.1e}"
        return f"{v:.{digits}f}"
    if isinstance(value, Mapping):
        return fmt_metric(value, digits)
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def metric_value(obj: Any) -> float | None:
    """The point value of a metric object ``{"value", ...}`` or of a bare number."""
    if isinstance(obj, Mapping):
        if obj.get("defined") is False:
            return None
        obj = obj.get("value")
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        return None
    return float(obj)


def fmt_metric(obj: Any, digits: int = 3) -> str:
    """``0.812 [0.804, 0.820]`` for a metric object, its reason when undefined.

    Examples
    --------
    >>> fmt_metric({"value": 0.8123, "ci_low": 0.8, "ci_high": 0.83})
    '0.812 [0.800, 0.830]'
    >>> fmt_metric({"value": None, "defined": False, "reason": "one class"})
    'undefined (one class)'
    """
    if not obj:
        return "—"
    if not isinstance(obj, Mapping):
        return fmt(obj, digits)
    if obj.get("defined") is False or obj.get("value") is None:
        reason = obj.get("reason")
        return f"undefined ({reason})" if reason else "—"
    text = fmt(obj.get("value"), digits)
    lo, hi = obj.get("ci_low"), obj.get("ci_high")
    if lo is not None and hi is not None:
        text += f" [{fmt(lo, digits)}, {fmt(hi, digits)}]"
    return text


def fmt_p(p: Any) -> str:
    """A p-value: ``< 0.001`` below it, three decimals above.

    Examples
    --------
    >>> fmt_p(0.0004), fmt_p(0.0312), fmt_p(None)
    ('< 0.001', '0.031', '—')
    """
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"
