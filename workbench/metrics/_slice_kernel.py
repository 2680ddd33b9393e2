"""One compiled pass per model and four replicates gives every binary slice's sums.

The old slice bootstrap took, for every slice, its columns of the replicate counts, one
matrix product and a per-slice ``ScoreOrder`` gather + cumulative sums for ROC AUC: the
counts were regenerated for every feature and every row was gathered once per feature.

Here the rows are sorted once by descending score (stable, all classes together). A slice's
rows in that order are the slice's own descending order, so one walk over the sorted rows
with a running negative (and positive) weight *per slice* gives, for every slice of every
feature at once:

* ``P``, ``N`` — the slice's positive and negative weight (``runP``/``runN`` at the end);
* ``TP``, ``FP`` — the same at the threshold cut (rows with ``score >= threshold`` are a
  prefix of the order; a cut never splits a group of tied scores);
* ``D = d_ge + d_gt`` — for each positive, the slice's negative weight at-or-above plus
  strictly-above its score, summed with the positive's weight (tied scores count one half:
  ``2·AUC·P·N = 2PN − D``, as in ``BinaryPrepared.replicate_stats``);
* optionally ``Σ w·tp_at/(tp_at + fp_ge)`` for average precision (scikit-learn's step
  definition, ``tp_at`` = the slice's positives at or above the score).

All of these are sums of small integers held in float64 (exact below 2**53), so the ROC AUC
and the threshold metrics of every replicate equal the per-slice computation bit for bit;
only the AP sum may differ in its last digits (summation order).
Each pass handles ``LANES`` (8) replicates: a row's slice codes (one per feature, in sorted
order, so the reads are sequential) are loaded once for eight independent accumulators.
Measured at 1M rows and 22 slice columns: ~0.09 CPU-s per model and pass (0.4 ns per row x
column x replicate; 0.13-0.14 before the lane loops were vectorized), of which the gather of
the block's counts into score order ~0.02 s; separate accumulator arrays were slower.
"""

from __future__ import annotations

import numpy as np

from workbench.metrics._kernels import lazy_kernel

LANES = 8
# accumulator slots per (slice, lane)
RUN_P, RUN_N, CUT_P, CUT_N, DSUM, AP = range(6)
N_SLOTS = 6


