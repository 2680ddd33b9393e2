"""Repeated looks at one threshold: alpha spending across monitoring windows (docs/POLICY.md, "Sequential monitoring").

Monitoring asks the same question of every window ("is the model still on the right side of its
threshold?"). Checked on each window's point value at a fixed level, the chance of at least one
false alarm grows with every look: on a signal that sits at its threshold, the point rule fires in
half the windows. The sequential rule spends a total false-alarm rate ``alpha`` over the whole
monitoring horizon instead:

* look ``k`` (the ``k``-th window, in window order, in which the signal has a value) may spend
  ``alpha_k = alpha / (k (k + 1))``; the ``alpha_k`` sum to ``alpha`` over an unbounded number of
  looks (``sum 1/(k(k+1)) = 1``), so no horizon needs to be fixed in advance and, by the union
  bound, the probability of any false alarm over all windows is at most ``alpha``;
* a window raises the alert only when its one-sided ``1 - alpha_k`` confidence bound lies beyond
  the threshold: for a floor ``L`` (higher is better) ``value + z_k * se < L``, for a ceiling
  ``U`` ``value - z_k * se > U``, with ``z_k`` the standard normal ``1 - alpha_k`` quantile.

The standard error ``se`` is the signal's own, under the null at the threshold where it is known
in closed form (a proportion ``L`` on ``n`` rows: ``sqrt(L (1 - L) / n)``; a ROC AUC ``L`` on
``n_pos`` positives and ``n_neg`` negatives: Hanley and McNeil's), else from the window's
bootstrap interval (fairness disparities: ``(ci_high - ci_low) / (2 z)``). A signal with no
standard error (PSI, latency) keeps the point rule, marked ``decision: "point"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import norm

__all__ = ["DEFAULT_FALSE_ALARM_RATE", "alpha_spent", "auc_standard_error", "critical_z", "look_numbers",
           "proportion_standard_error", "sequential_breach"]

DEFAULT_FALSE_ALARM_RATE = 0.05


def alpha_spent(look: int | np.ndarray, alpha: float) -> float | np.ndarray:
    """The false-alarm rate look ``k`` (1-based) may spend: ``alpha / (k (k + 1))``.

    Examples
    --------
    >>> alpha_spent(1, 0.05), round(float(sum(alpha_spent(k, 0.05) for k in range(1, 51))), 4)
    (0.025, 0.049)
    """
    k = np.asarray(look, dtype=np.float64)
    if np.any(k < 1):
        raise ValueError("looks are numbered from 1")
    out = alpha / (k * (k + 1))
    return float(out) if out.ndim == 0 else out


def critical_z(look: int | np.ndarray, alpha: float) -> float | np.ndarray:
    """The one-sided standard normal quantile look ``k`` must exceed.

    Examples
    --------
    >>> [round(critical_z(k, 0.05), 2) for k in (1, 5, 50)]
    [1.96, 2.94, 4.11]
    """
    z = norm.isf(alpha_spent(look, alpha))
    return float(z) if np.ndim(z) == 0 else z


def sequential_breach(value: float | np.ndarray, se: float | np.ndarray, limit: float, *, ceiling: bool,
                      look: int | np.ndarray, alpha: float) -> tuple[Any, Any]:
    """(breached, confidence bound) of one look (or arrays of looks, vectorised).

    The bound is the one-sided ``1 - alpha_k`` confidence bound on the safe side of the value:
    an upper bound for a floor, a lower bound for a ceiling.

    Examples
    --------
    >>> sequential_breach(0.70, 0.01, 0.74, ceiling=False, look=1, alpha=0.05)[0]
    True
    >>> sequential_breach(0.73, 0.01, 0.74, ceiling=False, look=1, alpha=0.05)[0]  # within noise
    False
    """
    z = critical_z(look, alpha)
    v, s = np.asarray(value, dtype=np.float64), np.asarray(se, dtype=np.float64)
    bound = v - z * s if ceiling else v + z * s
    breached = bound > limit if ceiling else bound < limit
    if np.ndim(breached) == 0:
        return bool(breached), float(bound)
    return breached, bound


def proportion_standard_error(limit: float, n: int) -> float | None:
    """Standard error of a proportion on ``n`` rows under the null at ``limit``.

    Examples
    --------
    >>> proportion_standard_error(0.8, 400)
    0.02
    """
    if n <= 0 or not 0.0 < limit < 1.0:
        return None
    return math.sqrt(limit * (1.0 - limit) / n)


def auc_standard_error(limit: float, n_pos: int, n_neg: int) -> float | None:
    """Hanley and McNeil's (1982) standard error of a ROC AUC equal to ``limit``.

    Examples
    --------
    >>> round(auc_standard_error(0.75, 100, 300), 4)
    0.0305
    """
    if n_pos < 1 or n_neg < 1 or not 0.0 < limit < 1.0:
        return None
    a = limit
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def look_numbers(windows: Sequence[Mapping[str, Any]], names: Sequence[str],
                 has_value: Any) -> list[dict[str, int]]:
    """For each window (in window order), the look number of each signal that has a value in it.

    ``has_value(metrics, name)`` says whether the window's metrics hold the signal.

    Examples
    --------
    >>> hist = [{"x": 1}, {}, {"x": 2}]
    >>> look_numbers(hist, ["x"], lambda m, n: n in m)
    [{'x': 1}, {}, {'x': 2}]
    """
    seen = dict.fromkeys(names, 0)
    out = []
    for metrics in windows:
        looks = {}
        for name in names:
            if has_value(metrics, name):
                seen[name] += 1
                looks[name] = seen[name]
        out.append(looks)
    return out
