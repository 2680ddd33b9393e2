"""Exact two-sample statistics of a numeric feature from one pass over the current data.

The reference is summarised once on a fine grid of its own quantiles (``grid``): counts and
anchored sums per grid cell. A current column is binned onto that grid with a branch-free
lookup table (no sort, no binary search per value), which gives the PSI counts, the ECDF of
both samples at every grid point and the integral of both ECDFs over every cell. From those:

* the KS statistic on the grid is a lower bound and every cell carries an upper bound, so
  only cells whose bound exceeds the grid maximum are refined exactly (their values sorted);
* the Wasserstein-1 distance ``integral |F_ref - F_cur|`` is exact on cells where the sign of
  ``F_ref - F_cur`` cannot change, and the other cells are refined the same way.

With the sorted reference available both numbers equal scipy's to rounding; from a profile
loaded from JSON (no raw reference) they come with an explicit error bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.metrics._kernels import lazy_kernel

_LUT_SIZE = 1 << 16
LUT_SIZE = _LUT_SIZE  # the SQL executors build the same table (workbench.engine._duckdb)
_MAX_PASSES = 10


@dataclass(frozen=True, eq=False)
class GridBinner:
    """Maps values to ``#{grid edges < x}`` (right-closed cells) without a per-value search."""

    grid: np.ndarray
    lo: float
    inv_width: float
    table: np.ndarray | None
    passes: int

    @classmethod
    def build(cls, grid: np.ndarray) -> GridBinner:
        grid = np.asarray(grid, dtype=np.float64)
        g = grid.size
        if g <= 8 or not grid[-1] > grid[0]:
            return cls(grid, 0.0, 0.0, None, g)
        lo, hi = float(grid[0]), float(grid[-1])
        width = (hi - lo) / _LUT_SIZE
        starts = lo + np.arange(_LUT_SIZE + 1) * width
        counts_below = np.searchsorted(grid, starts, side="left")
        counts_below[-1] = g
        # a value's lookup cell may be off by one through rounding: start one cell lower
        lower = np.r_[0, counts_below[: _LUT_SIZE - 1]]
        upper = np.r_[counts_below, g][2:]
        passes = int(np.max(upper - lower))
        if passes > _MAX_PASSES:
            return cls(grid, lo, 0.0, None, -1)
        return cls(grid, lo, 1.0 / width, lower.astype(np.int32), passes)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        grid = self.grid
        if self.passes == -1:
            return np.searchsorted(grid, x, side="left")
        if self.table is None:
            idx = np.zeros(x.size, dtype=np.int32)
            for edge in grid:
                idx += x > edge
            return idx
        u = np.subtract(x, self.lo)
        u *= self.inv_width
        np.clip(u, 0, _LUT_SIZE - 1, out=u)
        idx = self.table[u.astype(np.int32)]
        del u
        g_ext = np.r_[grid, np.inf]
        for _ in range(self.passes):
            idx += x > g_ext[idx]
        return idx


@dataclass(frozen=True, eq=False)
class CellStats:
    """Per grid cell: value count, sum of ``value - anchor`` and count of values on the anchor.

    The anchor of a cell is its right edge (``grid[i]``), and ``grid[-1]`` for the last,
    open-ended cell, so ``counts - at_edge`` are the values strictly inside a cell.
    """

    counts: np.ndarray
    sums: np.ndarray
    at_edge: np.ndarray


def anchors_of(grid: np.ndarray) -> np.ndarray:
    return np.r_[grid, grid[-1]]


def cell_stats(values: np.ndarray, cells: np.ndarray, grid: np.ndarray) -> CellStats:
    """Aggregate ``values`` (already binned into ``cells``) per grid cell."""
    n_cells = grid.size + 1
    offset = values - anchors_of(grid)[cells]
    counts = np.bincount(cells, minlength=n_cells).astype(np.int64)
    sums = np.bincount(cells, weights=offset, minlength=n_cells)
    at_edge = np.bincount(cells[offset == 0], minlength=n_cells).astype(np.int64)
    at_edge[-1] = 0  # the last cell's anchor is its left edge, which it excludes
    return CellStats(counts, sums, at_edge)


@dataclass(frozen=True, eq=False)
class ColumnScan:
    """One pass over a current column: cell per value (``grid.size + 1`` for a missing value),
    per-cell statistics of the finite values, their count, minimum and maximum."""

    cells: np.ndarray
    stats: CellStats
    n_finite: int
    minimum: float
    maximum: float


