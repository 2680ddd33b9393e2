"""Statistics behind :mod:`workbench.fairness`: group AUC (bootstrap or DeLong), slice tests
against the complement with Benjamini–Hochberg, minimum detectable differences, proxies."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.metrics import delong_placements_sorted, lazy_kernel, two_by_two_test

ALPHA = 0.05
POWER = 0.8
SLICE_TEST_METRICS = ("selection_rate", "accuracy", "tpr")


def _placements(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong placements from one sort (``workbench.metrics.delong_placements_sorted``, the one DeLong)."""
    order = np.argsort(y_score, kind="stable")
    return delong_placements_sorted(y_score[order], y_true[order].astype(bool))


def auc_delong_sorted(s: np.ndarray, pos: np.ndarray, *, confidence: float) -> tuple[float, tuple[float, float]]:
    """AUC and DeLong interval from one set of placements (scores sorted ascending, labels aligned).

    Same values as :func:`auc_point` and :func:`delong_ci` on the unsorted group, which sort twice.
    """
    m = int(pos.sum())
    n = pos.shape[0] - m
    if m == 0 or n == 0:
        return float("nan"), (float("nan"), float("nan"))
    v10, v01 = delong_placements_sorted(s, pos)
    auc = v10.mean()
    if m < 2 or n < 2:
        return float(auc), (float("nan"), float("nan"))
    return float(auc), _delong_bounds(auc, v10, v01, m, n, confidence)


def _delong_bounds(auc: float, v10: np.ndarray, v01: np.ndarray, m: int, n: int,
                   confidence: float) -> tuple[float, float]:
    from scipy.stats import norm

    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n)
    z = norm.ppf(0.5 + confidence / 2)
    return (float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se)))


