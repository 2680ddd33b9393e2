"""Regression metrics as weighted sums (MAE, RMSE, R², MAPE) and weighted quantiles.

R² uses the target centred on its unweighted mean before summing, so the total sum of
squares does not cancel catastrophically in float32 bootstrap sums. MAPE is computed over
rows whose target is non-zero (scikit-learn instead divides by ``max(|y|, eps)``); the number
of excluded rows is reported next to it. Quantiles of the absolute error use the
"averaged inverted CDF" definition that scikit-learn's weighted median uses (it equals
``numpy.median`` with unit weights).
"""

from __future__ import annotations

import numpy as np

from workbench.metrics import _spec as R

REGRESSION_METRICS: tuple[str, ...] = (
    "mae",
    "rmse",
    "r2",
    "median_absolute_error",
    "mape",
    "abs_error_p90",
    "abs_error_p95",
    "abs_error_p99",
)
_QUANTILES = {"median_absolute_error": 0.5, "abs_error_p90": 0.9, "abs_error_p95": 0.95, "abs_error_p99": 0.99}
_REASONS = {
    "r2": R.REASON_CONSTANT_TARGET,
    "mape": R.REASON_NO_NONZERO_TARGET,
}


def _div(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    out = np.full(a.shape, np.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def weighted_quantiles(sorted_values: np.ndarray, cum_weights: np.ndarray, q: float) -> np.ndarray:
    """Averaged-inverted-CDF quantile for each row of ``cum_weights`` (k, n) over sorted values."""
    k = cum_weights.shape[0]
    out = np.full(k, np.nan)
    n = sorted_values.size
    for r in range(k):
        c = cum_weights[r]
        total = c[-1] if n else 0
        if total <= 0:
            continue
        target = q * total
        lo = int(np.searchsorted(c, target, side="left"))
        lo = min(lo, n - 1)
        hi = int(np.searchsorted(c, target, side="right"))
        if c[lo] == target and hi < n:
            out[r] = (sorted_values[lo] + sorted_values[hi]) / 2
        else:
            out[r] = sorted_values[lo]
    return out


class RegressionPrepared:
    """Targets and predictions prepared once for point and replicate weightings."""

    def __init__(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        y = np.asarray(y_true, dtype=np.float64).ravel()
        p = np.asarray(y_pred, dtype=np.float64).ravel()
        if y.shape != p.shape:
            raise ValueError(f"y_pred has {p.size} rows, y_true has {y.size}")
        if not (np.isfinite(y).all() and np.isfinite(p).all()):
            raise ValueError("y_true and y_pred must be finite")
        self.n = y.size
        err = p - y
        abs_err = np.abs(err)
        yc = y - (y.mean() if y.size else 0.0)
        nonzero = y != 0
        ape = np.divide(abs_err, np.abs(y), out=np.zeros_like(y), where=nonzero)
        self.columns = np.column_stack([abs_err, err**2, yc, yc**2, ape, nonzero, np.ones_like(y)])
        self.order = np.argsort(abs_err, kind="stable")
        self.sorted_abs = abs_err[self.order]
        self.n_zero_targets = int((~nonzero).sum())

    def finalise(self, sums: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
        s = np.atleast_2d(np.asarray(sums, dtype=np.float64))
        ae, se, yc, yc2, ape, nz, tot = (s[:, i] for i in range(7))
        sst = yc2 - _div(yc**2, tot)
        out = {
            "mae": _div(ae, tot),
            "rmse": np.sqrt(_div(se, tot)),
            "r2": 1 - _div(se, np.where(sst > 1e-12 * np.maximum(yc2, 1e-300), sst, 0.0)),
            "mape": _div(ape, nz),
        }
        w = np.atleast_2d(weights)
        cum = np.cumsum(np.take(w, self.order, axis=1), axis=1, dtype=np.float64)
        for name, q in _QUANTILES.items():
            out[name] = weighted_quantiles(self.sorted_abs, cum, q)
        return {name: out[name] for name in REGRESSION_METRICS}

    def point(self, sample_weight: np.ndarray | None = None) -> dict[str, R.MetricValue]:
        w = R.as_weights(sample_weight, self.n)[None, :]
        values = self.finalise(w @ self.columns, w)
        return {
            name: R.MetricValue.of(values[name][0], _REASONS.get(name, R.REASON_NO_ROWS))
            for name in REGRESSION_METRICS
        }


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, *,
                       sample_weight: np.ndarray | None = None) -> dict[str, R.MetricValue]:
    """Every regression metric.

    Examples
    --------
    >>> m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.5, 2.0])
    >>> m["mae"].value, m["median_absolute_error"].value
    (0.5, 0.5)
    """
    return RegressionPrepared(y_true, y_pred).point(sample_weight)


def _single(name: str):
    def metric(y_true, y_score, *, threshold=None, sample_weight=None) -> R.MetricValue:
        return regression_metrics(y_true, y_score, sample_weight=sample_weight)[name]

    metric.__name__ = name
    return metric


for _name in REGRESSION_METRICS:
    R.register(
        R.MetricSpec(
            name=_name,
            task="regression",
            greater_is_better=_name == "r2",
            needs="scores",
            function=_single(_name),
        )
    )