def scan_column(x: np.ndarray, binner: GridBinner) -> ColumnScan:
    """Bin a whole current column (NaN and infinities counted as missing) and aggregate it in two
    compiled passes: the same cells as ``binner(x[finite])`` and the same sums as :func:`cell_stats`
    (each cell adds its values in row order, as ``np.bincount`` does).

    The first pass only bins (lookup table, then a fixed number of branch-free corrections: a
    data-dependent loop mispredicts on every other value); the second scatters into one
    interleaved (count, sum, on-anchor) row per cell, so a value touches one cache line.
    """
    grid = binner.grid
    g = grid.size
    x = np.ascontiguousarray(x, dtype=np.float64)
    cells = np.empty(x.size, dtype=np.int32)
    bin_kernel, agg_kernel = _kernels()[:2]
    if binner.table is not None:
        bin_kernel(x, np.r_[grid, np.inf], binner.lo, binner.inv_width, binner.table, binner.passes, cells)
    else:  # tiny or very uneven grid: exact search, missing values marked as in the kernel
        finite = np.isfinite(x)
        cells[:] = np.where(finite, np.searchsorted(grid, np.where(finite, x, 0.0), side="left"), g + 1)
    acc = np.zeros((g + 2, 4))
    lo, hi = agg_kernel(x, cells, np.r_[anchors_of(grid), 0.0], acc)
    stats = _stats_of(acc)
    return ColumnScan(cells, stats, int(stats.counts.sum()), float(lo), float(hi))


def _stats_of(acc: np.ndarray) -> CellStats:
    """:class:`CellStats` from the aggregate kernel's (cells + missing, 4) accumulator."""
    g1 = acc.shape[0] - 1  # grid cells; the last row holds the missing values
    at_edge = acc[:g1, 2].astype(np.int64)
    at_edge[-1] = 0  # the last cell's anchor is its left edge, which it excludes
    return CellStats(acc[:g1, 0].astype(np.int64), acc[:g1, 1].copy(), at_edge)


