"""Weighted scatter-add of the fairness bootstrap, compiled with numba (a shap dependency).

For large tables the dense ``weights @ indicator`` product wastes work on zeros and memory on
the indicator (rows x columns); this kernel reads each replicate's weights once and adds
``w * value`` into the few columns a row touches. Imported lazily: compiling costs ~1 s.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np


@cache
def _kernel() -> Any:
    import numba

    @numba.njit(parallel=True, nogil=True)
    def scatter(weights, keys, values, n_cols):  # pragma: no cover - compiled
        n_rep, n_rows = weights.shape
        out = np.zeros((n_rep, n_cols))
        for r in numba.prange(n_rep):
            acc = out[r]
            for i in range(n_rows):
                w = weights[r, i]
                if w != 0.0:
                    for k in range(keys.shape[1]):
                        acc[keys[i, k]] += w * values[i, k]
        return out

    return scatter


def scatter_add(weights: np.ndarray, keys: np.ndarray, values: np.ndarray, n_cols: int) -> np.ndarray:
    """``out[r, keys[i, k]] += weights[r, i] * values[i, k]``; shape ``(replicates, n_cols)``."""
    return _kernel()(weights, keys, values, n_cols)
