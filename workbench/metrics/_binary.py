"""Binary classification metrics as aggregations + finalisers.

Everything is a weighted sum, so one code path serves the point estimate (weights = 1 or
``sample_weight``) and a chunk of bootstrap replicates (weights = Poisson counts):

* *linear aggregates* — per-row columns (TP, FP, positive, one, log-loss term, Brier term)
  whose weighted sums give every threshold metric; for a chunk of replicates this is one
  matrix product ``W @ columns`` (the bootstrap executor multiplies only the log-loss and
  Brier columns and reads the four integer sums from the running sums in score order);
* *rank aggregates* — the scores are sorted once per class (``ScoreOrder``); cumulative
  weighted sums of the positives (negatives) evaluated at precomputed positions give the
  exact ROC AUC (ties count one half, as in scikit-learn's trapezoid) and average precision
  (scikit-learn's step definition) for every replicate with no re-sorting. For positive
  ``i`` with ``fp_ge``/``fp_gt`` the negative weight at-or-above/strictly-above its score,
  ``2 * AUC * P * N = 2PN - sum_i w_i (fp_ge_i + fp_gt_i)`` and
  ``AP * P = sum_i w_i tp_i / (tp_i + fp_ge_i)``.

A row is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np

from workbench.metrics import _spec as R
from workbench.metrics._engine import ScoreOrder, SortedReplicate
from workbench.metrics._kernels import lazy_kernel

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
        s, self.probabilities = checked_scores(y_score, y.size)
        self.n = y.size
        self.y = y
        self.score = s
        self.threshold = float(threshold)
        self.columns = linear_columns(y, s, threshold=self.threshold, probabilities=self.probabilities)
        #: What the bootstrap executor multiplies by the counts: the log-loss and Brier terms.
        #: TP, FP, positives and rows are integer sums, read from the running sums of the
        #: counts in score order instead (``replicate_stats``): the same numbers (the float32
        #: product of 0/1 columns over blocks of 2048 rows is exact too), and a two-column
        #: product gives these two columns the same bits as the six-column one.
        self.linear_columns = self.columns[:, 4:]
        self.single_replicate_columns = self.columns  # see ``_engine._Plan``
        self._prepare_ranks()

    def _prepare_ranks(self) -> None:
        #: The shared sorted view the bootstrap executor feeds to ``replicate_stats``.
        self.score_order = o = ScoreOrder(self.y, self.score)
        sp_desc, sn_asc = o.score_pos, o.score_neg[::-1]
        sp_asc = sp_desc[::-1]
        # For each positive (descending score): positives at or above its score (the end of its
        # threshold group), negatives at or above it, and negatives strictly above it.
        self.ap_pos = o.n_pos - np.searchsorted(sp_asc, sp_desc, side="left")
        self.fp_ge = o.n_neg - np.searchsorted(sn_asc, sp_desc, side="left")
        self.fp_gt = o.n_neg - np.searchsorted(sn_asc, sp_desc, side="right")
        self.pos_ties = bool((self.ap_pos != np.arange(1, o.n_pos + 1)).any())
        self.ties = bool((self.fp_ge != self.fp_gt).any())  # a positive and a negative share a score
        # predicted positive (score >= threshold) is a prefix of each class's descending order
        self._cut_pos = int(np.count_nonzero(o.score_pos >= self.threshold))
        self._cut_neg = int(np.count_nonzero(o.score_neg >= self.threshold))
        # the positions again in the score order's index type, for the compiled rank pass
        self._rank_idx = tuple(a.astype(o.index_dtype) for a in (self.fp_ge, self.fp_gt, self.ap_pos))

    def replicate_stats(self, view: SortedReplicate) -> tuple[float, ...]:
        """Exact weighted ROC AUC and average precision of one weighting (see ``rank_metrics``),
        then its TP, FP, positive and total weight from the running sums."""
        cp, cn = view.cp, view.cn
        counts = (float(cp[self._cut_pos]), float(cn[self._cut_neg]), float(cp[-1]), float(cp[-1]) + float(cn[-1]))
        return (*self._rank_stats(view), *counts)

    def _rank_stats(self, view: SortedReplicate) -> tuple[float, float]:
        wp, cp, cn = view.wp, view.cp, view.cn
        if cp.dtype.kind in "ui":  # integer running sums (bootstrap counts): one compiled pass
            return self._integer_stats(view)
        p_tot, n_tot = float(cp[-1]), float(cn[-1])
        fp_ge = self.score_order.scratch("fp_ge", wp.size)
        np.take(cn, self.fp_ge, out=fp_ge)
        d_ge = float(np.dot(wp, fp_ge))
        d_gt = float(np.dot(wp, np.take(cn, self.fp_gt))) if self.ties else d_ge
        # 2 x AUC numerator: each positive beats the negatives below it and ties half of its own score
        pn = p_tot * n_tot
        auc = (2 * pn - d_ge - d_gt) / 2 / pn if pn > 0 else float("nan")
        tp_at = np.take(cp, self.ap_pos) if self.pos_ties else cp[1:]
        prec = self.score_order.scratch("prec", wp.size)
        np.add(tp_at, fp_ge, out=prec)
        if view.integer:  # a zero denominator has a zero numerator: any divisor >= 1 gives 0
            np.maximum(prec, 1.0, out=prec)
        else:
            prec[prec == 0] = 1.0
        np.divide(tp_at, prec, out=prec)
        ap = float(np.dot(wp, prec)) / p_tot if p_tot > 0 else float("nan")
        return auc, ap

    def _integer_stats(self, view: SortedReplicate) -> tuple[float, float]:
        """:meth:`replicate_stats` from integer running sums, bit for bit: the compiled pass sums
        ``d_ge``/``d_gt`` in int64 (the float64 dot products of the numpy path are exact on these
        integers too) and writes the same per-positive precisions; the AP sum stays one BLAS
        dot product over them, so its rounding is the numpy path's."""
        wp, cp, cn = view.wp, view.cp, view.cn
        prec = self.score_order.scratch("prec", wp.size)
        fp_ge, fp_gt, ap_pos = self._rank_idx
        d_ge, d_gt = _rank_kernel()(cp, cn, fp_ge, fp_gt, ap_pos, self.ties, self.pos_ties, prec)
        p_tot, n_tot = float(cp[-1]), float(cn[-1])
        pn = p_tot * n_tot
        auc = (2 * pn - float(d_ge) - float(d_gt)) / 2 / pn if pn > 0 else float("nan")
        ap = float(np.dot(wp, prec)) / p_tot if p_tot > 0 else float("nan")
        return auc, ap

    def rank_metrics(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact weighted ROC AUC and average precision for each row of ``weights`` (k, n).

        Scores are sorted once per class; a weighting costs one gather and one cumulative
        sum per class plus three dot products (ties in score count one half, as in
        scikit-learn's trapezoid; average precision uses scikit-learn's step definition).
        uint8 bootstrap counts keep every sum an exact integer.
        """
        w = np.atleast_2d(weights)
        out = np.array([self._rank_stats(self.score_order.replicate(row)) for row in w]).reshape(-1, 2)
        return out[:, 0], out[:, 1]

    def finalise_stats(self, sums: np.ndarray, stats: list[tuple[float, ...]]) -> dict[str, np.ndarray]:
        """Every binary metric from the ``linear_columns`` sums (k, 2; or the six ``columns``'
        sums, of which the last two are those) and the per-replicate ``replicate_stats`` (k, 6:
        AUC, AP, TP, FP, positives, total) of integer weights."""
        per = np.asarray(stats, dtype=np.float64).reshape(-1, 6)
        sums = np.atleast_2d(np.asarray(sums, dtype=np.float64))[:, -2:]
        out = finalise_counts(np.concatenate([per[:, 2:], sums], axis=1), probabilities=self.probabilities)
        out["roc_auc"], out["average_precision"] = per[:, 0], per[:, 1]
        return {name: out[name] for name in BINARY_METRICS}

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


@lazy_kernel
def _rank_kernel():
    """``kernel(cp, cn, fp_ge, fp_gt, ap_pos, ties, pos_ties, prec) -> (d_ge, d_gt)`` on integer
    running sums: ``d_ge = sum_i w_i cn[fp_ge_i]`` (``d_gt`` likewise, ``= d_ge`` without ties)
    and ``prec[i] = tp_i / max(tp_i + cn[fp_ge_i], 1)``, ``tp_i = cp[ap_pos_i]`` (``cp[i + 1]``
    without tied positives) — ``replicate_stats``'s terms in one pass over the positives."""
    import numba  # imported on first use; machine code cached on disk

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def rank_terms(cp, cn, fp_ge, fp_gt, ap_pos, ties, pos_ties, prec):  # pragma: no cover - compiled
        d_ge = np.int64(0)
        d_gt = np.int64(0)
        for i in range(prec.size):
            w = np.int64(cp[i + 1]) - np.int64(cp[i])
            f = np.int64(cn[fp_ge[i]])
            d_ge += w * f
            if ties:
                d_gt += w * np.int64(cn[fp_gt[i]])
            t = np.int64(cp[ap_pos[i]]) if pos_ties else np.int64(cp[i + 1])
            den = t + f
            prec[i] = t / den if den > 0 else 0.0
        return d_ge, (d_gt if ties else d_ge)

    return rank_terms


def reason(name: str, *, probabilities: bool = True) -> str:
    """Why ``name`` is undefined (one class present, zero denominator, ...)."""
    if name in ("log_loss", "brier_score") and not probabilities:
        return REASON_SCORES_OUTSIDE_01
    return _REASONS[name]


def _value(name: str, v: float, probabilities: bool) -> R.MetricValue:
    return R.MetricValue.of(v, reason(name, probabilities=probabilities))


def linear_columns(y: np.ndarray, s: np.ndarray, *, threshold: float, probabilities: bool) -> np.ndarray:
    """Per-row terms whose sums ``finalise_counts`` reads: TP, FP, positive, row, log loss, Brier.

    ``y`` is boolean, ``s`` float64 scores (log loss is 0 when they are not probabilities).
    """
    pred = s >= threshold
    eps = np.finfo(np.float64).eps
    p = np.clip(s, eps, 1 - eps)
    yf = y.astype(np.float64)
    ll = -(yf * np.log(p) + (1 - yf) * np.log1p(-p)) if probabilities else np.zeros_like(s)
    return np.column_stack([(y & pred), (~y & pred), yf, np.ones_like(s), ll, (s - yf) ** 2]).astype(np.float64)


def checked_scores(y_score: object, n_rows: int) -> tuple[np.ndarray, bool]:
    """Scores of a binary task as float64, one per row and finite (else ``ValueError``), and
    whether every score is a probability in [0, 1]."""
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if s.size != n_rows:
        raise ValueError(f"y_score has {s.size} rows, y_true has {n_rows}")
    if not np.isfinite(s).all():
        raise ValueError("y_score contains NaN or infinite values")
    return s, bool(((s >= 0) & (s <= 1)).all())


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
