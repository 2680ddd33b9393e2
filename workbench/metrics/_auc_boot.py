"""Bootstrap replicates of the weighted ROC AUC alone, for many score vectors of the same rows.

The robustness tests score one row sample ~30 times per model and need only one metric's
replicates for each scoring. The executor of ``_engine`` computes every binary metric of a
component (linear sums, AUC and average precision) replicate by replicate with a dozen numpy
calls each; here one compiled pass per (replicate, score vector) walks the rows in the
score order that :class:`workbench.metrics._binary.BinaryPrepared` already prepared, and
accumulates the integer terms of its ``replicate_stats``: the positives' and negatives' total
weight and ``d_ge``/``d_gt``, the positives' weighted count of negatives at-or-above/strictly
above them. The AUC is then finished with the very same float64 operations, so the replicates
are bit-identical to ``run_bootstrap``'s ``roc_auc`` (integer counts keep every sum exact).

The counts are the workbench's counter-based Poisson replicates
(:func:`workbench.metrics.bootstrap.fill_poisson_counts`), generated once for all score
vectors: every scoring is weighted by the same replicates (paired).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.metrics._binary import BinaryPrepared, reason
from workbench.metrics._engine import map_columns
from workbench.metrics._kernels import lazy_kernel
from workbench.metrics._spec import MetricValue
from workbench.metrics.bootstrap import fill_poisson_counts

__all__ = ["auc_replicates", "roc_auc_point"]


def _compile():
    import numba  # imported on first use; machine code cached on disk

    @numba.njit(nogil=True, cache=True)
    def terms(counts, pos_sorted, neg_sorted, fp_ge, fp_gt, ties, out):  # pragma: no cover - compiled
        n_neg = neg_sorted.size
        cn = np.empty(n_neg + 1, np.int64)
        for r in range(counts.shape[0]):
            row = counts[r]
            cn[0] = 0
            acc = 0
            for j in range(n_neg):
                acc += row[neg_sorted[j]]
                cn[j + 1] = acc
            p = 0
            d_ge = 0
            d_gt = 0
            for i in range(pos_sorted.size):
                w = int(row[pos_sorted[i]])
                p += w
                d_ge += w * cn[fp_ge[i]]
                if ties:
                    d_gt += w * cn[fp_gt[i]]
            out[r, 0] = p
            out[r, 1] = acc
            out[r, 2] = d_ge
            out[r, 3] = d_gt if ties else d_ge

    return terms


@lazy_kernel
def _terms_kernel():
    """``kernel(counts, pos_sorted, neg_sorted, fp_ge, fp_gt, ties, out)``: (k, 4) int64 terms."""
    return _compile()


def _finish(terms: np.ndarray) -> np.ndarray:
    """AUC from ``(p_tot, n_tot, d_ge, d_gt)`` exactly as ``BinaryPrepared.replicate_stats``."""
    t = terms.astype(np.float64)
    pn = t[:, 0] * t[:, 1]
    out = np.full(t.shape[0], np.nan)
    ok = pn > 0
    out[ok] = (2 * pn[ok] - t[ok, 2] - t[ok, 3]) / 2 / pn[ok]
    return out


def roc_auc_point(prepared: BinaryPrepared) -> MetricValue:
    """The unweighted ROC AUC of a prepared score vector, bit-identical to ``binary_metrics``'s.

    Examples
    --------
    >>> roc_auc_point(BinaryPrepared(np.array([0, 1, 0, 1]), np.array([.1, .9, .4, .35]), threshold=0.5)).value
    0.75
    """
    ones = np.ones((1, prepared.n), dtype=np.uint8)
    terms = np.empty((1, 4), dtype=np.int64)
    o = prepared.score_order
    _terms_kernel()(ones, o.pos_sorted, o.neg_sorted, prepared.fp_ge, prepared.fp_gt, prepared.ties, terms)
    return MetricValue.of(_finish(terms)[0], reason("roc_auc"))


def auc_replicates(prepared: Sequence[BinaryPrepared], *, n_boot: int, seed: int) -> list[np.ndarray]:
    """ROC AUC of each prepared score vector on bootstrap replicates ``0 .. n_boot - 1`` (all paired).

    Equal, replicate for replicate, to ``run_bootstrap({i: prepared[i]}, ...)[i]["roc_auc"]``.

    Examples
    --------
    >>> y = np.array([0, 1, 0, 1, 1, 0])
    >>> reps = auc_replicates([BinaryPrepared(y, np.array([.1, .9, .4, .35, .8, .2]), threshold=0.5)],
    ...                       n_boot=50, seed=3)
    >>> reps[0].shape, bool(np.nanmin(reps[0]) >= 0 and np.nanmax(reps[0]) <= 1)
    ((50,), True)
    """
    if n_boot <= 0 or not prepared:
        return [np.empty(0) for _ in prepared]
    n = prepared[0].n
    kernel = _terms_kernel()
    terms = [np.empty((n_boot, 4), dtype=np.int64) for _ in prepared]
    step = max(1, min(n_boot, (64 << 20) // max(n, 1)))  # up to 64 MiB of uint8 counts at a time
    for start in range(0, n_boot, step):
        counts = np.empty((min(step, n_boot - start), n), dtype=np.uint8)
        fill_poisson_counts(counts, seed=seed, start=start)

        def one(i: int, counts: np.ndarray = counts, start: int = start) -> None:
            p = prepared[i]
            o = p.score_order
            kernel(counts, o.pos_sorted, o.neg_sorted, p.fp_ge, p.fp_gt, p.ties,
                   terms[i][start:start + counts.shape[0]])

        map_columns(one, list(range(len(prepared))), label="auc-bootstrap")
    return [_finish(t) for t in terms]
