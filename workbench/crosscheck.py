"""The cross-check: the workbench's own numbers against scikit-learn and fairlearn, on the same rows.

The workbench computes its metrics with its own sort-once/bincount kernels and its subgroup
disparities with its own engine (both much faster than the reference libraries). An auditor
asks "do your numbers match the reference libraries?"; every evidence run answers it here:

- on every evaluation row up to ``settings.cross_check_rows`` (default 100,000), or on a seeded
  sample of that many rows above it (so the cost stays bounded at any size),
- the workbench's point estimate of every registered metric of the task, recomputed on those
  rows, against scikit-learn's function for it, and
- for a binary review with sensitive features, the workbench's disparities (demographic
  parity, equalized odds, equal opportunity: difference and ratio) against fairlearn's
  ``MetricFrame`` on the same rows and predictions,

recording each pair, its absolute difference and the largest one (``max_abs_diff``). A value
the workbench leaves undefined (e.g. precision with no predicted positive) is compared only
for being undefined on both sides. The policy can require agreement: the criterion kind
``cross_check`` (docs/POLICY.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Default number of rows the cross-check runs on (all rows up to it, a seeded sample above).
DEFAULT_ROWS = 100_000
#: Default agreement a policy's ``cross_check`` criterion asks for.
DEFAULT_TOLERANCE = 1e-9
#: Disparities compared with fairlearn: (name, fairlearn metric behind it, "difference" | "ratio").
DISPARITIES = (
    ("demographic_parity_difference", ("selection_rate",), "difference"),
    ("demographic_parity_ratio", ("selection_rate",), "ratio"),
    ("equalized_odds_difference", ("tpr", "fpr"), "difference"),
    ("equalized_odds_ratio", ("tpr", "fpr"), "ratio"),
    ("equal_opportunity_difference", ("tpr",), "difference"),
    ("equal_opportunity_ratio", ("tpr",), "ratio"),
)

__all__ = ["DEFAULT_ROWS", "DEFAULT_TOLERANCE", "DISPARITIES", "cross_check", "sample_rows", "sklearn_reference"]


def sample_rows(n: int, *, limit: int, seed: int) -> np.ndarray | None:
    """Row indices to cross-check: None (all rows) up to ``limit``, else a sorted seeded sample.

    Examples
    --------
    >>> sample_rows(10, limit=100, seed=0) is None
    True
    >>> rows = sample_rows(1000, limit=5, seed=0); len(rows), bool((rows[1:] > rows[:-1]).all())
    (5, True)
    """
    if n <= limit:
        return None
    rng = np.random.default_rng([seed, 0xC405])  # its own stream: not the bootstrap's
    return np.sort(rng.choice(n, size=limit, replace=False))


def _binary_refs() -> dict[str, tuple[str, Callable[..., float]]]:
    from sklearn import metrics as m

    def labels(f: Callable[..., float], **kw: Any) -> Callable[..., float]:
        return lambda y, s, t: f(y, (s >= t).astype(np.int64), **kw)

    return {
        "accuracy": ("sklearn.metrics.accuracy_score", labels(m.accuracy_score)),
        "balanced_accuracy": ("sklearn.metrics.balanced_accuracy_score", labels(m.balanced_accuracy_score)),
        "precision": ("sklearn.metrics.precision_score", labels(m.precision_score, zero_division=np.nan)),
        "recall": ("sklearn.metrics.recall_score", labels(m.recall_score, zero_division=np.nan)),
        "specificity": ("sklearn.metrics.recall_score(pos_label=0)",
                        labels(m.recall_score, pos_label=0, zero_division=np.nan)),
        "f1": ("sklearn.metrics.f1_score", labels(m.f1_score, zero_division=np.nan)),
        "mcc": ("sklearn.metrics.matthews_corrcoef", labels(m.matthews_corrcoef)),
        "roc_auc": ("sklearn.metrics.roc_auc_score", lambda y, s, t: m.roc_auc_score(y, s)),
        "average_precision": ("sklearn.metrics.average_precision_score", lambda y, s, t: m.average_precision_score(y, s)),
        "log_loss": ("sklearn.metrics.log_loss", lambda y, s, t: m.log_loss(y, s, labels=[0, 1])),
        "brier_score": ("sklearn.metrics.brier_score_loss", lambda y, s, t: m.brier_score_loss(y, s)),
    }


def _multiclass_refs(k: int) -> dict[str, tuple[str, Callable[..., float]]]:
    from sklearn import metrics as m

    def labels(f: Callable[..., float], **kw: Any) -> Callable[..., float]:
        return lambda y, s, t: f(y, np.argmax(s, axis=1), **kw)

    out: dict[str, tuple[str, Callable[..., float]]] = {
        "accuracy": ("sklearn.metrics.accuracy_score", labels(m.accuracy_score)),
        "balanced_accuracy": ("sklearn.metrics.balanced_accuracy_score", labels(m.balanced_accuracy_score)),
        "roc_auc_ovr": ("sklearn.metrics.roc_auc_score(multi_class='ovr')",
                        lambda y, s, t: m.roc_auc_score(y, s, multi_class="ovr", labels=list(range(k)))),
        "log_loss": ("sklearn.metrics.log_loss", lambda y, s, t: m.log_loss(y, s, labels=list(range(k)))),
    }
    for avg in ("macro", "weighted"):
        for name, f in (("precision", m.precision_score), ("recall", m.recall_score), ("f1", m.f1_score)):
            out[f"{name}_{avg}"] = (f"sklearn.metrics.{name}_score(average='{avg}')",
                                    labels(f, average=avg, labels=list(range(k)), zero_division=0))
    return out


def _regression_refs() -> dict[str, tuple[str, Callable[..., float]]]:
    from sklearn import metrics as m

    def quantile(q: float) -> Callable[..., float]:
        return lambda y, s, t: float(np.quantile(np.abs(y - s), q, method="averaged_inverted_cdf"))

    def mape(y: np.ndarray, s: np.ndarray, t: float) -> float:
        nz = y != 0  # the workbench's MAPE leaves out zero targets (sklearn would divide by eps)
        return m.mean_absolute_percentage_error(y[nz], s[nz]) if nz.any() else math.nan

    return {
        "mae": ("sklearn.metrics.mean_absolute_error", lambda y, s, t: m.mean_absolute_error(y, s)),
        "rmse": ("sklearn.metrics.root_mean_squared_error", lambda y, s, t: m.root_mean_squared_error(y, s)),
        "r2": ("sklearn.metrics.r2_score", lambda y, s, t: m.r2_score(y, s)),
        "median_absolute_error": ("sklearn.metrics.median_absolute_error",
                                  lambda y, s, t: m.median_absolute_error(y, s)),
        "mape": ("sklearn.metrics.mean_absolute_percentage_error (non-zero targets)", mape),
        "abs_error_p90": ("numpy.quantile(|error|, 0.90, method='averaged_inverted_cdf')", quantile(0.90)),
        "abs_error_p95": ("numpy.quantile(|error|, 0.95, method='averaged_inverted_cdf')", quantile(0.95)),
        "abs_error_p99": ("numpy.quantile(|error|, 0.99, method='averaged_inverted_cdf')", quantile(0.99)),
    }


def sklearn_reference(task: str, *, n_classes: int = 2) -> dict[str, tuple[str, Callable[..., float]]]:
    """``{metric: (reference name, f(y_true, y_score, threshold))}`` for every registered metric of ``task``."""
    if task == "binary":
        return _binary_refs()
    if task == "multiclass":
        return _multiclass_refs(n_classes)
    return _regression_refs()


def _number(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _pair(ours: float | None, ref: float | None, reference: str) -> dict[str, Any]:
    if ours is None or ref is None:  # undefined: agreement means undefined on both sides
        return {"workbench": ours, "reference": ref, "abs_diff": None, "reference_impl": reference,
                "both_undefined": ours is None and ref is None}
    return {"workbench": ours, "reference": ref, "abs_diff": abs(ours - ref), "reference_impl": reference}


def _own_metrics(task: str, y: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, Any]:
    """The workbench's point estimates of every metric of ``task`` (one shared pass, as the evidence does)."""
    from workbench import metrics

    if task == "binary":
        return metrics.binary_metrics(y, s, threshold=threshold)
    if task == "multiclass":
        return metrics.multiclass_metrics(y, s)
    return metrics.regression_metrics(y, s)


