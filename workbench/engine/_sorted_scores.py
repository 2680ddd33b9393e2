"""Exact AUC/AP and the calibration sums of every model from its scores sorted in memory.

The DuckDB executor's exact AUC was one ``GROUP BY score ORDER BY score`` per model (a hash
table of every distinct score, then a sort: 2 × 7–8 s at 10M rows), and the calibration
≈ 8 more scans (quantile edges, bins, warm start, 2–4 Newton steps, final sums). When the
score columns fit in half of DuckDB's ``memory_limit`` (8 bytes per row and model; 800 MB for
two models at 50M rows) they are instead read ONCE, as Arrow batches of (s_0, s_1, …, y), into
one array per (model, label) and sorted in place (numpy's SIMD sort). Everything those scans
computed depends on the score and the label only, so it comes from the sorted arrays:

* exact AUC/AP: a descending merge of the negatives' and positives' scores visits each
  distinct score once with its (negatives, positives): the same integer sums as the grouped
  query (``num2``, ``P``, ``N`` identical; ``ap_sum`` to the order of float addition);
* quantile edges: the order statistics by their rank in the merge, interpolated as
  ``numpy.quantile`` (bit-identical to it, :func:`workbench.engine._quantiles.lerp_quantiles`);
* uniform and quantile calibration bins (count, Σp, Σy), with the SQL bin expressions;
* the Newton fit of the logistic recalibration: the arrays are turned into logit(p) in place
  once, then the warm-start histogram and each Newton step are compiled passes (numba, no GIL,
  the four (model, label) arrays on two threads) with the SQL path's expressions and stopping rule.

Larger tables keep the SQL path (DuckDB sorts and spills to disk).
"""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.engine import _sql as S
from workbench.engine._plan import RoleAggregates
from workbench.engine._quantiles import lerp_quantiles
from workbench.errors import ArtefactError
from workbench.metrics import lazy_kernel
from workbench.metrics.calibration import WARM_BINS, warm_start_fit

