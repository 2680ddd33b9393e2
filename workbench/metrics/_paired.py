"""Candidate vs baseline: paired bootstrap deltas, DeLong, McNemar, detectable differences.

* **Paired delta** ``candidate - baseline`` on the same bootstrap replicates; percentile CI;
  two-sided bootstrap p-value ``min(1, 2 * min((#{d <= 0} + 1), (#{d >= 0} + 1)) / (B + 1))``.
* **Reading** against a margin ``m >= 0`` (in metric units), on the improvement scale
  (delta, or -delta for losses) with CI ``[lo, hi]``: ``better`` if ``lo > 0``;
  ``non_inferior`` if ``lo > -m``; ``inferior`` if ``hi < -m``; otherwise ``inconclusive``.
* **DeLong** (1988) for correlated ROC AUCs, in the O(n log n) mid-rank form of Sun & Xu (2014).
* **McNemar** on the discordant pairs ``b`` (candidate right, baseline wrong) and ``c``:
  exact mid-p binomial test when ``b + c < 25``, chi-square (1 df, no continuity correction)
  otherwise (Fagerland, Lydersen & Laake 2013).
* **Minimum detectable effect of every paired delta** (``mde``): ``(z_{1-alpha/2} + z_{0.8}) * SE``
  with ``SE`` the standard deviation of the paired bootstrap deltas and ``alpha = 1 - confidence``:
  the smallest true difference the comparison finds four times in five. A non-inferiority
  claim whose ``mde`` exceeds its margin is underpowered (``workbench.policy`` flags it).
* **Minimum detectable difference** at power ``1 - beta`` and two-sided ``alpha``:
  ``MDD = (z_{1-alpha/2} + z_{1-beta}) * SE``, with SE from DeLong's variance of the paired AUC
  difference, and for accuracy ``SE = sqrt((p_b + p_c - (p_b - p_c)^2) / n)`` (discordant
  proportions). Without a baseline, the SE of the single AUC (DeLong) or accuracy
  (``sqrt(acc (1 - acc) / n)``) is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from scipy import stats

from workbench.metrics.bootstrap import percentile_ci

Reading = Literal["better", "non_inferior", "inferior", "inconclusive"]
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class Margin:
    """A non-inferiority margin for one metric's paired delta, as a policy states it.

    ``value`` is in metric units, or a share of ``|baseline|`` when ``relative``; ``source``
    names where it was stated (the policy and criterion), recorded with the delta.

    >>> Margin(0.10, relative=True).units(0.2), Margin(0.01).units(None)
    (0.020000000000000004, 0.01)
    """

    value: float
    relative: bool = False
    source: str = ""

    def units(self, baseline_value: float | None) -> float | None:
        """The margin in metric units (None for a relative margin without a baseline value)."""
        if not self.relative:
            return self.value
        return None if baseline_value is None else self.value * abs(baseline_value)


def resolve_margin(name: str, margins: Mapping[str, Margin] | None, *, default: float,
                   baseline_value: float | None) -> tuple[float, str]:
    """(margin in metric units, its source) for the delta ``name``: the stated one, else ``default``."""
    stated = (margins or {}).get(name)
    units = stated.units(baseline_value) if stated is not None else None
    if stated is not None and units is not None:
        return units, stated.source or "stated"
    return default, "settings.margin"


def bootstrap_p_value(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of ``H0: delta = 0`` from replicate deltas (NaN ignored)."""
    d = np.asarray(deltas, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    low = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
    high = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2 * min(low, high)))


