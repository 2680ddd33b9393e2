"""Weighted scatter-add of the fairness bootstrap, compiled with numba.

For large tables the dense ``weights @ indicator`` product wastes work on zeros and memory on
the indicator (rows x columns); this kernel reads each weight once and adds ``w * value`` into
the few columns a row touches. Rows are processed in cache-sized tiles so a tile's keys and
values are read from memory once for all replicates of the block. The kernel is serial and
releases the GIL: the caller runs one block of replicates per worker thread, each thread also
generating its own Poisson counts (uint8, a quarter of the float32 traffic). Each product is
formed in float32 (``float32(w) * value``) and added in float64, so uint8 counts and float32
weights give bit-identical sums. numba is imported on first use (``lazy_kernel``), compiles
once and caches the machine code on disk.
"""

from __future__ import annotations

import numpy as np

from workbench.metrics import lazy_kernel

TILE_ROWS = 4096


@lazy_kernel
def _scatter_kernel():
    import numba

    @numba.njit(nogil=True, cache=True)
    def scatter(out, weights, keys, values, tile):  # pragma: no cover - compiled
        # Four replicates per pass over a tile: each row's keys and values are loaded once for
        # four independent accumulation chains (1.6-2 ms instead of 5.5 ms per replicate at 1M
        # rows). No branch on zero weights (a third of the counts; the branch mispredicts):
        # adding 0 * value leaves a sum unchanged. Each replicate still adds its rows in row order.
        n_rep, n_rows = weights.shape
        n_keys = keys.shape[1]
        for i0 in range(0, n_rows, tile):
            i1 = min(n_rows, i0 + tile)
            r = 0
            while r + 4 <= n_rep:
                a0, a1, a2, a3 = out[r], out[r + 1], out[r + 2], out[r + 3]
                w0, w1, w2, w3 = weights[r], weights[r + 1], weights[r + 2], weights[r + 3]
                for i in range(i0, i1):
                    f0, f1 = np.float32(w0[i]), np.float32(w1[i])
                    f2, f3 = np.float32(w2[i]), np.float32(w3[i])
                    for k in range(n_keys):
                        kk = keys[i, k]
                        v = values[i, k]
                        a0[kk] += f0 * v
                        a1[kk] += f1 * v
                        a2[kk] += f2 * v
                        a3[kk] += f3 * v
                r += 4
            while r < n_rep:
                acc, wr = out[r], weights[r]
                for i in range(i0, i1):
                    wf = np.float32(wr[i])
                    for k in range(n_keys):
                        acc[keys[i, k]] += wf * values[i, k]
                r += 1

    return scatter


def prepare(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous int32 keys and float32 values, converted once per bootstrap (not per chunk)."""
    return np.ascontiguousarray(keys, dtype=np.int32), np.ascontiguousarray(values, dtype=np.float32)


def scatter_into(out: np.ndarray, weights: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[r, keys[i, k]] += weights[r, i] * values[i, k]`` in place; ``out`` is float64 (replicates, cols).

    ``weights`` may be uint8 Poisson counts or float32 weights (same sums); ``keys`` and
    ``values`` as returned by :func:`prepare`. Releases the GIL, so blocks of replicates can
    run on several threads.
    """
    _scatter_kernel()(out, weights, keys, values, TILE_ROWS)
    return out

