"""Binary classification metrics as aggregations + finalisers.

Everything is a weighted sum, so one code path serves the point estimate (weights = 1 or
``sample_weight``) and a chunk of bootstrap replicates (weights = Poisson counts):

* *linear aggregates* — per-row columns (TP, FP, positive, one, log-loss term, Brier term)
  whose weighted sums give every threshold metric; for a chunk of replicates this is one
  matrix product ``W @ columns``;
* *rank aggregates* — the scores are sorted once per class; cumulative weighted sums of the
  positives (negatives) evaluated at precomputed positions give the exact ROC AUC (ties count
  one half, as in scikit-learn's trapezoid) and average precision (scikit-learn's step
  definition) for every replicate with no re-sorting.

A row is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np

from workbench.metrics import _registry as R

BINARY_METRICS: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "mcc",
    "roc_auc",
    "average_precision",
    "log_loss",
    "brier_score",
)
_LOWER_IS_BETTER = {"log_loss", "brier_score"}
_NEEDS_SCORES = {"roc_auc", "average_precision", "log_loss", "brier_score"}
REASON_SCORES_OUTSIDE_01 = "scores are not probabilities in [0, 1]"
_REASONS = {
    "accuracy": R.REASON_NO_ROWS,
    "balanced_accuracy": R.REASON_ONE_CLASS,
    "precision": R.REASON_NO_PREDICTED_POSITIVE,
    "recall": R.REASON_NO_POSITIVE,
    "specificity": R.REASON_NO_NEGATIVE,
    "f1": "no positives in y_true and none predicted (2TP + FP + FN = 0)",
    "mcc": "a row or column of the confusion matrix is empty (zero denominator)",
    "roc_auc": R.REASON_ONE_CLASS,
    "average_precision": R.REASON_NO_POSITIVE,
    "log_loss": R.REASON_NO_ROWS,
    "brier_score": R.REASON_NO_ROWS,
}
N_LINEAR = 6  # tp, fp, positives, total, log-loss sum, brier sum


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.broadcast_arrays(np.asarray(num, float), np.asarray(den, float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def finalise_counts(sums: np.ndarray, *, probabilities: bool = True) -> dict[str, np.ndarray]:
    """Threshold metrics, log loss and Brier score from linear sums of shape ``(..., 6)``.

    NaN marks an undefined value (the caller attaches the reason from ``_REASONS``).
    """
    s = np.asarray(sums, dtype=np.float64)
    tp, fp, pos, total, ll, brier = (s[..., i] for i in range(N_LINEAR))
    fn = pos - tp
    neg = total - pos
    tn = neg - fp
    recall = _div(tp, pos)
    specificity = _div(tn, neg)
    mcc_den = np.sqrt(np.maximum((tp + fp) * pos * neg * (tn + fn), 0.0))
    out = {
        "accuracy": _div(tp + tn, total),
        "balanced_accuracy": np.where((pos > 0) & (neg > 0), (recall + specificity) / 2, np.nan),
        "precision": _div(tp, tp + fp),
        "recall": recall,
        "specificity": specificity,
        "f1": _div(2 * tp, 2 * tp + fp + fn),
        "mcc": _div(tp * tn - fp * fn, mcc_den),
        "log_loss": _div(ll, total),
        "brier_score": _div(brier, total),
    }
    if not probabilities:
        out["log_loss"] = np.full_like(out["log_loss"], np.nan)
        out["brier_score"] = np.full_like(out["brier_score"], np.nan)
    return out


class BinaryPrepared:
    """One model's scores prepared once (sorted, per-row terms) for any number of weightings.

    Parameters
    ----------
    y_true : array-like of {0, 1} or bool
        1 marks the positive class.
    y_score : array-like of float
        Score of the positive class (a probability for log loss and Brier score).
    threshold : float
        Decision threshold, ``score >= threshold`` is positive.
    """

    def __init__(self, y_true: np.ndarray, y_score: np.ndarray, *, threshold: float) -> None:
        y = _as_binary(y_true)
        s = np.asarray(y_score, dtype=np.float64).ravel()
        if s.shape != y.shape:
            raise ValueError(f"y_score has {s.size} rows, y_true has {y.size}")
        if not np.isfinite(s).all():
            raise ValueError("y_score contains NaN or infinite values")
        self.n = y.size
        self.y = y
        self.score = s
        self.threshold = float(threshold)
        self.probabilities = bool(((s >= 0) & (s <= 1)).all())
        pred = s >= self.threshold
        eps = np.finfo(np.float64).eps
        p = np.clip(s, eps, 1 - eps)
        yf = y.astype(np.float64)
        ll = -(yf * np.log(p) + (1 - yf) * np.log1p(-p)) if self.probabilities else np.zeros_like(s)
        self.columns = np.column_stack(
            [(y & pred), (~y & pred), yf, np.ones_like(s), ll, (s - yf) ** 2]
        ).astype(np.float64)
        self._prepare_ranks()

    def _prepare_ranks(self) -> None:
        y, s = self.y, self.score
        pos_rows, neg_rows = np.flatnonzero(y), np.flatnonzero(~y)
        op = np.argsort(-s[pos_rows], kind="stable")
        on = np.argsort(-s[neg_rows], kind="stable")
        self.pos_sorted, self.neg_sorted = pos_rows[op], neg_rows[on]
        sp_asc, sn_asc = s[self.pos_sorted][::-1], s[self.neg_sorted][::-1]
        n_pos, n_neg = sp_asc.size, sn_asc.size
        sn_desc, sp_desc = sn_asc[::-1], sp_asc[::-1]
        # For each negative: positives strictly above (lo) and at-or-above (hi) its score.
        self.auc_lo = n_pos - np.searchsorted(sp_asc, sn_desc, side="right")
        self.auc_hi = n_pos - np.searchsorted(sp_asc, sn_desc, side="left")
        self.ties = bool((self.auc_lo != self.auc_hi).any())
        # For each positive: positives and negatives at or above its score (its threshold group end).
        self.ap_pos = n_pos - np.searchsorted(sp_asc, sp_desc, side="left")
        self.ap_neg = n_neg - np.searchsorted(sn_asc, sp_desc, side="left")

    def rank_metrics(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact weighted ROC AUC and average precision for each row of ``weights`` (k, n).

        Integer (uint8 bootstrap count) weights run in exact integer arithmetic with buffers
        reused across chunks; float weights run in float64.
        """
        w = np.atleast_2d(weights)
        k = w.shape[0]
        integer = w.dtype.kind in "ui"
        cum_t = np.int64 if not integer or 64 * max(self.n, 1) >= 2**31 else np.int32
        cum_t = np.float64 if not integer else cum_t
        b = self._buffers(k, w.dtype, cum_t)
        wp, wn, cp, cn = b["wp"], b["wn"], b["cp"], b["cn"]
        np.take(w, self.pos_sorted, axis=1, out=wp)
        np.take(w, self.neg_sorted, axis=1, out=wn)
        np.cumsum(wp, axis=1, dtype=cum_t, out=cp[:, 1:])
        np.cumsum(wn, axis=1, dtype=cum_t, out=cn[:, 1:])
        p_tot = cp[:, -1].astype(np.float64)
        n_tot = cn[:, -1].astype(np.float64)
        # AUC numerator x 2: each negative counts positives above it twice and ties once.
        above = b["above"]
        np.take(cp, self.auc_lo, axis=1, out=above)
        if self.ties:
            np.add(above, np.take(cp, self.auc_hi, axis=1), out=above)
        else:
            above *= 2
        np.multiply(above, wn, out=above)
        acc_t = np.int64 if integer else np.float64
        auc = _div(above.sum(axis=1, dtype=acc_t).astype(np.float64) / 2, p_tot * n_tot)
        # Average precision: precision at each positive's threshold group, weighted by it.
        tp_at, fp_at, prec = b["tp_at"], b["fp_at"], b["prec"]
        np.take(cp, self.ap_pos, axis=1, out=tp_at)
        np.take(cn, self.ap_neg, axis=1, out=fp_at)
        np.add(fp_at, tp_at, out=fp_at)
        prec.fill(0.0)
        np.divide(tp_at, fp_at, out=prec, where=fp_at > 0)
        np.multiply(prec, wp, out=prec)
        ap = _div(prec.sum(axis=1), p_tot)
        return auc, ap

    def _buffers(self, k: int, w_dtype: np.dtype, cum_t: type) -> dict[str, np.ndarray]:
        key = (k, np.dtype(w_dtype).str, np.dtype(cum_t).str)
        cached = getattr(self, "_buf", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        n_pos, n_neg = self.pos_sorted.size, self.neg_sorted.size
        buf = {
            "wp": np.empty((k, n_pos), w_dtype),
            "wn": np.empty((k, n_neg), w_dtype),
            "cp": np.zeros((k, n_pos + 1), cum_t),
            "cn": np.zeros((k, n_neg + 1), cum_t),
            "above": np.empty((k, n_neg), cum_t),
            "tp_at": np.empty((k, n_pos), cum_t),
            "fp_at": np.empty((k, n_pos), cum_t),
            "prec": np.empty((k, n_pos), np.float64),
        }
        self._buf = (key, buf)
        return buf

    def finalise(self, sums: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every binary metric for each weighting: ``sums`` (k, 6) = weights @ columns."""
        out = finalise_counts(sums, probabilities=self.probabilities)
        out["roc_auc"], out["average_precision"] = self.rank_metrics(weights)
        return {name: out[name] for name in BINARY_METRICS}

    def point(self, sample_weight: np.ndarray | None = None) -> dict[str, R.MetricValue]:
        """Point estimates with float64 weights (``sample_weight`` or ones)."""
        w = R.as_weights(sample_weight, self.n)[None, :]
        values = self.finalise(w @ self.columns, w)
        return {name: _value(name, values[name][0], self.probabilities) for name in BINARY_METRICS}

    def confusion_matrix(self) -> list[list[int]]:
        """``[[tn, fp], [fn, tp]]`` at the threshold (scikit-learn's layout)."""
        tp, fp, pos, total = self.columns[:, :4].sum(axis=0)
        return [[int(total - pos - fp), int(fp)], [int(pos - tp), int(tp)]]


def reason(name: str, *, probabilities: bool = True) -> str:
    """Why ``name`` is undefined (one class present, zero denominator, ...)."""
    if name in ("log_loss", "brier_score") and not probabilities:
        return REASON_SCORES_OUTSIDE_01
    return _REASONS[name]


def _value(name: str, v: float, probabilities: bool) -> R.MetricValue:
    return R.MetricValue.of(v, reason(name, probabilities=probabilities))


def _as_binary(y_true: object) -> np.ndarray:
    y = np.asarray(y_true).ravel()
    if y.dtype == bool:
        return y
    values = np.unique(y)
    if not np.isin(values, [0, 1]).all():
        raise ValueError(f"binary y_true must be 0/1 (1 = positive), found values {values[:5]}")
    return y.astype(bool)


def binary_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    threshold: float = 0.5,
    sample_weight: np.ndarray | None = None,
) -> dict[str, R.MetricValue]:
    """Every binary metric at ``threshold`` (predicted positive when ``score >= threshold``).

    Examples
    --------
    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> m["roc_auc"].value, m["accuracy"].value
    (0.75, 0.5)
    >>> binary_metrics([1, 1], [0.2, 0.8])["roc_auc"].reason
    'only one class present in y_true'
    """
    return BinaryPrepared(y_true, y_score, threshold=threshold).point(sample_weight)


def _single(name: str):
    def metric(y_true, y_score, *, threshold=0.5, sample_weight=None) -> R.MetricValue:
        return binary_metrics(y_true, y_score, threshold=threshold, sample_weight=sample_weight)[name]

    metric.__name__ = name
    return metric


for _name in BINARY_METRICS:
    R.register(
        R.MetricSpec(
            name=_name,
            task="binary",
            greater_is_better=_name not in _LOWER_IS_BETTER,
            needs="scores" if _name in _NEEDS_SCORES else "labels",
            function=_single(_name),
        )
    )
