"""Multiclass metrics from the weighted confusion matrix (labels) and one-vs-rest ranks (AUC).

Per-class values that divide by zero (a class never predicted, or absent from y_true) are
excluded from macro/weighted averages, as scikit-learn does with ``zero_division=np.nan``;
an average is undefined only when no class is defined. The predicted class is the arg-max
of the scores (first class on ties, as ``numpy.argmax`` and scikit-learn's ``predict``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from workbench.metrics import _spec as R
from workbench.metrics._binary import BinaryPrepared

MULTICLASS_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc_ovr",
    "log_loss",
)
_REASONS = {
    "accuracy": R.REASON_NO_ROWS,
    "log_loss": R.REASON_NO_ROWS,
    "roc_auc_ovr": R.REASON_CLASS_ABSENT,
}
_DEFAULT_REASON = "no class has a non-zero denominator"


def _nanmean(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    ok = np.isfinite(x)
    if weights is None:
        weights = np.ones_like(x)
    w = np.where(ok, weights, 0.0)
    num = np.where(ok, x, 0.0) * w
    den = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num.sum(axis=-1) / np.where(den > 0, den, 1), np.nan)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def finalise_confusion(cm: np.ndarray, ll_sum: np.ndarray) -> dict[str, np.ndarray]:
    """Label metrics from confusion matrices ``cm`` (..., K, K) (rows = true class)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    total = support.sum(axis=-1)
    recall = _div(tp, support)
    precision = _div(tp, predicted)
    f1 = _div(2 * tp, support + predicted)
    return {
        "accuracy": _div(tp.sum(axis=-1), total),
        "balanced_accuracy": _nanmean(recall),
        "precision_macro": _nanmean(precision),
        "recall_macro": _nanmean(recall),
        "f1_macro": _nanmean(f1),
        "precision_weighted": _nanmean(precision, support),
        "recall_weighted": _nanmean(recall, support),
        "f1_weighted": _nanmean(f1, support),
        "log_loss": _div(ll_sum, total),
        "per_class_precision": precision,
        "per_class_recall": recall,
    }


class MulticlassPrepared:
    """Scores ``(n, K)`` and class codes prepared once for point and replicate weightings."""

    def __init__(self, y_true: np.ndarray, y_score: np.ndarray, *, n_classes: int | None = None):
        y = np.asarray(y_true).ravel().astype(np.int64)
        s = np.asarray(y_score, dtype=np.float64)
        if s.ndim != 2 or s.shape[0] != y.size:
            raise ValueError(f"y_score must have shape (n, K) with n={y.size}, got {s.shape}")
        k = s.shape[1] if n_classes is None else int(n_classes)
        if y.size and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"class codes must be in 0..{k - 1}")
        self.n, self.k, self.y, self.score = y.size, k, y, s
        pred = np.argmax(s, axis=1)
        eps = np.finfo(np.float64).eps
        p_true = np.clip(s[np.arange(y.size), y], eps, 1 - eps)
        cell = y * k + pred
        onehot = np.zeros((y.size, k * k + 1), dtype=np.float64)
        onehot[np.arange(y.size), cell] = 1.0
        onehot[:, -1] = -np.log(p_true)
        self.columns = onehot
        self.ovr = [BinaryPrepared(y == c, s[:, c], threshold=0.5) for c in range(k)]

    def finalise(self, sums: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
        sums = np.atleast_2d(sums)
        cm = sums[:, :-1].reshape(-1, self.k, self.k)
        out = finalise_confusion(cm, sums[:, -1])
        aucs = np.stack([b.rank_metrics(weights)[0] for b in self.ovr], axis=-1)
        out["roc_auc_ovr"] = aucs.mean(axis=-1)  # NaN when a class is absent
        return out

    def point(self, sample_weight: np.ndarray | None = None) -> dict[str, Any]:
        w = R.as_weights(sample_weight, self.n)[None, :]
        values = self.finalise(w @ self.columns, w)
        out: dict[str, Any] = {
            name: R.MetricValue.of(values[name][0], _REASONS.get(name, _DEFAULT_REASON))
            for name in MULTICLASS_METRICS
        }
        out["per_class"] = {
            c: {
                "precision": R.MetricValue.of(values["per_class_precision"][0][c], R.REASON_NO_PREDICTED_POSITIVE),
                "recall": R.MetricValue.of(values["per_class_recall"][0][c], R.REASON_NO_POSITIVE),
            }
            for c in range(self.k)
        }
        return out

    def confusion_matrix(self) -> list[list[int]]:
        counts = self.columns[:, :-1].sum(axis=0).reshape(self.k, self.k)
        return counts.astype(np.int64).tolist()


def multiclass_metrics(y_true: np.ndarray, y_score: np.ndarray, *,
                       sample_weight: np.ndarray | None = None) -> dict[str, Any]:
    """Every multiclass metric; ``y_true`` are codes 0..K-1 into the columns of ``y_score``.

    Examples
    --------
    >>> m = multiclass_metrics([0, 1, 2, 2], [[.8, .1, .1], [.2, .7, .1], [.1, .2, .7], [.5, .3, .2]])
    >>> m["accuracy"].value
    0.75
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return MulticlassPrepared(y_true, y_score).point(sample_weight)


def _single(name: str):
    def metric(y_true, y_score, *, threshold=None, sample_weight=None) -> R.MetricValue:
        return multiclass_metrics(y_true, y_score, sample_weight=sample_weight)[name]

    metric.__name__ = name
    return metric


for _name in MULTICLASS_METRICS:
    R.register(
        R.MetricSpec(
            name=_name,
            task="multiclass",
            greater_is_better=_name != "log_loss",
            needs="scores" if _name in ("roc_auc_ovr", "log_loss") else "labels",
            function=_single(_name),
        )
    )