def reading(ci_low: float, ci_high: float, *, greater_is_better: bool, margin: float = 0.0) -> Reading:
    """Three-way reading of a delta CI against a non-inferiority margin.

    Examples
    --------
    >>> reading(0.01, 0.03, greater_is_better=True)
    'better'
    >>> reading(-0.004, 0.01, greater_is_better=True, margin=0.005)
    'non_inferior'
    >>> reading(-0.01, 0.01, greater_is_better=True, margin=0.005)
    'inconclusive'
    >>> reading(0.01, 0.02, greater_is_better=False)
    'inferior'
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    lo, hi = (ci_low, ci_high) if greater_is_better else (-ci_high, -ci_low)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if lo > 0:
        return "better"
    if lo > -margin:
        return "non_inferior"
    if hi < -margin:
        return "inferior"
    return "inconclusive"


def bootstrap_mde(replicates: np.ndarray, *, confidence: float = 0.95, power: float = 0.8) -> float | None:
    """Minimum detectable effect at ``power`` of a two-sided test at ``1 - confidence`` from bootstrap replicates.

    ``(z_{1-alpha/2} + z_{power}) * SE`` with SE the replicates' standard deviation (NaN ignored);
    None with fewer than two finite replicates.

    Examples
    --------
    >>> reps = np.random.default_rng(0).normal(0.0, 0.01, 20_000)
    >>> round(bootstrap_mde(reps), 3)  # 2.80 * 0.01
    0.028
    """
    d = np.asarray(replicates, np.float64)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return None
    normal = NormalDist()  # scipy's ppf costs ~0.2 ms a call; this is called for every delta
    z = normal.inv_cdf(1 - (1 - confidence) / 2) + normal.inv_cdf(power)
    return z * float(np.std(d, ddof=1))


def paired_delta(
    candidate_reps: np.ndarray,
    baseline_reps: np.ndarray,
    *,
    candidate_value: float | None,
    baseline_value: float | None,
    greater_is_better: bool,
    margin: float = 0.0,
    confidence: float = 0.95,
    margin_source: str | None = None,
) -> dict[str, object]:
    """Paired delta (candidate - baseline) with CI, p-value, reading against ``margin`` and MDE at 80% power.

    ``margin`` is in metric units; ``margin_source`` (recorded when given) names where it came
    from, e.g. the policy criterion that states it.
    """
    d = np.asarray(candidate_reps, np.float64) - np.asarray(baseline_reps, np.float64)
    if candidate_value is None or baseline_value is None:
        return {"value": None, "ci_low": None, "ci_high": None, "p_value": None,
                "reading": "inconclusive", "defined": False,
                "reason": "the metric is undefined for the candidate or the baseline"}
    low, high = percentile_ci(d, confidence=confidence)
    out: dict[str, object] = {
        "value": float(candidate_value - baseline_value),
        "ci_low": low, "ci_high": high,
        "p_value": bootstrap_p_value(d),
        "reading": reading(low, high, greater_is_better=greater_is_better, margin=margin),
        "margin": float(margin),
        "mde": bootstrap_mde(d, confidence=confidence),
        "defined": True,
        "method": "paired_bootstrap_percentile",
    }
    if margin_source is not None:
        out["margin_source"] = margin_source
    if not np.isfinite(low):
        out["reason"] = "fewer than two bootstrap replicates defined the delta"
    return out


def delong_placements_sorted(s: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components from scores sorted ascending and the boolean labels in that order.

    V10 (per positive, in sorted order): the share of negatives below it, ties counting half;
    V01 (per negative): one minus the share of positives below it, ties counting half. One pass
    over tie blocks; the same numbers as the midrank formula (rank among all minus rank within
    the class), which sorts three times. The one DeLong of the product: the paired test here and
    the per-group AUC intervals of ``workbench.fairness`` both use it.

    Examples
    --------
    >>> v10, v01 = delong_placements_sorted(np.array([.1, .2, .2, .9]), np.array([False, True, False, True]))
    >>> v10.tolist(), v01.tolist()
    ([0.75, 1.0], [1.0, 0.75])
    """
    change = np.r_[True, s[1:] != s[:-1]]
    starts = np.flatnonzero(change)
    block = np.cumsum(change) - 1  # tie block of every sorted row
    n_pos_blk = np.add.reduceat(pos.astype(np.int64), starts)
    n_neg_blk = np.add.reduceat((~pos).astype(np.int64), starts)
    neg_below = np.cumsum(n_neg_blk) - n_neg_blk
    pos_below = np.cumsum(n_pos_blk) - n_pos_blk
    m, n = int(pos.sum()), int((~pos).sum())
    v10 = (neg_below + 0.5 * n_neg_blk)[block[pos]] / n
    v01 = 1.0 - (pos_below + 0.5 * n_pos_blk)[block[~pos]] / m
    return v10, v01