def _metric_pairs(task: str, y: np.ndarray, s: np.ndarray, threshold: float, n_classes: int) -> dict[str, Any]:
    import warnings

    refs = sklearn_reference(task, n_classes=n_classes)
    ours_all = _own_metrics(task, y, s, threshold)
    out = {}
    for name, (reference, f) in refs.items():
        value = ours_all[name]
        ours = _number(value.value) if value.defined else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # undefined cases warn in sklearn; compared as undefined below
            try:
                ref = _number(f(y, s, threshold))
            except ValueError:  # e.g. one class only: undefined, as the workbench says
                ref = None
        out[name] = _pair(ours, ref, reference)
    return out


def _fairlearn_disparities(y: np.ndarray, pred: np.ndarray, groups: np.ndarray) -> dict[str, float | None]:
    """fairlearn's ``MetricFrame`` disparities of ``pred`` by ``groups``.

    fairlearn evaluates its metric functions group by group with a per-element Python loop
    (about 15 s per 100,000 rows here). Rows with the same (group, label, prediction) are
    interchangeable for selection rate, TPR and FPR, so they are handed to it once each, with
    their count as ``sample_weight``: fairlearn computes the same weighted sums, in milliseconds.
    """
    import warnings

    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    codes, group_index = np.unique(groups.astype(str), return_inverse=True)
    cell = (group_index.astype(np.int64) * 2 + y) * 2 + pred
    cells, counts = np.unique(cell, return_counts=True)
    weight = counts.astype(np.float64)
    params = {name: {"sample_weight": weight} for name in ("selection_rate", "tpr", "fpr")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a group without positives: fairlearn warns, value is NaN
        frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                     "fpr": false_positive_rate},
                            y_true=(cells // 2) % 2, y_pred=cells % 2, sensitive_features=codes[cells // 4],
                            sample_params=params)
        diff, ratio = frame.difference(method="between_groups"), frame.ratio(method="between_groups")
    out: dict[str, float | None] = {}
    for name, parts, how in DISPARITIES:
        values = [float((diff if how == "difference" else ratio)[p]) for p in parts]
        if any(math.isnan(v) for v in values):
            out[name] = None
        else:  # fairlearn's equalized_odds_*: the worse of TPR and FPR (largest gap, smallest ratio)
            out[name] = max(values) if how == "difference" else min(values)
    return out


