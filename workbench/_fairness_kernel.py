"""Weighted scatter-add of the fairness bootstrap, compiled with numba (a shap dependency).

For large tables the dense ``weights @ indicator`` product wastes work on zeros and memory on
the indicator (rows x columns); this kernel reads each weight once and adds ``w * value`` into
the few columns a row touches. Rows are processed in cache-sized tiles so a tile's keys and
values are read from memory once for all replicates of the chunk. This module is imported
only on that path (numba compiles once and caches the machine code on disk).
"""

from __future__ import annotations

import numba
import numpy as np

TILE_ROWS = 4096


@numba.njit(parallel=True, nogil=True, cache=True)
def _scatter(weights, keys, values, n_cols, tile, n_threads):  # pragma: no cover - compiled
    n_rep, n_rows = weights.shape
    n_keys = keys.shape[1]
    out = np.zeros((n_rep, n_cols))
    n_parts = max(1, min(n_rep, n_threads))
    for part in numba.prange(n_parts):
        r0 = part * n_rep // n_parts
        r1 = (part + 1) * n_rep // n_parts
        for i0 in range(0, n_rows, tile):
            i1 = min(n_rows, i0 + tile)
            for r in range(r0, r1):
                acc = out[r]
                for i in range(i0, i1):
                    w = weights[r, i]
                    if w != 0.0:
                        for k in range(n_keys):
                            acc[keys[i, k]] += w * values[i, k]
    return out


def scatter_add(weights: np.ndarray, keys: np.ndarray, values: np.ndarray, n_cols: int) -> np.ndarray:
    """``out[r, keys[i, k]] += weights[r, i] * values[i, k]``; shape ``(replicates, n_cols)``."""
    return _scatter(np.ascontiguousarray(weights, dtype=np.float32), np.ascontiguousarray(keys, dtype=np.int32),
                    np.ascontiguousarray(values, dtype=np.float32), int(n_cols), TILE_ROWS,
                    numba.get_num_threads())