#: Rows per Arrow batch of the gathering scan.
BATCH_ROWS = 1 << 20
#: Share of DuckDB's memory_limit the sorted score arrays may take.
MEMORY_SHARE = 0.5
_UNITS = {"bytes": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def memory_limit_bytes(setting: str) -> float:
    """Bytes of a DuckDB memory setting as DuckDB reports it (``'1.8 GiB'``); inf if unparsed."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", setting)
    if not m or m.group(2).lower() not in _UNITS:
        return math.inf
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


@dataclass
class SortedScores:
    """One model's scores split by label, each ascending (``neg``: y = 0, ``pos``: y = 1)."""

    neg: np.ndarray
    pos: np.ndarray


def gather(con: Any, n_scores: int, n_rows: int, n_pos: int) -> list[SortedScores]:
    """Every score column of ``base`` read once (Arrow batches) and sorted per (model, label)."""
    neg = [np.empty(n_rows - n_pos) for _ in range(n_scores)]
    pos = [np.empty(n_pos) for _ in range(n_scores)]
    at_neg = at_pos = 0
    sql = "SELECT y, " + ", ".join(f"s_{i}" for i in range(n_scores)) + " FROM base"
    for batch in con.sql(sql).to_arrow_reader(BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        y = batch.column(0).to_numpy(zero_copy_only=False) == 1
        k_pos = int(np.count_nonzero(y))
        k_neg = batch.num_rows - k_pos
        if at_pos + k_pos > n_pos or at_neg + k_neg > n_rows - n_pos:
            raise ArtefactError("evaluation data: changed while the review read it (more rows than counted); "
                                "re-run the review")
        for i in range(n_scores):
            s = batch.column(1 + i).to_numpy(zero_copy_only=False)
            pos[i][at_pos: at_pos + k_pos] = s[y]
            neg[i][at_neg: at_neg + k_neg] = s[~y]
        at_pos += k_pos
        at_neg += k_neg
    if at_pos != n_pos or at_neg != n_rows - n_pos:
        raise ArtefactError("evaluation data: changed while the review read it (fewer rows than counted); "
                            "re-run the review")
    arrays = [a for pair in zip(neg, pos, strict=True) for a in pair]
    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy's sort releases the GIL
        list(pool.map(np.ndarray.sort, arrays))
    return [SortedScores(n, p) for n, p in zip(neg, pos, strict=True)]


@lazy_kernel
def _kernels() -> dict[str, Any]:
    import numba

    @numba.njit(nogil=True, cache=True)
    def rank_terms(neg, pos):  # pragma: no cover - compiled
        # distinct scores in descending order, with their negatives and positives
        i, j = neg.size - 1, pos.size - 1
        tp = 0
        seen = 0
        num2 = 0
        ap = 0.0
        while i >= 0 or j >= 0:
            v = neg[i] if (i >= 0 and (j < 0 or neg[i] >= pos[j])) else pos[j]
            n_v = 0
            while i >= 0 and neg[i] == v:
                n_v += 1
                i -= 1
            p_v = 0
            while j >= 0 and pos[j] == v:
                p_v += 1
                j -= 1
            tp += p_v
            seen += n_v + p_v
            num2 += n_v * (2 * (tp - p_v) + p_v)
            ap += p_v * (tp / seen)
        return num2, ap, tp, seen - tp

    @numba.njit(nogil=True, cache=True)
    def order_stats(neg, pos, ranks, out):  # pragma: no cover - compiled
        # values at ascending ranks (sorted) of the merge of two ascending arrays
        i = j = 0
        k = 0
        for r in range(ranks.size):
            target = ranks[r]
            while k < target:
                if j >= pos.size or (i < neg.size and neg[i] <= pos[j]):
                    i += 1
                else:
                    j += 1
                k += 1
            if j >= pos.size or (i < neg.size and neg[i] <= pos[j]):
                out[r] = neg[i]
            else:
                out[r] = pos[j]

    @numba.njit(nogil=True, cache=True)
    def bin_sums(s, yv, nb, inner, out_u, out_q):  # pragma: no cover - compiled
        # uniform bins floor(s * nb) clipped (the SQL bin_expr), quantile bins #{inner edges <= s}
        q = 0
        for k in range(s.size):
            x = s[k]
            u = min(max(np.floor((x - 0.0) * nb), 0.0), nb - 1.0)
            while q < inner.size and x >= inner[q]:
                q += 1
            iu = int(u)
            out_u[iu, 0] += 1.0
            out_u[iu, 1] += x
            out_u[iu, 2] += yv
            out_q[q, 0] += 1.0
            out_q[q, 1] += x
            out_q[q, 2] += yv

    @numba.njit(nogil=True, cache=True)
    def to_logit(s, eps):  # pragma: no cover - compiled
        for k in range(s.size):
            c = min(max(s[k], eps), 1.0 - eps)
            s[k] = math.log(c) - math.log(1.0 - c)

    @numba.njit(nogil=True, cache=True)
    def warm_sums(x, lo, scale, nbins, counts, sums):  # pragma: no cover - compiled
        for k in range(x.size):
            b = int(min(max(np.floor((x[k] - lo) * scale), 0.0), nbins - 1.0))
            counts[b] += 1.0
            sums[b] += x[k]

    @numba.njit(nogil=True, cache=True)
    def newton_sums(x, yv, a, b, finite, out):  # pragma: no cover - compiled
        # blocks of 4096 summed separately, then added: less rounding than one running sum
        t = np.zeros(5)
        for start in range(0, x.size, 4096):
            g0 = g1 = h00 = h01 = h11 = 0.0
            for k in range(start, min(start + 4096, x.size)):
                xi = x[k]
                mu = 1.0 / (1.0 + math.exp(-(a + b * xi))) if finite else 0.5
                r = yv - mu
                v = mu * (1.0 - mu)
                g0 += r
                g1 += xi * r
                h00 += v
                h01 += xi * v
                h11 += xi * xi * v
            t[0] += g0
            t[1] += g1
            t[2] += h00
            t[3] += h01
            t[4] += h11
        out[:] = t

    return {"rank_terms": rank_terms, "order_stats": order_stats, "bin_sums": bin_sums, "to_logit": to_logit,
            "warm_sums": warm_sums, "newton_sums": newton_sums}


def rank_summary(scores: SortedScores) -> dict[str, float]:
    """``num2, ap_sum, P, N`` of ``DuckDBExecutor._exact_rank_summary`` from the sorted arrays."""
    num2, ap, p, n = _kernels()["rank_terms"](scores.neg, scores.pos)
    return {"num2": int(num2), "ap_sum": float(ap), "P": int(p), "N": int(n)}


def quantiles(scores: SortedScores, qs: np.ndarray) -> list[float]:
    """``numpy.quantile`` (linear) of all the model's scores at ``qs``, bit for bit."""
    n = scores.neg.size + scores.pos.size

    def values(ranks: list[int]) -> dict[int, float]:
        r = np.asarray(ranks, dtype=np.int64)
        out = np.empty(r.size)
        _kernels()["order_stats"](scores.neg, scores.pos, r, out)
        return {int(k): float(v) for k, v in zip(r, out, strict=True)}

    return lerp_quantiles(n, qs, values)


def calibration(spec: Any, roles: list[str], out: dict[str, RoleAggregates], idx: list[int],
                scores: list[SortedScores]) -> None:
    """``SqlExecutor._calibration`` from the sorted arrays (see the module docstring).

    Overwrites the arrays of ``idx`` with logit(p): ranks must be computed before.
    """
    k = _kernels()
    b = spec.calibration_bins
    sums = {}
    for i in idx:
        role, sc = out[roles[i]], scores[i]
        edges = np.unique(np.asarray(quantiles(sc, np.linspace(0, 1, b + 1)), dtype=np.float64))
        if edges.size < 2:
            edges = np.array([edges[0], edges[0]])
        role.quantile_edges = edges
        bq = edges.size - 1
        ub, qb = np.zeros((b, 3)), np.zeros((bq, 3))
        for arr, yv in ((sc.neg, 0.0), (sc.pos, 1.0)):
            k["bin_sums"](arr, yv, float(b), edges[1:-1].copy(), ub, qb)
        sums[i] = np.r_[ub[:, 0], ub[:, 1], ub[:, 2], qb[:, 0], qb[:, 1], qb[:, 2], np.zeros(6)]
    # logit(p) in place, once: the warm start and every Newton step read it
    parts = [(i, arr, yv) for i in idx for arr, yv in ((scores[i].neg, 0.0), (scores[i].pos, 1.0))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda t: k["to_logit"](t[1], S.LOGIT_EPS), parts))
        lo = math.log(S.LOGIT_EPS) - math.log1p(-S.LOGIT_EPS)
        start = {}
        for i in idx:  # warm_start_sums' table (weight and Σ logit at 2 * bin + y), filled per label
            counts, sx = np.zeros(2 * WARM_BINS), np.zeros(2 * WARM_BINS)
            for _i, arr, yv in (p for p in parts if p[0] == i):
                at_y = slice(int(yv), None, 2)
                k["warm_sums"](arr, lo, WARM_BINS / (-2 * lo), float(WARM_BINS), counts[at_y], sx[at_y])
            start[i] = warm_start_fit(counts, sx)

        def at(thetas: dict) -> dict:
            tasks = [(i, arr, yv) for i in thetas for (j, arr, yv) in parts if j == i]
            res = list(pool.map(lambda t: _newton(k, t[1], t[2], *thetas[t[0]]), tasks))
            total: dict = {}
            for (i, _a, _y), r in zip(tasks, res, strict=True):
                total[i] = total.get(i, 0) + r
            return {i: tuple(float(v) for v in total[i]) for i in thetas}

        S.finish_calibration(at, start, out, roles, idx, sums)


def _newton(k: dict[str, Any], x: np.ndarray, yv: float, intercept: float, slope: float) -> np.ndarray:
    res = np.zeros(5)
    finite = math.isfinite(intercept) and math.isfinite(slope)
    k["newton_sums"](x, yv, float(intercept) if finite else 0.0, float(slope) if finite else 0.0, finite, res)
    return res