def select_cells(values: np.ndarray, cells: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values[mask[cells]]`` in one compiled pass; cells beyond ``mask`` (missing) are skipped."""
    return _kernels()[2](np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(cells),
                         np.ascontiguousarray(mask, dtype=np.bool_))


def sort_values(x: np.ndarray) -> np.ndarray:
    """Ascending sort of finite float64 values: a compiled LSD radix sort on the IEEE bit
    patterns (byte passes where all values agree are skipped), 3-4x faster than ``np.sort`` on
    200k values; the same values in the same order (``-0.0`` before ``0.0``, which compare equal).
    """
    return _kernels()[3](np.ascontiguousarray(x, dtype=np.float64))


def sorted_cell_stats(v: np.ndarray, grid: np.ndarray) -> CellStats:
    """:func:`cell_stats` of sorted values: cells from ``grid.size`` searches instead of one per
    value, sums added in the same (row) order, so the same numbers."""
    ends = np.searchsorted(v, grid, side="right")  # values <= grid[j] end cell j
    cells = np.repeat(np.arange(grid.size + 1, dtype=np.int32), np.diff(np.r_[0, ends, v.size]))
    acc = np.zeros((grid.size + 2, 4))
    _kernels()[1](v, cells, np.r_[anchors_of(grid), 0.0], acc)
    return _stats_of(acc)


@lazy_kernel
def _kernels() -> list:
    import numba

    @numba.njit(nogil=True, cache=True)
    def bin_values(x, grid_ext, lo, inv_width, table, passes, cells):  # pragma: no cover
        g = grid_ext.size - 1
        last = float(table.size - 1)
        for i in range(x.size):
            xi = x[i]
            finite = np.isfinite(xi)
            xs = xi if finite else lo
            u = min(max((xs - lo) * inv_width, 0.0), last)
            idx = table[np.int32(u)]
            for _ in range(passes):  # the table's cell is at most `passes` cells low
                idx += xs > grid_ext[idx]
            cells[i] = idx if finite else g + 1

    @numba.njit(nogil=True, cache=True)
    def aggregate(x, cells, anchors, acc):  # pragma: no cover
        g1 = acc.shape[0] - 2
        vmin, vmax = np.inf, -np.inf
        for i in range(x.size):
            idx = cells[i]
            xi = x[i]
            off = xi - anchors[idx]
            row = acc[idx]
            row[0] += 1.0
            row[1] += off
            row[2] += off == 0
            inside = idx <= g1
            vmin = min(vmin, xi if inside else np.inf)
            vmax = max(vmax, xi if inside else -np.inf)
        acc[g1 + 1, :] = 0.0  # the missing values' row
        return vmin, vmax

    @numba.njit(nogil=True, cache=True)
    def select(values, cells, mask):  # pragma: no cover
        out = np.empty(values.size)
        k = 0
        m = mask.size
        for i in range(values.size):
            c = cells[i]
            out[k] = values[i]  # written always, kept only if selected: no branch to mispredict
            k += (c < m) and mask[c]
        return out[:k].copy()

    @numba.njit(nogil=True, cache=True)
    def radix_sort(x):  # pragma: no cover
        n = x.size
        keys = x.view(np.uint64).copy()
        sign = np.uint64(1) << np.uint64(63)
        for i in range(n):  # order-preserving map of IEEE doubles to unsigned integers
            k = keys[i]
            keys[i] = ~k if k & sign else k | sign
        counts = np.zeros((8, 256), np.int64)
        for i in range(n):
            k = keys[i]
            for b in range(8):
                counts[b, (k >> np.uint64(8 * b)) & np.uint64(255)] += 1
        src, dst = keys, np.empty_like(keys)
        pos = np.empty(256, np.int64)
        for b in range(8):
            c = counts[b]
            if c.max() == n:  # every value has the same byte here
                continue
            total = 0
            for d in range(256):
                pos[d] = total
                total += c[d]
            shift = np.uint64(8 * b)
            for i in range(n):
                k = src[i]
                d = (k >> shift) & np.uint64(255)
                dst[pos[d]] = k
                pos[d] += 1
            src, dst = dst, src
        for i in range(n):
            k = src[i]
            src[i] = k & ~sign if k & sign else ~k
        return src.view(np.float64)

    return [bin_values, aggregate, select, radix_sort]


@dataclass(frozen=True)
class TwoSample:
    ks_statistic: float
    ks_bound: float
    wasserstein: float
    wasserstein_bound: float
    refined_share: float


def _cell_integrals(st: CellStats, cum_before, a, b, anchors, n):
    """Integral over each cell [a, b] of the ECDF of one sample."""
    return (cum_before * (b - a) + st.counts * (b - anchors) - st.sums) / n


def _straddle_estimate(d_a, d_b, width, integral, upper):
    """|D| integrated over a cell where D may change sign: estimate and error bound.

    The exact value lies in ``[|integral D|, width * upper]``; the estimate treats D as
    linear between the cell edges (never below the exact lower bound).
    """
    lower = np.abs(integral)
    denom = np.abs(d_a) + np.abs(d_b)
    crossing = (d_a * d_b < 0) & (denom > 0)
    linear = np.where(
        crossing, width * (d_a**2 + d_b**2) / (2 * np.where(denom > 0, denom, 1)), lower
    )
    est = np.minimum(np.maximum(lower, linear), width * upper)
    bound = np.maximum(width * upper - est, est - lower)
    return est, np.maximum(bound, 0)


def two_sample(
    grid: np.ndarray,
    ref: CellStats,
    cur: CellStats,
    *,
    lo: float,
    hi: float,
    ref_sorted: np.ndarray | None,
    cur_values: np.ndarray,
    cur_cells: np.ndarray,
    exact_wasserstein: bool = False,
    w_tolerance: float = 0.0,
) -> TwoSample:
    """KS statistic and Wasserstein-1 distance from grid aggregates, refined where needed.

    KS is exact whenever ``ref_sorted`` is given. Wasserstein is exact on cells where the
    sign of ``F_ref - F_cur`` is fixed and on refined cells; on the remaining cells (where
    the two ECDFs cross) it is estimated with a stated bound unless ``exact_wasserstein``:
    the cells with the widest bounds are refined until the bound left is <= ``w_tolerance``.
    """
    nr, nc = ref.counts.sum(), cur.counts.sum()
    r_cum = np.r_[0, np.cumsum(ref.counts)]  # ref count before cell i is r_cum[i]
    c_cum = np.r_[0, np.cumsum(cur.counts)]
    fr_a, fr_b = r_cum[:-1] / nr, r_cum[1:] / nr
    fc_a, fc_b = c_cum[:-1] / nc, c_cum[1:] / nc
    d_grid = float(np.max(np.abs(fr_b - fc_b)))
    # inside a cell (a, b) the ECDFs rise by the values strictly inside at most
    d_a = fr_a - fc_a
    d_in_hi = d_a + (ref.counts - ref.at_edge) / nr
    d_in_lo = d_a - (cur.counts - cur.at_edge) / nc
    upper = np.maximum(np.maximum(d_in_hi, -d_in_lo), np.abs(fr_b - fc_b))
    a = np.r_[lo, grid]
    b = np.r_[grid, hi]
    width = b - a
    anchors = anchors_of(grid)
    diff = _cell_integrals(ref, r_cum[:-1], a, b, anchors, nr) - _cell_integrals(
        cur, c_cum[:-1], a, b, anchors, nc
    )
    straddle = (d_in_lo < 0) & (d_in_hi > 0) & (width > 0)
    if ref_sorted is None:
        refine = np.zeros_like(straddle)
        ks, ks_bound, ks_w, share = d_grid, float(max(upper.max(), d_grid) - d_grid), 0.0, 0.0
    else:
        refine = (upper > d_grid) | (straddle if exact_wasserstein else False)
        if not exact_wasserstein:
            refine |= _worst_bounds(straddle & ~refine, fr_a - fc_a, fr_b - fc_b, width, diff,
                                    upper, w_tolerance)
        ks_ref, ks_w, share = _refine(
            np.flatnonzero(refine), ref_sorted, r_cum, c_cum, nr, nc, a, b, grid,
            cur_values, cur_cells, refine,
        )
        ks, ks_bound = max(d_grid, ks_ref), 0.0
    certain = ~straddle & ~refine
    rest = straddle & ~refine
    est, bound = _straddle_estimate(
        (fr_a - fc_a)[rest], (fr_b - fc_b)[rest], width[rest], diff[rest], upper[rest]
    )
    w = float(np.sum(np.abs(diff[certain]))) + ks_w + float(est.sum())
    return TwoSample(ks, ks_bound, w, float(bound.sum()), share)


def _worst_bounds(rest, d_a, d_b, width, diff, upper, tolerance):
    """Cells to refine so that the Wasserstein bound left on the others is <= tolerance."""
    idx = np.flatnonzero(rest)
    _, bound = _straddle_estimate(d_a[idx], d_b[idx], width[idx], diff[idx], upper[idx])
    order = np.argsort(bound)[::-1]
    remaining = bound.sum() - np.cumsum(bound[order])
    n_take = int(np.searchsorted(-remaining, -tolerance, side="left")) + 1 if bound.sum() > tolerance else 0
    out = np.zeros_like(rest)
    out[idx[order[:n_take]]] = True
    return out


def _refine(cells, ref_sorted, r_cum, c_cum, nr, nc, a, b, grid, cur_values, cur_cells, mask):
    """Exact sup |F_ref - F_cur| and integral |F_ref - F_cur| over the selected cells."""
    if cells.size == 0:
        return 0.0, 0.0, 0.0
    r_len = r_cum[cells + 1] - r_cum[cells]
    total = int(r_len.sum())
    offsets = np.r_[0, np.cumsum(r_len)[:-1]]
    ref_sel = ref_sorted[np.repeat(r_cum[cells] - offsets, r_len) + np.arange(total)]
    cur_sel = sort_values(select_cells(cur_values, cur_cells, mask))  # cell grid.size + 1 marks a missing value
    # two sorted runs: the stable sort (timsort) merges them in linear time
    vals = np.sort(np.concatenate([ref_sel, cur_sel]), kind="stable")
    vals = vals[np.r_[vals[1:] != vals[:-1], True]] if vals.size else vals
    cell = np.searchsorted(grid, vals, side="left")
    pos = np.searchsorted(cells, cell)
    c_len = c_cum[cells + 1] - c_cum[cells]
    excl_c = np.r_[0, np.cumsum(c_len)[:-1]]
    fr = np.searchsorted(ref_sorted, vals, side="right") / nr
    fc = (c_cum[cell] + np.searchsorted(cur_sel, vals, side="right") - excl_c[pos]) / nc
    d = fr - fc
    ks = float(np.max(np.abs(d))) if d.size else 0.0
    same = np.r_[cell[1:] == cell[:-1], False]
    nxt = np.where(same, np.r_[vals[1:], 0.0], b[cell])
    w = float(np.sum(np.abs(d) * (nxt - vals)))
    # piece from each cell's left edge to its first value (the whole cell when it is empty)
    d_a = np.abs(r_cum[cells] / nr - c_cum[cells] / nc)
    first = b[cells].copy()
    if cell.size:
        starts = np.r_[True, cell[1:] != cell[:-1]]
        first[np.searchsorted(cells, cell[starts])] = vals[starts]
    w += float(np.sum(d_a * (first - a[cells])))
    return ks, w, float((total + cur_sel.size) / max(nr + nc, 1))
