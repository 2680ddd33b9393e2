"""Metrics per slice: each value of a categorical column, each quantile band of a numeric one.

Every slice reuses the metric machinery of the registry (``BinaryPrepared`` and friends, the
same per-row columns and rank statistics as the main evidence), and its CI comes from the
same counter-based Poisson replicates: replicate ``r`` gives row ``i`` the same weight here as
in the model-level bootstrap, so slice CIs and global CIs are consistent. For each chunk of
replicates the counts are generated once for all rows; a slice takes its columns of the
counts and one matrix product gives all its linear sums.

Slices with fewer than ``min_size`` rows are reported with point values only and
``insufficient_data: true``. Results are ordered worst first by the first requested metric
(by its direction), then slices without a defined value, then insufficient slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import DataError
from workbench.metrics import _registry as R
from workbench.metrics._assemble import metric_entry
from workbench.metrics._engine import default_chunk
from workbench.metrics.bootstrap import fill_poisson_counts

__all__ = ["slice_evidence", "slice_codes", "DEFAULT_SLICE_METRICS"]

DEFAULT_SLICE_METRICS = {
    "binary": ("accuracy", "roc_auc", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("mae", "rmse"),
}
MISSING = "<missing>"


def _is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def _band_label(lo: float, hi: float) -> str:
    return f"({lo:.6g}, {hi:.6g}]"


def slice_codes(series: pd.Series, *, categorical: bool, n_quantile_bands: int = 4) -> tuple[np.ndarray, list[str]]:
    """Integer slice code per row and the slice labels (missing values form their own slice).

    Examples
    --------
    >>> codes, labels = slice_codes(pd.Series([1.0, 2.0, 3.0, 4.0, None]), categorical=False,
    ...                             n_quantile_bands=2)
    >>> codes.tolist(), labels
    ([0, 0, 1, 1, 2], ['(-inf, 2.5]', '(2.5, inf]', '<missing>'])
    """
    missing = series.isna().to_numpy()
    if categorical:
        values = series.astype(object).where(~series.isna(), None)
        uniques = pd.unique(values[~missing])
        try:
            uniques = np.array(sorted(uniques), dtype=object)
        except TypeError:
            uniques = np.asarray(uniques, dtype=object)
        codes = pd.Index(list(uniques)).get_indexer(values)
        labels = [str(u) for u in uniques]
    else:
        x = series.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(x)
        finite = x[~missing]
        levels = np.arange(1, n_quantile_bands) / n_quantile_bands
        edges = np.unique(np.quantile(finite, levels)) if finite.size else np.array([])
        codes = np.searchsorted(edges, x, side="left")
        bounds = np.r_[-np.inf, edges, np.inf]
        labels = [_band_label(bounds[i], bounds[i + 1]) for i in range(edges.size + 1)]
    codes = np.where(missing, len(labels), codes)
    if missing.any():
        labels.append(MISSING)
    return codes.astype(np.int64), labels


def _prepare(task: str, y: np.ndarray, score: np.ndarray, threshold: float, n_classes: int | None):
    if task == "binary":
        from workbench.metrics._binary import BinaryPrepared

        return BinaryPrepared(y, score, threshold=threshold)
    if task == "multiclass":
        from workbench.metrics._multiclass import MulticlassPrepared

        return MulticlassPrepared(y, score, n_classes=n_classes)
    from workbench.metrics._regression import RegressionPrepared

    return RegressionPrepared(y, score)


def _bootstrap(preps: dict[int, Any], rows: dict[int, np.ndarray], n_rows: int, *, n_boot: int,
               seed: int) -> dict[int, dict[str, np.ndarray]]:
    """Replicates per slice; the counts of every replicate are generated once for all rows."""
    out: dict[int, dict[str, list[np.ndarray]]] = {k: {} for k in preps}
    if n_boot <= 0 or not preps:
        return {k: {} for k in preps}
    k = default_chunk(n_rows)
    counts = np.empty((k, n_rows), dtype=np.uint8)
    for start in range(0, n_boot, k):
        size = min(k, n_boot - start)
        c = fill_poisson_counts(counts[:size], seed=seed, start=start)
        for code, prep in preps.items():
            cs = c[:, rows[code]]
            sums = cs.astype(np.float32) @ prep.columns.astype(np.float32)
            for stat, v in prep.finalise(sums.astype(np.float64), cs).items():
                out[code].setdefault(stat, []).append(np.asarray(v))
    return {code: {s: np.concatenate(v) for s, v in stats.items()} for code, stats in out.items()}


def _sort_key(entry: dict[str, Any], metric: str, greater: bool) -> tuple:
    m = entry["metrics"].get(metric, {})
    value = m.get("value")
    if value is None:
        return (entry["insufficient_data"], 1, 0.0)
    return (entry["insufficient_data"], 0, value if greater else -value)


def slice_evidence(
    frame: pd.DataFrame,
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    features: Sequence[str],
    threshold: float = 0.5,
    task: Literal["binary", "multiclass", "regression"] = "binary",
    categorical: Sequence[str] | None = None,
    min_size: int = 200,
    n_quantile_bands: int = 4,
    metrics: Sequence[str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    n_classes: int | None = None,
) -> list[dict[str, Any]]:
    """Metrics with bootstrap CIs per slice of each feature, worst slice first.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows aligned with ``y_true`` and ``scores`` (e.g. the evaluation set).
    y_true, scores : numpy.ndarray
        Labels (binary: 0/1) and scores (binary: P(positive)) of one model.
    features : sequence of str
        Columns to slice by.
    min_size : int
        Slices with fewer rows get point values only and ``insufficient_data: true``.
    metrics : sequence of str, optional
        Registry metric names; default ``DEFAULT_SLICE_METRICS[task]``. The first orders the
        slices.

    Returns
    -------
    list of dict
        ``{feature, slice, n, insufficient_data, metrics: {name: {value, ci_low, ci_high,
        defined, reason?}}}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"g": ["a"] * 300 + ["b"] * 300})
    >>> y = rng.integers(0, 2, 600)
    >>> s = np.where(df["g"] == "a", y * 0.8 + 0.1, rng.random(600))
    >>> out = slice_evidence(df, y, s, features=["g"], n_boot=20)
    >>> [e["slice"] for e in out]
    ['b', 'a']
    """
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if len(frame) != y.shape[0] or s.shape[0] != y.shape[0]:
        raise DataError(f"slices: frame has {len(frame)} rows, y_true {y.shape[0]}, scores {s.shape[0]}; "
                        "pass rows that belong together")
    absent = [f for f in features if f not in frame.columns]
    if absent:
        raise DataError(f"slices: data lacks column(s) {absent}; fix the slice features")
    names = tuple(metrics or DEFAULT_SLICE_METRICS[task])
    greater = R.greater_is_better(names[0], task=task)
    cat = set(categorical) if categorical is not None else {f for f in features if _is_categorical(frame[f])}
    results: list[dict[str, Any]] = []
    for feature in features:
        codes, labels = slice_codes(frame[feature], categorical=feature in cat,
                                    n_quantile_bands=n_quantile_bands)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(labels) + 1))
        rows = {c: np.sort(order[bounds[c]:bounds[c + 1]]) for c in range(len(labels))}
        preps, points = {}, {}
        for code, idx in rows.items():
            if idx.size == 0:
                continue
            prep = _prepare(task, y[idx], s[idx], threshold, n_classes)
            points[code] = prep.point()
            if idx.size >= min_size:
                preps[code] = prep
        reps = _bootstrap(preps, rows, y.shape[0], n_boot=n_boot, seed=seed)
        for code, point in points.items():
            r = reps.get(code, {})
            results.append({
                "feature": feature, "slice": labels[code], "n": int(rows[code].size),
                "insufficient_data": code not in preps,
                "metrics": {m: metric_entry(point[m], r.get(m), confidence=confidence)
                            for m in names if m in point},
            })
    results.sort(key=lambda e: _sort_key(e, names[0], greater))
    return results