def delong_placements(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`delong_placements_sorted` for unsorted data, V10 and V01 in the rows' original order.

    The original order keeps the components of two models on the same rows aligned, which the
    paired covariance needs.
    """
    y = np.asarray(y).astype(bool)
    order = np.argsort(score, kind="stable")
    pos_sorted = y[order]
    v10_sorted, v01_sorted = delong_placements_sorted(score[order], pos_sorted)
    per_row = np.empty(y.shape[0])
    per_row[order[pos_sorted]] = v10_sorted
    per_row[order[~pos_sorted]] = v01_sorted
    return per_row[y], per_row[~y]


def delong_test(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray | None = None) -> dict[str, object]:
    """DeLong's test of ``AUC_a = AUC_b`` on paired data (or the SE of AUC_a alone).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1, 0, 1]); a = np.array([.1, .4, .35, .8, .2, .9])
    >>> round(delong_test(y, a, a)["p_value"], 3)
    1.0
    """
    y = np.asarray(y_true).astype(bool).ravel()
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return {"defined": False, "reason": "DeLong needs at least two positives and two negatives",
                "method": "delong"}
    comps = [delong_placements(y, np.asarray(s, np.float64).ravel()) for s in ([score_a] if score_b is None else [score_a, score_b])]
    v10 = np.stack([c[0] for c in comps])
    v01 = np.stack([c[1] for c in comps])
    aucs = v10.mean(axis=1)
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    cov = s10 / m + s01 / n
    if score_b is None:
        return {"defined": True, "auc": float(aucs[0]), "se": float(np.sqrt(cov[0, 0])), "method": "delong"}
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    out = {"defined": True, "auc_candidate": float(aucs[0]), "auc_baseline": float(aucs[1]),
           "delta": diff, "se": float(np.sqrt(max(var, 0.0))), "method": "delong"}
    if var <= 0:
        out.update(z=None, p_value=1.0 if diff == 0 else 0.0)
    else:
        z = diff / np.sqrt(var)
        out.update(z=float(z), p_value=float(2 * stats.norm.sf(abs(z))))
    return out


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, object]:
    """McNemar's test of equal accuracy from per-row correctness of two models.

    Examples
    --------
    >>> a = np.array([1, 1, 1, 1, 0, 1], bool); b = np.array([0, 1, 0, 1, 0, 0], bool)
    >>> t = mcnemar_test(a, b); t["b"], t["c"], t["method"]
    (3, 0, 'exact_mid_p')
    """
    a = np.asarray(correct_a, bool).ravel()
    b_ = np.asarray(correct_b, bool).ravel()
    b = int(np.count_nonzero(a & ~b_))
    c = int(np.count_nonzero(~a & b_))
    disc = b + c
    if disc == 0:
        return {"b": 0, "c": 0, "statistic": None, "p_value": 1.0, "method": "exact_mid_p"}
    if disc < MCNEMAR_EXACT_BELOW:
        k = min(b, c)
        p_exact = min(1.0, 2 * stats.binom.cdf(k, disc, 0.5))
        p = p_exact - stats.binom.pmf(k, disc, 0.5)
        return {"b": b, "c": c, "statistic": None, "p_value": float(min(1.0, p)), "method": "exact_mid_p"}
    chi2 = (b - c) ** 2 / disc
    return {"b": b, "c": c, "statistic": float(chi2), "p_value": float(stats.chi2.sf(chi2, 1)),
            "method": "chi2_no_continuity_correction"}


def min_detectable_difference(
    *, n: int, se_auc: float | None, correct_a: np.ndarray, correct_b: np.ndarray | None,
    alpha: float = 0.05, power: float = 0.8,
) -> dict[str, object]:
    """Smallest AUC and accuracy differences detectable at this sample size (see module doc)."""
    factor = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    a = np.asarray(correct_a, bool)
    if correct_b is None:
        acc = a.mean() if n else np.nan
        se_acc = float(np.sqrt(acc * (1 - acc) / n)) if n else np.nan
    else:
        bb = np.asarray(correct_b, bool)
        pb, pc = np.mean(a & ~bb), np.mean(~a & bb)
        se_acc = float(np.sqrt(max(pb + pc - (pb - pc) ** 2, 0.0) / n))
    return {
        "alpha": alpha, "power": power, "n": int(n), "z_factor": factor,
        "roc_auc": None if se_auc is None or not np.isfinite(se_auc) else factor * se_auc,
        "accuracy": factor * se_acc if np.isfinite(se_acc) else None,
        "method": "(z_{1-alpha/2} + z_{power}) * SE; SE from DeLong (AUC) and discordant pairs (accuracy)",
    }


def two_by_two_test(table: np.ndarray) -> tuple[str, float | None, float | None]:
    """Fisher's exact test when an expected cell is below 5, else the G-test (no correction); shared by
    the fairness group tests and the slice tests."""
    from scipy.stats import chi2_contingency, fisher_exact

    if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
        return ("none", None, None)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if expected.min() < 5:
        stat, p = fisher_exact(table)
        return ("fisher_exact", float(stat) if np.isfinite(stat) else None, float(p))
    stat, p, _, _ = chi2_contingency(table, correction=False, lambda_="log-likelihood")
    return ("g_test", float(stat), float(p))