def _fairness_pairs(y: np.ndarray, s: np.ndarray, threshold: float,
                    sensitive: Mapping[str, np.ndarray]) -> dict[str, Any]:
    from workbench.fairness import fairness_table

    pred = (s >= threshold).astype(np.int64)
    # Every group counts on both sides (min_group_size 1), missing values form their own group.
    options: dict[str, Any] = {"min_group_size": 1, "n_boot": 0, "intersections": False}
    table = fairness_table(y, pred, s, dict(sensitive), **options)
    # fairlearn counts a group's 0/0 rate (a TPR without positives) as 0; the evidence reports it
    # undefined and leaves that group out. Where the two conventions give different values, the
    # engine's "zero" convention is what is compared, and the pair says so.
    as_fairlearn = fairness_table(y, pred, s, dict(sensitive), undefined="zero", **options)
    out: dict[str, Any] = {}
    for feature, values in sensitive.items():
        missing = pd.isna(values)
        groups = np.where(missing, "(missing)", values.astype(str))
        ref = _fairlearn_disparities(y, pred, groups)
        out[feature] = {}
        for name, _parts, _how in DISPARITIES:
            ours = _disparity(table, feature, name)
            reference = f"fairlearn.metrics.MetricFrame.{_how_of(name)}"
            zero = _disparity(as_fairlearn, feature, name)
            if zero != ours and not (zero is not None and ours is not None and math.isclose(zero, ours)):
                ours, reference = zero, reference + ZERO_CONVENTION
            out[feature][name] = _pair(ours, ref[name], reference)
    return out


