"""Pure finalisers for rank metrics from grouped counts: exact (per distinct score) or binned.

Input is a table of ``(negatives, positives)`` per score group in ascending score order: one
group per distinct score gives scikit-learn's ROC AUC (ties count one half) and average
precision (tied scores share one threshold) exactly; fixed-width score bins give the same
formulas over bins, with an error bound because the order inside a bin is unknown:

* AUC: a negative-positive pair inside one bin counts 1/2 but may truly be 0 or 1, so
  ``|AUC_hist - AUC| <= sum_b neg_b * pos_b / (2 P N)``;
* AP: every positive of bin ``b`` has a precision between ``(tp_b + 1) / (seen_b + n_b + 1)``
  (all the bin's negatives ranked first) and ``(tp_b + p_b) / (seen_b + p_b)`` (all its
  positives first), where ``tp_b``/``seen_b`` count the positives/rows above the bin; the
  binned value lies in the same interval, so the bound is ``sum_b p_b (hi_b - lo_b) / P``.

Everything is vectorised over a leading replicate axis.
"""

from __future__ import annotations

import numpy as np


def auc_ap(neg: np.ndarray, pos: np.ndarray) -> dict[str, np.ndarray]:
    """ROC AUC, average precision and their error bounds from ascending score groups.

    ``neg``/``pos`` have shape ``(..., G)``; integer counts are summed in exact int64 so
    that unit weights give bit-identical AUC values to ``workbench.metrics``.

    Examples
    --------
    >>> out = auc_ap(np.array([1, 1, 0, 0]), np.array([0, 0, 1, 1]))
    >>> float(out["roc_auc"]), float(out["average_precision"])
    (1.0, 1.0)
    """
    neg = np.asarray(neg)
    pos = np.asarray(pos)
    integer = neg.dtype.kind in "iu" and pos.dtype.kind in "iu"
    acc = np.int64 if integer else np.float64
    neg, pos = neg.astype(acc), pos.astype(acc)
    p_tot = pos.sum(axis=-1)
    n_tot = neg.sum(axis=-1)
    # positives strictly above each group (ascending order: the groups to its right)
    above = np.flip(np.cumsum(np.flip(pos, axis=-1), axis=-1), axis=-1) - pos
    num2 = (neg * (2 * above + pos)).sum(axis=-1)
    pn = p_tot.astype(np.float64) * n_tot.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where(pn > 0, (num2.astype(np.float64) / 2) / np.where(pn > 0, pn, 1), np.nan)
        auc_bound = np.where(pn > 0, (neg * pos).sum(axis=-1).astype(np.float64) / 2 / np.where(pn > 0, pn, 1), np.nan)
    # average precision in descending score order
    d_pos, d_neg = np.flip(pos, axis=-1).astype(np.float64), np.flip(neg, axis=-1).astype(np.float64)
    tp = np.cumsum(d_pos, axis=-1)
    seen = tp + np.cumsum(d_neg, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(seen > 0, tp / np.where(seen > 0, seen, 1), 0.0)
        pt = p_tot.astype(np.float64)
        ap = np.where(pt > 0, (d_pos * prec).sum(axis=-1) / np.where(pt > 0, pt, 1), np.nan)
        tp_before, seen_before = tp - d_pos, seen - d_pos - d_neg
        hi = np.where(d_pos > 0, (tp_before + d_pos) / np.maximum(seen_before + d_pos, 1), 0.0)
        lo = np.where(d_pos > 0, (tp_before + 1) / np.maximum(seen_before + d_neg + 1, 1), 0.0)
        mixed = (d_pos > 0) & (d_neg > 0)
        ap_bound = np.where(pt > 0, (np.where(mixed, d_pos * (hi - lo), 0.0)).sum(axis=-1)
                            / np.where(pt > 0, pt, 1), np.nan)
    return {"roc_auc": auc, "roc_auc_bound": auc_bound, "average_precision": ap,
            "average_precision_bound": ap_bound}


def histogram_domain(score_min: float, score_max: float) -> tuple[float, float]:
    """[0, 1] for probabilities, else the observed score range."""
    if score_min >= 0 and score_max <= 1:
        return 0.0, 1.0
    return float(score_min), float(score_max) if score_max > score_min else float(score_min) + 1.0


def histogram_scale(lo: float, hi: float, bins: int) -> float:
    """Multiplier of ``score - lo`` whose floor is the bin (shared by every executor)."""
    return float(bins) / (hi - lo)


def histogram_bin(score: np.ndarray, *, lo: float, scale: float, bins: int) -> np.ndarray:
    """``clip(floor((score - lo) * scale), 0, bins - 1)`` — the SQL executors use the same."""
    b = np.floor((np.asarray(score, dtype=np.float64) - lo) * scale)
    return np.clip(b, 0, bins - 1).astype(np.int64)