def auc_point(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mann–Whitney AUC, ties counted half (equals ``sklearn.metrics.roc_auc_score``); NaN if one class."""
    n_pos = int(y_true.sum())
    if n_pos == 0 or n_pos == y_true.shape[0]:
        return float("nan")
    return float(_placements(y_true, y_score)[0].mean())


def delong_ci(y_true: np.ndarray, y_score: np.ndarray, *, confidence: float) -> tuple[float, float]:
    """DeLong's asymptotic interval for one AUC (one sort for the placements), clipped to [0, 1]."""
    m = int(y_true.sum())
    n = y_true.shape[0] - m
    if m < 2 or n < 2:
        return (float("nan"), float("nan"))
    v10, v01 = _placements(y_true, y_score)
    return _delong_bounds(v10.mean(), v10, v01, m, n, confidence)


#: Replicates walked side by side by the group-AUC kernel (see ``_weighted_auc_kernel``).
AUC_LANES = 16


@lazy_kernel
def _weighted_auc_kernel():
    import numba

    @numba.njit(nogil=True, cache=True, error_model="numpy")
    def weighted_auc(chunk, rows, pos, bounds, out, lanes):  # pragma: no cover - compiled
        # per replicate: walk the group's rows in ascending score, one tie group at a time; every
        # sum is of small integers held in float64 (exact), so the value equals the vectorised
        # reduceat/cumsum form bit for bit. ``lanes`` replicates are walked side by side: each
        # replicate's sums keep their order (same bits), while the row index, its label and the
        # tie-group loop are shared by the lanes and the lanes' sums do not wait on each other
        # (one replicate at a time was bound by the tie loop's branches and the sums' latency:
        # 3-4x slower on the demo's groups). ``lanes`` is passed at run time so LLVM's loop
        # vectorizer handles the lane loops (constant lanes are unrolled into scalars).
        tw = np.empty(lanes)
        pw = np.empty(lanes)
        below = np.empty(lanes)
        num = np.empty(lanes)
        p_tot = np.empty(lanes)
        n_tot = np.empty(lanes)
        for r0 in range(0, chunk.shape[0], lanes):
            nl = min(lanes, chunk.shape[0] - r0)
            below[:] = 0.0
            num[:] = 0.0
            p_tot[:] = 0.0
            n_tot[:] = 0.0
            for g in range(bounds.size - 1):
                tw[:] = 0.0
                pw[:] = 0.0
                for i in range(bounds[g], bounds[g + 1]):
                    row = rows[i]
                    p = pos[i]
                    for k in range(nl):
                        x = np.float64(chunk[r0 + k, row])
                        tw[k] += x
                        pw[k] += x * p  # branch-free: the labels are random, a branch mispredicts
                for k in range(nl):
                    nw = tw[k] - pw[k]
                    num[k] += pw[k] * (below[k] + 0.5 * nw)
                    below[k] += nw
                    p_tot[k] += pw[k]
                    n_tot[k] += nw
            for k in range(nl):
                out[r0 + k] = num[k] / (p_tot[k] * n_tot[k])

    return weighted_auc


class WeightedAuc:
    """Exact AUC of one group under every bootstrap replicate (sort once, weight each replicate)."""

    def __init__(self, rows: np.ndarray, y_true: np.ndarray, y_score: np.ndarray) -> None:
        order = np.argsort(y_score[rows], kind="stable")
        self.rows = rows[order]
        s = y_score[self.rows]
        self.starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        self.pos = y_true[self.rows].astype(np.float32)
        self._bounds = np.r_[self.starts, self.rows.size].astype(np.int64)
        self._pos = self.pos.astype(np.float64)
        self._rows64 = self.rows.astype(np.int64)
        self.values: list[np.ndarray] = []

    def consume(self, chunk: np.ndarray) -> None:
        """AUC of each replicate (row) of ``chunk``: one compiled pass per ``AUC_LANES`` replicates over
        the group's rows (the vectorised reduceat/cumsum form, :meth:`consume_vectorised`, gives the
        same values)."""
        out = np.empty(chunk.shape[0], dtype=np.float64)
        if self.rows.size:
            _weighted_auc_kernel()(np.ascontiguousarray(chunk), self._rows64, self._pos, self._bounds, out,
                                   AUC_LANES)
        else:
            out[:] = np.nan
        self.values.append(out)

    def consume_vectorised(self, chunk: np.ndarray) -> None:
        w = chunk[:, self.rows]
        wp = w * self.pos
        pos_w = np.add.reduceat(wp, self.starts, axis=1, dtype=np.float64)
        neg_w = np.add.reduceat(w, self.starts, axis=1, dtype=np.float64) - pos_w
        below = np.cumsum(neg_w, axis=1) - neg_w
        num = (pos_w * (below + 0.5 * neg_w)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.values.append(num / (pos_w.sum(axis=1) * neg_w.sum(axis=1)))

    def replicates(self) -> np.ndarray:
        return np.concatenate(self.values) if self.values else np.empty(0)


def min_detectable_difference(n_group: int, n_rest: int, rate: float) -> float | None:
    """Smallest difference in a proportion between a group and its complement that a two-sided
    test at alpha 0.05 detects with power 0.8 (normal approximation at the pooled rate)."""
    from scipy.stats import norm

    if n_group < 1 or n_rest < 1 or not np.isfinite(rate):
        return None
    z = norm.ppf(1 - ALPHA / 2) + norm.ppf(POWER)
    return float(z * np.sqrt(max(rate * (1 - rate), 0.0) * (1 / n_group + 1 / n_rest)))


def slice_tests(
    counts: np.ndarray, labels: Sequence[str], *, min_group_size: int
) -> list[dict[str, object]]:
    """Each group against its complement for selection rate, accuracy and TPR.

    ``counts`` is ``(G, 4)`` confusion counts ``[tn, fp, fn, tp]``. p-values are adjusted
    with Benjamini–Hochberg over all tests of the grouping.
    """
    from scipy.stats import false_discovery_control

    total = counts.sum(axis=0)
    out: list[dict[str, Any]] = []
    for g, label in enumerate(labels):
        c, rest = counts[g], total - counts[g]
        for metric in SLICE_TEST_METRICS:
            (hit_g, n_g), (hit_r, n_r) = _successes(c, metric), _successes(rest, metric)
            table = np.array([[hit_g, n_g - hit_g], [hit_r, n_r - hit_r]], dtype=np.int64)
            test, stat, p = two_by_two_test(table)
            pooled = (hit_g + hit_r) / (n_g + n_r) if n_g + n_r else float("nan")
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = hit_g / n_g - hit_r / n_r if n_g and n_r else None
            out.append({
                "group": label, "metric": metric, "n": int(n_g), "n_complement": int(n_r),
                "difference": None if diff is None else float(diff), "test": test,
                "statistic": stat, "p_value": p, "insufficient_data": bool(counts[g].sum() < min_group_size),
                "min_detectable_difference": min_detectable_difference(int(n_g), int(n_r), pooled),
            })
    ps = [r["p_value"] for r in out if r["p_value"] is not None]
    adjusted: Iterator[Any] = iter(false_discovery_control(np.asarray(ps, dtype=float)) if ps else [])
    for r in out:
        r["p_adjusted"] = float(next(adjusted)) if r["p_value"] is not None else None
        r["significant"] = bool(r["p_adjusted"] is not None and r["p_adjusted"] < ALPHA)
    return out


def _successes(c: np.ndarray, metric: str) -> tuple[float, float]:
    tn, fp, fn, tp = c
    if metric == "selection_rate":
        return tp + fp, tn + fp + fn + tp
    if metric == "accuracy":
        return tp + tn, tn + fp + fn + tp
    return tp, tp + fn  # tpr


def _discretise(values: pd.Series, n_bins: int) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values) and values.nunique(dropna=True) > n_bins:
        binned = pd.qcut(values, q=n_bins, duplicates="drop")
        codes = binned.cat.codes.to_numpy()
    else:
        codes = pd.factorize(values, use_na_sentinel=True)[0]
    return np.where(codes < 0, codes.max(initial=0) + 1, codes)


def _crosstab(x_codes: np.ndarray, s_codes: np.ndarray) -> np.ndarray:
    """Counts per (x level, s level) over the levels present, in sorted order — the same table
    as ``scipy.stats.contingency.crosstab(x, s).count`` for non-negative integer codes, from one
    ``bincount`` instead of a sort of the pairs (about 0.05 s instead of 3-5 s at 1M rows)."""
    width = int(s_codes.max(initial=0)) + 1
    full = np.bincount(x_codes.astype(np.int64) * width + s_codes, minlength=(int(x_codes.max(initial=0)) + 1) * width)
    full = full.reshape(-1, width)
    return full[full.any(axis=1)][:, full.any(axis=0)]


def proxy_associations(
    frame: pd.DataFrame, inputs: Sequence[str], sensitive: Sequence[str], *, n_bins: int = 10, top_k: int = 5
) -> dict[str, Any]:
    """Cramér's V and mutual information between each model input and each sensitive attribute.

    Numeric inputs are cut into ``n_bins`` quantile bins; missing values are their own level.
    Each column is discretised once; each pair's contingency table comes from one ``bincount``
    and both statistics from that table (mutual information as scikit-learn's
    ``mutual_info_score`` with ``contingency=``: the same value as from the labels).
    """
    from scipy.stats.contingency import association
    from sklearn.metrics import mutual_info_score

    codes: dict[str, np.ndarray] = {}

    def coded(column: str) -> np.ndarray:
        if column not in codes:
            codes[column] = _discretise(frame[column], n_bins)
        return codes[column]

    result: dict[str, Any] = {}
    for s in sensitive:
        s_codes = coded(s)
        rows: list[dict[str, Any]] = []
        for col in inputs:
            if col == s:
                continue
            table = _crosstab(coded(col), s_codes)
            v = float(association(table, method="cramer")) if min(table.shape) > 1 else 0.0
            rows.append({"feature": col, "cramers_v": v,
                         "mutual_information": float(mutual_info_score(None, None, contingency=table)),
                         "strength": "strong" if v >= 0.3 else "moderate" if v >= 0.2 else "weak" if v >= 0.1 else "negligible"})
        rows.sort(key=lambda r: -r["cramers_v"])
        result[s] = {"used_as_input": s in inputs, "associations": rows,
                     "top_proxies": [r["feature"] for r in rows[:top_k] if r["cramers_v"] >= 0.1]}
    return result