@lazy_kernel
def _pass_kernel():
    import numba

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def slice_pass(counts, r0, n_lanes, order, ypos, gcode, group_end, cut, want_ap, t8, w4, acc, L):  # pragma: no cover
        n = order.size
        n_feat = gcode.shape[1]
        n_g = acc.shape[0]
        # this block's counts in score order as float64: transpose to one 8-byte row per data row
        # (sequential), then gather one 8-byte row per sorted row (a single cache line each)
        for i in range(n):
            for lane in range(LANES):
                t8[i, lane] = counts[r0 + lane, i] if lane < n_lanes else 0
        for i in range(n):
            src = t8[order[i]]
            for lane in range(LANES):
                w4[i, lane] = src[lane]
        # one row of accumulators per slice: [run_n | dsum | run_p | ap] lanes side by side, so
        # the lane loops below touch contiguous, non-overlapping runs. L (= LANES) is passed at
        # run time on purpose: with a constant trip count LLVM unrolls the lane loops into scalar
        # code (numba leaves the SLP vectorizer off); a run-time count keeps them loops, which the
        # loop vectorizer turns into vector adds (same per-lane operations, bit-identical sums;
        # 0.14 -> 0.09 CPU-s per pass at 1M rows and 22 columns)
        loc = np.zeros((n_g, 4 * L))
        cut_p = np.zeros((n_g, L))
        cut_n = np.zeros((n_g, L))
        i = 0
        while i < n:
            if i == cut:
                cut_n[:, :] = loc[:, 0:L]
                cut_p[:, :] = loc[:, 2 * L:3 * L]
            j = group_end[i]
            if j == i + 1:  # no tie: d_ge = d_gt
                w = w4[i]
                if ypos[i]:
                    for f in range(n_feat):
                        a = loc[gcode[i, f]]
                        for lane in range(L):
                            a[L + lane] += 2.0 * w[lane] * a[lane]
                            a[2 * L + lane] += w[lane]
                    if want_ap:
                        for f in range(n_feat):
                            a = loc[gcode[i, f]]
                            for lane in range(L):
                                a[3 * L + lane] += w[lane] * a[2 * L + lane] / max(a[2 * L + lane] + a[lane], 1.0)
                else:
                    for f in range(n_feat):
                        a = loc[gcode[i, f]]
                        for lane in range(L):
                            a[lane] += w[lane]
            else:
                # a group of tied scores: negatives strictly above (d_gt), then the group's
                # negatives and positives join the running sums, then at-or-above (d_ge)
                for k in range(i, j):
                    if ypos[k]:
                        for f in range(n_feat):
                            a = loc[gcode[k, f]]
                            for lane in range(L):
                                a[L + lane] += w4[k, lane] * a[lane]
                for k in range(i, j):
                    off = 2 * L if ypos[k] else 0
                    for f in range(n_feat):
                        a = loc[gcode[k, f]]
                        for lane in range(L):
                            a[off + lane] += w4[k, lane]
                for k in range(i, j):
                    if ypos[k]:
                        for f in range(n_feat):
                            a = loc[gcode[k, f]]
                            for lane in range(L):
                                w = w4[k, lane]
                                a[L + lane] += w * a[lane]
                                if want_ap:
                                    a[3 * L + lane] += w * a[2 * L + lane] / max(a[2 * L + lane] + a[lane], 1.0)
            i = j
        if cut >= n:
            cut_n[:, :] = loc[:, 0:L]
            cut_p[:, :] = loc[:, 2 * L:3 * L]
        acc[:, RUN_N, :] = loc[:, 0:L]
        acc[:, DSUM, :] = loc[:, L:2 * L]
        acc[:, RUN_P, :] = loc[:, 2 * L:3 * L]
        acc[:, AP, :] = loc[:, 3 * L:4 * L]
        acc[:, CUT_P, :] = cut_p
        acc[:, CUT_N, :] = cut_n

    return slice_pass


class SortedSlices:
    """One model's rows in descending score order with every feature's global slice code.

    Parameters
    ----------
    y : numpy.ndarray of bool
        Positive class per row.
    score : numpy.ndarray of float64
        The model's scores.
    threshold : float
        ``score >= threshold`` is predicted positive.
    codes : numpy.ndarray (n, F) of int
        Global slice code per row and feature (``0 .. n_slices - 1``, features' codes disjoint).
    n_slices : int
        Number of global slice codes.
    """

    def __init__(self, y: np.ndarray, score: np.ndarray, threshold: float, codes: np.ndarray, n_slices: int) -> None:
        self.n_slices = int(n_slices)
        self.order = np.argsort(-score, kind="stable")
        s = score[self.order]
        self.ypos = np.ascontiguousarray(np.asarray(y, dtype=bool)[self.order])
        dtype = np.uint16 if n_slices <= np.iinfo(np.uint16).max else np.int32
        self.gcode = np.ascontiguousarray(codes[self.order], dtype=dtype)
        n = s.size
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if n else np.zeros(0, np.int64)
        self.group_end = np.zeros(n, dtype=np.int64)
        self.group_end[starts] = np.r_[starts[1:], n]
        self.cut = int(np.count_nonzero(score >= threshold))

    def replicate_sums(self, counts: np.ndarray, r0: int, n_lanes: int, *, want_ap: bool,
                       w4: np.ndarray) -> np.ndarray:
        """Accumulators ``(n_slices, N_SLOTS, LANES)`` of replicates ``counts[r0 : r0 + n_lanes]``.

        ``w4`` is an ``(n, LANES)`` float64 work array (one per thread).
        """
        acc = np.empty((self.n_slices, N_SLOTS, LANES), dtype=np.float64)
        _pass_kernel()(counts, r0, n_lanes, self.order, self.ypos, self.gcode, self.group_end, self.cut,
                       bool(want_ap), np.empty((self.order.size, LANES), np.uint8), w4, acc, LANES)
        return acc
