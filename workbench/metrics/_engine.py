"""The bootstrap executor: one pass over the replicates feeds every prepared component.

A component (``BinaryPrepared``, ``CalibrationPrepared``, ...) exposes ``columns`` (per-row
values whose weighted sums it needs; ``linear_columns`` if it keeps a wider ``columns`` for
other executors) and ``finalise(sums, weights)``. For each chunk of replicates the executor
generates the Poisson counts once (uint8) and takes the linear sums of every component as
float32 matrix products over cache-sized row blocks, added in float64 (``_Plan.linear_sums``).

Rank and bin statistics need the weights in score order. A component that has a
``score_order`` (a :class:`ScoreOrder`) and ``replicate_stats(view)`` /
``finalise_stats(sums, stats)`` is fed replicate by replicate: the executor gathers each
replicate's counts into each distinct score order **once** (one gather + one cumulative sum
per class) and hands the same view to every component sharing that order — a model's
metrics and its calibration share it. Working on one replicate at a time keeps the gathered
vectors in cache, which is several times faster than (k, n) chunk arrays at 1M rows.

Chunks run on a small thread pool (numpy releases the GIL in the gathers, sums and products);
candidate and baseline therefore share every replicate (paired), and the weights are
generated once for the whole review.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from workbench.metrics._kernels import lazy_kernel
from workbench.metrics.bootstrap import fill_poisson_counts


class Component(Protocol):
    columns: np.ndarray

    def finalise(self, sums: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]: ...


class SortedReplicate:
    """One weighting in a :class:`ScoreOrder`: per-class weights and their running sums.

    ``wp``/``wn``: weights of positives/negatives in descending score order (float64);
    ``cp``/``cn``: their cumulative sums with a leading 0 (``cp[i]`` = weight of the ``i``
    highest-scored positives): integers (int32, or int64 past 2**28 rows) for integer
    weights, float64 otherwise. Integer weights keep every sum exact.
    """

    __slots__ = ("cn", "cp", "integer", "wn", "wp")

    def __init__(self, wp, wn, cp, cn, integer: bool) -> None:
        self.wp, self.wn, self.cp, self.cn, self.integer = wp, wn, cp, cn, integer


class ScoreOrder:
    """Rows of one score vector sorted once per class (descending, stable), for any weighting.

    Shared by every component that reads the same ``(y, score)``: ``replicate(w)`` gathers a
    weight vector into this order and accumulates it, into per-thread buffers.
    """

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        y = np.asarray(y, dtype=bool)
        pos_rows, neg_rows = np.flatnonzero(y), np.flatnonzero(~y)
        self.pos_sorted = pos_rows[np.argsort(-score[pos_rows], kind="stable")]
        self.neg_sorted = neg_rows[np.argsort(-score[neg_rows], kind="stable")]
        self.score_pos = score[self.pos_sorted]
        self.score_neg = score[self.neg_sorted]
        self.n_pos, self.n_neg = self.pos_sorted.size, self.neg_sorted.size
        # running sums of uint8 counts (<= 8 per row) stay exact in int32 below 2**28 rows
        self._int = np.int32 if 8 * (self.n_pos + self.n_neg) < 2**31 else np.int64
        #: row indices in the narrowest integer type: the compiled passes read them per replicate
        self.index_dtype = np.int32 if self.n_pos + self.n_neg < 2**31 else np.int64
        self._pos_idx = self.pos_sorted.astype(self.index_dtype)
        self._neg_idx = self.neg_sorted.astype(self.index_dtype)
        self._local = threading.local()

    def _buffer(self, name: str, size: int, dtype: Any = np.float64) -> np.ndarray:
        """This thread's work array ``name`` (allocated on first use; contents undefined)."""
        buf = getattr(self._local, "buf", None)
        if buf is None:
            buf = self._local.buf = {}
        arr = buf.get(name)
        if arr is None or arr.size != size or arr.dtype != dtype:
            arr = buf[name] = np.empty(size, dtype)
        return arr

    def scratch(self, name: str, size: int) -> np.ndarray:
        """A per-thread float64 work array of ``size`` (reused; contents undefined)."""
        return self._buffer(name, size)

    def replicate(self, w: np.ndarray) -> SortedReplicate:
        """Weights ``w`` (n,) — uint8 counts or float — gathered and accumulated per class.

        The returned arrays are this thread's buffers: valid until its next ``replicate``.
        """
        integer = w.dtype.kind in "ui"
        wp, wn = self._buffer("wp", self.n_pos), self._buffer("wn", self.n_neg)
        if w.dtype == np.uint8:
            # one compiled pass per class: gather the 1-byte counts, accumulate them in integers
            # (what the rank and bin statistics read; exact) and widen them to float64 (for the
            # BLAS dot products). numpy took four passes (take, cumsum, two widening copies).
            ip, in_ = self._buffer("ip", self.n_pos + 1, self._int), self._buffer("in", self.n_neg + 1, self._int)
            kernel = _gather_kernel()
            kernel(w, self._pos_idx, ip, wp)
            kernel(w, self._neg_idx, in_, wn)
            return SortedReplicate(wp, wn, ip, in_, True)
        cp, cn = self._buffer("cp", self.n_pos + 1), self._buffer("cn", self.n_neg + 1)
        np.copyto(wp, np.take(w, self.pos_sorted))
        np.copyto(wn, np.take(w, self.neg_sorted))
        cp[0] = cn[0] = 0.0
        np.cumsum(wp, out=cp[1:])
        np.cumsum(wn, out=cn[1:])
        return SortedReplicate(wp, wn, cp, cn, integer)