ZERO_CONVENTION = (" (a group's 0/0 rate counted as 0, fairlearn's convention; the evidence reports that"
                   " rate undefined and leaves the group out of this disparity)")


def _disparity(table: Mapping[str, Any], feature: str, name: str) -> float | None:
    node = (table.get(feature) or {}).get(name) or {}
    return _number(node.get("value")) if node.get("defined", True) else None


def _how_of(name: str) -> str:
    return "ratio()" if name.endswith("_ratio") else "difference()"


def cross_check(
    task: str,
    y_true: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    threshold: float,
    sensitive: Mapping[str, Any] | None = None,
    n_classes: int = 2,
    max_rows: int = DEFAULT_ROWS,
    seed: int = 0,
) -> dict[str, Any]:
    """The ``cross_check`` evidence section (see the module docstring and docs/EVIDENCE.md).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500); s = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    >>> cc = cross_check("binary", y, {"candidate": s}, threshold=0.5, sensitive={"g": rng.choice(list("ab"), 500)})
    >>> cc["status"], cc["rows"], cc["max_abs_diff"] < 1e-12
    ('ok', 500, True)
    >>> cc["models"]["candidate"]["metrics"]["roc_auc"]["reference_impl"]
    'sklearn.metrics.roc_auc_score'
    """
    y_all = np.asarray(y_true)
    n = len(y_all)
    rows = sample_rows(n, limit=max_rows, seed=seed)
    y = y_all if rows is None else y_all[rows]
    sens = {f: np.asarray(v, dtype=object) for f, v in (sensitive or {}).items()}
    if rows is not None:
        sens = {f: v[rows] for f, v in sens.items()}
    models: dict[str, Any] = {}
    for role, score in scores.items():
        s = np.asarray(score, dtype=np.float64)
        s = s if rows is None else s[rows]
        entry: dict[str, Any] = {"metrics": _metric_pairs(task, y, s, threshold, n_classes)}
        if task == "binary" and sens:
            entry["fairness"] = _fairness_pairs(y.astype(np.int64), s, threshold, sens)
        models[role] = entry
    worst_path, worst, one_sided = None, 0.0, []
    for role, entry in models.items():
        for section in ("metrics", "fairness"):
            items = entry.get(section, {})
            flat = items.items() if section == "metrics" else (
                (f"{feat}.{name}", pair) for feat, d in items.items() for name, pair in d.items())
            for name, pair in flat:
                path, d = f"{role}.{section}.{name}", pair["abs_diff"]
                if d is None:
                    if not pair["both_undefined"]:
                        one_sided.append(path)
                elif worst_path is None or d > worst:
                    worst_path, worst = path, d
    return {
        "status": "ok",
        "rows": int(len(y)), "of_rows": int(n), "sampled": rows is not None, "max_rows": int(max_rows),
        "seed": int(seed), "threshold": float(threshold),
        "references": {"metrics": "scikit-learn",
                       "fairness": "fairlearn.metrics.MetricFrame" if sens and task == "binary" else None},
        "models": models,
        "max_abs_diff": worst if worst_path is not None else None,
        "worst": worst_path,
        "undefined_on_one_side": one_sided,
    }