@lazy_kernel
def _gather_kernel():
    """``kernel(counts, rows, running, widened)``: ``widened[j] = counts[rows[j]]`` as float64 and
    ``running`` their cumulative sum with a leading 0, in ``running``'s integer type."""
    import numba  # imported on first use; machine code cached on disk

    @numba.njit(nogil=True, cache=True, boundscheck=False)
    def gather(counts, rows, running, widened):  # pragma: no cover - compiled
        acc = 0
        running[0] = 0
        for j in range(rows.size):
            u = counts[rows[j]]
            acc += u
            running[j + 1] = acc
            widened[j] = u

    return gather


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """One BLAS thread per bootstrap worker.

    The products here are skinny (k x n by n x m, n-long dots); OpenBLAS's own threads spin
    and wait on each other, which on a shared 2-core machine made every dot product ~10x
    slower than single-threaded. The workers already use the cores.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn's dependency; without it, run as configured
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


#: Rows per block of the linear product (k x 2048 float32 counts: 256 KiB at k = 32, in L2).
_LINEAR_BLOCK = 2048


def default_chunk(n_rows: int, *, budget_elements: int = 32 << 20) -> int:
    return int(max(1, min(64, budget_elements // max(n_rows, 1))))


def default_workers() -> int:
    """Threads for the bootstrap: ``WORKBENCH_THREADS`` or min(2, cores)."""
    env = os.environ.get("WORKBENCH_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


def map_columns(func: Callable[[Any], Any], names: list[Any], *, label: str = "columns") -> list[Any]:
    """``[func(n) for n in names]`` on the bootstrap's worker threads (``WORKBENCH_THREADS``).

    For independent columns or models whose work (sorts, ufuncs, compiled passes) releases the
    GIL. Results come back in the order of ``names``, so they do not depend on the thread count;
    the first failure (in that order) is raised. ``label`` names the threads.
    """
    workers = min(default_workers(), len(names))
    if workers <= 1:
        return [func(n) for n in names]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=label) as pool:
        return list(pool.map(func, names))


def _linear(comp: Any, *, single: bool = False) -> np.ndarray:
    if single and hasattr(comp, "single_replicate_columns"):
        return comp.single_replicate_columns
    return comp.linear_columns if hasattr(comp, "linear_columns") else comp.columns


def _sorted_fed(comp: Any) -> bool:
    return getattr(comp, "score_order", None) is not None and hasattr(comp, "replicate_stats")


class _Plan:
    """The linear matrix of every component and the groups of components sharing a score order.

    A component may name other ``single_replicate_columns`` for a chunk of one replicate: BLAS
    multiplies a single row of counts by its matrix-vector path, where a column's rounding
    depends on the matrix's width (with two rows or more it does not), so a component whose
    ``linear_columns`` are a narrowed layout keeps the bits of its former, wider one there.
    """

    def __init__(self, components: Mapping[str, Any], n_rows: int) -> None:
        self.names = list(components)
        self.components = components
        self.layout = self._layout(single=False)
        single = any(hasattr(components[n], "single_replicate_columns") for n in self.names)
        self.single_layout = self._layout(single=True) if single else self.layout
        self.orders: dict[int, tuple[ScoreOrder, list[str]]] = {}
        for name in self.names:
            comp = components[name]
            if _sorted_fed(comp):
                self.orders.setdefault(id(comp.score_order), (comp.score_order, []))[1].append(name)

    def _layout(self, *, single: bool) -> tuple[list[np.ndarray], np.ndarray]:
        cols = [_linear(self.components[n], single=single) for n in self.names]
        # one float32 matrix per component (not one wide matrix): a product's rounding then
        # depends only on the component's own columns, so identical models get identical sums
        return [np.ascontiguousarray(c, dtype=np.float32) for c in cols], np.cumsum([0, *(c.shape[1] for c in cols)])

    def linear_sums(self, counts: np.ndarray) -> np.ndarray:
        """Every component's ``counts @ linear columns``, side by side (k, m), in float64
        (``single_replicate_columns`` when ``k`` is 1: see :meth:`bounds_for`).

        float32 products over blocks of 2048 rows whose widened counts stay in cache, added in
        float64. Widening the whole (k, n) chunk first cost a 4-byte write and read per row and
        replicate, and OpenBLAS serialises concurrent calls from the worker threads, so the
        product is the one serial part of a chunk: blocking made it 0.65 instead of 1.0 ms per
        replicate at 1M rows and 12 columns. Each component has its own matrix, so identical
        models get bit-identical sums (paired deltas of exactly 0).
        """
        k, n = counts.shape
        matrices, bounds = self.bounds_for(k)
        out = np.zeros((k, int(bounds[-1])))
        mats = [(m, lo, hi) for m, lo, hi in zip(matrices, bounds[:-1], bounds[1:]) if hi > lo]
        if not mats:
            return out
        block = _LINEAR_BLOCK
        wide = np.empty((k, min(block, n)), dtype=np.float32)
        for start in range(0, n, block):
            stop = min(n, start + block)
            part = wide[:, : stop - start]
            np.copyto(part, counts[:, start:stop])
            for m, lo, hi in mats:
                out[:, lo:hi] += part @ m[start:stop]
        return out

    def bounds_for(self, k: int) -> tuple[list[np.ndarray], np.ndarray]:
        """The matrices and column bounds :meth:`linear_sums` uses for a chunk of ``k`` replicates."""
        return self.single_layout if k == 1 else self.layout

    def chunk(self, start: int, size: int, seed: int, n_rows: int) -> dict[str, dict[str, np.ndarray]]:
        counts = np.empty((size, n_rows), dtype=np.uint8)
        fill_poisson_counts(counts, seed=seed, start=start)
        sums, bounds = self.linear_sums(counts), self.bounds_for(size)[1]
        stats: dict[str, list[Any]] = {name: [] for group in self.orders.values() for name in group[1]}
        for order, members in self.orders.values():
            if all(hasattr(self.components[name], "replicate_stats_chunk") for name in members):
                # nothing else reads this order: the component sums the chunk without the gather
                for name in members:
                    stats[name] = self.components[name].replicate_stats_chunk(counts)
                continue
            for r in range(size):
                view = order.replicate(counts[r])
                for name in members:
                    stats[name].append(self.components[name].replicate_stats(view))
        out = {}
        for name, lo, hi in zip(self.names, bounds[:-1], bounds[1:]):
            comp, part = self.components[name], sums[:, lo:hi]
            out[name] = comp.finalise_stats(part, stats[name]) if name in stats else comp.finalise(part, counts)
        return out


def run_bootstrap(
    components: Mapping[str, Component],
    *,
    n_rows: int,
    n_boot: int,
    seed: int,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Replicate values ``{component: {statistic: array (n_boot, ...)}}``.

    Replicate ``r`` uses the counter-based Poisson weights of ``workbench.metrics.bootstrap``,
    so the values do not depend on ``workers``; counts and rank statistics do not depend on
    ``chunk_size`` either, while float sums (log loss, Brier, calibration's Newton step) go
    through a float32 product whose rounding can change in the last digits with the chunk
    shape (the default chunk depends only on ``n_rows``, so a review is reproducible).

    Examples
    --------
    >>> from workbench.metrics._binary import BinaryPrepared
    >>> prep = BinaryPrepared([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.3], threshold=0.5)
    >>> reps = run_bootstrap({"m": prep}, n_rows=4, n_boot=20, seed=1)
    >>> reps["m"]["roc_auc"].shape
    (20,)
    """
    names = list(components)
    if n_boot <= 0 or not names:
        return {name: {} for name in names}
    plan = _Plan(components, n_rows)
    k = chunk_size or default_chunk(n_rows)
    starts = list(range(0, n_boot, k))
    n_workers = max(1, min(workers or default_workers(), len(starts)))
    out: dict[str, dict[str, list[np.ndarray]]] = {name: {} for name in names}

    def collect(start: int, values: dict[str, dict[str, np.ndarray]]) -> None:
        for name, stats in values.items():
            for stat, v in stats.items():
                out[name].setdefault(stat, []).append(np.asarray(v))
        if progress is not None:
            progress(f"bootstrap: {min(start + k, n_boot)}/{n_boot} replicates")

    with _single_threaded_blas():
        if n_workers == 1:
            for start in starts:
                collect(start, plan.chunk(start, min(k, n_boot - start), seed, n_rows))
        else:
            with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="bootstrap") as pool:
                futures = [pool.submit(plan.chunk, s, min(k, n_boot - s), seed, n_rows) for s in starts]
                for start, fut in zip(starts, futures):  # in order: results are concatenated by replicate
                    collect(start, fut.result())
    return {name: {stat: np.concatenate(v, axis=0) for stat, v in stats.items()} for name, stats in out.items()}
